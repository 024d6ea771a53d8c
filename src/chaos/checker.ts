/**
 * The history checker. Pure: it takes the recorded operations and the state
 * after the faults healed, and returns counts and violations; it does no I/O.
 *
 * It is sound and runs in O(n log n) because the store orders versions itself
 * (last-write-wins on timestamps) and tells us the version it returned: every
 * write has a unique value, so a read's value names the write it saw, and
 * versions compare by (timestamp, value). The properties, per key:
 *   (a) after settling, every replica holds a version >= every acknowledged
 *       write's ("behind" otherwise), and the final QUORUM read returns a
 *       version >= every acknowledged write's ("lost" otherwise);
 *   (b) a read returns a value some write really attempted, invoked before the
 *       read completed, not refused as Unavailable, with the timestamp the
 *       write was acknowledged with ("phantom" otherwise);
 *   (c) a read invoked after write W was acknowledged returns a version >= W's
 *       ("stale" otherwise);
 *   (d) a read invoked after another read completed returns a version >= that
 *       one's ("backwards" otherwise).
 * (c) and (d) hold between two operations whose levels overlap (their
 * replica counts add up to more than the replication factor); an operation
 * without a level is QUORUM. A delete is a write of a tombstone, and a read
 * that finds one returns it, ordered as the store orders them
 * (TOMBSTONE_VALUE).
 * After a cleanup on every node (the runner's), each key is held by exactly
 * the replicas the final ring gives it, no more and no fewer ("misplaced"
 * otherwise).
 * Not a violation but counted: acknowledged writes whose version is below one
 * that was already visible (acknowledged or read) before they were invoked.
 * Last-write-wins discards them (clock skew makes them): "lww_lost".
 */
import { requiredReplicas } from '../coordinator/levels';
import { formatOp, Observed, Op, ReadOp, TOMBSTONE_VALUE, WriteOp } from './history';

export type ViolationKind =
  | 'lost'
  | 'stale'
  | 'backwards'
  | 'phantom'
  | 'behind'
  | 'unverified'
  | 'divergent'
  | 'misplaced'
  | 'failed_restart'
  | 'failed_operation'
  | 'crashed'
  | 'watch_behind';

export interface Violation {
  readonly kind: ViolationKind;
  readonly key?: string;
  readonly message: string;
  /** The operations involved, the offending one first. */
  readonly ops: readonly Op[];
}

/** What one replica node of a key holds after settling: null when it has no copy, undefined when it could not be asked. */
export interface ReplicaCopy {
  readonly node: number;
  readonly held: Observed | null | undefined;
}

/** Where a key is after the cleanup: the final ring's replicas of it, and the live nodes whose dump holds it. */
export interface KeyPlacement {
  readonly replicas: readonly number[];
  readonly holders: readonly number[];
}

export interface FinalState {
  /** Per key, what each of its replicas holds after settling. */
  readonly replicas: ReadonlyMap<string, readonly ReplicaCopy[]>;
  /** Keys whose replicas still disagree after settling (from the inspector). */
  readonly divergent: readonly string[];
  /** Node restarts that did not answer in time, with a reason each. */
  readonly failedRestarts: readonly string[];
  /** Nodes that exited without being killed, with a reason each. */
  readonly crashed: readonly string[];
  /** Membership operations (joins, decommissions, moves, replacements, the final cleanup) that did not complete, with the sentence each stopped with. */
  readonly failedOperations?: readonly string[];
  /** Per key, where it is after the final cleanup; absent when the cleanup did not run (a failed operation then says why). */
  readonly placed?: ReadonlyMap<string, KeyPlacement>;
  /**
   * Ids of acknowledged ONE writes whose only copies (the coordinator's own
   * and the hints it held for the other replicas) were on a node lost for
   * good: no other node's disk ever held them, each with when that disk was
   * lost (ms). Losing them is documented (docs/ARCHITECTURE.md, Replacing a
   * dead node: "a write at ONE that N alone acknowledged, as with any lost
   * disk"): lost and behind leave them out, and stale does for the reads
   * that begin after the loss (those that begin before it must still see them).
   */
  readonly lostWithNode?: ReadonlyMap<number, number>;
  /**
   * Per key, the newest version a watch of the whole key space told during
   * and after the run (null: none); absent when no watch ran. The settled
   * replicas' version of every key must be among what it told.
   */
  readonly watched?: ReadonlyMap<string, Observed | null>;
}

