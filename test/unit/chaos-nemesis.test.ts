import test from 'ava';
import { isBusyRefusal, refuseUnless } from '../../src/chaos/membership';
import { DEFAULT_FAULT_KINDS, MEMBERSHIP_FAULTS, PlannedFault, planFaults } from '../../src/chaos/nemesis';
import { compareKeyStrings } from '../../src/common/bytes';
import { Random } from '../../src/common/random';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { applyChange } from '../../src/membership/changes';

const plan = (seed: number, kinds = [...DEFAULT_FAULT_KINDS, ...MEMBERSHIP_FAULTS], spares = 2): PlannedFault[] =>
  planFaults(new Random(seed), kinds, 600_000, DEFAULT_TOKENS, ['drop', 'blackhole'], spares, 3);

/** Whether `x` lies strictly inside the ring's range (a, b], going clockwise (wrapping past the end when b <= a). */
function inside(a: string, b: string, x: string): boolean {
  const after = (u: string, v: string): boolean => compareKeyStrings(u, v) > 0;
  if (after(b, a)) return after(x, a) && after(b, x);
  return after(x, a) || after(b, x);
}

interface Replayed {
  bad: string[];
  joins: number;
  leaves: number;
  moves: number;
  replaces: number;
  removes: number;
}

/**
 * Replays a plan, the naive way: every fault picks a member of the ring as
 * it is then; a move goes to a token no member holds, inside
 * one of the two ranges next to the node's token; new nodes (joins and
 * replacements) take the spare ids in turn; a replaced or removed node leaves.
 */
function replay(faults: readonly PlannedFault[]): Replayed {
  const tokens = new Map(DEFAULT_TOKENS.map((token, id) => [id, token]));
  const bad: string[] = [];
  const newIds: number[] = [];
  const r = { joins: 0, leaves: 0, moves: 0, replaces: 0, removes: 0 };
  for (const { fault } of faults) {
    const taken = new Set(tokens.values());
    if (fault.kind === 'join') {
      r.joins++;
      newIds.push(fault.node);
      if (taken.has(fault.token!)) bad.push(`node ${fault.node} joins at a taken token`);
      tokens.set(fault.node, fault.token!);
      continue;
    }
    if (!tokens.has(fault.node)) bad.push(`${fault.kind} of node ${fault.node}, not in the ring`);
    if (fault.alsoDown !== undefined && !tokens.has(fault.alsoDown)) bad.push(`node ${fault.alsoDown} also down, not in the ring`);
    if (fault.kind === 'move') {
      r.moves++;
      const ring = [...taken].sort(compareKeyStrings);
      const at = ring.indexOf(tokens.get(fault.node)!);
      const before = ring[(at - 1 + ring.length) % ring.length]!;
      const after = ring[(at + 1) % ring.length]!;
      if (taken.has(fault.token!)) bad.push(`node ${fault.node} moves to a taken token`);
      if (!inside(before, ring[at]!, fault.token!) && !inside(ring[at]!, after, fault.token!))
        bad.push(`node ${fault.node} moves to ${JSON.stringify(fault.token)}, outside the ranges next to it`);
      tokens.set(fault.node, fault.token!);
    }
    if (fault.kind === 'replace') {
      r.replaces++;
      newIds.push(fault.replacement!);
      tokens.set(fault.replacement!, tokens.get(fault.node)!);
      tokens.delete(fault.node);
    }
    if (fault.kind === 'decommission' || fault.kind === 'remove') {
      if (fault.kind === 'remove') r.removes++;
      else r.leaves++;
      tokens.delete(fault.node);
      if (tokens.size < 3) bad.push('the ring fell below the replication factor');
    }
  }
  if (JSON.stringify(newIds) !== JSON.stringify([4, 5].slice(0, newIds.length))) bad.push(`new nodes took ids ${newIds.join(', ')}`);
  return { bad, ...r };
}

test('planFaults: joins take the spare ids once each at distinct tokens; every fault picks a node of the ring as it is then', (t) => {
  let joins = 0;
  let leaves = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const faults = plan(seed, [...DEFAULT_FAULT_KINDS, 'join', 'decommission']);
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

test('planFaults: moves go to a free token beside the node; joins and replacements take the spare ids in turn; a replaced node is never picked again', (t) => {
  let moves = 0;
  let replaces = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const r = replay(plan(seed));
    t.deepEqual(r.bad, [], `seed ${seed}`);
    moves += r.moves;
    replaces += r.replaces;
  }
  t.true(moves > 0 && replaces > 0, 'fifty seeds draw both kinds');
});

test('planFaults: a removal takes a node of the ring out for good, only while more nodes than the replication factor remain', (t) => {
  let removes = 0;
  for (let seed = 1; seed <= 50; seed++) {
    const r = replay(plan(seed, [...DEFAULT_FAULT_KINDS, 'remove', 'join']));
    t.deepEqual(r.bad, [], `seed ${seed}`);
    removes += r.removes;
  }
  t.true(removes > 0, 'fifty seeds draw removals');
  // Four nodes, replication factor 3: one removal, then none is possible and the plan ends.
  t.deepEqual(
    plan(7, ['remove'], 0).map((f) => f.fault.kind),
    ['remove'],
  );
});

test('planFaults: without spares no replacement is planned, and moves still are', (t) => {
  const kinds = plan(3, ['move', 'replace'], 0).map((f) => f.fault.kind);
  t.true(kinds.length > 0);
  t.true(kinds.every((k) => k === 'move'));
});

test('a refusal because another operation is in progress is told apart from the other refusals', (t) => {
  const m0 = applyChange(undefined, {
    epoch: 1,
    change: { kind: 'bootstrap', nodes: DEFAULT_TOKENS.map((token, id) => ({ id, token })), replicationFactor: 3 },
  });
  const moving = applyChange(m0, { epoch: 2, change: { kind: 'move-begin', node: 1, token: 'h' } });
  const busy = t.throws(() => refuseUnless(moving, { kind: 'replace-begin', node: 4, replaces: 2 }));
  t.true(isBusyRefusal(busy), busy?.message);
  const taken = t.throws(() => refuseUnless(m0, { kind: 'move-begin', node: 1, token: 'p' }));
  t.false(isBusyRefusal(taken), taken?.message);
  t.notThrows(() => refuseUnless(m0, { kind: 'replace-begin', node: 4, replaces: 2 }));
});
