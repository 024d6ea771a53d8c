/**
 * A node's change feed: the versions its log took, in the order it took
 * them, for the keys of one range (client/watch.ts follows one replica of
 * each range through it, as DynamoDB Streams and Cassandra's CDC follow a
 * node's commit log).
 *
 * The log already is the feed. Every version a replica accepts (a client's
 * write, a hint handed over, a repair, a stream) is appended with the next
 * seq, and only when it beats the version before it, so a key's rows come in
 * timestamp order. A position in the feed is a seq of this node's log, named
 * with the log's incarnation: a number drawn at each start, so that a
 * position from before a restart (or from another node, or a restored file)
 * is never taken for one of this log's. Such a position, or one from before a
 * purged tombstone, starts the range again from the beginning of the log:
 * the page says `restarted`, and what follows is every version the log still
 * holds of the range, the newest of each key among them.
 *
 * Compaction deletes superseded rows, so a reader far behind sees a key's
 * newest version without the ones between: the feed promises every key's
 * latest state, in order, and every change of a reader that keeps up.
 */
import { assert } from '../common/assert';
import { compareKeyStrings, toByteString } from '../common/bytes';
import { KvError } from '../common/errors';
import { CHANGES_GATHER_MS, CHANGES_PAGE_BYTES_MAX, CHANGES_ROWS_READ_MAX, CHANGES_WAITERS_MAX } from '../common/limits';
import type { Time, Timer } from '../clock/time';
import { isReservedKey } from '../membership/reserved-keys';
import type { Sqlite } from './sqlite';

/** A call of the feed, checked: the range [from, to) (to undefined: no end) and where to go on. */
export interface ChangesRequest {
  readonly from: string;
  readonly to: string | undefined;
  /** The incarnation `afterSeq` belongs to (0: none). */
  readonly incarnation: number;
  /** The position to go on after: 0 for the beginning of the log, -1 for its end now (changes from now on). */
  readonly afterSeq: number;
  readonly limit: number;
  /** How long to wait for a change when there is none yet (0: answer at once). */
  readonly waitMs: number;
}

/** One change: a version of a key as this log took it. Key and value come as SQLite gives them (latin1 text or bytes). */
export interface Change {
  readonly seq: number;
  readonly key: string;
  readonly value: string | Buffer;
  readonly ts: number;
  readonly deleted: boolean;
  /** Expiry in µs since the epoch; 0 for none. */
  readonly expires: number;
}

export interface ChangesPage {
  readonly changes: Change[];
  readonly incarnation: number;
  /** Where the next call goes on (its afterSeq). */
  readonly position: number;
  /** The position asked for was not one of this log's: the page starts from the beginning of the log. */
  readonly restarted: boolean;
  /** Nothing after `position` now. */
  readonly caughtUp: boolean;
}

/** What the feed reads of its node's store (ReplicaStore). */
export interface FeedLog {
  readonly publishedSeq: number;
  readonly purgedSeqMax: number;
}

/** A log row as the feed's query gives it. */
export interface LogRow {
  readonly seq: number;
  readonly key: string | Buffer;
  readonly value: string | Buffer;
  readonly stamp: number;
  readonly expires: number;
}

/**
 * Where a call reads from: after `after`, and whether that is the log's
 * beginning in place of the position asked for. Pure.
 */
export function startOf(
  req: Pick<ChangesRequest, 'incarnation' | 'afterSeq'>,
  incarnation: number,
  log: FeedLog,
): { after: number; restarted: boolean } {
  if (req.afterSeq === -1) return { after: log.publishedSeq, restarted: false };
  if (req.afterSeq === 0) return { after: 0, restarted: false };
  // A position of another log, past this one's end, or before a delete that was purged since (the reader may not have seen it).
  const foreign = req.incarnation !== incarnation || req.afterSeq > log.publishedSeq || req.afterSeq < log.purgedSeqMax;
  return foreign ? { after: 0, restarted: true } : { after: req.afterSeq, restarted: false };
}

const inRange = (key: string, from: string, to: string | undefined): boolean =>
  compareKeyStrings(key, from) >= 0 && (to === undefined || compareKeyStrings(key, to) < 0);

/**
 * A page from the log rows read after a position (in seq order, at most
 * `rowsRead` of them, none past `upTo`): the changes of the range among them,
 * at most `limit` and about CHANGES_PAGE_BYTES_MAX, and the position to go on
 * from. Rows of other ranges move the position on too. Pure.
 */
