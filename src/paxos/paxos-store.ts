/**
 * A replica's Paxos state, durable behind `PaxosStateStorage` (the node's
 * SQLite file in production, paxos-sqlite.ts; a simulated disk in the
 * simulator), and this replica as an acceptor. Every message for a
 * key runs alone (a per-key queue): load the state, apply the pure acceptor
 * function, write the new state in a transaction, and only then answer, so
 * that a promise or an accept survives a crash of the replica.
 *
 * A commit writes the value into the replica store first (an ordinary
 * last-write-wins version with the ballot's timestamp), then the state: a
 * crash between the two leaves the proposal accepted and in progress, and the
 * next round finishes it again, which is harmless.
 *
 * State with nothing in progress whose newest ballot is older than
 * PAXOS_STATE_GRACE_MS is deleted by `sweep`; the acceptor refuses ballots
 * that old, so no proposer can meet a replica that forgot its promise.
 */
import { KvError } from '../common/errors';
import { PAXOS_KEY_WAITING_MAX, PAXOS_STATE_GRACE_MS, PAXOS_WAITING_MAX } from '../common/limits';
import type { Time } from '../clock/time';
import type { KnownBugs } from '../common/known-bugs';
import type { KeyedVersion, Version } from '../storage/version';
import { AcceptorState, mergeStates, onCommit, onPrepare, onPropose, Proposal, ProposeReply, sameState } from './acceptor';
import type { Ballot } from './ballot';
import type { Acceptor, Promised } from './proposer';

/**
 * Where a replica keeps its acceptor state. `save` resolves once the state is
 * durable: the acceptor answers only then.
 */
export interface PaxosStateStorage {
  load(key: string): Promise<AcceptorState>;
  save(key: string, state: AcceptorState, newestUs: number): Promise<void>;
  /** Deletes up to `max` keys' state that has nothing in progress and no ballot at or after `oldestUs`; returns how many. */
  sweep(oldestUs: number, max: number): Promise<number>;
  /** The state of up to `limit` keys in [from, to) (to undefined: no end), in key order. */
  rows(from: string, to: string | undefined, limit: number): Promise<KeyedPaxosState[]>;
}

/** One key's acceptor state, as a membership stream moves it (mergeStates). */
export interface KeyedPaxosState {
  readonly key: string;
  readonly state: AcceptorState;
}

/** A page of a replica's Paxos rows; `more` when it stopped at the limit. */
export interface PaxosRowsPage {
  readonly rows: readonly KeyedPaxosState[];
  readonly more: boolean;
  /** The replica is an older build, which has no paxosRows: it gave nothing. */
  readonly olderBuild?: true;
}

/** A replica's Paxos rows as a membership stream reads and writes them (KvNode's own, or a peer's over the wire). */
export interface PaxosRowsPeer {
  paxosRows(from: string, to: string | undefined, limit: number): Promise<PaxosRowsPage>;
  /** Resolves true once merged and durable; false from an older build, which has no paxosMerge and took nothing. */
  paxosMerge(rows: readonly KeyedPaxosState[]): Promise<boolean>;
}

/** The replica's data, which a prepare reads and a commit writes. */
export interface AcceptorData {
  get(key: string): Version | undefined;
  apply(items: readonly KeyedVersion[]): Promise<void>;
}

export interface PaxosStoreCounters {
  prepares: number;
  proposes: number;
  commits: number;
  stateWrites: number;
  stateDeleted: number;
  /** Messages refused because too many were waiting (PAXOS_KEY_WAITING_MAX, PAXOS_WAITING_MAX). */
  refused: number;
}

/** A busy key's queue: the promise its last message settles, and how many messages are queued or running. */
interface KeyQueue {
  tail: Promise<unknown>;
  waiting: number;
}

export class PaxosStore implements Acceptor, PaxosRowsPeer {
  readonly counters: PaxosStoreCounters = { prepares: 0, proposes: 0, commits: 0, stateWrites: 0, stateDeleted: 0, refused: 0 };
  /** Each busy key's queue of messages. */
  private readonly busy = new Map<string, KeyQueue>();
  /** Messages queued or running, over all keys. */
  private waiting = 0;

  constructor(
    private readonly storage: PaxosStateStorage,
    private readonly data: AcceptorData,
    private readonly time: Time,
    private readonly bugs?: KnownBugs,
  ) {}

