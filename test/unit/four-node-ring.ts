/**
 * The ring the membership tables start from: four nodes at d, h, l, p, RF 3
 * (node i owns (previous token, its token]), and an epoch log's storage in
 * an array for the operator's tests. Not a test file.
 */
import { bootstrapEntry, Change, EpochEntry, Membership, replayLog } from '../../src/membership/changes';
import type { EpochStorage } from '../../src/membership/epoch-log';

export const BOOT = bootstrapEntry(
  [
    { id: 0, token: 'd' },
    { id: 1, token: 'h' },
    { id: 2, token: 'l' },
    { id: 3, token: 'p' },
  ],
  3,
);

/** The membership after the bootstrap and `changes`, epochs numbered from 2. */
export function after(...changes: Change[]): Membership {
  return replayLog([BOOT, ...changes.map((change, i) => ({ epoch: i + 2, change }))]);
}

/** An epoch log's storage in an array: nothing here crashes. */
export class ArrayEpochStore implements EpochStorage {
  private readonly entries: EpochEntry[] = [];
  async load(): Promise<EpochEntry[]> {
    return [...this.entries];
  }
  async append(entries: readonly EpochEntry[]): Promise<void> {
    this.entries.push(...entries);
  }
}
