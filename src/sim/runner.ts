/**
 * One seed of the simulator, start to verdict:
 *
 *   0 ms            every node starts
 *   WORKLOAD_FROM   the clients start; the faults (membership operations
 *                   among them) come at random times
 *   heal            the clients stop; every fault ends (restart, resume, heal);
 *                   operations that stopped are run again
 *   settle          hints, anti-entropy and operations run undisturbed
 *   end             the clients learn the ring once more; with cleanups
 *                   among the faults, every node cleans up once more; final
 *                   QUORUM reads of every key through that ring's replicas,
 *                   and every such replica's copy
 *
 * then the chaos checker's verdict on the history and the final state
 * (chaos/checker.ts: lost, stale, backwards, phantom, behind, divergent),
 * and every invariant a node broke on the way (an AssertionError thrown by
 * an event, or a promise rejected with nobody to handle it), and work the
 * nodes should have finished by then (marks to settle, hints to deliver,
 * operations to complete, epochs to take up).
 */
import { CasCounts, checkCas } from '../chaos/cas-check';
import { check, CheckResult, describeViolations, FinalState, ReplicaCopy } from '../chaos/checker';
import { History, Observed, Op, TOMBSTONE_VALUE } from '../chaos/history';
import type { KnownBugs } from '../common/known-bugs';
import type { WriteLevelName } from '../coordinator/levels';
import { Random } from '../common/random';
import { Membership, ringMembers } from '../membership/changes';
import { Placement } from '../membership/placement';
import type { Version } from '../storage/version';
import { SimCluster, simConfig } from './cluster';
import { applyFault, FaultKind, planFaults } from './faults';
import { SimNetwork } from './network';
import { OperationCounts, SimOperations } from './operations';
import { SimRing } from './ring';
import { quorumCopyProblems } from './quorum-copies';
import { Scheduler } from './scheduler';
import { SimCasWorkload } from './cas-workload';
import { Trace } from './trace';
import { BatchRecord, SimWorkload } from './workload';

export interface SimOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly faults: readonly FaultKind[];
  /** Simulated time of the whole run, ms. */
  readonly durationMs: number;
  /** Keep the trace's lines (for --trace). */
  readonly trace: boolean;
  readonly bugs: KnownBugs;
  readonly sync: 'NORMAL' | 'FULL';
  /** Clients running cas increments on counters of their own (default DEFAULT_CAS_WORKLOAD.clients; 0: none). */
  readonly casClients?: number;
  /** Keys the plain clients write and read (default DEFAULT_WORKLOAD.keys). */
  readonly keys?: number;
  /**
   * The nodes' stream pace, bytes a second (default the real default, which
   * streams a simulated range in a few ms): slower, a join's pending window
   * is longer, and more writes and reads fall inside it.
   */
  readonly streamBytesPerSecond?: number;
  /** A quarter of the plain clients' writes go at ANY (off: the clients draw as when the seeds were found). */
  readonly anyWrites?: boolean;
  /** A quarter of the plain clients' puts go as batches of two or three keys, a quarter of those unlogged (off: draws as without them). */
  readonly batches?: boolean;
  /** The nodes' speculativeRetry setting (default the real default; NONE replays a seed found before reads speculated). */
  readonly speculativeRetry?: string;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  /** The trace's hash: equal for two runs of one seed. */
  readonly hash: string;
  /** The checker's findings and the invariants broken, one line each (with the operations involved). */
  readonly problems: string[];
  readonly counts: CheckResult['counts'];
  /** The cas checks' counts (chaos/cas-check.ts), and how many cas went out again with their request id. */
  readonly cas: CasCounts & { retried: number };
  /** The membership operations: counts, the sentences they stopped with, and the ring's last epoch. */
  readonly membership: OperationCounts & { stops: readonly string[]; epoch: number; members: number };
  readonly events: number;
  readonly messages: number;
  /** Internode calls a replica refused as placed by a stale epoch (each coordinator then took up the log). */
  readonly staleRefusals: number;
  readonly traceLines: readonly string[] | undefined;
}

