/**
 * Time as the core sees it: a wall clock, a monotonic clock and timers,
 * behind one small interface. Production passes `systemTime`; the
 * deterministic simulator passes a virtual clock whose timers fire in seeded
 * order, so core code that asks this interface (and never `Date.now` or
 * `setTimeout` directly) runs the same way in both.
 */

/** A scheduled callback that can be cancelled; cancelling twice is harmless. */
export interface Timer {
  cancel(): void;
}

export interface Time {
  /** Wall-clock milliseconds since the Unix epoch (may jump, may be skewed). */
  nowMs(): number;
  /** Milliseconds from an arbitrary origin that never goes backwards: for durations. */
  monotonicMs(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Timer;
  /** Runs `fn` every `ms` milliseconds until cancelled. */
  every(ms: number, fn: () => void): Timer;
  /** Runs `fn` after the current turn's I/O callbacks (setImmediate in Node). */
  soon(fn: () => void): void;
}

/**
 * The real clock and timers. A one-shot timer keeps the process alive (it
 * stands for a pending request's deadline); a repeating one does not (it is
 * background work, and a node stops by closing its server).
 */
/** A setTimeout as a Timer: a class, not a closure, since every write's deadline is one. */
class OneShot implements Timer {
  constructor(private readonly t: NodeJS.Timeout) {}

  cancel(): void {
    clearTimeout(this.t);
  }
}

export const systemTime: Time = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  after(ms, fn) {
    return new OneShot(setTimeout(fn, ms));
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  },
  soon(fn) {
    setImmediate(fn);
  },
};
