/**
 * What the simulator's seed-block tests share: the options of a plain run,
 * the membership fault set, and a block's run.
 */
import { replayCommand } from '../src/cli/sim';
import { FAULT_KINDS, FaultKind } from '../src/sim/faults';
import { SimOptions, simulate } from '../src/sim/runner';

export const base: Omit<SimOptions, 'seed'> = {
  nodes: 4,
  faults: [...FAULT_KINDS],
  durationMs: 10_000,
  trace: false,
  bugs: {},
  sync: 'FULL',
};

/**
 * A block of seeds takes 20-35 s on a quiet two-core machine, and took over
 * three minutes in a full run beside heavy load. A file's tests run together
 * and report only at their end: ava ends a run that reports nothing for its
 * 2 min timeout unless a test says how long it may take.
 */
export const BLOCK_TIMEOUT_MS = 10 * 60_000;

/** Membership operations beside the faults that stop their streams and barriers. */
export const MEMBERSHIP: readonly FaultKind[] = ['join', 'decommission', 'crash', 'partition', 'pause', 'loss'];

/** Runs seeds `first` … `first + count - 1`; for each that fails, its problems and the command that replays it. */
export async function seedBlockFailures(o: Omit<SimOptions, 'seed'>, first: number, count: number): Promise<string[]> {
  const failures: string[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const r = await simulate({ ...o, seed });
    if (!r.ok) failures.push(`seed ${seed}:\n${r.problems.join('\n')}\nreplay: ${replayCommand(seed, o)}`);
  }
  return failures;
}
