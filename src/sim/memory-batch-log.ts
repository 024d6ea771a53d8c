/**
 * The batch log of a simulated node: BatchLogStorage in memory over the
 * node's SimDisk. As storage/batch-log.ts: a batch is durable once its
 * transaction committed, and a restart finds what was committed.
 */
import type { BatchLogStorage, BatchOrigin, LoggedBatch } from '../storage/batch-log';
import { copyName, encodeBatch } from '../storage/batch-log';
import type { KeyedVersion } from '../storage/version';
import type { SimDisk } from './disk';

export class MemoryBatchLog implements BatchLogStorage {
  /** Batches in the log or on their way there, by id, with their bytes. */
  private readonly batches = new Map<number, { batch: LoggedBatch; bytes: number; durable: boolean }>();
  private bodyBytes = 0;
  private nextId: number;
  private readonly copies = new Map<string, number>();

  /** `copyDurable` hears of each copy of another coordinator's batch once it is durable here (the checker's record of who held one). */
  private constructor(
    private readonly disk: SimDisk,
    private readonly copyDurable: (batch: LoggedBatch) => void,
  ) {
    let last = 0;
    for (const txn of disk.contents()) {
      if (txn.batchAdded !== undefined) this.note(txn.batchAdded, true);
      if (txn.batchRemoved !== undefined) this.forget(txn.batchRemoved);
      last = Math.max(last, txn.batchAdded?.id ?? 0);
    }
    this.nextId = last + 1;
  }

  static open(disk: SimDisk, copyDurable: (batch: LoggedBatch) => void = () => {}): MemoryBatchLog {
    return new MemoryBatchLog(disk, copyDurable);
  }

  copyId(name: string): number | undefined {
    return this.copies.get(name);
  }

  holds(id: number, createdMs: number): boolean {
    const batch = this.batches.get(id)?.batch;
    return batch !== undefined && batch.copyOf === undefined && batch.createdMs === createdMs;
  }

  get copyCount(): number {
    return this.copies.size;
  }

  get size(): number {
    return this.batches.size;
  }

  get bytes(): number {
    return this.bodyBytes;
  }

  private note(batch: LoggedBatch, durable: boolean): void {
    // The real log's measure, so that the limits bind alike.
    const bytes = encodeBatch(batch.items).length;
    this.batches.set(batch.id, { batch, bytes, durable });
    this.bodyBytes += bytes;
    if (batch.copyOf) this.copies.set(copyName(batch.copyOf, batch.createdMs), batch.id);
  }

  private forget(id: number): void {
    const entry = this.batches.get(id);
    if (entry === undefined) return;
    this.batches.delete(id);
    this.bodyBytes -= entry.bytes;
    if (entry.batch.copyOf) this.copies.delete(copyName(entry.batch.copyOf, entry.batch.createdMs));
  }

  add(items: readonly KeyedVersion[], createdMs: number, copyOf?: BatchOrigin): { id: number; durable: Promise<void> } {
    const batch: LoggedBatch = { id: this.nextId++, createdMs, items, ...(copyOf ? { copyOf } : {}) };
    this.note(batch, false);
    const durable = this.disk.commit({ batchAdded: batch }).then(() => {
      const entry = this.batches.get(batch.id);
      if (entry !== undefined) entry.durable = true;
      if (copyOf) this.copyDurable(batch);
    });
    return { id: batch.id, durable };
  }

  async remove(id: number): Promise<void> {
    await this.disk.commit({ batchRemoved: id });
    this.forget(id);
  }

  /** Each change is its own transaction here: nothing waits in a queue. */
  async flush(): Promise<void> {}

  async list(afterId: number, limit: number): Promise<LoggedBatch[]> {
    const out: LoggedBatch[] = [];
    for (const { batch, durable } of this.batches.values()) {
      if (out.length >= limit) break;
      if (durable && batch.id > afterId) out.push(batch);
    }
    return out;
  }
}