/** When the clients start, ms (the nodes have said hello by then). */
const WORKLOAD_FROM_MS = 500;
/** Parts of the run: the workload and faults end at HEAL_AT of it, the final reads start at SETTLED_AT. */
const HEAL_AT = 0.6;
const SETTLED_AT = 0.95;
/** Limit on the final reads, virtual ms. */
const FINAL_READS_MS = 10_000;
/**
 * How long settling may go on past SETTLED_AT, virtual ms, while the nodes
 * still have work to converge (replicas of the final ring that disagree,
 * marks to settle, hints to deliver), looked at every SETTLE_POLL_MS; what
 * is left after that is reported. Anti-entropy steps with one peer every
 * antiEntropyIntervalMs (500 ms), a differing range costs a 600 ms re-check,
 * a step stuck on a call the faults dropped waits the request timeout (2 s),
 * and steps that met only moving differences back off: a pair of replicas
 * can go three seconds and more between comparisons (seed 1381 at
 * --stream-pace 2000: first compared 3 s after the heal, mended at 9.64 s).
 * A seed that converges by SETTLED_AT runs exactly as without it.
 */
const SETTLE_MORE_MS_MAX = 5_000;
const SETTLE_POLL_MS = 100;

export const DEFAULT_WORKLOAD = { clients: 4, keys: 12, thinkMsMax: 40 };
/** The cas clients beside them: few counters, so that their increments contend. */
export const DEFAULT_CAS_WORKLOAD = { clients: 2, counters: 2, thinkMsMax: 150 };

/** Promise rejections nobody handled during the current run: a real node would have crashed on each. */
let unhandled: unknown[] = [];
let listening = false;
function listenForUnhandled(): void {
  if (listening) return;
  listening = true;
  process.on('unhandledRejection', (err) => unhandled.push(err));
}

function observed(v: Version | undefined): Observed | null {
  if (v === undefined) return null;
  return { ts: v.ts, value: v.deleted ? TOMBSTONE_VALUE : v.value };
}

function sameCopy(a: Observed | null | undefined, b: Observed | null | undefined): boolean {
  return (a === null && b === null) || (a != null && b != null && a.ts === b.ts && a.value === b.value);
}

/**
 * What the checker reads after settling: each key's copy on each of its
 * read replicas in the final ring, the keys they disagree on, the nodes
 * that did not come back (a node that left the ring is not expected to).
 */
function finalState(cluster: SimCluster, placement: Placement, keys: readonly string[], ops: readonly Op[]): FinalState {
  const { replicas, divergent } = replicaCopies(cluster, placement, keys);
  const failedRestarts = cluster.nodes.flatMap((n, id) =>
    n === undefined && !cluster.departed.has(id) ? [`node ${id} did not come back after the faults`] : [],
  );
  return { replicas, divergent, failedRestarts, crashed: [], lostWithNode: lostWithNode(cluster, ops) };
}

/** Each key's copy on each of its read replicas under `placement`, and the keys they disagree on. */
function replicaCopies(
  cluster: SimCluster,
  placement: Placement,
  keys: readonly string[],
): { replicas: Map<string, ReplicaCopy[]>; divergent: string[] } {
  const replicas = new Map<string, ReplicaCopy[]>();
  const divergent: string[] = [];
  for (const key of keys) {
    const copies = placement
      .rangeOf(key)
      .reads.map((node) => ({ node, held: cluster.isRunning(node) ? observed(cluster.nodes[node]!.store.get(key)) : undefined }));
    replicas.set(key, copies);
    if (copies.some((c) => !sameCopy(c.held, copies[0]!.held))) divergent.push(key);
  }
  return { replicas, divergent };
}

