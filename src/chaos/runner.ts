/**
 * One chaos run, start to finish: start a cluster (proxy or netns), run the
 * workload while the nemesis injects its faults, heal everything, let hints
 * settle (bounded), take the replicas' state through the inspector and a final
 * QUORUM read of every key, and check the history. Whatever happens, every
 * node, proxy and namespace this run started is stopped and removed.
 */
import type { Settings } from '../config/cluster';
import { writeFileSync } from 'node:fs';
import { keyText, KvClient, wireKey } from '../client/client';
import { cleanupCluster } from '../client/cleanup';
import { inspect, Inspection } from '../client/inspect';
import { isKvError } from '../common/errors';
import type { LevelName, WriteLevelName } from '../coordinator/levels';
import { check, CheckResult, describeViolations, KeyPlacement, ReplicaCopy } from './checker';
import { ChaosCluster, NODE_START_TIMEOUT_MS, ProxyCluster } from './cluster';
import { History, Op } from './history';
import { Nemesis, FaultKind, FaultRecord, JOIN_SPARES_MAX, NEW_NODE_FAULTS, planFaults } from './nemesis';
import { NetnsCluster, netnsUnavailable } from './netns';
import { Random as Prng } from '../common/random';
import { NodeClient, Workload } from './workload';
import { CasWorkload } from './cas-workload';
import { CasCheck, CasCounts, checkCas } from './cas-check';
import { WatchedVersions } from './watch-check';

export type Mode = 'proxy' | 'netns';
/** lww: QUORUM puts and gets; cas: counters incremented through cas, and SERIAL reads. */
export type WorkloadKind = 'lww' | 'cas';

export interface ChaosOptions {
  readonly seed: number;
  readonly durationS: number;
  readonly faults: readonly FaultKind[];
  readonly keys: number;
  readonly writers: number;
  readonly readers: number;
  readonly mode: Mode;
  /** Upper bound on waiting for hints and replicas to settle after healing. */
  readonly settleS: number;
  readonly thinkMs: number;
  /** Default lww. With cas, `keys` counters, `writers` incrementers and `readers` SERIAL readers. */
  readonly workload?: WorkloadKind;
  readonly log: (line: string) => void;
  /** Ends the workload early (SIGINT); the run still heals, checks and cleans up. */
  readonly abort?: AbortSignal;
  /** Writes every operation, one JSON object a line, here. */
  readonly historyFile?: string;
  /** Hints off (hintWindowSeconds 0): only repair (background anti-entropy, catching up) converges the replicas. */
  readonly hintsOff?: boolean;
  /** Follow every key with a watch through the run, and check it told each key's settled version (default: on for lww). */
  readonly watch?: boolean;
  /** The lww workload's write and read levels (default QUORUM both); the final reads stay QUORUM. */
  readonly writeLevel?: WriteLevelName;
  readonly readLevel?: LevelName;
}

export interface ChaosReport {
  readonly seed: number;
  readonly mode: Mode;
  readonly durationS: number;
  readonly faultKinds: readonly FaultKind[];
  readonly faults: readonly FaultRecord[];
  readonly counts: CheckResult['counts'];
  /** The lww workload's levels (QUORUM unless asked otherwise). */
  readonly writeLevel: WriteLevelName;
  readonly readLevel: LevelName;
  /** The cas workload's counts, when it ran. */
  readonly cas?: CasCounts;
  /** ms from healed to no hints and no divergent key; -1 if that did not happen within the settle bound. */
  readonly convergeMs: number;
  readonly ok: boolean;
  readonly violations: string[];
  /** Kept when the run failed, for a look at the nodes' logs and files. */
  readonly dataDir?: string;
}

/** Client deadline: the nodes' request timeout (2 s) plus room for the answer to travel. */
const CLIENT_TIMEOUT_MS = 3_000;
/** How long after settling the watch may take to tell every key's settled version. */
const WATCH_CATCH_UP_MS = 30_000;
/** How often the settle loop asks the inspector. */
const SETTLE_POLL_MS = 250;
/** Attempts, each through another node, at the final read of one key. */
const FINAL_READ_TRIES = 8;
/** Final reads in flight at once. */
const FINAL_READ_CONCURRENCY = 16;
/** Violations of each kind printed in the report. */
const VIOLATIONS_SHOWN_PER_KIND = 5;

/**
 * The chaos cluster's settings: anti-entropy steps every 25 ms instead of
 * every 500 ms, so that a pass over the run's few thousand keys fits in the
 * settle bound. Everything else is the default.
 */
