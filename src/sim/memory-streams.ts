/**
 * A simulated node's stream progress (streaming/range-stream.ts's
 * StreamProgress) on its SimDisk, where a real node keeps its streams file:
 * each cursor saved is a transaction, so an operation that resumes after a
 * crash goes on from the last one committed.
 */
import type { StreamProgress } from '../streaming/range-stream';
import type { SimDisk } from './disk';

export class DiskStreamProgress implements StreamProgress {
  constructor(private readonly disk: SimDisk) {}

  async load(id: string): Promise<string | undefined> {
    let cursor: string | undefined;
    for (const txn of this.disk.contents()) if (txn.stream?.id === id) cursor = txn.stream.cursor;
    return cursor;
  }

  save(id: string, cursor: string): Promise<void> {
    return this.disk.commit({ stream: { id, cursor } });
  }
}
