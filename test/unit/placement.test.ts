import test from 'ava';
import { writeAcksNeeded } from '../../src/coordinator/levels';
import { applyChange, bootstrapEntry, Change, Membership, NodeState, replayLog } from '../../src/membership/changes';
import { Placement } from '../../src/membership/placement';
import { quorumsMiss } from './placement-check';
import { after, BOOT } from './four-node-ring';

/** A placement as rows: end, reads, writes, pending. */
function rows(p: Placement): Array<[string, number[], number[], number]> {
  return p.ranges.map((r) => [r.end, [...r.reads], [...r.writes], r.pending]);
}

test('bootstrap: epoch 1, every node NORMAL, reads and writes on the same three replicas', (t) => {
  const m = after();
  t.is(m.epoch, 1);
  t.deepEqual(
    m.members.map((n) => n.state),
    ['NORMAL', 'NORMAL', 'NORMAL', 'NORMAL'],
  );
  t.deepEqual(rows(Placement.of(m)), [
    ['d', [0, 1, 2], [0, 1, 2], 0],
    ['h', [1, 2, 3], [1, 2, 3], 0],
    ['l', [2, 3, 0], [2, 3, 0], 0],
    ['p', [3, 0, 1], [3, 0, 1], 0],
  ]);
});

// A join of node 4 at token 'f', step by step: the ranges it will replicate
// get it as a pending writer, then as a reader (the node it displaces pending), then not.
const joinSteps: Array<[what: string, changes: Change[], state: NodeState, expected: Array<[string, number[], number[], number]>]> = [
  [
    'join-begin: node 4 takes writes of the three ranges it will replicate, reads stay',
    [{ kind: 'join-begin', node: 4, token: 'f' }],
    'JOINING',
    [
      ['d', [0, 1, 2], [0, 1, 2, 4], 1],
      ['f', [1, 2, 3], [1, 2, 3, 4], 1],
      ['h', [1, 2, 3], [1, 2, 3], 0],
      ['l', [2, 3, 0], [2, 3, 0], 0],
      ['p', [3, 0, 1], [3, 0, 1, 4], 1],
    ],
  ],
  [
    'reads-switch: node 4 takes reads; the node each range loses still takes writes',
    [
      { kind: 'join-begin', node: 4, token: 'f' },
      { kind: 'reads-switch', node: 4 },
    ],
    'JOINING',
    [
      ['d', [0, 4, 1], [0, 4, 1, 2], 1],
      ['f', [4, 1, 2], [4, 1, 2, 3], 1],
      ['h', [1, 2, 3], [1, 2, 3], 0],
      ['l', [2, 3, 0], [2, 3, 0], 0],
      ['p', [3, 0, 4], [3, 0, 4, 1], 1],
    ],
  ],
  [
    'join-complete: five NORMAL nodes, nothing pending',
    [
      { kind: 'join-begin', node: 4, token: 'f' },
      { kind: 'reads-switch', node: 4 },
      { kind: 'join-complete', node: 4 },
    ],
    'NORMAL',
    [
      ['d', [0, 4, 1], [0, 4, 1], 0],
      ['f', [4, 1, 2], [4, 1, 2], 0],
      ['h', [1, 2, 3], [1, 2, 3], 0],
      ['l', [2, 3, 0], [2, 3, 0], 0],
      ['p', [3, 0, 4], [3, 0, 4], 0],
    ],
  ],
];

for (const [what, changes, state, expected] of joinSteps) {
  test(`join of node 4 at 'f', ${what}`, (t) => {
    const m = after(...changes);
    t.is(m.epoch, 1 + changes.length);
    t.is(m.members.find((n) => n.id === 4)?.state, state);
    t.deepEqual(rows(Placement.of(m)), expected);
  });
}

test('leave of node 1: LEAVING takes reads and writes until reads switch, then LEFT holds nothing', (t) => {
  const begun = after({ kind: 'leave-begin', node: 1 });
  t.is(begun.members[1]!.state, 'LEAVING');
  // Node 1's ranges pass to the next node round the ring, which is pending.
  t.deepEqual(rows(Placement.of(begun)), [
    ['d', [0, 1, 2], [0, 1, 2, 3], 1],
    ['h', [1, 2, 3], [1, 2, 3, 0], 1],
    ['l', [2, 3, 0], [2, 3, 0], 0],
    ['p', [3, 0, 1], [3, 0, 1, 2], 1],
  ]);
  const left = after({ kind: 'leave-begin', node: 1 }, { kind: 'reads-switch', node: 1 }, { kind: 'leave-complete', node: 1 });
  t.is(left.members[1]!.state, 'LEFT');
  t.deepEqual(rows(Placement.of(left)), [
    ['d', [0, 2, 3], [0, 2, 3], 0],
    ['l', [2, 3, 0], [2, 3, 0], 0],
    ['p', [3, 0, 2], [3, 0, 2], 0],
  ]);
});