const CHAOS_SETTINGS: Partial<Settings> = { antiEntropyIntervalMs: 25 };

async function openCluster(mode: Mode, hintsOff: boolean, spares: number, log: (line: string) => void): Promise<ChaosCluster> {
  const settings = hintsOff ? { ...CHAOS_SETTINGS, hintWindowSeconds: 0 } : CHAOS_SETTINGS;
  if (mode === 'netns') {
    const why = await netnsUnavailable();
    if (why === null) return NetnsCluster.start(settings, spares);
    log(`netns mode is not available (${why}); falling back to the userspace proxy`);
  }
  return ProxyCluster.start(settings, spares);
}

/**
 * One client per node of the ring, each coordinating through its node,
 * made afresh as the ring changes; every client ever made is closed at
 * the end (operations in flight may still hold an old one).
 */
class NodeClients {
  private readonly all: KvClient[] = [];
  current: NodeClient[] = [];

  constructor(private readonly cluster: ChaosCluster) {
    this.refresh();
  }

  refresh(): NodeClient[] {
    this.current = this.cluster.members().map((id) => ({
      id,
      client: new KvClient([this.cluster.endpoint(id)], { timeoutMs: CLIENT_TIMEOUT_MS }),
    }));
    this.all.push(...this.current.map((c) => c.client));
    return this.current;
  }

  close(): void {
    for (const c of this.all) c.close();
  }
}

function abortableSleep(ms: number, abort: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (abort?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      abort?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    abort?.addEventListener('abort', done);
  });
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const root = new Prng(o.seed);
  const [planPrng, workPrng, nemesisPrng, finalPrng] = [root.fork(), root.fork(), root.fork(), root.fork()];
  const spares = o.faults.some((k) => NEW_NODE_FAULTS.includes(k)) ? JOIN_SPARES_MAX : 0;
  const cluster = await openCluster(o.mode, o.hintsOff === true, spares, o.log);
  o.log(`cluster up (${cluster.mode} mode), data in ${cluster.dir}`);
  if (o.workload !== 'cas') o.log(`writes at ${o.writeLevel ?? 'QUORUM'}, reads at ${o.readLevel ?? 'QUORUM'}`);
  const nodeClients = new NodeClients(cluster);
  const clients = nodeClients.current;
  let ok = false;
  let watched: WatchedVersions | undefined;
  try {
    const history = new History();
    const casMode = o.workload === 'cas';
    if (!casMode && o.watch !== false) watched = await WatchedVersions.start(cluster.config, CLIENT_TIMEOUT_MS);
    // In cas mode the put/get workload runs only the nemesis's bursts.
    const workload = new Workload(history, clients, casMode ? { ...o, writers: 0, readers: 0 } : o, workPrng);
    const counters = casMode
      ? new CasWorkload(
          history,
          clients,
          { counters: o.keys, incrementers: o.writers, readers: o.readers, thinkMs: o.thinkMs },
          root.fork(),
        )
      : undefined;
    const nemesis = new Nemesis(
      cluster,
      workload,
      nemesisPrng,
      () => history.now(),
      o.log,
      () => {
        const now = nodeClients.refresh();
        workload.useClients(now);
        counters?.useClients(now);
      },
    );
    const plan = planFaults(
      planPrng,
      o.faults,
      o.durationS * 1000,
      cluster.config.nodes.map((n) => n.token),
      cluster.partitionKinds,
      cluster.spareIds.length,
      cluster.config.replicationFactor,
    );
    workload.start();
    counters?.start();
    const faults = nemesis.run(plan);
    await abortableSleep(o.durationS * 1000, o.abort);
    nemesis.stop();
    await faults;
    await workload.stop();
    await counters?.stop();
    o.log(`workload stopped after ${history.ops.length + (counters?.records.length ?? 0)} operations; healing`);
    const crashed = await healAll(cluster, nemesis, o.log);
    const settled = await settle(cluster, o.settleS * 1000);
    o.log(
      settled.convergeMs >= 0
        ? `settled in ${settled.convergeMs} ms`
        : `did not settle within ${o.settleS} s (${unsettled(settled.inspection)})`,
    );
    await finalReads(history, nodeClients.current, finalPrng);
    await counters?.finalReads(FINAL_READ_TRIES);
    const replicas = replicaCopies(settled.inspection, history.ops);
    if (watched !== undefined) await watchCaughtUp(watched, replicas, o.log);
    const cleaned = await cleanupAndPlace(cluster, history.ops, o.log);
    const casResult: CasCheck | undefined = counters && checkCas(counters.records);
    const result = check(history.ops, {
      replicas,
      ...(watched !== undefined ? { watched: watched.versions } : {}),
      divergent: settled.inspection.divergent,
      failedRestarts: nemesis.failedRestarts,
      failedOperations: [...nemesis.failedOperations, ...cleaned.failures],
      crashed: [...nemesis.crashed, ...crashed],
      placed: cleaned.placed,
    });
    ok = result.ok && (casResult?.ok ?? true);
    if (o.historyFile) writeHistory(o.historyFile, [...history.ops, ...(counters?.records ?? [])]);
    return {
      seed: o.seed,
      mode: cluster.mode as Mode,
      durationS: o.durationS,
      faultKinds: o.faults,
      faults: nemesis.records,
      counts: result.counts,
      writeLevel: o.writeLevel ?? 'QUORUM',
      readLevel: o.readLevel ?? 'QUORUM',
      ...(casResult ? { cas: casResult.counts } : {}),
      convergeMs: settled.convergeMs,
      ok,
      violations: [...describeViolations(result.violations, VIOLATIONS_SHOWN_PER_KIND), ...(casResult?.violations ?? [])],
      dataDir: ok ? undefined : cluster.dir,
    };
  } finally {
    await watched?.close();
    nodeClients.close();
    await cluster.destroy(!ok);
  }
}