export interface Counts {
  ops: number;
  writes: number;
  acked: number;
  reads: number;
  readsOk: number;
  lost: number;
  stale: number;
  backwards: number;
  phantom: number;
  behind: number;
  unverified: number;
  divergent: number;
  misplaced: number;
  failedRestarts: number;
  failedOperations: number;
  crashed: number;
  lwwLost: number;
  /** Not a violation: acknowledged ONE writes that only a node lost for good held (FinalState.lostWithNode). */
  lostWithNode: number;
  /** Keys whose settled version the watch never told (FinalState.watched). */
  watchBehind: number;
}

export interface CheckResult {
  readonly counts: Counts;
  readonly violations: Violation[];
  readonly ok: boolean;
}

/**
 * Store order: timestamp, then value bytes. Values here are UTF-8 of
 * characters below U+D800, whose string order is their byte order.
 */
export function compareObserved(a: Observed, b: Observed): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  return a.value === b.value ? 0 : a.value < b.value ? -1 : 1;
}

export function writeVersion(w: WriteOp): Observed {
  return { ts: w.ts!, value: w.value };
}

export function readVersion(r: ReadOp): Observed {
  if (r.found) return { ts: r.ts!, value: r.value! };
  return { ts: r.ts ?? 0, value: r.ts ? TOMBSTONE_VALUE : '' };
}

/** Replication factor the real-time checks assume when the caller names none (the chaos tool's clusters). */
const DEFAULT_REPLICATION_FACTOR = 3;

/**
 * Replicas an operation's level involves; the chaos tool's operations carry
 * no level and are QUORUM. An ANY write involves none: its one copy may be a
 * hint, which no read asks, so no read is bound to see it before it is
 * handed over (it must still be on every replica after settling).
 */
function replicasOf(op: Op, rf: number): number {
  if (op.level === 'ANY') return 0;
  return requiredReplicas(op.level ?? 'QUORUM', rf);
}

/** Writes listed with a divergent key. */
const DIVERGENT_WRITES_SHOWN = 3;

const isAcked = (o: Op): o is WriteOp => o.kind === 'write' && o.outcome === 'ok';
const isOkRead = (o: Op): o is ReadOp => o.kind === 'read' && o.outcome === 'ok';

function byKey(ops: readonly Op[]): Map<string, Op[]> {
  const m = new Map<string, Op[]>();
  for (const o of ops) {
    let list = m.get(o.key);
    if (!list) m.set(o.key, (list = []));
    list.push(o);
  }
  return m;
}

/** A version that became visible at `end` (an acked write, or a read's answer). */
interface Visible {
  readonly end: number;
  readonly version: Observed;
  readonly op: Op;
}

/**
 * For each query time (ascending), the largest visible version whose `end`
 * is strictly before it. One sweep over both lists sorted by time.
 */
function floorsBefore(visible: Visible[], queries: readonly number[]): (Visible | undefined)[] {
  const sorted = [...visible].sort((a, b) => a.end - b.end);
  const out: (Visible | undefined)[] = [];
  let best: Visible | undefined;
  let i = 0;
  for (const t of queries) {
    while (i < sorted.length && sorted[i]!.end < t) {
      const v = sorted[i++]!;
      if (best === undefined || compareObserved(v.version, best.version) > 0) best = v;
    }
    out.push(best);
  }
  return out;
}

class Check {
  readonly violations: Violation[] = [];
  readonly counts: Counts;

  constructor(
    private readonly ops: readonly Op[],
    private readonly rf: number,
  ) {
    const writes = ops.filter((o) => o.kind === 'write');
    const reads = ops.filter((o) => o.kind === 'read');
    this.counts = {
      ops: ops.length,
      writes: writes.length,
      acked: writes.filter(isAcked).length,
      reads: reads.length,
      readsOk: reads.filter(isOkRead).length,
      lost: 0,
      stale: 0,
      backwards: 0,
      phantom: 0,
      behind: 0,
      unverified: 0,
      divergent: 0,
      misplaced: 0,
      failedRestarts: 0,
      failedOperations: 0,
      crashed: 0,
      lwwLost: 0,
      lostWithNode: 0,
      watchBehind: 0,
    };
  }