/**
 * Acknowledged ONE and ANY writes invoked before a node was lost for good,
 * which no other node's disk ever held (row or hint): the lost node alone
 * acknowledged them (or held their one copy as hints) and held the hints for
 * the others, so they went with its disk, as docs/ARCHITECTURE.md (Replacing
 * a dead node) says a ONE write may. Each with the time of the last loss: no
 * read that begins later can see it.
 */
/** A level whose write may be answered with one copy on one node's disk (ANY's may be a hint there). */
const oneCopy = (level: WriteLevelName | undefined): boolean => level === 'ONE' || level === 'ANY';

function lostWithNode(cluster: SimCluster, ops: readonly Op[]): Map<number, number> {
  const out = new Map<number, number>();
  const lossMs = cluster.lastLossMs;
  if (lossMs === undefined) return out;
  const held = cluster.versionsOutsideLost();
  for (const o of ops)
    if (o.kind === 'write' && o.outcome === 'ok' && oneCopy(o.level) && o.start <= lossMs && !held.has(`${o.key}\0${o.ts}`))
      out.set(o.id, lossMs);
  return out;
}

/**
 * A logged batch is all or nothing in the end: once any of its writes was
 * seen (acknowledged, read, or held by a replica after settling), every key
 * of it ends at the batch's timestamp or a newer one. Not for a batch whose
 * log went with its coordinator's disk (lost for good, or a power loss with
 * synchronous NORMAL) and whose copies all went with their holders' disks
 * too, nor one with a write lost with a node, as a ONE write may be.
 */
export function checkBatches(
  batches: readonly BatchRecord[],
  ops: readonly Op[],
  state: Pick<FinalState, 'replicas' | 'lostWithNode'>,
  cluster: Pick<SimCluster, 'lost' | 'powerLost' | 'batchCopyHolders'>,
  sync: 'NORMAL' | 'FULL',
): string[] {
  const diskGone = (n: number): boolean => cluster.lost.has(n) || (sync === 'NORMAL' && cluster.powerLost.has(n));
  const finalTs = new Map<string, number>();
  const seenTs = new Map<string, number>();
  for (const o of ops) {
    if (o.kind !== 'read' || o.outcome !== 'ok') continue;
    if (o.final) finalTs.set(o.key, o.ts ?? 0);
    if (o.found && o.value !== undefined && o.ts !== undefined) seenTs.set(o.value, o.ts);
  }
  for (const copies of state.replicas.values()) for (const c of copies) if (c.held) seenTs.set(c.held.value, c.held.ts);
  const out: string[] = [];
  for (const b of batches) {
    if (b.unlogged || b.ops.some((o) => state.lostWithNode?.has(o.id) === true)) continue;
    const ts = b.ops.find((o) => o.ts !== undefined)?.ts ?? b.ops.map((o) => seenTs.get(o.value)).find((t) => t !== undefined);
    if (ts === undefined) continue;
    const holders = cluster.batchCopyHolders.get(`${b.node}/${ts}`) ?? new Set<number>();
    if (diskGone(b.node) && [...holders].every(diskGone)) continue;
    for (const o of b.ops) {
      const end = finalTs.get(o.key);
      if (end === undefined || end >= ts) continue;
      const which = b.ops.map((w) => `#${w.id} ${w.key}=${w.value}`).join(', ');
      out.push(`  batch: ${which} (node ${b.node}, ts ${ts}) was seen, but ${o.key} ends at ts ${end}: the batch was applied in part`);
    }
  }
  return out;
}

/** Keys some replica of the final ring holds and another one of them does not: a range's new owner left without them. */
function missingOnReplicas(state: FinalState): string[] {
  const out: string[] = [];
  for (const [key, copies] of state.replicas) {
    if (!copies.some((c) => c.held != null)) continue;
    const without = copies.filter((c) => c.held === null).map((c) => c.node);
    if (without.length > 0)
      out.push(`  missing: ${key} is not held by node${without.length > 1 ? 's' : ''} ${without.join(', ')} of its final replicas`);
  }
  return out;
}

