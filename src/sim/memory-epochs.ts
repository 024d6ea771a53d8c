/**
 * The epoch log of a simulated node: EpochStorage on its SimDisk, as the
 * real node keeps it in a table of its SQLite file. Each append is a
 * transaction: a crash tears one in flight, and with NORMAL a power loss
 * takes the unsynced ones, which the node then learns again from its peers.
 */
import type { EpochEntry } from '../membership/changes';
import type { EpochStorage } from '../membership/epoch-log';
import type { SimDisk } from './disk';

export class MemoryEpochStore implements EpochStorage {
  constructor(private readonly disk: SimDisk) {}

  async load(): Promise<EpochEntry[]> {
    return this.disk.contents().flatMap((txn) => txn.epochs ?? []);
  }

  append(entries: readonly EpochEntry[]): Promise<void> {
    return this.disk.commit({ epochs: [...entries] });
  }
}
