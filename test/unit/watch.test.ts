/**
 * The client's watch (client/watch.ts) against a fake cluster: how a range
 * is cut by the ring, a follower that goes to the next replica and reads its
 * range again when its node fails, a refused call that ends the watch, and
 * a reader that falls behind holding the followers back.
 */
import test from 'ava';
import { type FeedPage, type FeedPosition, piecesOf, Watch, WatchClient, WatchEvent } from '../../src/client/watch';
import { displayKey } from '../../src/common/bytes';
import { KvError } from '../../src/common/errors';
import { WATCH_BUFFERED_CHANGES_MAX } from '../../src/common/limits';
import { waitFor } from '../../src/harness/local-cluster';
import { bootstrapPlacement, type Placement } from '../../src/membership/placement';

const placement = bootstrapPlacement(
  ['M', 'f', 'p', '\u007f'].map((token, id) => ({ id, token })),
  3,
);

for (const [from, to, expected] of [
  [
    '',
    undefined,
    [
      ['', 'M\u0000', [0, 1, 2]],
      ['M\u0000', 'f\u0000', [1, 2, 3]],
      ['f\u0000', 'p\u0000', [2, 3, 0]],
      ['p\u0000', '\u007f\u0000', [3, 0, 1]],
      ['\u007f\u0000', undefined, [0, 1, 2]],
    ],
  ],
  ['g', 'h', [['g', 'h', [2, 3, 0]]]],
  ['g', 'p\u0000', [['g', 'p\u0000', [2, 3, 0]]]],
  [
    'g',
    'q',
    [
      ['g', 'p\u0000', [2, 3, 0]],
      ['p\u0000', 'q', [3, 0, 1]],
    ],
  ],
  ['\u0080', undefined, [['\u0080', undefined, [0, 1, 2]]]],
] as const) {
  test(`piecesOf [${displayKey(from)}, ${to === undefined ? 'the end' : displayKey(to)}) cuts where the ring's ranges end`, (t) => {
    t.deepEqual(
      piecesOf(placement, from, to).map((p) => [p.from, p.to, [...p.reads]]),
      expected.map(([f, e, r]) => [f, e, [...r]]),
    );
  });
}

/** A fake cluster: each node's log of the range, and calls to a node that fail while it is down. */
class FakeCluster implements WatchClient {
  placement: Placement = placement;
  isClosed = false;
  readonly down = new Set<number>();
  readonly calls: { node: number; position: FeedPosition; start: string; end: string }[] = [];
  /** Nodes that refuse the range as placed by an older ring. */
  readonly moved = new Set<number>();
  /** Changes each node's log holds, in order (every node the same range here). */
  readonly log: string[] = [];
  refuse: KvError | undefined;

  async refreshRing(): Promise<number> {
    return placement.epoch;
  }

  async changesPage(node: number, start: Buffer, end: Buffer, position: FeedPosition, limit: number, waitMs: number): Promise<FeedPage> {
    this.calls.push({ node, position, start: start.toString('latin1'), end: end.toString('latin1') });
    if (this.refuse !== undefined) throw this.refuse;
    if (this.moved.has(node)) throw new KvError('Unavailable', 'a range from "g" must end by "h\\x00"');
    if (this.down.has(node)) throw new KvError('ConnectionError', `connection to node ${node} was refused`);
    const after = position.afterSeq === -1 ? this.log.length : position.afterSeq;
    const changes = this.log.slice(after, after + limit).map((key, i) => ({
      key: Buffer.from(key),
      value: Buffer.from(`v-${key}`),
      ts: after + i + 1,
      deleted: false,
      expiresUs: 0,
      seq: after + i + 1,
    }));
    // No change: wait a little, as a node would wait for one.
    if (changes.length === 0) await new Promise((r) => setTimeout(r, Math.min(waitMs, 5)));
    const last = after + changes.length;
    return {
      changes,
      incarnation: 100 + node,
      position: last,
      restarted: false,
      caughtUp: last === this.log.length,
      epoch: this.placement.epoch,
    };
  }
}

