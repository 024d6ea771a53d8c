import test from 'ava';
import { applyChange, bootstrapEntry, Change, Membership, replayLog } from '../../src/membership/changes';
import { epochSlotKey } from '../../src/membership/epoch-log';
import { Placement } from '../../src/membership/placement';
import { minus, SLOT_KEYS, unreplicatedIntervals } from '../../src/membership/reclaim';
import { replaceStreamsOf } from '../../src/membership/replace-plan';
import type { KeyInterval } from '../../src/membership/stream-plan';

const TOKENS = ['M', 'f', 'p', '\u007f'];

const ring = (): Membership =>
  replayLog([
    bootstrapEntry(
      TOKENS.map((token, id) => ({ id, token })),
      3,
    ),
  ]);

/** The ring after `changes`, one epoch each. */
function after(...changes: Change[]): Membership {
  let m = ring();
  for (const change of changes) m = applyChange(m, { epoch: m.epoch + 1, change });
  return m;
}

const join4AtK: Change[] = [
  { kind: 'join-begin', node: 4, token: 'k' },
  { kind: 'reads-switch', node: 4 },
  { kind: 'join-complete', node: 4 },
];

const text = (is: readonly KeyInterval[]): string[] =>
  is.map((i) => `[${JSON.stringify(i.from)},${i.to === undefined ? 'end' : JSON.stringify(i.to)})`);

/** Whether `key` lies in one of the intervals. */
function within(is: readonly KeyInterval[], key: string): boolean {
  return is.some((i) => key >= i.from && (i.to === undefined || key < i.to));
}

test('a node of the bootstrap ring replicates three of the four ranges: the fourth is what it holds no replica of', (t) => {
  const p = Placement.of(ring());
  // Ranges (0x7f,M] 0,1,2; (M,f] 1,2,3; (f,p] 2,3,0; (p,0x7f] 3,0,1.
  t.deepEqual(text(unreplicatedIntervals(p, 0)), ['["M\\u0000","f\\u0000")']);
  t.deepEqual(text(unreplicatedIntervals(p, 2)), [`["p\\u0000",${JSON.stringify('\u007f\u0000')})`]);
  // Node 3's is the wrapping range: the slots' keys (which start with NUL) are cut out of it.
  t.deepEqual(text(unreplicatedIntervals(p, 3)), [
    `["",${JSON.stringify(SLOT_KEYS.from)})`,
    `[${JSON.stringify(SLOT_KEYS.to)},"M\\u0000")`,
    `[${JSON.stringify('\u007f\u0000')},end)`,
  ]);
});

test('after a join, each replica that gave a range up holds that range needlessly; the new node holds nothing needless', (t) => {
  const p = Placement.of(after(...join4AtK));
  // Node 4 at k took (0x7f,M] from node 2, (M,f] from node 3 and (f,k] from node 0 (see the stream plan's test);
  // node 1 never replicated (f,k].
  const cases: Array<[number, string, boolean]> = [
    [2, 'A', true],
    [2, 'g', false],
    [3, 'a', true],
    [3, 'l', false],
    [0, 'g', true],
    [0, 'k', true],
    [0, 'l', false],
    [0, 'q', false],
    [1, 'A', false],
    [1, 'a', false],
    [1, 'h', true],
  ];
  for (const [node, key, needless] of cases)
    t.is(within(unreplicatedIntervals(p, node), key), needless, `node ${node}, key ${key}: ${needless ? 'needless' : 'replicated'}`);
  t.true(unreplicatedIntervals(p, 4).every((i) => !within([i], 'h')));
  t.deepEqual(
    unreplicatedIntervals(p, 4).map((i) => i.from),
    ['k\u0000'],
    'node 4 replicates (0x7f,k]: the range its token ends and the two before it',
  );
});

test('no key of a replica set is ever called needless, whatever the step of an operation', (t) => {
  const steps = [ring(), after(join4AtK[0]!), after(join4AtK[0]!, join4AtK[1]!), after(...join4AtK)];
  for (const m of steps) {
    const p = Placement.of(m);
    for (const r of p.ranges)
      for (const id of r.writes) {
        const needless = unreplicatedIntervals(p, id);
        t.false(within(needless, r.end), `epoch ${m.epoch}: node ${id} writes ${JSON.stringify(r.end)}`);
      }
  }
});

test('an epoch slot key is never needless, even on a node that holds no range of it', (t) => {
  const p = Placement.of(ring());
  for (const epoch of [1, 2, 99, 123456]) t.false(within(unreplicatedIntervals(p, 3), epochSlotKey(epoch)));
  t.true(within(unreplicatedIntervals(p, 3), '\u0000other'));
});

test('an interval less another: kept whole, cut at one end, split in two, or gone', (t) => {
  const iv = (from: string, to: string | undefined): KeyInterval => ({ from, to });
  t.deepEqual(minus(iv('a', 'c'), iv('d', 'e')), [iv('a', 'c')]);
  t.deepEqual(minus(iv('a', 'c'), iv('c', 'e')), [iv('a', 'c')], 'ends are exclusive');
  t.deepEqual(minus(iv('a', 'e'), iv('c', undefined)), [iv('a', 'c')]);
  t.deepEqual(minus(iv('a', undefined), iv('c', 'd')), [iv('a', 'c'), iv('d', undefined)]);
  t.deepEqual(minus(iv('b', 'c'), iv('a', 'd')), []);
});

test('a replacement streams every range of the dead node from each of its survivors', (t) => {
  const m = after({ kind: 'replace-begin', node: 4, replaces: 1 });
  const streams = replaceStreamsOf(m).map((s) => `(${s.start},${s.end}] ${s.source}->${s.target}`);
  // Node 1 replicated (0x7f,M] with 0,2; (M,f] with 2,3; (p,0x7f] with 3,0.
  t.deepEqual(streams, ['(\u007f,M] 0->4', '(\u007f,M] 2->4', '(M,f] 2->4', '(M,f] 3->4', '(p,\u007f] 3->4', '(p,\u007f] 0->4']);
  const done = applyChange(applyChange(m, { epoch: 3, change: { kind: 'reads-switch', node: 4 } }), {
    epoch: 4,
    change: { kind: 'replace-complete', node: 4 },
  });
  t.is(done.members.find((n) => n.id === 1)?.state, 'LEFT');
  t.is(done.members.find((n) => n.id === 4)?.token, 'f', "the new node holds the dead node's token");
  // The new ring replicates exactly what the old one did, node 4 in node 1's place.
  const before = Placement.of(ring());
  const now = Placement.of(done);
  t.deepEqual(
    now.ranges.map((r) => [r.end, [...r.reads].sort()]),
    before.ranges.map((r) => [r.end, r.reads.map((id) => (id === 1 ? 4 : id)).sort()]),
  );
});
