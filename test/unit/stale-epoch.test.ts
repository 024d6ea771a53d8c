/**
 * Requests placed by a stale epoch: which keys a replica refuses them for
 * (placedDifferently), and what the coordinator does when refused (takes up
 * the log, places the request again), with fake replicas; and the repair
 * trees following the ring as it changes (kept, derived, rebuilt).
 */
import test from 'ava';
import fc from 'fast-check';
import { HybridClock } from '../../src/clock/hlc';
import { systemTime } from '../../src/clock/time';
import { Coordinator } from '../../src/coordinator/coordinator';
import type { Replica } from '../../src/coordinator/replica';
import { isKvError, KvError, staleEpoch } from '../../src/common/errors';
import { EPOCH_RETRIES_MAX } from '../../src/common/limits';
import { bootstrapEntry, Change, replayLog } from '../../src/membership/changes';
import { Placement, placedDifferently } from '../../src/membership/placement';
import { hashKey } from '../../src/partitioner/hash';
import { HashTree } from '../../src/repair/hash-tree';
import { RangeTrees } from '../../src/repair/range-trees';
import { Memtable } from '../../src/storage/memtable';
import type { Version } from '../../src/storage/version';
import { fcParams } from './fc-params';

// Four nodes, RF 3: node i owns (previous token, its token].
const BOOT = bootstrapEntry(
  [
    { id: 0, token: 'd' },
    { id: 1, token: 'h' },
    { id: 2, token: 'l' },
    { id: 3, token: 'p' },
  ],
  3,
);

function placementAfter(...changes: Change[]): Placement {
  return Placement.of(replayLog([BOOT, ...changes.map((change, i) => ({ epoch: i + 2, change }))]));
}

const boot = placementAfter();
const joinBegin = placementAfter({ kind: 'join-begin', node: 4, token: 'f' });
const readsSwitched = placementAfter({ kind: 'join-begin', node: 4, token: 'f' }, { kind: 'reads-switch', node: 4 });

test('a request placed by an older epoch differs only for keys whose replicas changed since', (t) => {
  // Node 4 at f replicates (l, p], (p, d] and (d, f] once it has joined; (f, h] and (h, l] keep their replicas.
  const cases: Array<[string, Placement, Placement, boolean, boolean]> = [
    ['e', boot, joinBegin, true, true],
    ['e', boot, joinBegin, false, false],
    ['a', boot, joinBegin, true, true],
    ['g', boot, joinBegin, true, false],
    ['i', boot, joinBegin, true, false],
    ['m', boot, joinBegin, true, true],
    ['e', joinBegin, readsSwitched, true, false],
    ['e', joinBegin, readsSwitched, false, true],
    ['j', boot, readsSwitched, false, false],
  ];
  for (const [key, then, now, writing, expected] of cases) {
    t.is(placedDifferently(then, now, key, writing), expected, `${key} ${writing ? 'write' : 'read'} ${then.epoch} -> ${now.epoch}`);
  }
});

const val = (value: string, ts: number): Version => ({ value, ts, deleted: false });

/** Node 0 coordinating, replicas answering at once; `refuse` says which refuse as stale (and at which epoch they are). */
function coordinatorWith(refuse: Map<number, number>, catchUpTo: Placement | undefined, isUp: (id: number) => boolean = () => true) {
  let placement = boot;
  const applied: number[] = [];
  const caughtUp: Array<[number, number]> = [];
  const replicas = new Map<number, Replica>();
  for (const id of [0, 1, 2, 3, 4]) {
    replicas.set(id, {
      id,
      apply: async () => {
        const at = refuse.get(id);
        if (at !== undefined && placement.epoch < at) throw staleEpoch(`node ${id} is at epoch ${at}`, at);
        applied.push(id);
      },
      read: async () => {
        const at = refuse.get(id);
        if (at !== undefined && placement.epoch < at) throw staleEpoch(`node ${id} is at epoch ${at}`, at);
        return val(`from-${id}`, 10 + id);
      },
    });
  }
  const coordinator = new Coordinator({
    selfId: 0,
    placement: () => placement,
    replicas,
    isUp,
    hints: { add: async () => true },
    clock: new HybridClock(() => 2000),
    timeoutMs: 5_000,
    readLocal: () => val('from-0', 10),
    catchUp: async (peer, epoch) => {
      caughtUp.push([peer, epoch]);
      if (catchUpTo !== undefined) placement = catchUpTo;
    },
  });
  return { coordinator, applied, caughtUp };
}

test('a write refused as stale is placed again after the coordinator takes up the log: the pending replica gets it', async (t) => {
  // 'a' is in (p, d]: replicas 0, 1, 2 at the bootstrap, 0, 1, 2 and pending 4 at join-begin.
  const c = coordinatorWith(new Map([[1, 2]]), joinBegin);
  await c.coordinator.write('a', 'v', false, 'QUORUM');
  t.deepEqual(c.caughtUp, [[1, 2]]);
  t.true(c.applied.includes(4), `the second round reached node 4 (${c.applied})`);
  t.true(c.applied.includes(1), 'node 1 took the write placed again');
  t.is(c.coordinator.counters.staleEpochRetries, 1);
});