function collect(watch: Watch): { seen: WatchEvent[]; done: Promise<unknown> } {
  const seen: WatchEvent[] = [];
  const done = (async () => {
    for await (const e of watch) seen.push(e);
  })().catch((err: unknown) => err);
  return { seen, done };
}

const changes = (seen: WatchEvent[]): string[] => seen.flatMap((e) => (e.type === 'change' ? [`${e.key}@${e.node}`] : []));

test('from the start: a resync of the range, every change, synced; then changes as they come', async (t) => {
  const cluster = new FakeCluster();
  cluster.log.push('g1', 'g2');
  const watch = new Watch(cluster, 'g', 'h', { from: 'start' });
  const { seen } = collect(watch);
  await waitFor('the range read', () => seen.some((e) => e.type === 'synced'));
  cluster.log.push('g3');
  await waitFor('a change as it comes', () => changes(seen).includes('g3@2'));
  watch.close();
  t.deepEqual(
    seen.map((e) => e.type),
    ['resync', 'change', 'change', 'synced', 'change'],
  );
  t.deepEqual(changes(seen), ['g1@2', 'g2@2', 'g3@2']);
});

test('a follower whose node fails reads its range again from the beginning of the next replica, and says so', async (t) => {
  const cluster = new FakeCluster();
  cluster.log.push('g1');
  const watch = new Watch(cluster, 'g', 'h');
  const { seen } = collect(watch);
  await waitFor('the first call', () => cluster.calls.length > 0);
  cluster.down.add(2);
  cluster.log.push('g2');
  await waitFor('the range read again from node 3', () => seen.some((e) => e.type === 'synced'));
  watch.close();
  const resync = seen.find((e) => e.type === 'resync');
  t.like(resync, { type: 'resync', node: 3, reason: 'node 2 failed (connection to node 2 was refused)' });
  t.deepEqual(changes(seen), ['g1@3', 'g2@3'], 'every change node 3 holds, once node 2 failed');
  t.deepEqual(cluster.calls.find((c) => c.node === 3)?.position, { incarnation: 0, afterSeq: 0 }, 'from the beginning of its log');
});

test('when every replica has failed the follower waits, goes on once one is back, and tells one resync then', async (t) => {
  const cluster = new FakeCluster();
  for (const n of [2, 3, 0]) cluster.down.add(n);
  cluster.log.push('g1');
  const watch = new Watch(cluster, 'g', 'h', { from: 'start' });
  const { seen } = collect(watch);
  await waitFor('each replica asked', () => new Set(cluster.calls.map((c) => c.node)).size === 3);
  cluster.down.delete(0);
  await waitFor('the change, from node 0', () => changes(seen).includes('g1@0'));
  watch.close();
  t.deepEqual(
    seen.filter((e) => e.type === 'resync'),
    [
      {
        type: 'resync',
        start: Buffer.from('g'),
        end: Buffer.from('h'),
        node: 0,
        reason: 'node 3 failed (connection to node 3 was refused)',
      },
    ],
    'one resync, once a node answered: not one for every failed call of the outage',
  );
});

test('a watch ends when its client is closed', async (t) => {
  const cluster = new FakeCluster();
  const watch = new Watch(cluster, 'g', 'h');
  const { done } = collect(watch);
  await waitFor('the first call', () => cluster.calls.length > 0);
  cluster.isClosed = true;
  cluster.down.add(2);
  const err = await done;
  t.is((err as KvError).message, 'the watch ended: its client was closed');
});

/** A placement as the one given, at another epoch (the client learned a newer ring). */
function atEpoch(p: Placement, epoch: number): Placement {
  return Object.assign(Object.create(Object.getPrototypeOf(p) as object) as Placement, p, { epoch });
}

