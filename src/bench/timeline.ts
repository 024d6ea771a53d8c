/**
 * A run second by second: operations that ended in each second, errors,
 * and the p50 and p99 latency of that second's successes, for the bench's
 * charts (--plot) and its JSON. One histogram is reused for the window in
 * progress, so memory is one small record per second, whatever the rate.
 */
import { Histogram } from './histogram';

/** Seconds a timeline keeps; a longer run keeps its first hour (the totals still cover it all). */
export const TIMELINE_SECONDS_MAX = 3600;

export interface TimelinePoint {
  /** Seconds since the run started: this point covers [second, second + 1). */
  readonly second: number;
  readonly ops: number;
  readonly errors: number;
  /** Of the second's successes, in ms; 0 when it had none. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export class Timeline {
  private readonly points: TimelinePoint[] = [];
  private readonly window = new Histogram();
  private current = 0;
  private ops = 0;
  private errors = 0;

  /** An operation that ended `elapsedMs` after the start; `latencyMs` undefined for a failure. */
  record(elapsedMs: number, latencyMs: number | undefined): void {
    const second = Math.max(0, Math.floor(elapsedMs / 1000));
    if (second >= TIMELINE_SECONDS_MAX) return;
    // Completions arrive in time order, so only the window in progress is open.
    while (second > this.current) this.close();
    this.ops++;
    if (latencyMs === undefined) this.errors++;
    else this.window.record(latencyMs);
  }

  /**
   * Every whole second of the run. A last, partial second is left out (its
   * count would read as a drop in throughput), unless the run was shorter
   * than a second; the run's totals still count everything.
   */
  finish(elapsedMs: number): TimelinePoint[] {
    const last = Math.min(Math.max(1, Math.floor(elapsedMs / 1000)), TIMELINE_SECONDS_MAX);
    while (this.current < last) this.close();
    return this.points;
  }

  private close(): void {
    const w = this.window;
    this.points.push({ second: this.current, ops: this.ops, errors: this.errors, p50Ms: w.percentile(50), p99Ms: w.percentile(99) });
    this.current++;
    this.ops = 0;
    this.errors = 0;
    w.reset();
  }
}
