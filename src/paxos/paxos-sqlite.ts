/**
 * Acceptor state in the node's SQLite file: one row per key in table `paxos`
 * (storage/schema.ts), the state as JSON, with the two columns the sweep
 * selects on. Each save is its own transaction, so it is durable (as far as
 * `synchronous` makes any commit durable) before the acceptor answers.
 */
import { fromByteString, toByteString } from '../common/bytes';
import type { Sqlite } from '../storage/sqlite';
import { type AcceptorState, EMPTY_STATE, inProgress } from './acceptor';
import type { KeyedPaxosState, PaxosStateStorage } from './paxos-store';

export class SqlitePaxosState implements PaxosStateStorage {
  constructor(private readonly db: Sqlite) {}

  async load(key: string): Promise<AcceptorState> {
    const [row] = await this.db.all<{ state: string }>('SELECT state FROM paxos WHERE key = ?', [fromByteString(key)]);
    return row === undefined ? EMPTY_STATE : (JSON.parse(row.state) as AcceptorState);
  }

  save(key: string, state: AcceptorState, newestUs: number): Promise<void> {
    return this.db.transaction(() =>
      this.db.run(
        `INSERT INTO paxos (key, state, in_progress, newest_us) VALUES (?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, in_progress = excluded.in_progress, newest_us = excluded.newest_us`,
        [fromByteString(key), JSON.stringify(state), inProgress(state) ? 1 : 0, newestUs],
      ),
    );
  }

  async rows(from: string, to: string | undefined, limit: number): Promise<KeyedPaxosState[]> {
    // Keys are blobs, which SQLite orders byte by byte: the ring's key order.
    const rows =
      to === undefined
        ? await this.db.all<{ key: Buffer; state: string }>('SELECT key, state FROM paxos WHERE key >= ? ORDER BY key LIMIT ?', [
            fromByteString(from),
            limit,
          ])
        : await this.db.all<{ key: Buffer; state: string }>(
            'SELECT key, state FROM paxos WHERE key >= ? AND key < ? ORDER BY key LIMIT ?',
            [fromByteString(from), fromByteString(to), limit],
          );
    return rows.map((r) => ({ key: toByteString(r.key), state: JSON.parse(r.state) as AcceptorState }));
  }

  sweep(oldestUs: number, max: number): Promise<number> {
    return this.db.change('DELETE FROM paxos WHERE key IN (SELECT key FROM paxos WHERE in_progress = 0 AND newest_us < ? LIMIT ?)', [
      oldestUs,
      max,
    ]);
  }
}