  flag(kind: ViolationKind, key: string | undefined, message: string, ops: Op[]): void {
    this.violations.push({ kind, key, message, ops });
  }

  /** (b): every read's value names a real write on that key, invoked before the read ended. */
  phantoms(): void {
    const byValue = new Map<string, WriteOp>();
    const deletes = new Map<string, WriteOp[]>();
    for (const o of this.ops) {
      if (o.kind !== 'write') continue;
      if (o.deleted) deletes.set(o.key, [...(deletes.get(o.key) ?? []), o]);
      else byValue.set(o.value, o);
    }
    for (const r of this.ops.filter(isOkRead)) {
      const problem = r.found ? this.phantomProblem(r, byValue.get(r.value ?? '')) : this.tombstoneProblem(r, deletes.get(r.key) ?? []);
      if (problem === undefined) continue;
      this.counts.phantom++;
      const w = byValue.get(r.value ?? '');
      this.flag('phantom', r.key, problem, w ? [r, w] : [r]);
    }
  }

  /** A read that found nothing: nothing there (ts 0), or the tombstone of a delete it could have seen. */
  private tombstoneProblem(r: ReadOp, deletes: readonly WriteOp[]): string | undefined {
    if (!r.ts) return undefined;
    if (deletes.length === 0) return `read found a tombstone (ts ${r.ts}) but nothing was ever deleted`;
    const possible = deletes.some((d) => d.start <= r.end && d.outcome !== 'Unavailable' && (d.outcome !== 'ok' || d.ts === r.ts));
    return possible ? undefined : `read found a tombstone (ts ${r.ts}) that no delete of ${r.key} invoked before it could have left`;
  }

  private phantomProblem(r: ReadOp, w: WriteOp | undefined): string | undefined {
    if (w === undefined) return `read returned ${JSON.stringify(r.value)}, which no write wrote`;
    if (w.key !== r.key) return `read of ${r.key} returned the value written to ${w.key}`;
    if (w.start > r.end) return `read returned ${w.value} before its write was invoked`;
    if (w.outcome === 'Unavailable') return `read returned ${w.value}, whose write was refused as Unavailable (nothing written)`;
    if (w.outcome === 'ok' && w.ts !== r.ts) return `read returned ${w.value} with ts ${r.ts}, but it was acknowledged with ts ${w.ts}`;
    return undefined;
  }

  /** (c) and (d) for one key, and the lww_lost count; `lostAt`: FinalState.lostWithNode. */
  realTimeOrder(ops: readonly Op[], lostAt?: ReadonlyMap<number, number>): void {
    const writes: Visible[] = ops.filter(isAcked).map((w) => ({ end: w.end, version: writeVersion(w), op: w }));
    // A write that went with a lost disk binds only the reads that begin before the loss.
    const lasting = writes.filter((v) => !lostAt?.has(v.op.id));
    const lost = writes.filter((v) => lostAt?.has(v.op.id)).map((v) => ({ ...v, until: lostAt!.get(v.op.id)! }));
    const readsOk = ops.filter(isOkRead);
    const reads: Visible[] = readsOk.map((r) => ({ end: r.end, version: readVersion(r), op: r }));
    for (const n of new Set(readsOk.map((r) => replicasOf(r, this.rf)))) {
      // Only what an operation of overlapping level made visible binds a read of this level.
      const overlaps = (v: Visible): boolean => replicasOf(v.op, this.rf) + n > this.rf;
      const byStart = readsOk.filter((r) => replicasOf(r, this.rf) === n).sort((a, b) => a.start - b.start);
      this.readsAfter(byStart, lasting.filter(overlaps), lost.filter(overlaps), reads.filter(overlaps));
    }
    this.lwwLost(ops, [...writes, ...reads]);
  }