/** Waits for the watch to tell every key's settled version (bounded), and says how it went. */
async function watchCaughtUp(watched: WatchedVersions, replicas: Map<string, ReplicaCopy[]>, log: (line: string) => void): Promise<void> {
  const ms = await watched.catchUp(replicas, WATCH_CATCH_UP_MS);
  const told = `${watched.changes} changes told, ${watched.resyncs} ranges read again`;
  if (ms >= 0) log(`watch: ${told}; every key's settled version told ${ms} ms after settling`);
  else
    log(
      `watch: ${told}; ${watched.behind(replicas).length} keys behind${watched.failure ? ` (the watch failed: ${watched.failure})` : ''}`,
    );
}

/** Continues paused nodes, mends the network, resets clocks, restarts down nodes; returns nodes that had crashed. */
async function healAll(cluster: ChaosCluster, nemesis: Nemesis, log: (line: string) => void): Promise<string[]> {
  const crashed: string[] = [];
  await cluster.healNetwork();
  // The ring's nodes now: a node that left has exited for good, and one that joined is healed like the others.
  for (const id of cluster.members()) {
    cluster.signal(id, 'SIGCONT');
    if (cluster.isRunning(id)) continue;
    if (!nemesis.downByUs.has(id)) crashed.push(`node ${id} exited without being killed: ${cluster.logTail(id, 800)}`);
    await nemesis.restart(id);
  }
  for (const id of cluster.members()) {
    if (cluster.isRunning(id))
      await nemesis.setOffset(id, 0).catch((err) => log(`could not reset node ${id}'s clock: ${(err as Error).message}`));
  }
  await cluster.waitAllSeeEachOther(NODE_START_TIMEOUT_MS).catch((err) => log(`after healing: ${(err as Error).message}`));
  return crashed;
}

/** What kept an inspection from being settled, for the log. */
function unsettled(ins: Inspection): string {
  const down = ins.nodes.filter((n) => !n.up && n.state !== 'LEFT').map((n) => n.id);
  const hints = ins.nodes.filter((n) => Object.values(n.hints).some((c) => c > 0)).map((n) => `node ${n.id} ${JSON.stringify(n.hints)}`);
  return `down: [${down.join(', ')}]; hints held: ${hints.join(', ') || 'none'}; divergent keys: ${ins.divergent.length}`;
}

/**
 * Hints waiting for a node of the ring. Hints for a node that left are not
 * waited for: it never comes back for them, and a write hinted to it during
 * its decommission also went to the replicas that took its ranges over
 * (the final check holds every replica of the final ring to every key).
 */
function pendingHints(ins: Inspection): number {
  const left = new Set(ins.nodes.filter((n) => n.state === 'LEFT').map((n) => String(n.id)));
  let sum = 0;
  for (const n of ins.nodes) for (const [target, count] of Object.entries(n.hints)) if (!left.has(target)) sum += count;
  return sum;
}

