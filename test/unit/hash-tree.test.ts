import test from 'ava';
import fc from 'fast-check';
import { digestOf } from '../../src/repair/compare';
import { BRANCHES, HashTree, LEAF, LEAVES, leavesOf, ROOT, segmentHashRange, segmentOf } from '../../src/repair/hash-tree';
import { byBytes, TreeExchange, TreeLocal, TreePeer } from '../../src/repair/tree-exchange';
import { hashKey } from '../../src/partitioner/hash';
import { compareVersions, KeyedVersion, supersedes, Version } from '../../src/storage/version';
import { byteString } from './arbitraries';
import { bootstrapPlacement } from '../../src/membership/placement';
import type { TreeRange } from '../../src/repair/range-trees';
import { fcParams } from './fc-params';

/** A key's version; the value follows from the timestamp, so two versions of one stamp are the same version. */
const versionArb: fc.Arbitrary<Version> = fc
  .record({ ts: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2 ** 52 })), deleted: fc.boolean() })
  .map(({ ts, deleted }) => ({ ts, deleted, value: deleted ? '' : `v${ts}` }));
const keyArb = byteString(0, 6);
/** The range the exchanges name: the replicas here hold one range's keys only, whichever it is. */
const RANGE = bootstrapPlacement([{ id: 0, token: 'M' }], 1).ranges[0]!;
/** A step: a key's new version, or its removal (a tombstone purge). */
const stepArb = fc.tuple(keyArb, fc.option(versionArb, { freq: 4 }));

/** The naive reference: a tree built from a map of keys in one go. */
function treeOf(map: ReadonlyMap<string, Version>): HashTree {
  const t = new HashTree();
  for (const [k, v] of map) t.change(k, hashKey(k), undefined, v);
  return t;
}

/** A replica in one process: a map, and its tree kept current on every change. */
class Replica implements TreeLocal {
  readonly map = new Map<string, Version>();
  readonly t = new HashTree();
  set(key: string, v: Version | undefined): void {
    this.t.change(key, hashKey(key), this.map.get(key), v);
    if (v === undefined) this.map.delete(key);
    else this.map.set(key, v);
  }
  tree(): HashTree {
    return this.t;
  }
  segmentKeys(_range: TreeRange, segments: readonly number[]): string[] {
    const wanted = new Set(segments);
    return [...this.map.keys()].filter((k) => wanted.has(segmentOf(hashKey(k))));
  }
  get(key: string): Version | undefined {
    return this.map.get(key);
  }
  async applyLocal(items: KeyedVersion[]): Promise<void> {
    for (const { key, version } of items) if (supersedes(version, this.map.get(key))) this.set(key, version);
  }
  asPeer(): TreePeer {
    return {
      treeHashes: async (_r, level, indices) => this.t.hashes(level, indices),
      // One segment a call, to exercise the caller's paging.
      segmentKeys: async (r, segments) => ({
        digests: this.segmentKeys(r, segments.slice(0, 1)).map((k) => digestOf(k, this.map.get(k)!)),
        covered: 1,
      }),
      fetch: async (keys) => keys.flatMap((key) => (this.map.has(key) ? [{ key, version: this.map.get(key)! }] : [])),
      apply: (items) => this.applyLocal([...items]),
    };
  }
}

function replicaOf(steps: readonly [string, Version | null][]): Replica {
  const r = new Replica();
  for (const [k, v] of steps) r.set(k, v ?? undefined);
  return r;
}

test('a tree kept current through any sequence of changes equals the tree built from its final keys', (t) => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
      const r = replicaOf(steps);
      return r.t.equals(treeOf(r.map));
    }),
    fcParams(300),
  );
  t.pass();
});

test('an empty tree is all zeros, and a key written then removed leaves it so', (t) => {
  const r = new Replica();
  r.set('k', { ts: 5, deleted: false, value: 'v5' });
  t.false(r.t.equals(new HashTree()));
  r.set('k', { ts: 9, deleted: true, value: '' });
  r.set('k', undefined);
  t.true(r.t.equals(new HashTree()));
  t.is(HashTree.bytes, (LEAVES + BRANCHES + 1) * 8);
});

test('a key changes only its own leaf, its branch and the root', (t) => {
  const r = new Replica();
  r.set('alpha', { ts: 1, deleted: false, value: 'v1' });
  const seg = segmentOf(hashKey('alpha'));
  const leaves = [...Array(LEAVES).keys()];
  t.deepEqual(r.t.differing(LEAF, leaves, new HashTree().hashes(LEAF, leaves)), [seg]);
  t.deepEqual(r.t.differing(ROOT, [0], new HashTree().hashes(ROOT, [0])), [0]);
  const { from, to } = segmentHashRange(seg);
  t.true(hashKey('alpha') >= from && hashKey('alpha') < to);
  t.true(leavesOf(Math.floor(seg / (LEAVES / BRANCHES))).includes(seg));
});

test('timestamp and tombstone flag both change the entry hash', (t) => {
  const base = treeOf(new Map([['k', { ts: 2 ** 40, deleted: false, value: 'x' }]]));
  t.false(base.equals(treeOf(new Map([['k', { ts: 2 ** 40 + 1, deleted: false, value: 'x' }]]))));
  t.false(base.equals(treeOf(new Map([['k', { ts: 2 ** 40 + 2 ** 32, deleted: false, value: 'x' }]]))));
  t.false(base.equals(treeOf(new Map([['k', { ts: 2 ** 40, deleted: true, value: '' }]]))));
});

