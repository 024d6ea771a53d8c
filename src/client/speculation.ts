/**
 * Speculative reads on the client's side (what Cassandra's drivers call a
 * speculative execution policy). The nodes already ask one replica more when
 * a replica is slow (coordinator/speculation.ts); that cannot help when the
 * slow node is the coordinator itself: a paused or overloaded node holds
 * every request sent to it until the client's own timeout. So a read that
 * has waited longer than most of this client's reads take is sent once more,
 * to the next node in its order, and the first answer settles it.
 *
 * Only reads are sent twice: a read applies nothing, so asking twice changes
 * nothing but the load (a read repair may run twice, writing the same
 * version). Writes and SERIAL reads are never sent twice: a SERIAL read is a
 * Paxos round, and two of them would compete for the same key's ballot.
 *
 * One timer per kind of read, not one per read: reads wait in the order they
 * were sent, each with the time it is due, and the timer is set for the
 * first (SpeculationQueue). The queue holds at most the reads in flight, and
 * a healthy read costs a slot and no timer of its own.
 */
import { performance } from 'node:perf_hooks';
import { SpeculationDelay } from '../coordinator/speculation';
import type { SpeculativeRetry } from '../config/speculative-retry';

/** The queue's first size; it doubles when full (it holds at most the reads in flight). */
const QUEUE_SLOTS_INITIAL = 256;

/**
 * The reads that may be sent again, in the order they were sent, and the one
 * timer for the first. A ring of slots, each read's handle its sequence
 * number: an answered read's slot is cleared, and the answered reads at the
 * head are dropped at once, so a read's entry lives about as long as the
 * read (entries kept for the whole wait survived the young generation: half
 * the benchmark's CPU went to the collector).
 */
export class SpeculationQueue {
  private dueMs = new Float64Array(QUEUE_SLOTS_INITIAL);
  private asks: ((() => void) | undefined)[] = new Array(QUEUE_SLOTS_INITIAL).fill(undefined);
  /** Sequence numbers of the first read waiting and of the next one. */
  private head = 0;
  private tail = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** Calls `ask` at `dueMs` (monotonic, ms) unless answered(handle) came first; returns the handle. */
  wait(dueMs: number, delayMs: number, ask: () => void): number {
    if (this.tail - this.head === this.asks.length) this.grow();
    const slot = this.tail & (this.asks.length - 1);
    this.dueMs[slot] = dueMs;
    this.asks[slot] = ask;
    if (this.timer === undefined && !this.closed) this.arm(delayMs);
    return this.tail++;
  }

  /** The read of `handle` was answered: it is not sent again. */
  answered(handle: number): void {
    if (handle < this.head) return; // already sent again, or the queue was closed
    this.asks[handle & (this.asks.length - 1)] = undefined;
    while (this.head < this.tail && this.asks[this.head & (this.asks.length - 1)] === undefined) this.head++;
  }

  /** Reads waiting (answered ones behind the first waiting one included). */
  get size(): number {
    return this.tail - this.head;
  }

  /** Stops the timer; reads still waiting are not sent again. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.asks.fill(undefined);
    this.head = this.tail;
  }

  private grow(): void {
    const size = this.asks.length;
    const dueMs = new Float64Array(size * 2);
    const asks: ((() => void) | undefined)[] = new Array(size * 2).fill(undefined);
    for (let seq = this.head; seq < this.tail; seq++) {
      dueMs[seq & (size * 2 - 1)] = this.dueMs[seq & (size - 1)]!;
      asks[seq & (size * 2 - 1)] = this.asks[seq & (size - 1)];
    }
    this.dueMs = dueMs;
    this.asks = asks;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.due(), Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  /**
   * Sends again every read whose time has come, then sets the timer for the
   * next. Checked against the monotonic clock: Node counts a timer from the
   * start of the turn that set it, so under load it may fire early.
   */
  private due(): void {
    this.timer = undefined;
    const now = performance.now();
    const mask = this.asks.length - 1;
    while (this.head < this.tail) {
      const slot = this.head & mask;
      const ask = this.asks[slot];
      if (ask !== undefined && this.dueMs[slot]! > now) break;
      this.asks[slot] = undefined;
      this.head++;
      ask?.();
    }
    if (this.head < this.tail) this.arm(this.dueMs[this.head & (this.asks.length - 1)]! - now);
  }
}

/** What a client read is, for its own latency: a key, several keys, or a scan page. */
export type ReadKind = 'get' | 'getMany' | 'scan';

/**
 * How long one kind of read at one level waits, and its queue. Each has its
 * own queue so that a scan page's longer wait never holds up a get behind
 * it. Within one queue the wait changes only once a window, so the reads
 * stay nearly in the order they are due.
 */
export interface ReadSpeculation {
  readonly delay: SpeculationDelay;
  readonly queue: SpeculationQueue;
}

/** One ReadSpeculation per kind of read and level, made when first needed. */
export class ReadSpeculations {
  /** By kind, then by level (no key is built per read: this is every read's path). */
  private readonly byKind = {
    get: new Map<string, ReadSpeculation>(),
    getMany: new Map<string, ReadSpeculation>(),
    scan: new Map<string, ReadSpeculation>(),
  };

  constructor(
    readonly policy: SpeculativeRetry,
    private readonly timeoutMs: number,
  ) {}

  /** The one for reads of `kind` at `level`; undefined when the policy never speculates. */
  of(kind: ReadKind, level: string): ReadSpeculation | undefined {
    if (this.policy.kind === 'none') return undefined;
    const byLevel = this.byKind[kind];
    let s = byLevel.get(level);
    if (s === undefined) {
      s = { delay: new SpeculationDelay(this.policy, this.timeoutMs, () => performance.now()), queue: new SpeculationQueue() };
      byLevel.set(level, s);
    }
    return s;
  }

  /** Stops every queue's timer. */
  close(): void {
    for (const byLevel of Object.values(this.byKind)) for (const s of byLevel.values()) s.queue.close();
  }
}

/**
 * The first answer of a read and of its second ask, if it needed one. The
 * second is sent by `again` once the kind's wait has passed without an answer (it
 * returns undefined when there is no other node to ask). A failure waits for
 * the other ask, if there is one; when both fail, the first's error is
 * thrown, which the client's failover knows how to read.
 */
export function raceAgain<T>(
  first: Promise<T>,
  { delay, queue }: ReadSpeculation,
  again: () => Promise<T> | undefined,
  onAgain: () => void,
): Promise<T> {
  const sentMs = performance.now();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let pending = 1;
    let firstError: unknown;
    let firstFailed = false;
    const answered = (askedMs: number, value: T): void => {
      const now = performance.now();
      delay.record(now - askedMs, now);
      if (settled) return;
      settled = true;
      queue.answered(handle);
      resolve(value);
    };
    const failed = (err: unknown, isFirst: boolean): void => {
      if (isFirst) {
        firstFailed = true;
        firstError = err;
      }
      if (settled || --pending > 0) return;
      settled = true;
      queue.answered(handle);
      reject(firstFailed ? firstError : err);
    };
    const handle = queue.wait(sentMs + delay.delayMs, delay.delayMs, () => {
      if (settled) return;
      const second = again();
      if (second === undefined) return;
      pending++;
      onAgain();
      const askedMs = performance.now();
      second.then(
        (v) => answered(askedMs, v),
        (e) => failed(e, false),
      );
    });
    first.then(
      (v) => answered(sentMs, v),
      (e) => failed(e, true),
    );
  });
}