/**
 * The nodes' own bookkeeping after settling: every write's mark settled
 * (each replica acknowledged it or has a hint), every hint delivered (those
 * for nodes no longer in the ring are handed over and then wait to expire).
 */
function workLeft(cluster: SimCluster, final: Membership): string[] {
  const out: string[] = [];
  const inRing = new Set(ringMembers(final).map((n) => n.id));
  for (const [id, node] of cluster.nodes.entries()) {
    if (node === undefined) continue;
    if (node.store.unsettledRows > 0)
      out.push(`  settled: node ${id} still holds ${node.store.unsettledRows} unsettled marks after settling`);
    let hints = 0;
    for (const [target, n] of node.hints.countsByTarget()) if (inRing.has(target)) hints += n;
    if (hints > 0) out.push(`  settled: node ${id} still holds ${hints} hints after settling`);
    if (node.batches.logged > 0) out.push(`  settled: node ${id} still holds ${node.batches.logged} logged batches after settling`);
  }
  return out;
}

/**
 * From now on, each membership operation's completion, the first time any
 * node takes it up, is checked for a quorum of copies of every acknowledged
 * QUORUM or ALL write (sim/quorum-copies.ts); the problems found, filled in
 * as the run goes. Not under synchronous NORMAL.
 */
function watchQuorumCopies(cluster: SimCluster, history: History, sync: 'NORMAL' | 'FULL', replicationFactor: number): string[] {
  const problems: string[] = [];
  if (sync !== 'FULL') return problems;
  let checked = 1;
  cluster.onEpoch = (entry, membership) => {
    if (entry.epoch <= checked) return;
    checked = entry.epoch;
    const change = entry.change;
    if (
      change.kind !== 'join-complete' &&
      change.kind !== 'leave-complete' &&
      change.kind !== 'move-complete' &&
      change.kind !== 'replace-complete'
    )
      return;
    const what = `epoch ${entry.epoch}, the ${change.kind} of node ${change.node}`;
    const placement = Placement.of(membership);
    problems.push(...quorumCopyProblems(what, placement, cluster.diskHoldings(), history.ops, history.now(), replicationFactor));
  };
  return problems;
}