test('a ring the client learned before a node refused the old range: the watch cuts its range again, keeping followers whose piece is unchanged', async (t) => {
  const cluster = new FakeCluster();
  const watch = new Watch(cluster, 'g', 'q');
  const { seen } = collect(watch);
  await waitFor('both pieces followed', () => new Set(cluster.calls.map((c) => c.node)).size === 2);
  // Node 4 joins at token h: the client's learner takes up the ring, then node 2 refuses [g, p\0).
  cluster.placement = atEpoch(
    bootstrapPlacement(
      ['M', 'f', 'p', '\u007f', 'h'].map((token, id) => ({ id, token })),
      3,
    ),
    2,
  );
  cluster.moved.add(2);
  // Waits for the event, not for the call: the resync reaches the reader only once node 4's page is back.
  await waitFor('the new piece read again from node 4', () =>
    seen.some((e) => e.type === 'resync' && e.node === 4 && e.start.toString('latin1') === 'g' && e.end?.toString('latin1') === 'h\u0000'),
  );
  cluster.moved.delete(2);
  await waitFor('the piece after h followed', () => cluster.calls.some((c) => c.start === 'h\u0000' && c.end === 'p\u0000'));
  watch.close();
  const resyncs = seen.flatMap((e) => (e.type === 'resync' ? [`${e.start}-${e.end}@${e.node}`] : []));
  t.true(resyncs.includes('g-h\u0000@4'), resyncs.join(' '));
  t.like(
    seen.find((e) => e.type === 'resync' && e.node === 4),
    { reason: 'the ring moved (epoch 1 to 2)' },
  );
  t.false(
    resyncs.some((r) => r.startsWith('p\u0000-q')),
    'the piece the join left alone goes on where it was',
  );
});

test('a call refused as InvalidRequest ends the watch with that error', async (t) => {
  const cluster = new FakeCluster();
  cluster.refuse = new KvError('InvalidRequest', "the change feed's limit is 5000; it must be a whole number from 1 to 1000");
  const watch = new Watch(cluster, 'g', 'h');
  const { done } = collect(watch);
  const err = await done;
  t.true(err instanceof KvError);
  t.is((err as KvError).message, "the change feed's limit is 5000; it must be a whole number from 1 to 1000");
});

test(`a reader that falls behind holds the followers back at ${WATCH_BUFFERED_CHANGES_MAX} changes`, async (t) => {
  const cluster = new FakeCluster();
  for (let i = 0; i < WATCH_BUFFERED_CHANGES_MAX * 3; i++) cluster.log.push(`g${i}`);
  const watch = new Watch(cluster, 'g', 'h', { from: 'start', pageSize: 100 });
  const events = watch[Symbol.asyncIterator]();
  await events.next();
  // The follower fills the buffer and stops: its calls stop once it holds as many changes as it may.
  await waitFor('the buffer full', () => cluster.calls.length >= WATCH_BUFFERED_CHANGES_MAX / 100);
  const calls = cluster.calls.length;
  await new Promise((r) => setImmediate(r));
  t.true(cluster.calls.length <= WATCH_BUFFERED_CHANGES_MAX / 100 + 1, `${calls} calls`);
  let read = 1;
  while (read < WATCH_BUFFERED_CHANGES_MAX * 3) {
    const { value } = await events.next();
    if ((value as WatchEvent).type === 'change') read++;
  }
  t.is(read, WATCH_BUFFERED_CHANGES_MAX * 3, 'every change, once the reader takes them');
  watch.close();
});

test('a watch needs token routing, a range that is not empty, and a known start', (t) => {
  t.throws(
    () =>
      new Watch(
        { ...new FakeCluster(), placement: undefined, refreshRing: async () => 0, changesPage: async () => ({}) as never },
        '',
        undefined,
      ),
    {
      message: /a watch needs token routing/,
    },
  );
  t.throws(() => new Watch(new FakeCluster(), 'h', 'g'), { message: `a watch's range is empty: start "h" is not before end "g"` });
  t.throws(() => new Watch(new FakeCluster(), 'g', 'h', { from: 'yesterday' as never }), {
    message: `a watch starts from 'now' or 'start', not "yesterday"`,
  });
});