test('trees of disjoint key sets combine by XOR, and a part is the whole XOR the other part', (t) => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 60 }), byteString(0, 2), (steps, cut) => {
      const all = replicaOf(steps).map;
      const low = new Map([...all].filter(([k]) => k <= cut));
      const high = new Map([...all].filter(([k]) => k > cut));
      const merged = treeOf(low);
      merged.xorWith(treeOf(high));
      const split = treeOf(all);
      split.xorWith(treeOf(low));
      return merged.equals(treeOf(all)) && split.equals(treeOf(high));
    }),
    fcParams(200),
  );
  t.pass();
});

/** The naive reference of what differs: keys whose versions are not the same on both sides. */
function differingKeys(a: ReadonlyMap<string, Version>, b: ReadonlyMap<string, Version>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => {
    const x = a.get(k);
    const y = b.get(k);
    return x === undefined || y === undefined || compareVersions(x, y) !== 0;
  });
}

test('an exchange finds exactly the differing keys and leaves both replicas with the winners', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(stepArb, { maxLength: 30 }),
      fc.array(stepArb, { maxLength: 30 }),
      fc.array(stepArb, { maxLength: 30 }),
      async (common, onA, onB) => {
        const a = replicaOf([...common, ...onA]);
        const b = replicaOf([...common, ...onB]);
        const expected = differingKeys(a.map, b.map);
        const winners = new Map(a.map);
        for (const [k, v] of b.map) if (supersedes(v, winners.get(k))) winners.set(k, v);
        const x = new TreeExchange(a, b.asPeer(), RANGE);
        const segments = await x.differingSegments(LEAVES);
        t.deepEqual([...new Set(segments)].sort(), [...new Set(expected.map((k) => segmentOf(hashKey(k))))].sort());
        t.deepEqual(await x.recheck(segments), segments);
        await x.repairSegments(segments);
        t.is(x.stats.keysDiffered, expected.length);
        // Each differing key travels once: one side lacks it or holds the loser.
        t.is(x.stats.keysSent + x.stats.keysFetched, expected.length);
        t.deepEqual(new Map([...a.map].sort()), new Map([...winners].sort()));
        t.deepEqual(new Map([...b.map].sort()), new Map([...winners].sort()));
        t.true(a.t.equals(b.t));
        t.deepEqual(await new TreeExchange(a, b.asPeer(), RANGE).differingSegments(LEAVES), []);
      },
    ),
    fcParams(150),
  );
});

test('an in-sync exchange is one round trip of one hash', async (t) => {
  const a = replicaOf([['k', { ts: 1, deleted: false, value: 'v1' }]]);
  const b = replicaOf([['k', { ts: 1, deleted: false, value: 'v1' }]]);
  const x = new TreeExchange(a, b.asPeer(), RANGE);
  t.deepEqual(await x.differingSegments(LEAVES), []);
  t.is(x.stats.roundTrips, 1);
  t.is(x.stats.compareBytes, 12);
});

test('repair calls are cut by bytes, a larger item alone, nothing lost or reordered', (t) => {
  fc.assert(
    fc.property(fc.array(fc.nat(50), { maxLength: 40 }), fc.integer({ min: 1, max: 60 }), (sizes, max) => {
      const items = sizes.map((n, i) => ({ key: `k${i}`, version: { ts: i, deleted: false, value: 'x'.repeat(n) } }));
      const runs = byBytes(items, max);
      const bytes = (r: typeof items): number => r.reduce((s, it) => s + it.key.length + it.version.value.length, 0);
      return (
        runs.flat().every((it, i) => it === items[i]) &&
        runs.flat().length === items.length &&
        runs.every((r) => r.length === 1 || bytes(r) <= max)
      );
    }),
    fcParams(200),
  );
  t.pass();
});

test('the stable re-check keeps a difference that held still and drops one whose leaf changed meanwhile', async (t) => {
  // Two keys in different segments, each missing on the peer: two differing leaves.
  const keys = ['a', 'b', 'c', 'd', 'e', 'f'].filter(
    (k, i, all) => all.findIndex((o) => segmentOf(hashKey(o)) === segmentOf(hashKey(k))) === i,
  );
  const [still, moving] = keys as [string, string];
  const a = replicaOf([
    [still, { ts: 1, deleted: false, value: 'x' }],
    [moving, { ts: 1, deleted: false, value: 'y' }],
  ]);
  const b = new Replica();
  const x = new TreeExchange(a, b.asPeer(), RANGE);
  const first = await x.differingSegments(LEAVES);
  t.deepEqual(new Set(first), new Set([segmentOf(hashKey(still)), segmentOf(hashKey(moving))]));
  // A write lands on the peer in `moving`'s segment during the pause (a newer version, so the leaves still differ).
  b.set(moving, { ts: 2, deleted: false, value: 'z' });
  t.deepEqual(await x.recheckStable(first), [segmentOf(hashKey(still))], 'only the difference that held still');
  t.deepEqual(new Set(await new TreeExchange(a, b.asPeer(), RANGE).recheck(first)), new Set(first), 'the plain re-check keeps both');
});
