import test from 'ava';
import { applyChange, bootstrapEntry, Membership, replayLog } from '../../src/membership/changes';
import { intervalsOf, streamsOf } from '../../src/membership/stream-plan';

const ring = (): Membership =>
  replayLog([
    bootstrapEntry(
      [
        { id: 0, token: 'M' },
        { id: 1, token: 'f' },
        { id: 2, token: 'p' },
        { id: 3, token: '\u007f' },
      ],
      3,
    ),
  ]);

test('a join streams each range it gains from the replica that gives it up', (t) => {
  const m = applyChange(ring(), { epoch: 2, change: { kind: 'join-begin', node: 4, token: 'k' } });
  const streams = streamsOf(m).map((s) => `(${s.start},${s.end}] ${s.source}->${s.target}`);
  // Node 4 at k owns (f,k] (node 0, its third replica before, gives it up) and becomes a replica of the two ranges before it.
  t.deepEqual(streams, ['(\u007f,M] 2->4', '(M,f] 3->4', '(f,k] 0->4']);
});

test('a decommission streams every range the leaving node held, from it, to the node that takes it over', (t) => {
  const m = applyChange(ring(), { epoch: 2, change: { kind: 'leave-begin', node: 1 } });
  const streams = streamsOf(m);
  t.is(streams.length, 3, 'node 1 replicated three ranges');
  t.true(streams.every((s) => s.source === 1 && s.target !== 1));
});

test('a range becomes one key interval, two when it wraps, the whole key space for a single token', (t) => {
  t.deepEqual(intervalsOf('a', 'c'), [{ from: 'a\u0000', to: 'c\u0000' }]);
  t.deepEqual(intervalsOf('p', 'M'), [
    { from: 'p\u0000', to: undefined },
    { from: '', to: 'M\u0000' },
  ]);
  t.deepEqual(intervalsOf('M', 'M'), [{ from: '', to: undefined }]);
});