  /** (c) and (d) for reads (sorted by start) against the writes and reads that bind them (`lost` only until their loss). */
  private readsAfter(
    byStart: readonly ReadOp[],
    writes: Visible[],
    lost: readonly (Visible & { until: number })[],
    reads: Visible[],
  ): void {
    const starts = byStart.map((r) => r.start);
    const wFloor = floorsBefore(writes, starts);
    const rFloor = floorsBefore(reads, starts);
    byStart.forEach((r, i) => {
      const v = readVersion(r);
      let w = wFloor[i];
      for (const l of lost)
        if (l.end < r.start && r.start <= l.until && (w === undefined || compareObserved(l.version, w.version) > 0)) w = l;
      if (w && compareObserved(v, w.version) < 0) {
        this.counts.stale++;
        this.flag('stale', r.key, `read returned ts ${v.ts} but write #${w.op.id} (ts ${w.version.ts}) was acknowledged before it began`, [
          r,
          w.op,
        ]);
      }
      const p = rFloor[i];
      if (p && compareObserved(v, p.version) < 0) {
        this.counts.backwards++;
        this.flag('backwards', r.key, `read returned ts ${v.ts} but read #${p.op.id} had returned ts ${p.version.ts} before it began`, [
          r,
          p.op,
        ]);
      }
    });
  }

  private lwwLost(ops: readonly Op[], visible: Visible[]): void {
    const acked = ops.filter(isAcked).sort((a, b) => a.start - b.start);
    const floors = floorsBefore(
      visible,
      acked.map((w) => w.start),
    );
    acked.forEach((w, i) => {
      const f = floors[i];
      if (f && compareObserved(writeVersion(w), f.version) < 0) this.counts.lwwLost++;
    });
  }

  /** (a) through the final QUORUM read: acked writes it does not cover are lost. */
  lost(key: string, ops: readonly Op[]): void {
    const finals = ops.filter((o): o is ReadOp => isOkRead(o) && o.final === true).sort((a, b) => a.end - b.end);
    const last = finals[finals.length - 1];
    const acked = ops.filter(isAcked);
    if (last === undefined && acked.length > 0) {
      this.counts.unverified++;
      this.flag('unverified', key, `no final read of ${key} succeeded, so its ${acked.length} acknowledged write(s) could not be checked`, [
        acked[0]!,
      ]);
      return;
    }
    for (const w of acked) {
      if (last !== undefined && compareObserved(readVersion(last), writeVersion(w)) < 0) {
        this.counts.lost++;
        this.flag('lost', key, `acknowledged write #${w.id} (ts ${w.ts}) is not in the final read (ts ${last.ts})`, [w, last]);
      }
    }
  }

  /** (a) on every replica after settling: one violation per replica copy below the newest acked write. */
  behind(key: string, ops: readonly Op[], replicas: readonly ReplicaCopy[] | undefined): void {
    const acked = ops.filter(isAcked);
    if (acked.length === 0) return;
    const top = acked.reduce((a, b) => (compareObserved(writeVersion(b), writeVersion(a)) > 0 ? b : a));
    for (const { node, held } of replicas ?? []) {
      if (held === undefined || (held !== null && compareObserved(held, writeVersion(top)) >= 0)) continue;
      this.counts.behind++;
      const has = held === null ? 'no copy' : `ts ${held.ts} (${held.value})`;
      const below = acked.filter((w) => held === null || compareObserved(held, writeVersion(w)) < 0).length;
      this.flag(
        'behind',
        key,
        `node ${node} (a replica of ${key}) holds ${has} after settling: below ${below} acknowledged write(s), the newest #${top.id} (ts ${top.ts})`,
        [top],
      );
    }
  }

  /** The watch told the version the key's replicas settled on (or a later one). Unchecked when no watch ran. */
  watchBehind(key: string, replicas: readonly ReplicaCopy[] | undefined, watched: ReadonlyMap<string, Observed | null> | undefined): void {
    if (watched === undefined) return;
    const settled = settledVersion(replicas);
    if (settled === undefined) return;
    const told = watched.get(key) ?? null;
    if (told !== null && compareObserved(told, settled) >= 0) return;
    this.counts.watchBehind++;
    const has = told === null ? 'nothing' : `ts ${told.ts} (${told.value})`;
    this.flag('watch_behind', key, `the watch told ${has} of ${key}; its replicas settled on ts ${settled.ts} (${settled.value})`, []);
  }

