/**
 * A hybrid logical clock in microseconds. Readings never go backwards and are
 * unique per node: each is max(physical now, last + 1). `observe` folds in a
 * timestamp seen from elsewhere (a replicated write, a peer's heartbeat), so a
 * write made after seeing another gets a higher stamp even when this node's
 * wall clock is behind. The physical source is injectable: tests drive it by
 * hand, and the chaos checker skews it.
 */

export type PhysicalClock = () => number;

/** Wall clock in microseconds, with an optional fixed offset (for skew tests). */
export function wallClockMicros(offsetMs = 0): PhysicalClock {
  const offsetUs = offsetMs * 1000;
  return () => Date.now() * 1000 + offsetUs;
}

/** Largest timestamp accepted: beyond 2^53 doubles lose integer precision. */
export const TIMESTAMP_MAX = Number.MAX_SAFE_INTEGER;

/**
 * How far ahead of this node's physical clock a timestamp from elsewhere may
 * be. Without a bound, one bad or hostile timestamp (2^53, say) would drag
 * the clock there for good, and every later write would lose to it. A peer
 * whose clock runs further ahead than this has its writes refused.
 */
export const CLOCK_AHEAD_MS_MAX = 5 * 60 * 1000;

export class HybridClock {
  private last = 0;

  constructor(private readonly physical: PhysicalClock) {}

  /** A fresh timestamp, greater than every one this clock returned or observed. */
  now(): number {
    const wall = Math.floor(this.physical());
    this.last = wall > this.last ? wall : this.last + 1;
    return this.last;
  }

  /** True when `ts` is not too far ahead of this node's physical clock to accept. */
  plausible(ts: number): boolean {
    return Number.isSafeInteger(ts) && ts >= 0 && ts <= this.physical() + CLOCK_AHEAD_MS_MAX * 1000;
  }

  /** Takes a timestamp from another node into account (ignored if implausible). */
  observe(ts: number): void {
    if (ts > this.last && this.plausible(ts)) this.last = ts;
  }

  /** The latest reading, without advancing. */
  peek(): number {
    return this.last;
  }
}