test('move of node 0 from d to j: MOVING, pending where it will replicate, then NORMAL at the new token', (t) => {
  const begun = after({ kind: 'move-begin', node: 0, token: 'j' });
  t.is(begun.members[0]!.state, 'MOVING');
  t.deepEqual(rows(Placement.of(begun)), [
    ['d', [0, 1, 2], [0, 1, 2], 0],
    ['h', [1, 2, 3], [1, 2, 3, 0], 1],
    ['j', [2, 3, 0], [2, 3, 0], 0],
    ['l', [2, 3, 0], [2, 3, 0, 1], 1],
    ['p', [3, 0, 1], [3, 0, 1], 0],
  ]);
  const moved = after({ kind: 'move-begin', node: 0, token: 'j' }, { kind: 'reads-switch', node: 0 }, { kind: 'move-complete', node: 0 });
  t.deepEqual(moved.members[0], { id: 0, token: 'j', state: 'NORMAL' });
});

test("replace of node 2 by node 7: 7 takes 2's token and pending writes; at complete 2 is LEFT", (t) => {
  const begun = after({ kind: 'replace-begin', node: 7, replaces: 2 });
  t.deepEqual(
    begun.members.find((n) => n.id === 7),
    { id: 7, token: 'l', state: 'JOINING' },
  );
  t.deepEqual(rows(Placement.of(begun)), [
    ['d', [0, 1, 2], [0, 1, 2, 7], 1],
    ['h', [1, 2, 3], [1, 2, 3, 7], 1],
    ['l', [2, 3, 0], [2, 3, 0, 7], 1],
    ['p', [3, 0, 1], [3, 0, 1], 0],
  ]);
  const done = after(
    { kind: 'replace-begin', node: 7, replaces: 2 },
    { kind: 'reads-switch', node: 7 },
    { kind: 'replace-complete', node: 7 },
  );
  t.deepEqual(
    done.members.map((n) => `${n.id}:${n.state}`),
    ['0:NORMAL', '1:NORMAL', '2:LEFT', '3:NORMAL', '7:NORMAL'],
  );
  t.deepEqual(Placement.of(done).rangeOf('k').reads, [7, 3, 0]);
});

// Changes the reducer refuses, with the sentence the operator would see.
const refused: Array<[what: string, changes: Change[], message: RegExp]> = [
  [
    'a second operation while one runs',
    [
      { kind: 'join-begin', node: 4, token: 'f' },
      { kind: 'leave-begin', node: 0 },
    ],
    /another operation \(join of node 4\) is in progress/,
  ],
  ['a join at a token already taken', [{ kind: 'join-begin', node: 4, token: 'h' }], /token "h" is already taken by node 1/],
  ['a join reusing an id', [{ kind: 'join-begin', node: 2, token: 'f' }], /node 2 is already a member/],
  ['a leave of an unknown node', [{ kind: 'leave-begin', node: 9 }], /node 9 is not a member of the ring/],
  [
    'complete before reads switched',
    [
      { kind: 'join-begin', node: 4, token: 'f' },
      { kind: 'join-complete', node: 4 },
    ],
    /cannot complete before its reads have moved/,
  ],
  [
    'complete of another kind',
    [
      { kind: 'join-begin', node: 4, token: 'f' },
      { kind: 'reads-switch', node: 4 },
      { kind: 'leave-complete', node: 4 },
    ],
    /no leave of node 4 is in progress/,
  ],
  ['reads-switch with nothing running', [{ kind: 'reads-switch', node: 1 }], /no operation of node 1 is in progress/],
  [
    'reads-switch twice',
    [
      { kind: 'leave-begin', node: 1 },
      { kind: 'reads-switch', node: 1 },
      { kind: 'reads-switch', node: 1 },
    ],
    /have already moved/,
  ],
  [
    'a leave that would leave fewer nodes than RF',
    [
      { kind: 'leave-begin', node: 1 },
      { kind: 'reads-switch', node: 1 },
      { kind: 'leave-complete', node: 1 },
      { kind: 'leave-begin', node: 2 },
    ],
    /fewer than the replication factor 3/,
  ],
  [
    'a replace of a node that is leaving',
    [
      { kind: 'leave-begin', node: 1 },
      { kind: 'reads-switch', node: 1 },
      { kind: 'leave-complete', node: 1 },
      { kind: 'replace-begin', node: 5, replaces: 1 },
    ],
    /node 1 is LEFT; only a NORMAL node can be replaced/,
  ],
];