/** Polls the inspector until no hints are pending and no key diverges, or the bound passes. */
async function settle(cluster: ChaosCluster, boundMs: number): Promise<{ convergeMs: number; inspection: Inspection }> {
  const t0 = performance.now();
  for (;;) {
    const inspection = await inspect(cluster.config);
    const elapsed = Math.round(performance.now() - t0);
    const clean =
      inspection.nodes.every((n) => n.up || n.state === 'LEFT') && inspection.divergent.length === 0 && pendingHints(inspection) === 0;
    if (clean) return { convergeMs: elapsed, inspection };
    if (elapsed > boundMs) return { convergeMs: -1, inspection };
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  }
}

/** For every key written, what each of its replicas holds (from the settled inspection). */
function replicaCopies(ins: Inspection, ops: readonly Op[]): Map<string, ReplicaCopy[]> {
  // The replicas the final ring says hold each key: the read replicas of the placement the inspection compared by.
  // A replica of the final ring that did not answer holds no copy as far as the check goes: each must hold every key.
  const held = new Map(ins.nodes.map((n) => [n.id, n.up ? new Map(n.entries.map((e) => [e.key, e])) : undefined]));
  const out = new Map<string, ReplicaCopy[]>();
  for (const key of new Set(ops.map((o) => o.key))) {
    // The ring places a key by its bytes on the wire, one char per byte (keys here may be UTF-8).
    out.set(
      key,
      ins.placement.rangeOf(keyText(wireKey(key))).reads.map((node) => {
        const m = held.get(node);
        const e = m?.get(key);
        return { node, held: e === undefined ? null : { ts: e.ts, value: e.deleted ? '' : e.value } };
      }),
    );
  }
  return out;
}

/**
 * The cleanup on every node of the final ring, and then where each key of
 * the history is held, from every live node's dump. Done after every run,
 * membership faults or not: it costs one cleanup and one more dump of the
 * run's few thousand keys, and a key on a node that is not its replica is
 * a bug whatever put it there. A cleanup that could not run, or did not
 * finish on a node, is a failed operation, and the placement goes unchecked.
 */
async function cleanupAndPlace(
  cluster: ChaosCluster,
  ops: readonly Op[],
  log: (line: string) => void,
): Promise<{ placed?: Map<string, KeyPlacement>; failures: string[] }> {
  const t0 = performance.now();
  let cleanup: Awaited<ReturnType<typeof cleanupCluster>>;
  try {
    cleanup = await cleanupCluster(cluster.config, undefined);
  } catch (err) {
    if (!isKvError(err)) throw err;
    return { failures: [`the cleanup after the run: ${err.message}`] };
  }
  const failures = cleanup.nodes.filter((n) => n.error !== undefined).map((n) => `the cleanup of node ${n.node}: ${n.error}`);
  const ms = Math.round(performance.now() - t0);
  log(`cleanup deleted ${cleanup.keys} keys (${cleanup.bytes} bytes) on ${cleanup.nodes.length} nodes in ${ms} ms`);
  if (failures.length > 0) return { failures };
  return { placed: placements(await inspect(cluster.config), ops), failures };
}

/** For every key of the history, its replicas in the inspection's ring and the live nodes that hold it. */
function placements(ins: Inspection, ops: readonly Op[]): Map<string, KeyPlacement> {
  const held = ins.nodes.filter((n) => n.up).map((n) => ({ id: n.id, keys: new Set(n.entries.map((e) => e.key)) }));
  const out = new Map<string, KeyPlacement>();
  for (const key of new Set(ops.map((o) => o.key))) {
    const range = ins.placement.rangeOf(keyText(wireKey(key)));
    out.set(key, { replicas: range.reads, holders: held.filter((n) => n.keys.has(key)).map((n) => n.id) });
  }
  return out;
}

/** One QUORUM read of every key written, recorded as `final`; a failed read is retried through another node. */
async function finalReads(history: History, clients: readonly NodeClient[], prng: Prng): Promise<void> {
  const keys = [...new Set(history.ops.map((o) => o.key))].sort();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const first = prng.range(0, clients.length - 1);
      for (let t = 0; t < FINAL_READ_TRIES; t++) {
        const { id, client } = clients[(first + t) % clients.length]!;
        const r = await history.read('final', id, key, () => client.get(key, 'QUORUM'), true);
        if (r.outcome === 'ok') break;
      }
    }
  };
  await Promise.all(Array.from({ length: FINAL_READ_CONCURRENCY }, worker));
}

function writeHistory(file: string, ops: readonly object[]): void {
  writeFileSync(file, ops.map((op) => JSON.stringify(op)).join('\n') + '\n');
}