export async function simulate(o: SimOptions): Promise<SimResult> {
  listenForUnhandled();
  unhandled = [];
  const random = new Random(o.seed);
  const sched = new Scheduler();
  const trace = new Trace(o.trace, () => sched.nowMs);
  const config = simConfig(o.nodes, o.sync, o.streamBytesPerSecond, o.speculativeRetry);
  const net = new SimNetwork(sched, random.fork(), trace, config.settings.requestTimeoutMs);
  const cluster = new SimCluster(config, net, random.fork(), o.bugs);
  const clientTimeoutMs = config.settings.requestTimeoutMs + 500;
  const ring = new SimRing(net, config, clientTimeoutMs);
  const history = new History(() => sched.nowMs);
  const workload = new SimWorkload(net, ring, history, {
    ...DEFAULT_WORKLOAD,
    keys: o.keys ?? DEFAULT_WORKLOAD.keys,
    clientTimeoutMs,
    anyWrites: o.anyWrites === true,
    batches: o.batches === true,
  });
  const casWorkload = new SimCasWorkload(net, ring, (key, r) => workload.coordinatorFor(key, r), {
    ...DEFAULT_CAS_WORKLOAD,
    clients: o.casClients ?? DEFAULT_CAS_WORKLOAD.clients,
    clientTimeoutMs,
  });
  const operations = new SimOperations(net, cluster, random.fork(), clientTimeoutMs);
  const healMs = o.durationMs * HEAL_AT;
  const settledMs = o.durationMs * SETTLED_AT;
  for (const f of planFaults(random.fork(), o.faults, WORKLOAD_FROM_MS, healMs))
    sched.at(f.atMs, () => applyFault(f, cluster, net, operations));

  const quorumCopies = watchQuorumCopies(cluster, history, o.sync, config.replicationFactor);
  for (let id = 0; id < o.nodes; id++) void cluster.start(id);
  await sched.runUntil(WORKLOAD_FROM_MS);
  operations.watch(healMs, settledMs);
  const clients = random.fork();
  const casClients = random.fork();
  await sched.runWhile(Promise.all([workload.run(healMs, clients), casWorkload.run(healMs, casClients)]), o.durationMs);
  net.heal();
  await sched.runWhile(cluster.heal(), o.durationMs);
  await sched.runUntil(Math.max(sched.nowMs, settledMs));
  // Settling goes on, for SETTLE_MORE_MS_MAX at most, while the replicas of the ring the clients learn still disagree
  // or the nodes still have marks to settle or hints to deliver.
  const settleLimitMs = sched.nowMs + SETTLE_MORE_MS_MAX;
  for (;;) {
    await sched.runWhile(ring.refresh(), FINAL_READS_MS);
    const { membership, placement } = ring.topology;
    const converging = replicaCopies(cluster, placement, workload.keys).divergent.length > 0 || workLeft(cluster, membership).length > 0;
    if (!converging || sched.nowMs >= settleLimitMs) break;
    await sched.runUntil(Math.min(settleLimitMs, sched.nowMs + SETTLE_POLL_MS));
  }
  const final = ring.topology;
  // With cleanups among the faults, every node cleans up once more: what it deletes must be garbage, and it must leave none.
  let cleanupProblems: string[] | undefined = [];
  if (o.faults.includes('cleanup')) {
    cleanupProblems = undefined;
    const cleaned = operations.finalCleanup(final.membership).then((p) => (cleanupProblems = p));
    await sched.runWhile(cleaned, FINAL_READS_MS);
  }
  // Before the final reads, whose read repairs would mend a replica that the nodes left without a write.
  const state = finalState(cluster, final.placement, workload.keys, history.ops);
  const finals = Promise.all([
    ...workload.keys.map((key) => workload.get('final', clients, key, 'QUORUM', true)),
    casWorkload.finalReads(),
  ]);
  await sched.runWhile(finals, FINAL_READS_MS);

  const result = check(history.ops, state, config.replicationFactor);
  const cas = checkCas(casWorkload.records);
  const problems = [
    ...describeViolations(result.violations),
    ...checkBatches(workload.batches, history.ops, state, cluster, o.sync),
    ...missingOnReplicas(state),
    ...quorumCopies,
    ...cas.violations.map((v) => `  cas: ${v}`),
    ...workLeft(cluster, final.membership),
    ...operations.problems(final.membership),
    ...(cleanupProblems ?? ['  cleanup: the final cleanups did not end']),
  ];
  for (const f of sched.failures)
    problems.push(`  invariant: ${f.owner} at ${f.atMs.toFixed(3)} ms: ${String((f.error as Error)?.stack ?? f.error)}`);
  for (const err of unhandled) problems.push(`  unhandled rejection: ${String((err as Error)?.stack ?? err)}`);
  if (history.pending() > 0) problems.push(`  ${history.pending()} operations never answered`);
  for (const key of casWorkload.keys)
    if (!casWorkload.records.some((r) => r.key === key && r.final && r.outcome === 'ok'))
      problems.push(`  cas: no final SERIAL read of ${key} answered after healing`);
  const casPending = casWorkload.records.filter((r) => Number.isNaN(r.end)).length;
  if (casPending > 0) problems.push(`  ${casPending} cas operations never answered`);
  return {
    seed: o.seed,
    ok: problems.length === 0,
    hash: trace.hash,
    problems,
    counts: result.counts,
    cas: { ...cas.counts, ...casWorkload.counts },
    membership: {
      ...operations.counts,
      stops: operations.stops,
      epoch: final.epoch,
      members: ringMembers(final.membership).length,
    },
    events: sched.eventsRun,
    messages: net.messages,
    staleRefusals: net.staleRefusals,
    traceLines: trace.lines,
  };
}