for (const [what, changes, message] of refused) {
  test(`the reducer refuses ${what}`, (t) => {
    const err = t.throws(() => after(...changes), { name: 'InvalidRequest', message });
    t.truthy(err);
  });
}

test('the log must start with the bootstrap at epoch 1 and go on one epoch at a time', (t) => {
  t.throws(() => applyChange(undefined, { epoch: 2, change: BOOT.change }), { message: /starts with the bootstrap/ });
  t.throws(() => applyChange(after(), { epoch: 3, change: { kind: 'leave-begin', node: 1 } }), { message: /epoch 3 follows epoch 1/ });
  t.throws(() => applyChange(after(), { epoch: 2, change: BOOT.change }), { message: /bootstrap only at epoch 1/ });
});

test('the bootstrap refuses a replication factor above the node count and repeated tokens', (t) => {
  t.throws(() => replayLog([bootstrapEntry([{ id: 0, token: 'a' }], 2)]), { name: 'InvalidRequest', message: /between 1 and 1/ });
  t.throws(
    () =>
      replayLog([
        bootstrapEntry(
          [
            { id: 0, token: 'a' },
            { id: 1, token: 'a' },
          ],
          1,
        ),
      ]),
    { name: 'InvalidRequest', message: /two nodes with one token/ },
  );
});

// Lookup: a range ends at its token inclusive; keys past the largest token wrap to the first range.
const lookups: Array<[key: string, end: string]> = [
  ['', 'd'],
  ['d', 'd'],
  ['d\u0000', 'h'],
  ['h', 'h'],
  ['kkk', 'l'],
  ['p', 'p'],
  ['p\u0000', 'd'],
  ['\u00ff\u00ff', 'd'],
];

for (const [key, end] of lookups) {
  test(`rangeOf(${JSON.stringify(key)}) is the range ending at ${end}`, (t) => {
    const p = Placement.of(after());
    t.is(p.rangeOf(key).end, end);
    t.is(p.rangeOf(key), p.rangeOf(key), 'the same precomputed range each time: nothing allocated per lookup');
  });
}

test('a write needs the level plus the pending replicas (Cassandra rule)', (t) => {
  t.is(writeAcksNeeded('ONE', 3, 0), 1);
  t.is(writeAcksNeeded('QUORUM', 3, 0), 2);
  t.is(writeAcksNeeded('QUORUM', 3, 1), 3);
  t.is(writeAcksNeeded('ALL', 3, 1), 4);
  t.is(writeAcksNeeded('QUORUM', 5, 2), 5);
});

test('without the pending rule a QUORUM write during a join can miss a QUORUM read', (t) => {
  const range = Placement.of(after({ kind: 'join-begin', node: 4, token: 'f' })).rangeOf('a');
  t.deepEqual(
    quorumsMiss(range.writes, 2, range.reads, 2),
    [
      [0, 4],
      [1, 2],
    ],
    'acks from 0 and the pending 4; reads from 1 and 2',
  );
  t.is(quorumsMiss(range.writes, writeAcksNeeded('QUORUM', 3, range.pending), range.reads, 2), undefined);
});

test('why three steps: going from join-begin straight to complete, writes of the new epoch miss reads of the old', (t) => {
  const begun = Placement.of(after({ kind: 'join-begin', node: 4, token: 'f' })).rangeOf('a');
  const joined = after({ kind: 'join-begin', node: 4, token: 'f' }, { kind: 'reads-switch', node: 4 }, { kind: 'join-complete', node: 4 });
  const completed = Placement.of(joined).rangeOf('a');
  t.truthy(quorumsMiss(completed.writes, 2, begun.reads, 2), 'node 4 and 0 acknowledge, 1 and 2 answer the read');
});

test('gaining: the replicas an operation adds to each range, before and after reads switch; none once it completes', (t) => {
  const gaining = (m: Membership) => Placement.of(m).ranges.map((r) => [r.end, [...r.gaining]]);
  const begin: Change = { kind: 'leave-begin', node: 1 };
  const expected = [
    ['d', [3]],
    ['h', [0]],
    ['l', []],
    ['p', [2]],
  ];
  t.deepEqual(gaining(after(begin)), expected);
  // After the switch the added replicas take reads, and are still the ones the range gains.
  t.deepEqual(gaining(after(begin, { kind: 'reads-switch', node: 1 })), expected);
  t.deepEqual(gaining(after(begin, { kind: 'reads-switch', node: 1 }, { kind: 'leave-complete', node: 1 })), [
    ['d', []],
    ['l', []],
    ['p', []],
  ]);
  t.deepEqual(gaining(after()), [
    ['d', []],
    ['h', []],
    ['l', []],
    ['p', []],
  ]);
});