export function pageOf(
  rows: readonly LogRow[],
  range: { readonly from: string; readonly to: string | undefined },
  limit: number,
  rowsRead: number,
  after: number,
  upTo: number,
): { changes: Change[]; position: number; caughtUp: boolean } {
  const changes: Change[] = [];
  let position = after;
  let bytes = 0;
  for (const row of rows) {
    const key = typeof row.key === 'string' ? row.key : toByteString(row.key);
    if (inRange(key, range.from, range.to) && !isReservedKey(key)) {
      const size = key.length + row.value.length;
      if (changes.length === limit || (changes.length > 0 && bytes + size > CHANGES_PAGE_BYTES_MAX)) {
        return { changes, position, caughtUp: false };
      }
      bytes += size;
      changes.push({
        seq: row.seq,
        key,
        value: row.value,
        ts: Math.floor(row.stamp / 2),
        deleted: row.stamp % 2 === 1,
        expires: row.expires,
      });
    }
    position = row.seq;
  }
  // Fewer rows than asked for: every row up to upTo was read.
  if (rows.length < rowsRead) return { changes, position: Math.max(position, upTo), caughtUp: true };
  return { changes, position, caughtUp: false };
}

/** A call waiting for a change in its range. */
interface Waiter {
  readonly from: string;
  readonly to: string | undefined;
  woken: boolean;
  wake: () => void;
}

const ROWS_AFTER = 'SELECT seq, key, value, stamp, expires FROM log WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3';

export class ChangeFeed {
  private readonly waiters = new Set<Waiter>();
  private closed = false;
  /**
   * Calls, changes sent, calls started again from the beginning, reads of
   * the log (a waiting call reads again only when a change of its range is
   * published), calls waiting now, and calls refused for too many waiting.
   */
  readonly counters = {
    changesCalls: 0,
    changesSent: 0,
    changesRestarted: 0,
    changesLogReads: 0,
    changesWaiting: 0,
    changesWaitersRefused: 0,
  };

  constructor(
    private readonly db: Pick<Sqlite, 'all'>,
    private readonly log: FeedLog,
    private readonly time: Pick<Time, 'after' | 'monotonicMs'>,
    /** This log's incarnation: drawn at each start (see the file's comment). */
    readonly incarnation: number,
  ) {
    assert(Number.isSafeInteger(incarnation) && incarnation > 0, 'an incarnation is a positive safe integer');
  }

  /** The store published a batch of these keys: wakes the calls waiting for any of them. */
  published(keys: Iterable<string>): void {
    if (this.waiters.size === 0) return;
    for (const key of keys) {
      for (const w of this.waiters) if (!w.woken && inRange(key, w.from, w.to)) w.wake();
    }
  }

  /** A page of the range's changes after the position asked, waiting up to `waitMs` for one when there is none. */
  async page(req: ChangesRequest): Promise<ChangesPage> {
    this.counters.changesCalls++;
    const start = startOf(req, this.incarnation, this.log);
    if (start.restarted) this.counters.changesRestarted++;
    let after = start.after;
    const deadline = this.time.monotonicMs() + Math.max(0, req.waitMs);
    for (;;) {
      const left = deadline - this.time.monotonicMs();
      // Waiting starts before the read, so that a batch published while it runs still wakes the call.
      const waiter = left > 0 && !this.closed ? this.waiter(req) : undefined;
      try {
        const upTo = this.log.publishedSeq;
        this.counters.changesLogReads++;
        const rows = await this.db.all<LogRow>(ROWS_AFTER, [after, upTo, CHANGES_ROWS_READ_MAX]);
        const page = pageOf(rows, req, req.limit, CHANGES_ROWS_READ_MAX, after, upTo);
        if (page.changes.length > 0 || !page.caughtUp || waiter === undefined) {
          this.counters.changesSent += page.changes.length;
          return { ...page, incarnation: this.incarnation, restarted: start.restarted };
        }
        after = page.position;
        if (await waiter.until(left)) await this.pause(Math.min(CHANGES_GATHER_MS, deadline - this.time.monotonicMs()));
      } finally {
        waiter?.drop();
      }
    }
  }

  /** Waits `ms` (not at all for 0 or less, nor once the feed is closed). */
  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.time.after(ms, resolve));
  }

  /** Registers a waiting call; `until` resolves true when it is woken, false once `ms` have passed. */
  private waiter(req: ChangesRequest): { until(ms: number): Promise<boolean>; drop(): void } {
    if (this.waiters.size >= CHANGES_WAITERS_MAX) {
      this.counters.changesWaitersRefused++;
      throw new KvError('Unavailable', `this node has ${CHANGES_WAITERS_MAX} change feed calls waiting already`);
    }
    let resolve: ((woken: boolean) => void) | undefined;
    const w: Waiter = {
      from: req.from,
      to: req.to,
      woken: false,
      wake: () => {
        w.woken = true;
        resolve?.(true);
      },
    };
    this.waiters.add(w);
    this.counters.changesWaiting = this.waiters.size;
    let timer: Timer | undefined;
    return {
      until: (ms) =>
        w.woken
          ? Promise.resolve(true)
          : new Promise<boolean>((r) => {
              resolve = r;
              timer = this.time.after(ms, () => r(false));
            }),
      drop: () => {
        timer?.cancel();
        this.waiters.delete(w);
        this.counters.changesWaiting = this.waiters.size;
      },
    };
  }

  /** Answers every waiting call now (the node is stopping). */
  close(): void {
    this.closed = true;
    for (const w of this.waiters) w.wake();
  }
}
