/**
 * HintHandover with an in-memory hint store, real placements and a real
 * hint router: which stored hints change hands as the ring moves (a join
 * under way, a join complete, a node that left), and which unsettled
 * writes are hinted again at start.
 *
 * The ring: four nodes at tokens d, h, l, p, three replicas; node i owns
 * (previous token, its token]. Key 'e' is on nodes 1, 2 and 3. Node 4
 * joining at 'f' takes (d, f]: 'e' then goes to nodes 4, 1 and 2, and
 * node 3 gives it up. This node is node 0, no replica of 'e' at first.
 */
import test from 'ava';
import { Change, replayLog } from '../../src/membership/changes';
import { Placement } from '../../src/membership/placement';
import { HintHandover } from '../../src/hints/handover';
import { HintRouter } from '../../src/hints/hint-router';
import type { HintStorage } from '../../src/hints/hint-storage';
import type { StoredHint } from '../../src/hints/hint-store';
import type { ReplicaStorage } from '../../src/storage/replica-storage';
import type { KeyedVersion, Version } from '../../src/storage/version';
import { BOOT } from './four-node-ring';

function placementAfter(...changes: Change[]): Placement {
  return Placement.of(replayLog([BOOT, ...changes.map((change, i) => ({ epoch: i + 2, change }))]));
}

const JOINING: Change[] = [{ kind: 'join-begin', node: 4, token: 'f' }];
const JOINED: Change[] = [...JOINING, { kind: 'reads-switch', node: 4 }, { kind: 'join-complete', node: 4 }];
const LEFT_3: Change[] = [
  { kind: 'leave-begin', node: 3 },
  { kind: 'reads-switch', node: 3 },
  { kind: 'leave-complete', node: 3 },
];

const V: Version = { value: 'v', ts: 1_000, deleted: false };

/** Hints in memory, ids in the order added; counts what was removed as delivered or dropped. */
class FakeHints implements HintStorage {
  readonly counters = {};
  private readonly rows = new Map<number, StoredHint[]>();
  private nextId = 1;
  dropped = 0;

