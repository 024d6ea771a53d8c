/**
 * The reducer's tables for moves and aborts: what each step does to the
 * members and the placement, and what it refuses, with the sentence.
 */
import test from 'ava';
import type { Change, Membership } from '../../src/membership/changes';
import { Placement } from '../../src/membership/placement';
import { decodeChange, encodeChange } from '../../src/membership/epoch-log';
import { after } from './four-node-ring';

function rows(m: Membership): Array<[string, number[], number[]]> {
  return Placement.of(m).ranges.map((r) => [r.end, [...r.reads], [...r.writes]]);
}

function states(m: Membership): string[] {
  return m.members.map((n) => `${n.id}:${n.state}:${n.token}`);
}

const MOVE: Change = { kind: 'move-begin', node: 0, token: 'j' };

test('move of node 0 from d to j, step by step: node 0 gains (d, h] from node 3 and gives (j, l] to node 1', (t) => {
  const steps: Array<[Change[], string, Array<[string, number[], number[]]>]> = [
    [
      [MOVE],
      '0:MOVING:d',
      [
        ['d', [0, 1, 2], [0, 1, 2]],
        ['h', [1, 2, 3], [1, 2, 3, 0]],
        ['j', [2, 3, 0], [2, 3, 0]],
        ['l', [2, 3, 0], [2, 3, 0, 1]],
        ['p', [3, 0, 1], [3, 0, 1]],
      ],
    ],
    [
      [MOVE, { kind: 'reads-switch', node: 0 }],
      '0:MOVING:d',
      [
        ['d', [1, 0, 2], [1, 0, 2]],
        ['h', [1, 0, 2], [1, 0, 2, 3]],
        ['j', [0, 2, 3], [0, 2, 3]],
        ['l', [2, 3, 1], [2, 3, 1, 0]],
        ['p', [3, 1, 0], [3, 1, 0]],
      ],
    ],
    [
      [MOVE, { kind: 'reads-switch', node: 0 }, { kind: 'move-complete', node: 0 }],
      '0:NORMAL:j',
      [
        ['h', [1, 0, 2], [1, 0, 2]],
        ['j', [0, 2, 3], [0, 2, 3]],
        ['l', [2, 3, 1], [2, 3, 1]],
        ['p', [3, 1, 0], [3, 1, 0]],
      ],
    ],
  ];
  for (const [changes, state, expected] of steps) {
    const m = after(...changes);
    t.is(states(m)[0], state, `after ${changes.map((c) => c.kind).join(', ')}`);
    t.deepEqual(rows(m), expected, `after ${changes.map((c) => c.kind).join(', ')}`);
  }
});

// Each operation's begin change, and the state its node goes back to on abort.
const operations: Array<[name: string, begin: Change, node: number]> = [
  ['join of node 4 at f', { kind: 'join-begin', node: 4, token: 'f' }, 4],
  ['leave of node 1', { kind: 'leave-begin', node: 1 }, 1],
  ['move of node 0 to j', MOVE, 0],
  ['replace of node 2 by node 5', { kind: 'replace-begin', node: 5, replaces: 2 }, 5],
];

const BEFORE = after();

for (const [name, begin, node] of operations) {
  test(`abort of a ${name} right after begin: the placement and tokens before it, and no operation`, (t) => {
    const m = after(begin, { kind: 'abort', node });
    t.is(m.epoch, 3);
    t.is(m.operation, undefined);
    t.deepEqual(rows(m), rows(BEFORE));
    const isNew = begin.kind === 'join-begin' || begin.kind === 'replace-begin';
    t.deepEqual(
      states(m).filter((s) => !s.startsWith(`${node}:`) || !isNew),
      states(BEFORE),
    );
    if (isNew) t.is(m.members.find((n) => n.id === node)?.state, 'LEFT', 'a new node that was aborted owns nothing');
  });

  test(`abort of a ${name} after its reads moved: reads-back gives the begin placement, then abort the one before`, (t) => {
    const switched = [begin, { kind: 'reads-switch', node } as Change];
    const back = after(...switched, { kind: 'reads-back', node });
    t.deepEqual(rows(back), rows(after(begin)), 'reads on the old replicas, writes on both, as at begin');
    t.true(back.operation?.aborting);
    t.false(back.operation?.readsSwitched);
    const aborted = after(...switched, { kind: 'reads-back', node }, { kind: 'abort', node });
    t.is(aborted.epoch, 5);
    t.is(aborted.operation, undefined);
    t.deepEqual(rows(aborted), rows(BEFORE));
  });
}

