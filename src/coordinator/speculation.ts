/**
 * Speculative reads (Cassandra's `speculative_retry`, its "rapid read
 * protection"). A read asks as many replicas as its level needs. When one of
 * them is slow to answer (paused, overloaded, or cut off but not yet seen
 * down by the failure detector), the read would wait for it until its
 * timeout although another replica of the key is up. Instead, once the read
 * has waited longer than most replica reads take, it asks one more replica,
 * and the first answers the level needs settle it.
 *
 * The policy is a setting (`speculativeRetry`, config/speculative-retry.ts).
 *
 * Everything here is pure but the clock passed in.
 */
import { assert, unreachable } from '../common/assert';
import {
  SPECULATION_DELAY_MAX_TIMEOUT_SHARE,
  SPECULATION_DELAY_MIN_MS,
  SPECULATION_UNMEASURED_DELAY_MS,
  SPECULATION_WINDOW_MS,
  SPECULATION_WINDOW_SAMPLES_MIN,
} from '../common/limits';
import type { SpeculativeRetry } from '../config/speculative-retry';

/** Latency buckets: the first ends at BUCKET_FIRST_MS, each next one 10% wider; the last holds everything above. */
const BUCKET_FIRST_MS = 0.05;
const BUCKET_GROWTH = 1.1;
const BUCKETS = 160; // 0.05 ms * 1.1^159 ≈ 190 s: past any request timeout (at most 600 s, where only the last bucket is coarse)
const LOG_GROWTH = Math.log(BUCKET_GROWTH);

/** Which bucket a latency falls in. */
export function bucketOf(ms: number): number {
  if (!(ms > BUCKET_FIRST_MS)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / BUCKET_FIRST_MS) / LOG_GROWTH));
}

/** The upper end of a bucket: every latency in it is at most this (the last bucket's is its lower end's). */
export function bucketEndMs(bucket: number): number {
  return BUCKET_FIRST_MS * BUCKET_GROWTH ** Math.min(bucket, BUCKETS - 1);
}

/**
 * How long a read waits for its replicas before it asks one more: one per
 * coordinator. Under a percentile policy it counts how long replica reads
 * take in windows of SPECULATION_WINDOW_MS and SPECULATION_WINDOW_SAMPLES_MIN
 * answers; each window's percentile (rounded up to its bucket, so within 10%
 * above) is the wait until the next window ends.
 */
export class SpeculationDelay {
  /** The wait in ms: 0 asks the extra replica at once, Infinity never. */
  delayMs: number;
  /** Whether record() is worth calling (only a percentile policy measures). */
  readonly measures: boolean;
  private readonly counts: Uint32Array;
  private samples = 0;
  private windowStart: number;

  constructor(
    private readonly policy: SpeculativeRetry,
    private readonly timeoutMs: number,
    private readonly monotonicMs: () => number,
  ) {
    this.measures = policy.kind === 'percentile';
    this.counts = new Uint32Array(this.measures ? BUCKETS : 0);
    this.windowStart = monotonicMs();
    this.delayMs = this.initialDelay();
  }

  private initialDelay(): number {
    switch (this.policy.kind) {
      case 'none':
        return Number.POSITIVE_INFINITY;
      case 'always':
        return 0;
      case 'fixed':
        return this.policy.ms;
      case 'percentile':
        return this.clamp(SPECULATION_UNMEASURED_DELAY_MS);
    }
  }

  /** A replica answered a read `ms` after it was asked (`now`: the monotonic clock then, when the caller has it). */
  record(ms: number, now?: number): void {
    if (!this.measures) return;
    this.counts[bucketOf(ms)]!++;
    this.samples++;
    if (this.samples < SPECULATION_WINDOW_SAMPLES_MIN) return;
    now ??= this.monotonicMs();
    if (now - this.windowStart < SPECULATION_WINDOW_MS) return;
    this.delayMs = this.clamp(this.percentileMs());
    this.counts.fill(0);
    this.samples = 0;
    this.windowStart = now;
  }

  /** The window's percentile: the end of the bucket holding it. */
  private percentileMs(): number {
    assert(this.policy.kind === 'percentile', 'only a percentile policy measures');
    const rank = Math.ceil((this.policy.percentile / 100) * this.samples);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return bucketEndMs(b);
    }
    return unreachable('the bucket counts add up to the samples');
  }

  private clamp(ms: number): number {
    return Math.min(Math.max(ms, SPECULATION_DELAY_MIN_MS), this.timeoutMs * SPECULATION_DELAY_MAX_TIMEOUT_SHARE);
  }
}