  add(target: number, items: readonly KeyedVersion[]): Promise<boolean> {
    const rows = this.rows.get(target) ?? [];
    for (const it of items) rows.push({ key: it.key, version: it.version, id: this.nextId++, createdMs: 0 });
    this.rows.set(target, rows);
    return Promise.resolve(true);
  }
  count(target: number): number {
    return this.rows.get(target)?.length ?? 0;
  }
  countsByTarget(): Map<number, number> {
    return new Map([...this.rows].map(([t, rows]) => [t, rows.length]));
  }
  outcomesByTarget(): Map<number, { delivered: number; dropped: number }> {
    return new Map();
  }
  next(target: number, afterId: number, limit: number): Promise<StoredHint[]> {
    return Promise.resolve((this.rows.get(target) ?? []).filter((h) => h.id > afterId).slice(0, limit));
  }
  remove(target: number, ids: readonly number[], delivered: boolean): Promise<void> {
    if (!delivered) this.dropped += ids.length;
    this.rows.set(
      target,
      (this.rows.get(target) ?? []).filter((h) => !ids.includes(h.id)),
    );
    return Promise.resolve();
  }
  expire(): Promise<number> {
    return Promise.resolve(0);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  keysFor(target: number): string[] {
    return (this.rows.get(target) ?? []).map((h) => h.key);
  }
}

interface Setup {
  readonly handover: HintHandover;
  readonly hints: FakeHints;
  readonly applied: KeyedVersion[];
  readonly counters: { hintsHandedOn: number; rehintedAtStart: number };
  readonly lines: string[];
}

function setup(
  placement: Placement,
  o: { selfId?: number; left?: readonly number[]; unsettled?: ReadonlyMap<string, Version> } = {},
): Setup {
  const selfId = o.selfId ?? 0;
  const hints = new FakeHints();
  const applied: KeyedVersion[] = [];
  const applyLocal = (items: KeyedVersion[]): Promise<void> => {
    applied.push(...items);
    return Promise.resolve();
  };
  const hasLeft = (id: number): boolean => o.left?.includes(id) === true;
  const router = new HintRouter({ selfId, store: hints, hasLeft, writeReplicas: (key) => placement.rangeOf(key).writes, applyLocal });
  const unsettled = o.unsettled ?? new Map<string, Version>();
  const store = {
    rowsAfterSettled: () => Promise.resolve([...unsettled.keys()]),
    get: (key: string) => unsettled.get(key),
  } as unknown as ReplicaStorage;
  const counters = { hintsHandedOn: 0, rehintedAtStart: 0 };
  const lines: string[] = [];
  const handover = new HintHandover({
    selfId,
    hints,
    router,
    store,
    placement: () => placement,
    hasLeft,
    applyLocal,
    counters,
    log: (line) => lines.push(line),
  });
  return { handover, hints, applied, counters, lines };
}

test('the key placement the tests rely on', (t) => {
  t.deepEqual([...placementAfter().rangeOf('e').writes].sort(), [1, 2, 3]);
  t.deepEqual([...placementAfter(...JOINING).rangeOf('e').gaining], [4]);
  t.deepEqual([...placementAfter(...JOINED).rangeOf('e').writes].sort(), [1, 2, 4]);
  t.deepEqual([...placementAfter(...LEFT_3).rangeOf('e').writes].sort(), [0, 1, 2]);
});

test('once a join completes, a hint held for the replica that gave the key up goes to its replicas now; the old hint stays', async (t) => {
  const s = setup(placementAfter(...JOINED));
  await s.hints.add(3, [{ key: 'e', version: V }]);
  await s.handover.handOver();
  t.deepEqual(s.hints.keysFor(3), ['e'], 'the old hint stays: delivered, it changes nothing');
  for (const owner of [1, 2, 4]) t.deepEqual(s.hints.keysFor(owner), ['e'], `node ${owner}`);
  t.regex(s.lines.join('\n'), /handed 3 hints of moved ranges/);
});

test('a hint for a node that is still a replica of its key is not handed over', async (t) => {
  const s = setup(placementAfter(...JOINED));
  await s.hints.add(2, [{ key: 'e', version: V }]);
  await s.handover.handOver();
  t.deepEqual(
    [...s.hints.countsByTarget()].filter(([, n]) => n > 0),
    [[2, 1]],
  );
  t.deepEqual(s.lines, []);
});

test('the hints of a node that left go to the key’s current replicas, this node’s own copy applied, and are dropped', async (t) => {
  const s = setup(placementAfter(...LEFT_3), { left: [3] });
  await s.hints.add(3, [{ key: 'e', version: V }]);
  await s.handover.handOver(true);
  t.deepEqual(s.hints.keysFor(3), []);
  t.is(s.hints.dropped, 1);
  t.deepEqual(s.hints.keysFor(1), ['e']);
  t.deepEqual(s.hints.keysFor(2), ['e']);
  t.deepEqual(
    s.applied.map((it) => it.key),
    ['e'],
  );
});

test('at start (leftOnly), the hints of nodes still in the ring stay where they are', async (t) => {
  const s = setup(placementAfter(...JOINED));
  await s.hints.add(3, [{ key: 'e', version: V }]);
  await s.handover.handOver(true);
  t.deepEqual([...s.hints.countsByTarget()], [[3, 1]]);
});

test('a hint delivered while a join is under way goes on to the joining replica', async (t) => {
  const s = setup(placementAfter(...JOINING));
  await s.handover.handOnDelivered(3, [{ key: 'e', version: V, id: 9, createdMs: 0 }]);
  t.deepEqual(s.hints.keysFor(4), ['e']);
  t.is(s.counters.hintsHandedOn, 1);
  // Delivered to the joining node itself: it is already where the range goes.
  await s.handover.handOnDelivered(4, [{ key: 'e', version: V, id: 10, createdMs: 0 }]);
  t.is(s.counters.hintsHandedOn, 1);
});

test('a delivered hint whose joining replica is this node is applied here', async (t) => {
  const s = setup(placementAfter(...JOINING), { selfId: 4 });
  await s.handover.handOnDelivered(3, [{ key: 'e', version: V, id: 9, createdMs: 0 }]);
  t.deepEqual(
    s.applied.map((it) => it.key),
    ['e'],
  );
  t.deepEqual([...s.hints.countsByTarget()], []);
});

test('at start, each unsettled write is hinted again to its other replicas', async (t) => {
  const s = setup(placementAfter(), {
    selfId: 1,
    unsettled: new Map([
      ['e', V],
      ['i', V],
    ]),
  });
  await s.handover.rehintUnsettled();
  // 'e' is on 1, 2, 3; 'i' on 2, 3, 0 (node 2 owns (h, l]).
  t.deepEqual(s.hints.keysFor(2), ['e', 'i']);
  t.deepEqual(s.hints.keysFor(3), ['e', 'i']);
  t.deepEqual(s.hints.keysFor(0), ['i']);
  t.is(s.counters.rehintedAtStart, 5);
  t.regex(s.lines.join('\n'), /hinted 5 versions again/);
});
