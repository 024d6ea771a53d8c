/**
 * A simulated node's named numbers (NodeMeta) on its SimDisk: each write a
 * transaction of its own, and a read finds the last committed value.
 */
import type { NodeMeta } from '../storage/replica-storage';
import type { SimDisk } from './disk';

export class MemoryNodeMeta implements NodeMeta {
  constructor(private readonly disk: SimDisk) {}

  async read(name: string): Promise<number | undefined> {
    let value: number | undefined;
    for (const txn of this.disk.contents()) if (txn.meta?.name === name) value = txn.meta.value;
    return value;
  }

  write(name: string, value: number): Promise<void> {
    return this.disk.commit({ meta: { name, value } });
  }
}