  /** Ballots older than this (µs) are refused; state older than it may go. */
  private oldestUs(): number {
    return (this.time.nowMs() - PAXOS_STATE_GRACE_MS) * 1000;
  }

  prepare(key: string, ballot: Ballot, requestId: string): Promise<Promised> {
    this.counters.prepares++;
    return this.alone(key, async () => {
      const before = await this.load(key);
      const { state, reply } = onPrepare(before, ballot, requestId, this.oldestUs());
      if (state !== before) await this.save(key, state);
      return { reply, current: this.data.get(key) };
    });
  }

  propose(key: string, proposal: Proposal): Promise<ProposeReply> {
    this.counters.proposes++;
    return this.alone(key, async () => {
      const before = await this.load(key);
      // The known bug acceptIgnoresPromise: the promise is left out of the check (and then overwritten).
      const seen = this.bugs?.acceptIgnoresPromise ? { ...before, promised: undefined } : before;
      const { state, reply } = onPropose(seen, proposal, this.oldestUs());
      if (state !== before) await this.save(key, state);
      return reply;
    });
  }

  commit(key: string, proposal: Proposal): Promise<void> {
    this.counters.commits++;
    return this.alone(key, async () => {
      await this.data.apply([{ key, version: { value: proposal.value, ts: proposal.ballot.ts, deleted: false } }]);
      await this.save(key, onCommit(await this.load(key), proposal));
    });
  }

  /** Deletes up to `max` keys' forgettable state; returns how many. */
  async sweep(max: number): Promise<number> {
    const n = await this.storage.sweep(this.oldestUs(), max);
    this.counters.stateDeleted += n;
    return n;
  }

  /** Up to `limit` keys' state in [from, to), in key order: what a membership stream moves with the range's values. */
  async paxosRows(from: string, to: string | undefined, limit: number): Promise<PaxosRowsPage> {
    const rows = await this.storage.rows(from, to, limit);
    return { rows, more: rows.length >= limit };
  }

  /**
   * Takes up another replica's state of some keys (a membership stream's),
   * each merged with this replica's in the key's turn, as a message would
   * be; resolves once every changed state is durable.
   */
  async paxosMerge(rows: readonly KeyedPaxosState[]): Promise<boolean> {
    await Promise.all(
      rows.map((row) =>
        this.alone(row.key, async () => {
          const before = await this.load(row.key);
          const state = mergeStates(before, row.state);
          if (!sameState(state, before)) await this.save(row.key, state);
        }),
      ),
    );
    return true;
  }

  /** The state of a key, for tests and the inspector. */
  load(key: string): Promise<AcceptorState> {
    return this.storage.load(key);
  }

  private save(key: string, state: AcceptorState): Promise<void> {
    this.counters.stateWrites++;
    const newestUs = Math.max(state.promised?.ts ?? 0, state.accepted?.ballot.ts ?? 0, state.committed?.ballot.ts ?? 0);
    return this.storage.save(key, state, newestUs);
  }

  /**
   * Runs `work` after every earlier message for the key has been answered;
   * refuses it when too many wait already (see PAXOS_KEY_WAITING_MAX).
   */
  private alone<T>(key: string, work: () => Promise<T>): Promise<T> {
    const queue = this.busy.get(key) ?? { tail: Promise.resolve(), waiting: 0 };
    if (queue.waiting >= PAXOS_KEY_WAITING_MAX || this.waiting >= PAXOS_WAITING_MAX) {
      this.counters.refused++;
      const which = queue.waiting >= PAXOS_KEY_WAITING_MAX ? 'for this key' : 'in all';
      return Promise.reject(new KvError('Unavailable', `this replica has too many compare-and-set messages waiting ${which}`));
    }
    queue.waiting++;
    this.waiting++;
    const result = queue.tail.then(work, work);
    const tail = result.catch(() => undefined);
    queue.tail = tail;
    this.busy.set(key, queue);
    void tail.then(() => {
      queue.waiting--;
      this.waiting--;
      if (queue.waiting === 0) this.busy.delete(key);
    });
    return result;
  }

  /** Messages queued or running, over all keys (for tests and counters). */
  get queued(): number {
    return this.waiting;
  }
}
