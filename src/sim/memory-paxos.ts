/**
 * A simulated node's acceptor state: PaxosStateStorage over its SimDisk. As
 * paxos/paxos-sqlite.ts, each save is a transaction of its own and resolves
 * once committed; a restart finds the state of every committed save.
 */
import { type AcceptorState, EMPTY_STATE, inProgress } from '../paxos/acceptor';
import { compareKeyStrings } from '../common/bytes';
import type { KeyedPaxosState, PaxosStateStorage } from '../paxos/paxos-store';
import type { PaxosRow, SimDisk } from './disk';

export class MemoryPaxosState implements PaxosStateStorage {
  private constructor(
    private readonly disk: SimDisk,
    private readonly byKey: Map<string, PaxosRow>,
  ) {}

  static open(disk: SimDisk): MemoryPaxosState {
    const rows = new Map<string, PaxosRow>();
    for (const txn of disk.contents()) {
      if (txn.paxos) rows.set(txn.paxos.key, txn.paxos);
      for (const key of txn.paxosRemoved ?? []) rows.delete(key);
    }
    return new MemoryPaxosState(disk, rows);
  }

  async load(key: string): Promise<AcceptorState> {
    return this.byKey.get(key)?.state ?? EMPTY_STATE;
  }

  async save(key: string, state: AcceptorState, newestUs: number): Promise<void> {
    const row = { key, state, newestUs };
    await this.disk.commit({ paxos: row });
    this.byKey.set(key, row);
  }

  async rows(from: string, to: string | undefined, limit: number): Promise<KeyedPaxosState[]> {
    const within = (key: string): boolean => compareKeyStrings(key, from) >= 0 && (to === undefined || compareKeyStrings(key, to) < 0);
    return [...this.byKey.values()]
      .filter((row) => within(row.key))
      .sort((a, b) => compareKeyStrings(a.key, b.key))
      .slice(0, limit)
      .map((row) => ({ key: row.key, state: row.state }));
  }

  async sweep(oldestUs: number, max: number): Promise<number> {
    const gone: string[] = [];
    for (const row of this.byKey.values()) {
      if (gone.length >= max) break;
      if (!inProgress(row.state) && row.newestUs < oldestUs) gone.push(row.key);
    }
    if (gone.length === 0) return 0;
    await this.disk.commit({ paxosRemoved: gone });
    for (const key of gone) this.byKey.delete(key);
    return gone.length;
  }
}
