/** Removing a dead node: the reducer's checks (membership/changes.ts) and what the removal streams (membership/remove-plan.ts). */
import test from 'ava';
import { applyChange, Change, runnerOf } from '../../src/membership/changes';
import { Placement } from '../../src/membership/placement';
import { removeStreamsOf } from '../../src/membership/remove-plan';
import { streamsOf } from '../../src/membership/stream-plan';
import { abortsOperationOf, operationWords } from '../../src/operations/abort';
import { after } from './four-node-ring';

const removal: Change = { kind: 'leave-begin', node: 3, by: 0 };

test('a removal is a leave of the dead node, run by the node named by `by`', (t) => {
  const m = after(removal);
  t.is(m.members.find((n) => n.id === 3)?.state, 'LEAVING');
  t.deepEqual(m.operation, { kind: 'leave', node: 3, by: 0, readsSwitched: false });
  t.is(runnerOf(m.operation!), 0);
  t.is(runnerOf(after({ kind: 'leave-begin', node: 3 }).operation!), 3, 'a decommission runs on its own node');
  const done = after(removal, { kind: 'reads-switch', node: 3 }, { kind: 'leave-complete', node: 3 });
  t.is(done.members.find((n) => n.id === 3)?.state, 'LEFT');
  t.is(done.operation, undefined);
  const aborted = after(removal, { kind: 'abort', node: 3 });
  t.is(aborted.members.find((n) => n.id === 3)?.state, 'NORMAL', 'an aborted removal leaves the node in the ring, as before it');
});

test("an abort of a removal is the runner's to stop, not the dead node's; words and refusals name it a removal", (t) => {
  const op = after(removal).operation!;
  for (const kind of ['abort', 'reads-back'] as const) {
    t.true(abortsOperationOf({ kind, node: 3 }, op, 0), `${kind}: the runner stops its run`);
    t.false(abortsOperationOf({ kind, node: 3 }, op, 3), `${kind}: the dead node runs nothing`);
  }
  t.is(operationWords(op), 'removal of node 3 by node 0');
  const m = after(removal);
  t.throws(() => applyChange(m, { epoch: m.epoch + 1, change: { kind: 'leave-begin', node: 2 } }), {
    message: 'another operation (removal of node 3 by node 0) is in progress',
  });
});

const refusals: [string, Change[], Change, RegExp][] = [
  ['by the node itself', [], { kind: 'leave-begin', node: 3, by: 3 }, /node 3 cannot remove itself; decommission it instead/],
  ['by a node not in the ring', [], { kind: 'leave-begin', node: 3, by: 9 }, /node 9 is not a member of the ring/],
  [
    'by a node that is not NORMAL',
    [
      { kind: 'join-begin', node: 4, token: 'x' },
      { kind: 'abort', node: 4 },
    ],
    { kind: 'leave-begin', node: 3, by: 4 },
    /node 4 is LEFT; only a NORMAL node can run a removal/,
  ],
  [
    'of a node that is not NORMAL',
    [
      { kind: 'leave-begin', node: 3 },
      { kind: 'abort', node: 3 },
      { kind: 'move-begin', node: 3, token: 'r' },
    ],
    { kind: 'leave-begin', node: 2, by: 0 },
    /another operation \(move of node 3\) is in progress/,
  ],
  [
    'that leaves fewer nodes than the replication factor',
    [
      { kind: 'leave-begin', node: 2 },
      { kind: 'reads-switch', node: 2 },
      { kind: 'leave-complete', node: 2 },
    ],
    removal,
    /node 3 cannot be removed: the ring would have 2 nodes, fewer than the replication factor 3/,
  ],
];

for (const [what, before, change, message] of refusals) {
  test(`a removal ${what} is refused in one sentence`, (t) => {
    const m = after(...before);
    const error = t.throws(() => applyChange(m, { epoch: m.epoch + 1, change }));
    t.regex(error!.message, message);
  });
}

test('a removal copies each range the dead node gives up to the replica that gains it, from every survivor', (t) => {
  const m = after(removal);
  const streams = removeStreamsOf(m).map((s) => `(${s.start},${s.end}] ${s.source}->${s.target}`);
  // The same ranges and gaining replicas as a decommission of node 3 (which would copy from node 3 itself) …
  const decommission = streamsOf(after({ kind: 'leave-begin', node: 3 }));
  t.is(decommission.length, 3);
  // … each copied from the range's two other replicas, never from node 3.
  t.is(streams.length, 6);
  const before = Placement.of(m);
  for (const d of decommission) {
    const range = before.ranges.find((r) => r.end === d.end)!;
    const survivors = range.reads.filter((id) => id !== 3);
    t.is(survivors.length, 2);
    for (const source of survivors) t.true(streams.includes(`(${d.start},${d.end}] ${source}->${d.target}`), `${source}->${d.target}`);
  }
  t.false(streams.some((s) => s.includes('3->')));
});
