/**
 * How long the bench warms a workload up before it measures it, when
 * `--warmup` does not say: until the nodes' CPU per operation stops falling.
 *
 * A fresh node spends its first seconds of load compiling its hot path, on
 * threads of its own that the CPU readings count. A write run on a fresh
 * cluster, sampled with `perf` on this project's two-core machine, spent 40%
 * of the nodes' CPU in V8's compilers 2-4 s into the run, 23% at 6-8 s, 12%
 * at 8-10 s and 1-3% from 12 s on (docs/benchmarks.md). A measured run that
 * starts two seconds in charges a large share of that one-off cost to every
 * operation; a fixed longer warm-up would charge every run for the slowest
 * machine's compile. So the warm-up goes on in steps, reading the nodes' CPU
 * around each, until a step costs about what the one before it did.
 */

/** Seconds per warm-up step: long enough for a few thousand operations even at the write rate. */
export const WARMUP_STEP_SECONDS = 2;

/** At most this long, on a machine so noisy that the steps never agree. */
export const WARMUP_AUTO_SECONDS_MAX = 20;

/** A step is settled when its CPU per operation fell by less than this share of the step before's. */
export const WARMUP_SETTLED_DROP = 0.05;

/**
 * Without the nodes' CPU (a cluster on other hosts, or without pid files), the
 * warm-up cannot tell when it is done: it runs this long, past the compile
 * seen in the profile above.
 */
export const WARMUP_BLIND_SECONDS = 12;

/**
 * Whether the warm-up may stop after a step that cost `current` µs of node
 * CPU per operation, the step before having cost `previous`. A step with no
 * reading (no operation went through) ends it too: more steps would learn
 * nothing, and the measured run will show the failure.
 */
export function warmedUp(previous: number | null, current: number | null): boolean {
  if (current === null) return true;
  if (previous === null) return false;
  return current >= previous * (1 - WARMUP_SETTLED_DROP);
}
