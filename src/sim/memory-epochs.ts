/**
 * The epoch log of a simulated node: EpochStorage in memory. The simulator
 * keeps one per node across its restarts; the log only ever holds the
 * bootstrap so far (membership changes are not simulated yet), written once
 * before the node serves, so a power loss has nothing of it to lose.
 */
import type { EpochEntry } from '../membership/changes';
import type { EpochStorage } from '../membership/epoch-log';

export class MemoryEpochStore implements EpochStorage {
  private readonly entries: EpochEntry[] = [];

  async load(): Promise<EpochEntry[]> {
    return [...this.entries];
  }

  async append(entries: readonly EpochEntry[]): Promise<void> {
    this.entries.push(...entries);
  }
}
