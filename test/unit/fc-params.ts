/**
 * The fast-check parameters every property test runs with. Not a test file.
 *
 * A failing property reports its seed, its path and the counterexample shrunk
 * to a small case. To replay exactly that case, run the one failing test with
 * FC_SEED=<seed> FC_PATH=<path> (ava's --match picks the test: a path fits
 * only the property that printed it). FC_SEED alone replays a whole run.
 */
import fc from 'fast-check';

function seedFromEnv(): number | undefined {
  const text = process.env.FC_SEED;
  if (text === undefined || text === '') return undefined;
  const seed = Number(text);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${text}`);
  return seed;
}

/** Drawn here rather than left to fast-check, so that coverage checks over fc.sample can print it too. */
export const fcSeed = seedFromEnv() ?? (Math.random() * 2 ** 32) | 0;

/** Text for coverage messages: how to replay this run. */
export const seedNote = `seed ${fcSeed} (rerun with FC_SEED=${fcSeed})`;

/**
 * How long a property may run, shrinking included. Shrinking a long sequence
 * of steps can take minutes; stopped here, it still reports its seed and the
 * smallest case found so far, well before ava's two-minute timeout would end
 * the test with neither. A property stopped before its runs are done fails.
 */
export const PROPERTY_TIME_MAX_MS = 30_000;

/**
 * Text with DEL and every character above it written as \u00XX. Keys and
 * values are byte strings, and a terminal shows those bytes as nothing or as
 * some other letter; JSON text (fast-check's counterexamples) stays JSON.
 */
export function visibleBytes(text: string): string {
  return text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** fast-check's own report of a failure, its bytes made visible. */
const reportVisibly: fc.UniversalPlugin = () => ({
  onAllRunsComplete: (details) => {
    const report = fc.defaultReportMessage(details);
    if (report !== undefined) throw new Error(visibleBytes(report));
  },
});

/** `numRuns` cases; the error of a failing one goes into the report's text, where ava shows it. */
export function fcParams<T>(numRuns: number): fc.Parameters<T> {
  const path = process.env.FC_PATH;
  return {
    numRuns,
    seed: fcSeed,
    includeErrorInReport: true,
    plugins: [reportVisibly, fc.interruptAfterTimeLimit(PROPERTY_TIME_MAX_MS, { failOnInterrupt: true })],
    ...(path ? { path } : {}),
  };
}

/** For fc.sample: the same seed, never a path (a path belongs to one property). */
export function sampleParams<T>(numRuns: number): fc.Parameters<T> {
  return { numRuns, seed: fcSeed };
}
