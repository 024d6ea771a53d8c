import test from 'ava';
import { DEFAULT_FAULT_KINDS, MEMBERSHIP_FAULTS, PlannedFault, planFaults } from '../../src/chaos/nemesis';
import { Random } from '../../src/common/random';

const plan = (seed: number, kinds = [...DEFAULT_FAULT_KINDS, ...MEMBERSHIP_FAULTS], spares = 2): PlannedFault[] =>
  planFaults(new Random(seed), kinds, 600_000, 4, ['drop', 'blackhole'], spares, 3);

/** Replays a plan's membership: every fault must pick a node of the ring as it is then. */
function replay(faults: readonly PlannedFault[]): { bad: string[]; joins: number; leaves: number } {
  const members = new Set([0, 1, 2, 3]);
  const bad: string[] = [];
  let joins = 0;
  let leaves = 0;
  for (const { fault } of faults) {
    if (fault.kind === 'join') {
      joins++;
      if (members.has(fault.node)) bad.push(`node ${fault.node} joins twice`);
      members.add(fault.node);
      continue;
    }
    if (!members.has(fault.node)) bad.push(`${fault.kind} of node ${fault.node}, not in the ring`);
    if (fault.alsoDown !== undefined && !members.has(fault.alsoDown)) bad.push(`node ${fault.alsoDown} also down, not in the ring`);
    if (fault.kind === 'decommission') {
      leaves++;
      members.delete(fault.node);
      if (members.size < 3) bad.push('the ring fell below the replication factor');
    }
  }
  return { bad, joins, leaves };
}

test('planFaults: joins take the spare ids once each at distinct tokens; every fault picks a node of the ring as it is then', (t) => {
  let joins = 0;
  let leaves = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const faults = plan(seed);
    const r = replay(faults);
    t.deepEqual(r.bad, [], `seed ${seed}`);
    t.true(r.joins <= 2, `seed ${seed}: at most the two spares join`);
    const tokens = faults.filter((f) => f.fault.kind === 'join').map((f) => f.fault.token);
    t.is(new Set(tokens).size, tokens.length, `seed ${seed}: distinct tokens`);
    t.deepEqual(
      faults.filter((f) => f.fault.kind === 'join').map((f) => f.fault.node),
      [4, 5].slice(0, r.joins),
    );
    joins += r.joins;
    leaves += r.leaves;
  }
  t.true(joins > 0 && leaves > 0, 'fifty seeds draw both kinds');
});

test('planFaults: the same seed plans the same faults, and without spares no join is planned', (t) => {
  t.deepEqual(plan(7), plan(7));
  t.false(plan(7, [...MEMBERSHIP_FAULTS], 0).some((f) => f.fault.kind === 'join'));
  // Four nodes, replication factor 3: one decommission, then none is possible and the plan ends.
  t.deepEqual(
    plan(7, ['decommission'], 0).map((f) => f.fault.kind),
    ['decommission'],
  );
});

test('the default fault kinds leave membership out', (t) => {
  t.false(DEFAULT_FAULT_KINDS.some((k) => MEMBERSHIP_FAULTS.includes(k)));
});