  /**
   * After the cleanup, the key is on its replicas and nowhere else; a key no
   * write ever reached is on no node, which is right. Unchecked when the
   * cleanup did not run (undefined).
   */
  misplaced(key: string, ops: readonly Op[], placed: KeyPlacement | undefined): void {
    if (placed === undefined) return;
    const { replicas, holders } = placed;
    if (holders.length === 0 && !ops.some(isAcked)) return;
    const same = holders.length === replicas.length && replicas.every((n) => holders.includes(n));
    if (same) return;
    this.counts.misplaced++;
    const list = (ids: readonly number[]): string => `[${[...ids].sort((a, b) => a - b).join(', ')}]`;
    this.flag(
      'misplaced',
      key,
      `after the cleanup ${key} is held by ${holders.length} node(s) ${list(holders)}, but the final ring gives it ${replicas.length} replica(s) ${list(replicas)}`,
      ops.filter(isAcked).slice(-1),
    );
  }

  final(state: FinalState, keyed: ReadonlyMap<string, Op[]>): void {
    this.counts.divergent = state.divergent.length;
    for (const k of state.divergent) {
      const copies = (state.replicas.get(k) ?? []).map(
        ({ node, held }) => `n${node}: ${held === undefined ? '?' : held === null ? '-' : `${held.value}@${held.ts}`}`,
      );
      // The last writes of the key show which write reached only some replicas, and how it ended.
      const writes = (keyed.get(k) ?? [])
        .filter((o) => o.kind === 'write')
        .slice(-DIVERGENT_WRITES_SHOWN)
        .reverse();
      this.flag('divergent', k, `replicas of ${k} still disagree after settling (${copies.join(', ') || 'copies unknown'})`, writes);
    }
    this.counts.failedRestarts = state.failedRestarts.length;
    for (const m of state.failedRestarts) this.flag('failed_restart', undefined, m, []);
    this.counts.failedOperations = state.failedOperations?.length ?? 0;
    for (const m of state.failedOperations ?? []) this.flag('failed_operation', undefined, m, []);
    this.counts.crashed = state.crashed.length;
    for (const m of state.crashed) this.flag('crashed', undefined, m, []);
  }
}

/** The newest version the key's replicas hold after settling; undefined when none holds one. */
export function settledVersion(replicas: readonly ReplicaCopy[] | undefined): Observed | undefined {
  let top: Observed | undefined;
  for (const { held } of replicas ?? []) if (held && (top === undefined || compareObserved(held, top) > 0)) top = held;
  return top;
}

/** Checks a finished history against the settled state. */
export function check(ops: readonly Op[], state: FinalState, replicationFactor = DEFAULT_REPLICATION_FACTOR): CheckResult {
  const c = new Check(ops, replicationFactor);
  c.phantoms();
  const keyed = byKey(ops);
  for (const [key, list] of keyed) {
    // Writes that went with a lost disk, as documented, are counted and left out of what must survive.
    const excused = state.lostWithNode;
    c.realTimeOrder(list, excused);
    const survivors = excused === undefined ? list : list.filter((o) => !excused.has(o.id));
    c.counts.lostWithNode += list.length - survivors.length;
    c.lost(key, survivors);
    c.behind(key, survivors, state.replicas.get(key));
    c.misplaced(key, list, state.placed?.get(key));
    c.watchBehind(key, state.replicas.get(key), state.watched);
  }
  c.final(state, keyed);
  const n = c.counts;
  const bad =
    n.lost +
    n.stale +
    n.backwards +
    n.phantom +
    n.behind +
    n.unverified +
    n.divergent +
    n.misplaced +
    n.failedRestarts +
    n.failedOperations +
    n.crashed +
    n.watchBehind;
  return { counts: n, violations: c.violations, ok: bad === 0 };
}

/** Human-readable excerpt: up to `perKind` violations of each kind with their operations. */
export function describeViolations(violations: readonly Violation[], perKind = 5): string[] {
  const shown = new Map<ViolationKind, number>();
  const lines: string[] = [];
  for (const v of violations) {
    const n = shown.get(v.kind) ?? 0;
    shown.set(v.kind, n + 1);
    if (n === perKind) lines.push(`  ${v.kind}: … more not shown`);
    if (n >= perKind) continue;
    lines.push(`  ${v.kind}${v.key !== undefined ? ` ${v.key}` : ''}: ${v.message}`);
    for (const o of v.ops) lines.push(`      ${formatOp(o)}`);
  }
  return lines;
}