test('an aborted join leaves its id used: a later join must take a new one', (t) => {
  t.throws(
    () => after({ kind: 'join-begin', node: 4, token: 'f' }, { kind: 'abort', node: 4 }, { kind: 'join-begin', node: 4, token: 'f' }),
    {
      message: /node 4 is already a member of the ring \(ids are never reused\)/,
    },
  );
  const m = after({ kind: 'join-begin', node: 4, token: 'f' }, { kind: 'abort', node: 4 }, { kind: 'join-begin', node: 5, token: 'f' });
  t.is(m.operation?.node, 5);
});

test('a moved node that was aborted can move again, and its token is free for others again', (t) => {
  const m = after(MOVE, { kind: 'abort', node: 0 }, { kind: 'move-begin', node: 0, token: 'k' });
  t.is(m.operation?.token, 'k');
  t.notThrows(() => after(MOVE, { kind: 'abort', node: 0 }, { kind: 'join-begin', node: 4, token: 'j' }));
});

const refused: Array<[what: string, changes: Change[], message: RegExp]> = [
  ['a move to a token another node holds', [{ kind: 'move-begin', node: 0, token: 'h' }], /^token "h" is already taken by node 1$/],
  ['a move to its own token', [{ kind: 'move-begin', node: 0, token: 'd' }], /^token "d" is already taken by node 0$/],
  ['a move of an unknown node', [{ kind: 'move-begin', node: 9, token: 'j' }], /^node 9 is not a member of the ring$/],
  [
    'a move while another operation runs',
    [{ kind: 'leave-begin', node: 1 }, MOVE],
    /^another operation \(leave of node 1\) is in progress$/,
  ],
  [
    'a move of a node that left',
    [
      { kind: 'leave-begin', node: 1 },
      { kind: 'reads-switch', node: 1 },
      { kind: 'leave-complete', node: 1 },
      { kind: 'move-begin', node: 1, token: 'j' },
    ],
    /^node 1 is LEFT; only a NORMAL node can move$/,
  ],
  ['an abort with nothing running', [{ kind: 'abort', node: 0 }], /^no operation of node 0 is in progress$/],
  ['an abort naming another node', [MOVE, { kind: 'abort', node: 1 }], /^no operation of node 1 is in progress$/],
  [
    'an abort straight after reads moved',
    [MOVE, { kind: 'reads-switch', node: 0 }, { kind: 'abort', node: 0 }],
    /reads-back must come before abort/,
  ],
  ['a reads-back before reads moved', [MOVE, { kind: 'reads-back', node: 0 }], /still on the old replicas; abort it directly/],
  [
    'a reads-switch of an operation being aborted',
    [MOVE, { kind: 'reads-switch', node: 0 }, { kind: 'reads-back', node: 0 }, { kind: 'reads-switch', node: 0 }],
    /^node 0's move is being aborted; only its abort can follow$/,
  ],
  [
    'a complete of an operation being aborted',
    [MOVE, { kind: 'reads-switch', node: 0 }, { kind: 'reads-back', node: 0 }, { kind: 'move-complete', node: 0 }],
    /^node 0's move is being aborted; only its abort can follow$/,
  ],
  [
    'another operation while one is being aborted',
    [MOVE, { kind: 'reads-switch', node: 0 }, { kind: 'reads-back', node: 0 }, { kind: 'leave-begin', node: 2 }],
    /^another operation \(move of node 0\) is in progress$/,
  ],
];

for (const [what, changes, message] of refused) {
  test(`the reducer refuses ${what}`, (t) => {
    t.throws(() => after(...changes), { name: 'InvalidRequest', message });
  });
}

test('the new change kinds are stored and read back like the others (an old log replays unchanged)', (t) => {
  for (const change of [
    { kind: 'reads-back', node: 3 },
    { kind: 'abort', node: 3 },
  ] as Change[])
    t.deepEqual(decodeChange(encodeChange(change), 7), change);
});
