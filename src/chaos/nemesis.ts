/**
 * The nemesis: a fault schedule drawn from the seed, then run one fault at a
 * time against the cluster, each healed before the next starts. The schedule
 * is a pure function of (seed, faults, duration, node count), so a seed
 * replays the same faults on the same nodes with the same timings.
 */
import { ChaosCluster, PartitionKind } from './cluster';
import { Random as Prng } from '../common/random';
import { compareKeyStrings } from '../common/bytes';
import { assert } from '../common/assert';
import { tokenText } from '../client/ring';
import { midpointToken } from '../membership/tokens';
import { Workload } from './workload';
import { isBusyRefusal, refuseUnless } from './membership';
import { currentMembership } from '../client/operations';

export const FAULT_KINDS = [
  'kill',
  'pause',
  'partition',
  'skew',
  'burst-kill',
  'join',
  'decommission',
  'move',
  'replace',
  'remove',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** Membership operations: they change the ring for the rest of the run, so a run has them only when asked. */
export const MEMBERSHIP_FAULTS: readonly FaultKind[] = ['join', 'decommission', 'move', 'replace', 'remove'];
/** Membership faults that take a node out of the ring, so only while more nodes than the replication factor remain. */
const SHRINKING_FAULTS: readonly FaultKind[] = ['decommission', 'remove'];
/** Membership faults that start a node with a new id (a joining node, a replacement), so that need spare ids. */
export const NEW_NODE_FAULTS: readonly FaultKind[] = ['join', 'replace'];
/** What --faults means when not given. */
export const DEFAULT_FAULT_KINDS = FAULT_KINDS.filter((k) => !MEMBERSHIP_FAULTS.includes(k));
/**
 * New nodes one run may start, beyond the cluster file's: joining nodes and
 * replacements take these spare ids in turn (each needs its address and
 * links made up front).
 */
export const JOIN_SPARES_MAX = 2;

export interface Fault {
  readonly kind: FaultKind;
  readonly node: number;
  /** How long the fault lasts (down, paused, cut off, skewed). */
  readonly holdMs: number;
  readonly partition?: PartitionKind;
  /** For a delaying partition: added to every chunk on the node's links. */
  readonly delayMs?: number;
  readonly skewMs?: number;
  /** burst-kill: writes in the burst, and how long after it starts the kill comes. */
  readonly burstSize?: number;
  readonly killAfterMs?: number;
  /**
   * burst-kill: a second node killed or paused just before the burst, so the
   * victim coordinator owes it hints when it dies. Paused is the sharper case:
   * requests to it hang until the request timeout, and only then is a hint
   * stored, long after the write was acknowledged ("a coordinator killed
   * after acking but before storing its hint").
   */
  readonly alsoDown?: number;
  readonly alsoDownBy?: 'kill' | 'pause';
  /**
   * How long the pause precedes the burst: under the detector's 2 s, so the
   * coordinators still send to the paused node and its in-flight slots fill.
   */
  readonly pauseLeadMs?: number;
  /** join: the token the node joins at; move: the token it moves to. */
  readonly token?: string;
  /** replace: the id of the new node that takes the place of `node` (killed first). */
  readonly replacement?: number;
}

export interface PlannedFault {
  /** ms after the workload started, at the earliest. */
  readonly at: number;
  readonly fault: Fault;
}

/** The first fault waits for the workload to be going. */
const WARMUP_MS = 2_000;
/** Time a fault's healing may take (a restart, the detector seeing the node again) before the next may start. */
const RECOVERY_ALLOWANCE_MS = 3_000;
/** The last fault heals this long before the workload stops, so writes after it reach every replica. */
const COOLDOWN_MS = 3_000;
/** Silence longer than the failure detector's 2 s timeout, so pauses and blackholes are noticed. */
const HOLD_MIN_MS = 3_000;
const HOLD_MAX_MS = 6_000;

/**
 * The ring as the plan changes it: the members the other faults pick from,
 * each with its token, the spare ids still free to join or replace, the
 * tokens ever taken. A decommission is planned only while the ring keeps
 * more nodes than the replication factor.
 */
export class PlannedRing {
  readonly members: number[];
  private readonly spares: number[];
  /** Every token a join or a move took, so that a join never draws one again. */
  private readonly tokens = new Set<string>();
  private readonly tokenOf = new Map<number, string>();

  constructor(
    /** The cluster file's tokens, by node id. */
    bootstrap: readonly string[],
    spares: number,
    private readonly replicationFactor: number,
  ) {
    this.members = bootstrap.map((_, i) => i);
    bootstrap.forEach((token, id) => this.tokenOf.set(id, token));
    this.spares = Array.from({ length: spares }, (_, i) => bootstrap.length + i);
  }

  /** The kinds of `kinds` that can happen now. */
  possible(kinds: readonly FaultKind[]): FaultKind[] {
    return kinds.filter(
      (k) =>
        (!NEW_NODE_FAULTS.includes(k) || this.spares.length > 0) &&
        (!SHRINKING_FAULTS.includes(k) || this.members.length > this.replicationFactor),
    );
  }

  /** The next spare joins at a token drawn among the workload's keys' first characters (so that it takes keys over). */
  join(prng: Prng): { node: number; token: string } {
    const node = this.spares.shift()!;
    let token: string;
    do token = `${prng.pick([...JOIN_TOKEN_PREFIXES])}${prng.range(0, 999)}`;
    while (this.tokens.has(token) || this.ringHas(token));
    this.tokens.add(token);
    this.members.push(node);
    this.tokenOf.set(node, token);
    return { node, token };
  }

  leave(node: number): void {
    this.members.splice(this.members.indexOf(node), 1);
    this.tokenOf.delete(node);
  }

  /**
   * Node `node` moves to a token inside one of its two neighbour ranges
   * (the one its token ends, or the next): one shaped like a joining token,
   * among the workload's keys, when a first character of theirs falls in
   * that range, so that keys change hands; else the range's byte midpoint.
   * Either way strictly between two adjacent tokens of the ring, so never
   * one a member holds.
   */
  move(node: number, prng: Prng): string {
    const ring = [...this.tokenOf.values()].sort(compareKeyStrings);
    const at = ring.indexOf(this.tokenOf.get(node)!);
    const [start, end] =
      prng.float() < 0.5 ? [ring[(at - 1 + ring.length) % ring.length]!, ring[at]!] : [ring[at]!, ring[(at + 1) % ring.length]!];
    const firsts = [...JOIN_TOKEN_PREFIXES].filter((c) => strictlyInside(start, end, c));
    const drawn = firsts.length > 0 ? `${prng.pick(firsts)}${prng.range(0, 999)}` : undefined;
    const token = drawn !== undefined && strictlyInside(start, end, drawn) ? drawn : midpointToken(start, end);
    assert(strictlyInside(start, end, token) && !this.ringHas(token), 'a move token lies strictly between two adjacent tokens');
    this.tokens.add(token);
    this.tokenOf.set(node, token);
    return token;
  }

  /** The next spare takes dead node `node`'s place (and token) in the ring; returns its id. */
  replace(node: number): number {
    const replacement = this.spares.shift()!;
    this.members[this.members.indexOf(node)] = replacement;
    this.tokenOf.set(replacement, this.tokenOf.get(node)!);
    this.tokenOf.delete(node);
    return replacement;
  }

  private ringHas(token: string): boolean {
    return [...this.tokenOf.values()].includes(token);
  }
}

/** Whether `token` lies strictly between `start` and `end` going clockwise round the ring (past the end of the key space when end <= start). */
function strictlyInside(start: string, end: string, token: string): boolean {
  const afterStart = compareKeyStrings(token, start) > 0;
  const beforeEnd = compareKeyStrings(token, end) < 0;
  return compareKeyStrings(start, end) < 0 ? afterStart && beforeEnd : afterStart || beforeEnd;
}

/** First characters of joining tokens: those the chaos workload's keys start with (workload.ts), so a join splits a range holding keys. */
const JOIN_TOKEN_PREFIXES = 'BHNUgkqw';
/** A membership operation's planned length, for spacing the faults after it (the nemesis waits for its end anyway). */
const MEMBERSHIP_HOLD_MS = 8_000;

function drawFault(prng: Prng, kinds: readonly FaultKind[], ring: PlannedRing, partitionKinds: readonly PartitionKind[]): Fault {
  const kind = prng.pick(kinds);
  const members = ring.members;
  const at = prng.range(0, members.length - 1);
  const node = members[at]!;
  const holdMs = prng.range(HOLD_MIN_MS, HOLD_MAX_MS);
  switch (kind) {
    case 'partition': {
      const partition = prng.pick(partitionKinds);
      return { kind, node, holdMs, partition, delayMs: partition === 'delay' ? prng.range(200, 1500) : undefined };
    }
    case 'skew':
      return { kind, node, holdMs, skewMs: prng.pick([-1, 1]) * prng.range(2_000, 10_000) };
    case 'join':
      return { kind, ...ring.join(prng), holdMs: MEMBERSHIP_HOLD_MS };
    case 'decommission':
    case 'remove':
      ring.leave(node);
      return { kind, node, holdMs: MEMBERSHIP_HOLD_MS };
    case 'move':
      return { kind, node, token: ring.move(node, prng), holdMs: MEMBERSHIP_HOLD_MS };
    case 'replace':
      return { kind, node, replacement: ring.replace(node), holdMs: MEMBERSHIP_HOLD_MS };
    case 'burst-kill': {
      const alsoDown = prng.float() < 0.5 ? members[(at + prng.range(1, members.length - 1)) % members.length] : undefined;
      const alsoDownBy = alsoDown === undefined ? undefined : prng.pick(['kill', 'pause'] as const);
      const pauseLeadMs = alsoDownBy === 'pause' ? prng.range(100, 1_500) : undefined;
      return { kind, node, holdMs, burstSize: prng.range(100, 300), killAfterMs: prng.range(0, 30), alsoDown, alsoDownBy, pauseLeadMs };
    }
    default:
      return { kind, node, holdMs };
  }
}

export function planFaults(
  seed: Prng,
  kinds: readonly FaultKind[],
  durationMs: number,
  /** The cluster file's tokens, by node id. */
  tokens: readonly string[],
  partitionKinds: readonly PartitionKind[],
  spares = 0,
  replicationFactor = 3,
): PlannedFault[] {
  const plan: PlannedFault[] = [];
  const ring = new PlannedRing(tokens, spares, replicationFactor);
  let t = WARMUP_MS;
  for (;;) {
    const possible = ring.possible(kinds);
    if (possible.length === 0) return plan;
    const fault = drawFault(seed, possible, ring, partitionKinds);
    if (t + fault.holdMs + COOLDOWN_MS > durationMs) return plan;
    plan.push({ at: t, fault });
    t += fault.holdMs + RECOVERY_ALLOWANCE_MS + seed.range(500, 2_500);
  }
}

export function describeFault(f: Fault): string {
  const hold = `${(f.holdMs / 1000).toFixed(1)}s`;
  switch (f.kind) {
    case 'kill':
      return `kill -9 node ${f.node}, restart after ${hold}`;
    case 'pause':
      return `SIGSTOP node ${f.node} for ${hold}`;
    case 'partition':
      return `cut node ${f.node} off (${f.partition}${f.delayMs ? ` ${f.delayMs}ms` : ''}) for ${hold}`;
    case 'skew':
      return `skew node ${f.node}'s clock by ${f.skewMs! > 0 ? '+' : ''}${f.skewMs}ms for ${hold}`;
    case 'join':
      return `node ${f.node} joins at token ${JSON.stringify(f.token)}`;
    case 'decommission':
      return `decommission node ${f.node}`;
    case 'move':
      return `move node ${f.node} to token ${tokenText(f.token!)}`;
    case 'replace':
      return `kill -9 node ${f.node} and replace it with node ${f.replacement}`;
    case 'remove':
      return `kill -9 node ${f.node} and remove it from the ring`;
    case 'burst-kill':
      return `kill -9 node ${f.node} ${f.killAfterMs}ms into a burst of ${f.burstSize} writes${f.alsoDown !== undefined ? ` (node ${f.alsoDown} ${f.alsoDownBy === 'pause' ? `paused ${f.pauseLeadMs}ms` : 'killed just'} before)` : ''}, restart after ${hold}`;
  }
}

export interface FaultRecord {
  readonly at: number;
  readonly description: string;
  healedAt?: number;
  error?: string;
}

export class Nemesis {
  readonly records: FaultRecord[] = [];
  readonly failedRestarts: string[] = [];
  /** Joins and decommissions that did not complete, each with the sentence it stopped with. */
  readonly failedOperations: string[] = [];
  /** Nodes found dead that the nemesis had not killed. */
  readonly crashed: string[] = [];
  /** Nodes the nemesis took down and has not brought back yet. */
  readonly downByUs = new Set<number>();
  private stopping = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly workload: Workload,
    private readonly prng: Prng,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    /** Told after each membership operation, whether it succeeded or not: the ring may have changed. */
    private readonly ringChanged: () => void = () => undefined,
  ) {}

  /** Runs the plan until it ends or stop() is called; every fault is healed before this resolves. */
  async run(plan: readonly PlannedFault[]): Promise<void> {
    for (const { at, fault } of plan) {
      await this.sleep(at - this.now());
      if (this.stopping) return;
      const rec: FaultRecord = { at: this.now(), description: describeFault(fault) };
      this.records.push(rec);
      this.log(`[${(rec.at / 1000).toFixed(1)}s] ${rec.description}`);
      try {
        await this.inject(fault);
      } catch (err) {
        rec.error = (err as Error).message;
        this.log(`  fault failed: ${rec.error}`);
      }
      rec.healedAt = this.now();
    }
  }

  /** Cuts the current fault's hold short; run() then heals it and returns. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** Waits `ms`, or less if stop() is called: the fault timing, not synchronisation. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  private async inject(f: Fault): Promise<void> {
    switch (f.kind) {
      case 'kill':
        return this.killFor(f.node, f.holdMs);
      case 'pause':
        return this.pauseFor(f.node, f.holdMs);
      case 'partition':
        return this.partitionFor(f);
      case 'skew':
        return this.skewFor(f.node, f.skewMs!, f.holdMs);
      case 'burst-kill':
        return this.burstKill(f);
      case 'join':
        return this.membership(() => this.cluster.join(f.node, f.token!), describeFault(f));
      case 'decommission':
        return this.membership(() => this.cluster.decommission(f.node), describeFault(f));
      case 'move':
        return this.membership(() => this.cluster.move(f.node, f.token!), describeFault(f));
      case 'replace':
        return this.membership(() => this.replace(f.node, f.replacement!), describeFault(f));
      case 'remove':
        return this.membership(() => this.remove(f.node), describeFault(f));
    }
  }

  /**
   * Runs a membership operation. One refused because another operation is
   * in progress changed nothing: it is logged and skipped, not failed (the
   * operation in progress fails by itself if it never ends).
   */
  private async membership(operation: () => Promise<void>, what: string): Promise<void> {
    try {
      await operation();
    } catch (err) {
      if (isBusyRefusal(err)) {
        this.log(`  refused, skipped: ${(err as Error).message}`);
        return;
      }
      this.failedOperations.push(`${what}: ${(err as Error).message}`);
      throw err;
    } finally {
      this.ringChanged();
    }
  }

  /**
   * kill -9 of node `dead` and its replacement by spare `id`. The ring is
   * asked first whether the replacement may begin, so that a refused one
   * kills nothing; the dead node counts as down by us until it has left.
   */
  private async replace(dead: number, id: number): Promise<void> {
    refuseUnless(await currentMembership(this.cluster.config), { kind: 'replace-begin', node: id, replaces: dead });
    await this.kill(dead);
    await this.cluster.replace(id, dead);
    this.downByUs.delete(dead);
  }

  /**
   * kill -9 of node `dead` and its removal, run by another member. The ring
   * is asked first whether a removal may begin, so that a refused one kills
   * nothing; the dead node counts as down by us until it has left.
   */
  private async remove(dead: number): Promise<void> {
    const m = await currentMembership(this.cluster.config);
    const by = this.cluster.members().find((id) => id !== dead && !this.downByUs.has(id));
    refuseUnless(m, by === undefined ? { kind: 'leave-begin', node: dead } : { kind: 'leave-begin', node: dead, by });
    await this.kill(dead);
    await this.cluster.remove(dead);
    this.downByUs.delete(dead);
  }

  private async killFor(node: number, holdMs: number): Promise<void> {
    await this.kill(node);
    await this.sleep(holdMs);
    await this.restart(node);
  }

  async kill(node: number): Promise<void> {
    if (!this.cluster.isRunning(node) && !this.downByUs.has(node)) {
      this.crashed.push(`node ${node} had exited without being killed: ${this.cluster.logTail(node, 800)}`);
    }
    this.downByUs.add(node);
    await this.cluster.kill(node);
  }

  /** Starts a node the nemesis took down; a node that does not answer in time is a failed restart. */
  async restart(node: number): Promise<void> {
    try {
      await this.cluster.startNode(node);
      this.downByUs.delete(node);
    } catch (err) {
      const why = `node ${node} did not restart: ${(err as Error).message}`;
      this.failedRestarts.push(why);
      this.log(`  ${why}\n${this.cluster.logTail(node, 1500)}`);
      // Leave no half-started process behind: the final heal tries once more.
      if (this.cluster.isRunning(node)) await this.cluster.kill(node);
    }
  }

  private async pauseFor(node: number, holdMs: number): Promise<void> {
    this.cluster.signal(node, 'SIGSTOP');
    try {
      await this.sleep(holdMs);
    } finally {
      this.cluster.signal(node, 'SIGCONT');
    }
  }

  private async partitionFor(f: Fault): Promise<void> {
    await this.cluster.isolate(f.node, f.partition!, f.delayMs ?? 0);
    try {
      await this.sleep(f.holdMs);
    } finally {
      await this.cluster.healNetwork();
    }
  }

  private async skewFor(node: number, skewMs: number, holdMs: number): Promise<void> {
    await this.setOffset(node, skewMs);
    try {
      await this.sleep(holdMs);
    } finally {
      await this.setOffset(node, 0);
    }
  }

  async setOffset(node: number, ms: number): Promise<void> {
    const admin = this.cluster.admin(node, 3_000);
    try {
      await admin.setClockOffset(ms);
    } finally {
      admin.close();
    }
  }

  private async burstKill(f: Fault): Promise<void> {
    if (f.alsoDownBy === 'kill') await this.kill(f.alsoDown!);
    if (f.alsoDownBy === 'pause') {
      this.cluster.signal(f.alsoDown!, 'SIGSTOP');
      await this.sleep(f.pauseLeadMs!);
    }
    const burst = this.workload.burst(f.burstSize!, this.prng.fork());
    await this.sleep(f.killAfterMs!);
    await this.kill(f.node);
    const writes = await burst;
    const acked = writes.filter((w) => w.outcome === 'ok').length;
    this.log(`  burst: ${acked} of ${writes.length} writes acknowledged`);
    await this.sleep(f.holdMs);
    if (f.alsoDownBy === 'pause') this.cluster.signal(f.alsoDown!, 'SIGCONT');
    await this.restart(f.node);
    if (f.alsoDownBy === 'kill') await this.restart(f.alsoDown!);
  }
}
