import test from 'ava';
import type { EpochEntry } from '../../src/membership/changes';
import { fromMembershipLog, toMembershipLog } from '../../src/rpc/membership-wire';
import { types } from '../../src/rpc/thrift';

// One entry of every kind, tokens of any byte.
const LOG: EpochEntry[] = [
  {
    epoch: 1,
    change: {
      kind: 'bootstrap',
      replicationFactor: 2,
      nodes: [
        { id: 0, token: 'M' },
        { id: 1, token: '\u00ff\u0000' },
        { id: 2, token: 'f' },
      ],
    },
  },
  { epoch: 2, change: { kind: 'join-begin', node: 3, token: 'a\u0080', host: '10.0.0.5', port: 9003 } },
  { epoch: 3, change: { kind: 'reads-switch', node: 3 } },
  { epoch: 4, change: { kind: 'join-complete', node: 3 } },
  { epoch: 5, change: { kind: 'move-begin', node: 0, token: 'Q' } },
  { epoch: 6, change: { kind: 'move-complete', node: 0 } },
  { epoch: 7, change: { kind: 'leave-begin', node: 2 } },
  { epoch: 8, change: { kind: 'leave-complete', node: 2 } },
  { epoch: 9, change: { kind: 'replace-begin', node: 4, replaces: 1 } }, // no address: a log from before joins
  { epoch: 10, change: { kind: 'replace-complete', node: 4 } },
];

test('every kind of change comes back from the wire as it went', (t) => {
  t.deepEqual(fromMembershipLog(toMembershipLog(10, LOG), 0), { epoch: 10, entries: LOG });
  t.deepEqual(fromMembershipLog(toMembershipLog(10, LOG.slice(4)), 4).entries, LOG.slice(4));
});

const broken: Array<[what: string, log: types.MembershipLog, after: number, message: RegExp]> = [
  [
    'an unknown kind',
    new types.MembershipLog({ epoch: 1 as never, changes: [new types.EpochChange({ epoch: 1 as never, kind: 'split' })] }),
    0,
    /unknown kind "split"/,
  ],
  [
    'a join without a token',
    new types.MembershipLog({ epoch: 2 as never, changes: [new types.EpochChange({ epoch: 2 as never, kind: 'join-begin', node: 3 })] }),
    1,
    /join-begin without a token/,
  ],
  [
    'a port that is not a port',
    new types.MembershipLog({
      epoch: 2 as never,
      changes: [new types.EpochChange({ epoch: 2 as never, kind: 'join-begin', node: 3, token: Buffer.from('f'), port: 70000 })],
    }),
    1,
    /port 70000/,
  ],
  ['a gap in the epochs', toMembershipLog(10, LOG.slice(2)), 0, /epoch 3 where 1 was due/],
  ['a node epoch behind its own changes', toMembershipLog(3, LOG.slice(0, 5)), 0, /its epoch 3 is behind/],
];

for (const [what, log, after, message] of broken) {
  test(`a membership answer with ${what} is refused`, (t) => {
    t.throws(() => fromMembershipLog(log, after), { name: 'Internal', message });
  });
}
