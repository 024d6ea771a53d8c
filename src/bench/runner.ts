/**
 * Drives operations and measures them.
 *
 * Closed loop (no rate): `concurrency` workers, each issuing its next
 * operation as soon as its last one finishes. Latency is measured from issue
 * to completion. Throughput is whatever the system sustains.
 *
 * Open loop (rate R ops/s): operation k is due at start + k/R, whatever
 * happened before. Its latency is measured from that intended start, not from
 * when it was actually sent, so a stall of the store (or of this process)
 * shows up in the latencies of every operation it delayed instead of being
 * hidden ("coordinated omission"). At most `concurrency` operations are in
 * flight; an operation that falls due while all slots are busy is not sent
 * and counts as an error of type `Backlog`: the store did not keep up with the
 * offered rate.
 *
 * `ops` counts every operation that ended, successes and errors (Backlog
 * included). Latencies are those of successful operations. Failures never stop
 * the run: they are counted by type (a KvError's code, else the error's name).
 */
import { performance } from 'node:perf_hooks';
import { isKvError } from '../common/errors';
import { Histogram } from './histogram';

/** Error type of operations that were due while `concurrency` were already in flight. */
export const BACKLOG_ERROR = 'Backlog';

/** One operation; `seq` numbers operations 0, 1, 2… in the order they are issued. */
export type Operation = (seq: number) => Promise<unknown>;

export interface RunOptions {
  /** Most operations in flight at once (>= 1). */
  readonly concurrency: number;
  /** Stop after this many operations… */
  readonly ops?: number;
  /** …or after this long (whichever comes first; at least one is needed). */
  readonly durationMs?: number;
  /** Offered rate in ops/s: open loop. Absent: closed loop. */
  readonly rate?: number;
  /** Stops issuing (in-flight operations still finish). */
  readonly signal?: AbortSignal;
  /** A clock in ms; tests pass a fake one. */
  readonly now?: () => number;
}

export interface RunResult {
  readonly ops: number;
  readonly successes: number;
  readonly errors: Record<string, number>;
  readonly latency: Histogram;
  readonly seconds: number;
  /** True if the run was stopped early by the signal. */
  readonly aborted: boolean;
}

export interface RunProgress {
  readonly ops: number;
  readonly errors: number;
  readonly elapsedMs: number;
}

/** The type an error is counted under. */
export function errorType(err: unknown): string {
  if (isKvError(err)) return err.code;
  if (err instanceof Error && err.name) return err.name;
  return 'Error';
}

export class Runner {
  private readonly now: () => number;
  private readonly latency = new Histogram();
  private readonly errors: Record<string, number> = {};
  private startMs = 0;
  private started = false;
  private issued = 0;
  private finished = 0;
  private failed = 0;
  private inFlight = 0;
  private onIdle: (() => void) | null = null;

  constructor(
    private readonly op: Operation,
    private readonly options: RunOptions,
  ) {
    if (!(Number.isInteger(options.concurrency) && options.concurrency >= 1))
      throw new RangeError('concurrency must be a positive integer');
    if (options.ops === undefined && options.durationMs === undefined) throw new RangeError('a run needs ops or durationMs');
    if (options.rate !== undefined && !(options.rate > 0)) throw new RangeError('rate must be positive');
    this.now = options.now ?? (() => performance.now());
  }

  /** Live counters for a progress display. */
  progress(): RunProgress {
    return { ops: this.finished, errors: this.failed, elapsedMs: this.started ? this.now() - this.startMs : 0 };
  }

  async run(): Promise<RunResult> {
    this.startMs = this.now();
    this.started = true;
    if (this.options.rate === undefined) await this.closedLoop();
    else await this.openLoop(this.options.rate);
    const seconds = Math.max(0, this.now() - this.startMs) / 1000;
    return {
      ops: this.finished,
      successes: this.finished - this.failed,
      errors: { ...this.errors },
      latency: this.latency,
      seconds,
      aborted: this.options.signal?.aborted === true,
    };
  }

  /**
   * Whether operation number `seq`, due `offsetMs` after the start, is past
   * the end of the run. Offsets, not absolute times, so that op k of a run at
   * R ops/s is due at exactly k * (1000 / R): R * seconds ops, not one more.
   */
  private done(seq: number, offsetMs: number): boolean {
    const { ops, durationMs, signal } = this.options;
    if (signal?.aborted) return true;
    if (ops !== undefined && seq >= ops) return true;
    return durationMs !== undefined && offsetMs >= durationMs;
  }

  private async closedLoop(): Promise<void> {
    const worker = async (): Promise<void> => {
      for (;;) {
        const issuedAt = this.now();
        if (this.done(this.issued, issuedAt - this.startMs)) return;
        await this.execute(this.issued++, issuedAt);
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, worker));
  }

  private openLoop(rate: number): Promise<void> {
    const intervalMs = 1000 / rate;
    const offsetOf = (seq: number): number => seq * intervalMs;
    const signal = this.options.signal;
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      // Issues (or drops) everything due by now, then sleeps until the next is due.
      // An abort calls it at once, so a stop is not held up by the sleep.
      const tick = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        this.issueDue(offsetOf);
        if (this.done(this.issued, offsetOf(this.issued))) {
          signal?.removeEventListener('abort', tick);
          this.whenIdle(resolve);
          return;
        }
        const sleepMs = Math.max(0, this.startMs + offsetOf(this.issued) - this.now());
        timer = setTimeout(tick, sleepMs);
      };
      signal?.addEventListener('abort', tick);
      tick();
    });
  }

  private issueDue(offsetOf: (seq: number) => number): void {
    const elapsed = this.now() - this.startMs;
    while (!this.done(this.issued, offsetOf(this.issued)) && offsetOf(this.issued) <= elapsed) {
      const seq = this.issued++;
      if (this.inFlight < this.options.concurrency) void this.execute(seq, this.startMs + offsetOf(seq));
      else this.fail(BACKLOG_ERROR);
    }
  }

  /** Runs one operation; `startMs` is when it was meant to start. Never rejects. */
  private async execute(seq: number, startMs: number): Promise<void> {
    this.inFlight++;
    try {
      await this.op(seq);
      this.latency.record(this.now() - startMs);
      this.finished++;
    } catch (err) {
      this.fail(errorType(err));
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.onIdle) {
        const idle = this.onIdle;
        this.onIdle = null;
        idle();
      }
    }
  }

  private fail(type: string): void {
    this.errors[type] = (this.errors[type] ?? 0) + 1;
    this.failed++;
    this.finished++;
  }

  private whenIdle(callback: () => void): void {
    if (this.inFlight === 0) callback();
    else this.onIdle = callback;
  }
}
