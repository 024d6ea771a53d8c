/**
 * Paces a stream to a rate of bytes per second: each batch is let go when
 * the batches before it have had their share of time. A batch larger than
 * one second's budget simply waits longer; nothing is dropped.
 *
 * The rate may change while the stream runs (ForegroundPace): each batch
 * is timed at the rate asked when it goes, so a change applies from the
 * next batch on.
 */
import type { Time } from '../clock/time';

export class Pacer {
  /** When (monotonic ms) the next batch may go. */
  private nextMs = 0;
  private readonly rate: () => number;
  /** The rate the last batch went at (undefined before the first), for the operation's progress. */
  lastBytesPerSecond: number | undefined;

  constructor(
    private readonly time: Time,
    bytesPerSecond: number | (() => number),
  ) {
    this.rate = typeof bytesPerSecond === 'number' ? () => bytesPerSecond : bytesPerSecond;
  }

  /** Resolves when `bytes` more may be sent. */
  take(bytes: number): Promise<void> {
    const now = this.time.monotonicMs();
    const start = Math.max(now, this.nextMs);
    this.lastBytesPerSecond = this.rate();
    this.nextMs = start + (bytes * 1000) / this.lastBytesPerSecond;
    const waitMs = start - now;
    if (waitMs <= 0) return Promise.resolve();
    return new Promise((resolve) => this.time.after(waitMs, resolve));
  }
}
