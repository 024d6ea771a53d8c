/** How a node left the ring, read from the epoch log (membership/departure.ts): a table. */
import test from 'ava';
import { Change, EpochEntry } from '../../src/membership/changes';
import { departureOf, leftRingSentence } from '../../src/membership/departure';
import { BOOT } from './four-node-ring';

/** The bootstrap and `changes`, epochs numbered from 2. */
const log = (...changes: Change[]): EpochEntry[] => [BOOT, ...changes.map((change, i) => ({ epoch: i + 2, change }))];

const leave: Change[] = [
  { kind: 'leave-begin', node: 3 },
  { kind: 'reads-switch', node: 3 },
  { kind: 'leave-complete', node: 3 },
];
const replace: Change[] = [
  { kind: 'replace-begin', node: 4, replaces: 1, host: 'h', port: 1 },
  { kind: 'reads-switch', node: 4 },
  { kind: 'replace-complete', node: 4 },
];

const cases: [string, EpochEntry[], number, ReturnType<typeof departureOf>][] = [
  ['a member of the bootstrap', log(), 2, undefined],
  ['a node never in the ring', log(), 7, undefined],
  ['a leaving node, not yet LEFT', log(...leave.slice(0, 2)), 3, undefined],
  ['a decommissioned node', log(...leave), 3, { epoch: 4, why: 'decommissioned' }],
  ['a replaced node', log(...replace), 1, { epoch: 4, why: 'replaced by node 4' }],
  ['the replacement itself', log(...replace), 4, undefined],
  ['a replaced node, after later epochs', log(...replace, ...leave), 1, { epoch: 4, why: 'replaced by node 4' }],
  [
    'a node whose join was aborted',
    log({ kind: 'join-begin', node: 4, token: 'x' }, { kind: 'abort', node: 4 }),
    4,
    { epoch: 3, why: 'its join was aborted' },
  ],
  [
    'a node whose replacement was aborted',
    log(replace[0]!, { kind: 'abort', node: 4 }),
    4,
    { epoch: 3, why: 'its replacement of node 1 was aborted' },
  ],
  ['the node an aborted replacement was to replace', log(replace[0]!, { kind: 'abort', node: 4 }), 1, undefined],
  ['a node whose leave was aborted', log(leave[0]!, { kind: 'abort', node: 3 }), 3, undefined],
  [
    'a removed node',
    log({ kind: 'leave-begin', node: 3, by: 0 }, ...leave.slice(1)),
    3,
    { epoch: 4, why: 'removed while down, by node 0' },
  ],
  ['the node that ran a removal', log({ kind: 'leave-begin', node: 3, by: 0 }, ...leave.slice(1)), 0, undefined],
];

for (const [what, entries, id, expected] of cases) {
  test(`departureOf: ${what}`, (t) => {
    t.deepEqual(departureOf(entries, id), expected);
  });
}

test('the sentence a node that left says when started again', (t) => {
  t.is(
    leftRingSentence(1, { epoch: 7, why: 'replaced by node 5' }),
    'node 1 left the ring at epoch 7 (replaced by node 5); it will not serve; remove its data directory or join it again as a new node',
  );
});