test('a write refused while the log cannot be taken up answers as its round stood, after at most the retry limit', async (t) => {
  // Nodes 1 and 2 refuse and the epoch never moves: the QUORUM is out of reach (only node 0 holds it).
  const stuck = coordinatorWith(
    new Map([
      [1, 2],
      [2, 2],
    ]),
    undefined,
  );
  const err = await t.throwsAsync(stuck.coordinator.write('a', 'v', false, 'QUORUM'));
  t.true(isKvError(err, 'TimedOut'), String(err));
  t.is(stuck.caughtUp.length, 1, 'no epoch came: placing it again would change nothing');
  t.is(stuck.coordinator.counters.staleEpochRetries, 0);
  t.true(EPOCH_RETRIES_MAX >= 1);
});

test('a write whose new placement has too few replicas up after a stale refusal times out: a replica may hold it', async (t) => {
  // 'a': replicas 0, 1, 2 at the bootstrap; node 2 is down, node 1 refuses as stale. At join-begin the write
  // needs 3 of 0, 1, 2 and pending 4, and only 0 and 1 are up. Node 0 took the first round: Unavailable
  // ("nothing written") would be a lie, and a client would take it as a write that never happened.
  const c = coordinatorWith(new Map([[1, 2]]), joinBegin, (id) => id !== 2 && id !== 4);
  const err = await t.throwsAsync(c.coordinator.write('a', 'v', false, 'QUORUM'));
  t.true(isKvError(err, 'TimedOut'), String(err));
  t.true(c.applied.includes(0), 'the first round reached node 0');
  t.regex(String((err as Error).message), /may have been applied/);
});

test('a read refused as stale reads again by the newer placement', async (t) => {
  const c = coordinatorWith(new Map([[1, 2]]), joinBegin);
  const v = await c.coordinator.read('a', 'QUORUM');
  t.deepEqual(c.caughtUp, [[1, 2]]);
  t.truthy(v);
  t.is(c.coordinator.counters.staleEpochRetries, 1);
});

test('a refusal is a KvError with the refusing node epoch', (t) => {
  const err = staleEpoch('behind', 7);
  t.true(err instanceof KvError);
  t.is(err.code, 'StaleEpoch');
  t.is(err.details.epoch, 7);
});

/** A tree of every key of a memtable that falls in `range` of `placement`, built from scratch. */
function freshTree(table: Memtable, placement: Placement, end: string): HashTree {
  const tree = new HashTree();
  for (const { key, version } of table.range('', undefined, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY).entries) {
    if (placement.rangeOf(key).end === end) tree.change(key, hashKey(key), undefined, version);
  }
  return tree;
}

const keyArb = fc.string({ minLength: 1, maxLength: 3, unit: fc.constantFrom('a', 'c', 'd', 'e', 'f', 'g', 'h', 'k', 'm', 'q', '~') });

/** Node 1's trees (its range (d, h] splits at f and merges again, (l, p] goes and comes back) through a join and a leave, writes landing before, during and after each rebuild. */
test('property: the trees kept, derived and rebuilt as the ring changes equal trees built from scratch', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(keyArb, fc.integer({ min: 1, max: 50 })), { minLength: 50, maxLength: 300 }), async (writes) => {
      const selfId = 1;
      const trees = new RangeTrees(boot, selfId, 2);
      const table = new Memtable(undefined, trees);
      let seq = 0;
      const write = (key: string, ts: number): void => {
        const old = table.get(key);
        if (old === undefined || old.ts < ts) table.set(key, val(`v${ts}`, ts), ++seq);
      };
      const steps = [
        joinBegin,
        readsSwitched,
        placementAfter({ kind: 'join-begin', node: 4, token: 'f' }, { kind: 'reads-switch', node: 4 }, { kind: 'join-complete', node: 4 }),
        placementAfter(
          { kind: 'join-begin', node: 4, token: 'f' },
          { kind: 'reads-switch', node: 4 },
          { kind: 'join-complete', node: 4 },
          { kind: 'leave-begin', node: 4 },
        ),
        placementAfter(
          { kind: 'join-begin', node: 4, token: 'f' },
          { kind: 'reads-switch', node: 4 },
          { kind: 'join-complete', node: 4 },
          { kind: 'leave-begin', node: 4 },
          { kind: 'reads-switch', node: 4 },
          { kind: 'leave-complete', node: 4 },
        ),
      ];
      const chunk = Math.ceil(writes.length / (2 * steps.length + 1));
      let at = 0;
      const some = (): void => {
        for (const [key, ts] of writes.slice(at, at + chunk)) write(key, ts);
        at += chunk;
      };
      some();
      for (const placement of steps) {
        trees.follow(placement, table, systemTime);
        // While a rebuild is under way: some keys before its page, some after, between its pages.
        some();
        await new Promise((resolve) => setImmediate(resolve));
        some();
        await trees.ready();
        for (const range of placement.ranges.filter((r) => r.writes.includes(selfId))) {
          const kept = trees.tree(range);
          if (kept === undefined) return false;
          if (!kept.equals(freshTree(table, placement, range.end))) return false;
        }
      }
      return trees.ranges.length === steps[steps.length - 1]!.ranges.filter((r) => r.writes.includes(selfId)).length;
    }),
    fcParams(100),
  );
  t.pass();
});
