/**
 * A check the simulator makes the moment a membership operation completes:
 * every key's newest write acknowledged at QUORUM or ALL is held, at that
 * version or a newer one, by a quorum of the key's replicas in the new
 * ring, counting a replica that a durable hint on a machine still there
 * will bring it to.
 *
 * Why then: a write acknowledged at QUORUM is durable on a quorum of its
 * replicas, and every other replica has it or a durable hint
 * (docs/ARCHITECTURE.md). A join, move or decommission copies each range
 * from the replica that gives it up; a replacement or a removal copies it
 * from every survivor, because one survivor alone may lack a write the lost
 * node acknowledged. Either way the new ring starts with a quorum of every
 * such write. A stream that copied too little breaks that at once, though
 * the final checks may never see it: anti-entropy and read repair mend the
 * new replica from the one survivor that has the write, long before the
 * run ends (the known bug removalCopiesOneSurvivor is such a case).
 *
 * What counts is what the disks hold (the simulated SQLite's committed
 * transactions), of every machine not lost for good, running or not: a
 * crashed node keeps its commits. Not checked under synchronous NORMAL,
 * where a power loss may take acknowledged writes, as it would.
 */
import type { Op, WriteOp } from '../chaos/history';
import type { Placement } from '../membership/placement';
import type { Txn } from './disk';

/** What one disk holds: each key's newest row version, and each (target, key)'s newest hinted version. */
export interface DiskHoldings {
  readonly rows: ReadonlyMap<string, number>;
  /** By `${target} NUL ${key}`. */
  readonly hints: ReadonlyMap<string, number>;
}

const hintKey = (target: number, key: string): string => `${target}\0${key}`;

/** Replays a disk's committed transactions into what it holds now (a purge drops a key's rows, a delivered hint goes). */
export function holdingsOf(txns: readonly Txn[]): DiskHoldings {
  const rows = new Map<string, number>();
  const hintRows = new Map<number, { target: number; key: string; ts: number }>();
  for (const t of txns) {
    for (const r of t.rows ?? []) rows.set(r.key, Math.max(rows.get(r.key) ?? -Infinity, r.version.ts));
    for (const key of t.purged ?? []) rows.delete(key);
    for (const h of t.hintsAdded ?? []) hintRows.set(h.id, { target: h.target, key: h.key, ts: h.version.ts });
    for (const id of t.hintsRemoved ?? []) hintRows.delete(id);
  }
  const hints = new Map<string, number>();
  for (const h of hintRows.values()) {
    const k = hintKey(h.target, h.key);
    hints.set(k, Math.max(hints.get(k) ?? -Infinity, h.ts));
  }
  return { rows, hints };
}

/** Each key's newest write acknowledged at QUORUM or ALL to its client by `nowMs`. */
function newestQuorumWrites(ops: readonly Op[], nowMs: number): Map<string, WriteOp> {
  const out = new Map<string, WriteOp>();
  for (const o of ops) {
    if (o.kind !== 'write' || o.outcome !== 'ok' || o.ts === undefined || o.end > nowMs) continue;
    if (o.level !== 'QUORUM' && o.level !== 'ALL') continue;
    const seen = out.get(o.key);
    if (seen === undefined || o.ts > seen.ts!) out.set(o.key, o);
  }
  return out;
}

/**
 * The problems at the completion of epoch `epoch` (`what`, in words):
 * one line per key whose newest QUORUM or ALL write a quorum of its
 * replicas under `placement` neither holds nor has a durable hint for.
 * `disks` holds every machine not lost for good.
 */
export function quorumCopyProblems(
  what: string,
  placement: Placement,
  disks: ReadonlyMap<number, DiskHoldings>,
  ops: readonly Op[],
  nowMs: number,
  replicationFactor: number,
): string[] {
  const quorum = Math.floor(replicationFactor / 2) + 1;
  const out: string[] = [];
  for (const [key, write] of newestQuorumWrites(ops, nowMs)) {
    const ts = write.ts!;
    const replicas = placement.rangeOf(key).reads;
    const holds = (r: number): boolean =>
      (disks.get(r)?.rows.get(key) ?? -Infinity) >= ts ||
      [...disks.values()].some((d) => (d.hints.get(hintKey(r, key)) ?? -Infinity) >= ts);
    const holders = replicas.filter(holds);
    if (holders.length < quorum)
      out.push(
        `  quorum copies: at ${what} (${nowMs.toFixed(3)} ms), ${key}'s ${write.level} write #${write.id} (ts ${ts}) is held by ${holders.length > 0 ? `node ${holders.join(', ')} only` : 'none'} of its replicas ${replicas.join(', ')}`,
      );
  }
  return out;
}
