/**
 * The simulator's seeds as part of npm test: a few hundred fault schedules
 * with every kind of fault, joins and decommissions among them, on clusters
 * of four, three and five nodes must all pass. A failure prints the seed's
 * problems and the command that replays it. The blocks with a fault set or
 * options of their own, and the single seeds that once found a bug, are in
 * sim-seeds-options.test.ts: a second file, so that a full run spreads the
 * simulator's CPU over both of ava's workers.
 */
import test from 'ava';
import { FAULT_KINDS } from '../../src/sim/faults';
import { BLOCK_TIMEOUT_MS, base, seedBlockFailures } from '../sim-blocks';

for (const [nodes, first, count, faults] of [
  [4, 1, 150, FAULT_KINDS],
  [3, 10_001, 50, FAULT_KINDS],
  [5, 20_001, 50, FAULT_KINDS],
] as const) {
  test(`${count} seeds on ${nodes} nodes, faults all, from seed ${first}`, async (t) => {
    t.timeout(BLOCK_TIMEOUT_MS);
    t.deepEqual(await seedBlockFailures({ ...base, nodes, faults: [...faults] }, first, count), []);
  });
}
