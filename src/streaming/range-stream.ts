/**
 * Copies one range of keys from the replica that gives it up to the one that
 * gains it, page by page (readRange from the source, apply at the target):
 *
 * - paced by a Pacer (STREAM_BYTES_PER_SECOND_MAX), with at most
 *   STREAM_BATCHES_IN_FLIGHT_MAX pages read and not yet durable at the
 *   target, so its memory is bounded by that many pages;
 * - resumable: once a page is durable at the target (and every page
 *   before it), the key to go on from may be stored (StreamProgress), at
 *   most every STREAM_PROGRESS_SAVE_INTERVAL_MS; a stream that starts again
 *   goes on from there. Pages streamed since the last save are sent again,
 *   which is harmless: the target merges versions by last-write-wins, so
 *   applying one twice changes nothing.
 *
 * Versions go as they are, tombstones and expiries included, with their
 * timestamps: the target ends up holding what the source held.
 */
import { isKvError, KvError } from '../common/errors';
import {
  PAXOS_STREAM_ROWS_MAX,
  STREAM_BATCHES_IN_FLIGHT_MAX,
  STREAM_PAGE_ATTEMPTS_MAX,
  STREAM_PAGE_BYTES_MAX,
  STREAM_PAGE_KEYS_MAX,
  STREAM_PROGRESS_SAVE_INTERVAL_MS,
} from '../common/limits';
import type { Time } from '../clock/time';
import type { ReplicaPage } from '../coordinator/scan-merge';
import { isReservedKey } from '../membership/reserved-keys';
import { intervalsOf, RangeStream } from '../membership/stream-plan';
import type { KeyedPaxosState, PaxosRowsPage } from '../paxos/paxos-store';
import { type KeyedVersion, keyedBytes } from '../storage/version';
import type { Pacer } from './pacer';

/** Where a stream stands, by stream id: the key to read from next, or DONE. */
export interface StreamProgress {
  load(id: string): Promise<string | undefined>;
  save(id: string, cursor: string): Promise<void>;
}

/** Stored for a stream (id) that has finished. */
export const STREAM_DONE = '\u0000done';

export interface StreamEnds {
  /** The source's keys of [from, to), as readRange gives them. */
  read(from: string, to: string | undefined, limit: number, bytesMax: number): Promise<ReplicaPage>;
  /** Resolves once the versions are durable at the target. */
  write(items: readonly KeyedVersion[]): Promise<void>;
  /** The source's Paxos rows of [from, to), as paxosRows gives them. */
  readPaxos(from: string, to: string | undefined, limit: number): Promise<PaxosRowsPage>;
  /** Resolves once the rows are merged into the target's and durable (PaxosStore.paxosMerge): false from an older build. */
  writePaxos(rows: readonly KeyedPaxosState[]): Promise<boolean>;
}

export interface StreamTotals {
  /** Client keys written to the target; the ring's own keys (epoch slots) travel too but are not counted, as status and dumps leave them out. */
  keys: number;
  /** Bytes of those keys and their values. */
  bytes: number;
}

export interface RangeStreamDeps {
  readonly progress: StreamProgress;
  readonly pacer: Pacer;
  readonly time: Time;
  readonly totals: StreamTotals;
  /** How far the stream is through its current interval, for the progress line. */
  readonly position?: (interval: number, key: string) => void;
  /** The operation's log line: said when a peer of an older build can neither give nor take Paxos rows. */
  readonly say?: (message: string) => void;
}

/** A call tried again on a timeout or a refusal of a busy node, at most STREAM_PAGE_ATTEMPTS_MAX times. */
async function attempt<T>(time: Time, what: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (err) {
      const retryable = isKvError(err, 'TimedOut') || isKvError(err, 'Unavailable');
      if (!retryable || i >= STREAM_PAGE_ATTEMPTS_MAX) throw err;
      await new Promise<void>((resolve) => time.after(100 * i, () => resolve()));
    }
  }
}

/** The stream's id in the progress store: the epoch its operation began at, the range and the two nodes. */
export function streamId(beganAt: number, s: RangeStream, interval: number): string {
  return `${beganAt}:${s.source}>${s.target}:${Buffer.from(s.end, 'latin1').toString('hex')}:${interval}`;
}

