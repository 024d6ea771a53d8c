/**
 * The simulator's seeds as part of npm test: a few hundred fault schedules
 * on clusters of four, three and five nodes must all pass. A failure prints
 * the seed's problems and the command that replays it.
 */
import test from 'ava';
import { replayCommand } from '../../src/cli/sim';
import { FAULT_KINDS } from '../../src/sim/faults';
import { SimOptions, simulate } from '../../src/sim/runner';

const base: Omit<SimOptions, 'seed'> = { nodes: 4, faults: [...FAULT_KINDS], durationMs: 10_000, trace: false, bugs: {}, sync: 'FULL' };

for (const [nodes, first, count] of [
  [4, 1, 150],
  [3, 10_001, 50],
  [5, 20_001, 50],
] as const) {
  test(`${count} seeds on ${nodes} nodes, every fault, from seed ${first}`, async (t) => {
    const failures: string[] = [];
    for (let seed = first; seed < first + count; seed++) {
      const r = await simulate({ ...base, nodes, seed });
      if (!r.ok) failures.push(`seed ${seed}:\n${r.problems.join('\n')}\nreplay: ${replayCommand(seed, { ...base, nodes })}`);
    }
    t.deepEqual(failures, []);
  });
}
