/**
 * The hint store of a simulated node: HintStorage in memory over the node's
 * SimDisk. As hints/hint-store.ts: hints added in one turn go to disk in one
 * transaction and `add` resolves once it committed; a delivered batch is
 * removed in a transaction of its own; a restart finds what was committed.
 */
import type { Time } from '../clock/time';
import { HINTS_QUEUED_MAX } from '../common/limits';
import { CommitQueue } from '../storage/commit-queue';
import type { HintStorage } from '../hints/hint-storage';
import type { StoredHint } from '../hints/hint-store';
import type { KeyedVersion } from '../storage/version';
import type { HintRow, SimDisk } from './disk';

export class MemoryHintStore implements HintStorage {
  readonly counters = { hintsStored: 0, hintsDelivered: 0, hintsDropped: 0, hintWriteErrors: 0 };
  private readonly outcomes = new Map<number, { delivered: number; dropped: number }>();
  private readonly pending: CommitQueue<HintRow>;
  private nextId: number;

  private constructor(
    private readonly disk: SimDisk,
    private readonly time: Time,
    /** Durable hints by id (ids grow, so iteration order is age order). */
    private readonly rows: Map<number, HintRow>,
  ) {
    this.pending = new CommitQueue((rows) => this.write(rows), time);
    let last = 0;
    for (const id of rows.keys()) last = Math.max(last, id);
    this.nextId = last + 1;
  }

  static async open(disk: SimDisk, time: Time): Promise<MemoryHintStore> {
    const rows = new Map<number, HintRow>();
    for (const txn of disk.contents()) {
      for (const h of txn.hintsAdded ?? []) rows.set(h.id, h);
      for (const id of txn.hintsRemoved ?? []) rows.delete(id);
    }
    return new MemoryHintStore(disk, time, rows);
  }

  private noteOutcome(target: number, delivered: number, dropped: number): void {
    const o = this.outcomes.get(target) ?? { delivered: 0, dropped: 0 };
    this.outcomes.set(target, { delivered: o.delivered + delivered, dropped: o.dropped + dropped });
  }

  outcomesByTarget(): Map<number, { delivered: number; dropped: number }> {
    return new Map(this.outcomes);
  }

  countsByTarget(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const h of [...this.rows.values(), ...this.pending.queued]) counts.set(h.target, (counts.get(h.target) ?? 0) + 1);
    return counts;
  }

  count(target: number): number {
    return this.countsByTarget().get(target) ?? 0;
  }

  add(target: number, items: readonly KeyedVersion[]): Promise<boolean> {
    if (this.pending.length + items.length > HINTS_QUEUED_MAX) {
      this.counters.hintsDropped += items.length;
      this.noteOutcome(target, 0, items.length);
      return Promise.resolve(false);
    }
    const createdMs = this.time.nowMs();
    this.counters.hintsStored += items.length;
    return this.pending.push(items.map(({ key, version }) => ({ id: this.nextId++, target, key, version, createdMs })));
  }

  private async write(rows: HintRow[]): Promise<boolean> {
    await this.disk.commit({ hintsAdded: rows });
    for (const h of rows) this.rows.set(h.id, h);
    return true;
  }

  flush(): Promise<void> {
    return this.pending.flush();
  }

  async next(target: number, afterId: number, limit: number): Promise<StoredHint[]> {
    await this.flush();
    const out: StoredHint[] = [];
    for (const h of this.rows.values()) {
      if (out.length >= limit) break;
      if (h.target === target && h.id > afterId) out.push({ id: h.id, key: h.key, version: h.version, createdMs: h.createdMs });
    }
    return out;
  }

  async remove(target: number, ids: readonly number[], delivered: boolean): Promise<void> {
    if (ids.length === 0) return;
    await this.disk.commit({ hintsRemoved: ids });
    let removed = 0;
    for (const id of ids) if (this.rows.delete(id)) removed++;
    if (delivered) this.counters.hintsDelivered += removed;
    else this.counters.hintsDropped += removed;
    this.noteOutcome(target, delivered ? removed : 0, delivered ? 0 : removed);
  }

  async expire(cutoffMs: number): Promise<number> {
    await this.flush();
    const old = [...this.rows.values()].filter((h) => h.createdMs < cutoffMs);
    if (old.length === 0) return 0;
    await this.disk.commit({ hintsRemoved: old.map((h) => h.id) });
    for (const h of old) {
      this.rows.delete(h.id);
      this.noteOutcome(h.target, 0, 1);
    }
    this.counters.hintsDropped += old.length;
    return old.length;
  }
}