/** Streams one range, its values and then its Paxos rows; resolves once all of it is durable at the target. */
export async function streamRange(deps: RangeStreamDeps, beganAt: number, s: RangeStream, ends: StreamEnds): Promise<void> {
  const intervals = intervalsOf(s.start, s.end);
  for (let i = 0; i < intervals.length; i++) {
    const id = streamId(beganAt, s, i);
    const stored = await deps.progress.load(id);
    if (stored === STREAM_DONE) continue;
    await streamInterval(deps, ends, id, stored ?? intervals[i]!.from, intervals[i]!.to, (key) => deps.position?.(i, key));
  }
  for (const { from, to } of intervals) {
    if (await streamPaxosRows(deps.time, ends, from, to)) continue;
    // One sentence for the range, wrapped or not: the other interval would meet the same older build.
    deps.say?.(
      `node ${s.source} or node ${s.target} is an older build that cannot stream Paxos rows: the cas request ids of the range up to ${JSON.stringify(s.end)} stay behind, and a retry of one committed before may be answered "not applied"`,
    );
    return;
  }
}

/**
 * Copies the source's Paxos rows of [from, to), a page at a time, each
 * merged into the target's (paxos/acceptor.ts, mergeStates: the gaining
 * replica must know which cas requests were committed, or a retry of one
 * could be told "not applied"). Copied whole every time the stream runs,
 * even after a restart that found the values done: there are few rows
 * (only keys a cas touched in the last hour), and a merge twice changes
 * nothing. False when one end is an older build, without the calls.
 */
async function streamPaxosRows(time: Time, ends: StreamEnds, from: string, to: string | undefined): Promise<boolean> {
  let cursor = from;
  for (;;) {
    const page = await attempt(time, () => ends.readPaxos(cursor, to, PAXOS_STREAM_ROWS_MAX));
    if (page.olderBuild) return false;
    if (page.rows.length > 0 && !(await attempt(time, () => ends.writePaxos(page.rows)))) return false;
    if (!page.more || page.rows.length === 0) return true;
    cursor = `${page.rows[page.rows.length - 1]!.key}\u0000`;
  }
}

async function streamInterval(
  deps: RangeStreamDeps,
  ends: StreamEnds,
  id: string,
  from: string,
  to: string | undefined,
  position: (key: string) => void,
): Promise<void> {
  // Pages read and on their way to the target, oldest first, each with the cursor after it.
  const inFlight: { written: Promise<void>; next: string }[] = [];
  let savedAtMs = deps.time.monotonicMs();
  const oldestDone = async (): Promise<void> => {
    const oldest = inFlight.shift()!;
    await oldest.written;
    if (deps.time.monotonicMs() - savedAtMs >= STREAM_PROGRESS_SAVE_INTERVAL_MS) {
      await deps.progress.save(id, oldest.next);
      savedAtMs = deps.time.monotonicMs();
    }
    position(oldest.next);
  };
  let cursor = from;
  for (;;) {
    const page = await attempt(deps.time, () => ends.read(cursor, to, STREAM_PAGE_KEYS_MAX, STREAM_PAGE_BYTES_MAX));
    const items = page.entries;
    if (items.length > 0) {
      const bytes = keyedBytes(items);
      await deps.pacer.take(bytes);
      const next = `${items[items.length - 1]!.key}\u0000`;
      const written = attempt(deps.time, () => ends.write(items)).then(() => {
        addClientItems(deps.totals, items);
      });
      written.catch(() => undefined); // awaited in order below; a failure stops the stream there
      inFlight.push({ written, next });
      cursor = next;
      if (inFlight.length >= STREAM_BATCHES_IN_FLIGHT_MAX) await oldestDone();
    }
    if (!page.more || items.length === 0) break;
  }
  while (inFlight.length > 0) await oldestDone();
  await deps.progress.save(id, STREAM_DONE);
}

function addClientItems(totals: StreamTotals, items: readonly KeyedVersion[]): void {
  for (const { key, version } of items) {
    if (isReservedKey(key)) continue;
    totals.keys++;
    totals.bytes += key.length + version.value.length;
  }
}

/** The error that stops an operation whose source of a range cannot be reached. */
export function sourceDown(s: RangeStream, what: string, cause: string): KvError {
  return new KvError(
    'Unavailable',
    `node ${s.source}, which gives up a range to node ${s.target}, cannot be read (${cause}); start node ${s.source} again and run the ${what} again: it goes on where it stopped (the range is never copied from another replica, which could miss a QUORUM write)`,
  );
}
