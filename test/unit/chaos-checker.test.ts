/**
 * The chaos checker on hand-made histories: clean ones pass, and each kind of
 * violation is flagged (and only where it really is one).
 */
import test from 'ava';
import { check, FinalState, KeyPlacement, ReplicaCopy } from '../../src/chaos/checker';
import { Op, Outcome, ReadOp, WriteOp } from '../../src/chaos/history';

let nextId = 0;

function w(key: string, value: string, start: number, end: number, ts: number | undefined, outcome: Outcome = 'ok'): WriteOp {
  return { kind: 'write', id: nextId++, process: 'w0', node: 0, key, value, start, end, outcome, ts: outcome === 'ok' ? ts : undefined };
}

function r(
  key: string,
  start: number,
  end: number,
  got: { value: string; ts: number } | null,
  final = false,
  outcome: Outcome = 'ok',
): ReadOp {
  const base = { kind: 'read' as const, id: nextId++, process: final ? 'final' : 'r0', node: 0, key, start, end, outcome, final };
  if (outcome !== 'ok') return base;
  return got === null ? { ...base, found: false, value: '', ts: 0 } : { ...base, found: true, value: got.value, ts: got.ts };
}

/** Every replica of every key holds exactly what the final read of that key returned. */
function settledLikeFinal(ops: Op[]): FinalState {
  const replicas = new Map<string, ReplicaCopy[]>();
  for (const o of ops) {
    if (o.kind === 'read' && o.final && o.outcome === 'ok') {
      const held = o.found ? { ts: o.ts!, value: o.value! } : null;
      replicas.set(
        o.key,
        [0, 1, 2].map((node) => ({ node, held })),
      );
    }
  }
  return { replicas, divergent: [], failedRestarts: [], crashed: [] };
}

const run = (ops: Op[], state?: Partial<FinalState>) => check(ops, { ...settledLikeFinal(ops), ...state });

test('a clean history passes', (t) => {
  const ops = [
    w('a', 'w0:0', 0, 10, 100),
    r('a', 11, 20, { value: 'w0:0', ts: 100 }),
    w('a', 'w0:1', 21, 30, 200),
    r('a', 25, 35, { value: 'w0:0', ts: 100 }), // overlaps the write: older is allowed
    r('a', 40, 50, { value: 'w0:1', ts: 200 }, true),
  ];
  const res = run(ops);
  t.true(res.ok, JSON.stringify(res.violations));
  t.is(res.counts.acked, 2);
  t.is(res.counts.readsOk, 3);
});

test('a lost write: acknowledged, and the final read returns something older', (t) => {
  const ops = [w('a', 'w0:0', 0, 10, 100), w('a', 'w0:1', 11, 20, 200), r('a', 30, 40, { value: 'w0:0', ts: 100 }, true)];
  const res = run(ops);
  t.false(res.ok);
  t.is(res.counts.lost, 1);
  t.is(res.violations.find((v) => v.kind === 'lost')!.ops[0]!.id, ops[1]!.id);
});

test('a write superseded by a later-acknowledged one is not lost', (t) => {
  const ops = [w('a', 'w0:0', 0, 10, 100), w('a', 'w1:0', 5, 15, 150), r('a', 30, 40, { value: 'w1:0', ts: 150 }, true)];
  t.true(run(ops).ok);
});

test('a timed-out write may win or vanish; neither is a violation', (t) => {
  const won = [w('a', 'w0:0', 0, 10, 100), w('a', 'w0:1', 11, 20, undefined, 'TimedOut'), r('a', 30, 40, { value: 'w0:1', ts: 300 }, true)];
  t.true(run(won).ok);
  const vanished = [
    w('a', 'w0:0', 0, 10, 100),
    w('a', 'w0:1', 11, 20, undefined, 'ConnectionError'),
    r('a', 30, 40, { value: 'w0:0', ts: 100 }, true),
  ];
  t.true(run(vanished).ok);
});

test('a stale read: it began after a write was acknowledged and returned an older version', (t) => {
  const ops = [
    w('a', 'w0:0', 0, 10, 100),
    w('a', 'w0:1', 11, 20, 200),
    r('a', 21, 30, { value: 'w0:0', ts: 100 }),
    r('a', 40, 50, { value: 'w0:1', ts: 200 }, true),
  ];
  const res = run(ops);
  t.is(res.counts.stale, 1);
  t.false(res.ok);
});

test('a read that found nothing after an acknowledged write is stale', (t) => {
  const ops = [w('a', 'w0:0', 0, 10, 100), r('a', 11, 20, null), r('a', 40, 50, { value: 'w0:0', ts: 100 }, true)];
  t.is(run(ops).counts.stale, 1);
});

test('reads going backwards: a later read returns an older version than an earlier one', (t) => {
  const ops = [
    w('a', 'w0:0', 0, 10, 100),
    w('a', 'w0:1', 5, 100, undefined, 'TimedOut'), // never acknowledged, so no read is stale
    r('a', 20, 30, { value: 'w0:1', ts: 200 }),
    r('a', 31, 40, { value: 'w0:0', ts: 100 }),
    r('a', 50, 60, { value: 'w0:1', ts: 200 }, true),
  ];
  const res = run(ops);
  t.is(res.counts.backwards, 1);
  t.is(res.counts.stale, 0);
  t.false(res.ok);
});

test('overlapping reads may disagree in either order', (t) => {
  const ops = [
    w('a', 'w0:0', 0, 10, 100),
    w('a', 'w0:1', 5, 100, undefined, 'TimedOut'),
    r('a', 20, 30, { value: 'w0:1', ts: 200 }),
    r('a', 25, 40, { value: 'w0:0', ts: 100 }),
    r('a', 50, 60, { value: 'w0:1', ts: 200 }, true),
  ];
  t.true(run(ops).ok);
});

test('a read of a value never written is a phantom', (t) => {
  const ops = [w('a', 'w0:0', 0, 10, 100), r('a', 11, 20, { value: 'nobody', ts: 500 }), r('a', 30, 40, { value: 'w0:0', ts: 100 }, true)];
  const res = run(ops);
  t.is(res.counts.phantom, 1);
  t.false(res.ok);
});

test('phantoms: a value read before its write began, from a refused write, with the wrong timestamp, from another key', (t) => {
  const early = [r('a', 0, 5, { value: 'w0:0', ts: 100 }), w('a', 'w0:0', 10, 20, 100), r('a', 30, 40, { value: 'w0:0', ts: 100 }, true)];
  t.is(run(early).counts.phantom, 1);
  const refused = [w('a', 'w0:0', 0, 10, undefined, 'Unavailable'), r('a', 11, 20, { value: 'w0:0', ts: 100 }, true)];
  t.is(run(refused).counts.phantom, 1);
  const wrongTs = [w('a', 'w0:0', 0, 10, 100), r('a', 11, 20, { value: 'w0:0', ts: 101 }, true)];
  t.true(run(wrongTs).counts.phantom >= 1);
  const otherKey = [w('b', 'w0:0', 0, 10, 100), r('a', 11, 20, { value: 'w0:0', ts: 100 }, true)];
  t.is(run(otherKey).counts.phantom, 1);
});

test('a tombstone read when nothing was deleted is a phantom', (t) => {
  const ops: Op[] = [w('a', 'w0:0', 0, 10, 100), { ...r('a', 11, 20, null), ts: 300 }, r('a', 30, 40, { value: 'w0:0', ts: 100 }, true)];
  t.is(run(ops).counts.phantom, 1);
});

test('lost to last-write-wins: invoked after a higher version was visible; counted, not a violation', (t) => {
  const ops = [
    w('a', 'w0:0', 0, 10, 1_000), // a skewed-ahead coordinator
    w('a', 'w1:0', 11, 20, 500),
    r('a', 30, 40, { value: 'w0:0', ts: 1_000 }, true),
  ];
  const res = run(ops);
  t.true(res.ok, JSON.stringify(res.violations));
  t.is(res.counts.lwwLost, 1);
  t.is(res.counts.lost, 0);
});

test('a replica behind an acknowledged write after settling is flagged', (t) => {
  const ops = [w('a', 'w0:0', 0, 10, 100), w('a', 'w0:1', 11, 20, 200), r('a', 30, 40, { value: 'w0:1', ts: 200 }, true)];
  const replicas = new Map<string, ReplicaCopy[]>([
    [
      'a',
      [
        { node: 0, held: { ts: 200, value: 'w0:1' } },
        { node: 1, held: { ts: 100, value: 'w0:0' } },
        { node: 2, held: null },
      ],
    ],
  ]);
  const res = run(ops, { replicas });
  t.is(res.counts.behind, 2);
  t.false(res.ok);
  const down = new Map<string, ReplicaCopy[]>([
    [
      'a',
      [
        { node: 0, held: { ts: 200, value: 'w0:1' } },
        { node: 1, held: undefined },
      ],
    ],
  ]);
  t.true(run(ops, { replicas: down }).ok);
});

test('a ONE write that only a node lost for good held is counted, not lost nor behind; the others still are', (t) => {
  const one = (x: WriteOp): WriteOp => ({ ...x, level: 'ONE' }); // a ONE write and the final QUORUM read need not overlap
  const ops = [w('a', 'w0:0', 0, 10, 100), one(w('a', 'w0:1', 11, 20, 200)), r('a', 30, 40, { value: 'w0:0', ts: 100 }, true)];
  // Every replica holds what the final read returned (ts 100): write #1 (ts 200) is on none of them.
  t.is(run(ops).counts.lost, 1);
  t.is(run(ops).counts.behind, 3);
  const res = run(ops, { lostWithNode: new Map([[ops[1]!.id, 25]]) });
  t.true(res.ok, JSON.stringify(res.violations));
  t.is(res.counts.lostWithNode, 1);
  // Only the writes named are left out: another one is still checked.
  const older = run([w('b', 'w0:2', 0, 10, 300), r('b', 30, 40, null, true)], { lostWithNode: new Map([[ops[1]!.id, 25]]) });
  t.is(older.counts.lost, 1);
  t.is(older.counts.lostWithNode, 0);
});

test('a ONE write that went with a lost disk binds the ALL reads that begin before the loss, not those after it', (t) => {
  const one = (x: WriteOp): WriteOp => ({ ...x, level: 'ONE' });
  const all = (x: ReadOp): ReadOp => ({ ...x, level: 'ALL' });
  // Seed 3072 (--keys 120): node 2 alone held M24's ONE write, was lost for good at 3901 ms, and an ALL read at 5759 ms found nothing.
  const write = one(w('a', 'w0:0', 0, 10, 100));
  const after = [write, all(r('a', 30, 40, null)), r('a', 50, 60, null, true)];
  t.is(run(after).counts.stale, 1);
  const res = run(after, { lostWithNode: new Map([[write.id, 25]]) });
  t.true(res.ok, JSON.stringify(res.violations));
  // An ALL read that began before the loss still had to see it.
  const before = [write, all(r('a', 20, 30, null)), r('a', 50, 60, null, true)];
  t.is(run(before, { lostWithNode: new Map([[write.id, 25]]) }).counts.stale, 1);
});

test('an ANY write binds no read before settling (its one copy may be a hint), but must be on every replica after it', (t) => {
  const any = (x: WriteOp): WriteOp => ({ ...x, level: 'ANY' });
  const all = (x: ReadOp): ReadOp => ({ ...x, level: 'ALL' });
  const write = any(w('a', 'w0:0', 0, 10, 100));
  const settled = [write, all(r('a', 20, 30, null)), r('a', 50, 60, { value: 'w0:0', ts: 100 }, true)];
  const res = run(settled);
  t.true(res.ok, JSON.stringify(res.violations));
  t.is(res.counts.stale, 0, 'even an ALL read just after it may miss it');
  const gone = run([write, r('a', 50, 60, null, true)]);
  t.is(gone.counts.lost, 1, 'acknowledged, then on no replica after settling');
  t.true(run([write, r('a', 50, 60, null, true)], { lostWithNode: new Map([[write.id, 25]]) }).ok, 'unless its only disk was lost');
});

test('an acknowledged write whose key has no successful final read is unverified', (t) => {
  const ops = [w('a', 'w0:0', 0, 10, 100), r('a', 30, 40, null, true, 'TimedOut')];
  const res = run(ops);
  t.is(res.counts.unverified, 1);
  t.false(res.ok);
});

test('divergent keys, failed restarts and crashes from the final state are violations', (t) => {
  const ops = [w('a', 'w0:0', 0, 10, 100), r('a', 11, 20, { value: 'w0:0', ts: 100 }, true)];
  const res = run(ops, { divergent: ['a'], failedRestarts: ['node 1 did not restart'], crashed: ['node 2 exited'] });
  t.is(res.counts.divergent, 1);
  t.is(res.counts.failedRestarts, 1);
  t.is(res.counts.crashed, 1);
  t.false(res.ok);
});

test('a key whose settled version the watch never told is watch_behind; a later one told is fine; no watch, no check', (t) => {
  const ops = [
    w('a', 'w0:0', 0, 10, 100),
    w('b', 'w0:1', 0, 10, 101),
    w('c', 'w0:2', 0, 10, 102),
    w('d', 'w0:3', 0, 10, 103),
    r('a', 30, 40, { value: 'w0:0', ts: 100 }, true),
    r('b', 30, 40, { value: 'w0:1', ts: 101 }, true),
    r('c', 30, 40, { value: 'w0:2', ts: 102 }, true),
    r('d', 30, 40, { value: 'w0:3', ts: 103 }, true),
  ];
  const watched = new Map([
    ['a', { ts: 100, value: 'w0:0' }],
    ['b', { ts: 99, value: 'older' }],
    ['d', { ts: 104, value: 'a write that failed, seen on one replica' }],
  ]);
  const res = run(ops, { watched });
  t.is(res.counts.watchBehind, 2);
  t.false(res.ok);
  t.deepEqual(
    res.violations.filter((v) => v.kind === 'watch_behind').map((v) => v.message),
    [
      'the watch told ts 99 (older) of b; its replicas settled on ts 101 (w0:1)',
      'the watch told nothing of c; its replicas settled on ts 102 (w0:2)',
    ],
  );
  t.is(run(ops).counts.watchBehind, 0, 'unchecked without a watch');
  t.true(run(ops).ok);
});

test('after the cleanup, a key held by more or fewer nodes than its replicas in the final ring is misplaced', (t) => {
  const ops = [
    w('a', 'w0:0', 0, 10, 100),
    w('b', 'w0:1', 0, 10, 101),
    w('c', 'w0:2', 0, 10, 102),
    r('a', 30, 40, { value: 'w0:0', ts: 100 }, true),
    r('b', 30, 40, { value: 'w0:1', ts: 101 }, true),
    r('c', 30, 40, { value: 'w0:2', ts: 102 }, true),
  ];
  const placed = new Map<string, KeyPlacement>([
    ['a', { replicas: [0, 1, 2], holders: [2, 0, 1] }],
    ['b', { replicas: [0, 1, 2], holders: [0, 1, 2, 3] }],
    ['c', { replicas: [1, 2, 3], holders: [1, 2] }],
  ]);
  const res = run(ops, { placed });
  t.is(res.counts.misplaced, 2);
  t.false(res.ok);
  t.deepEqual(
    res.violations.filter((v) => v.kind === 'misplaced').map((v) => v.message),
    [
      'after the cleanup b is held by 4 node(s) [0, 1, 2, 3], but the final ring gives it 3 replica(s) [0, 1, 2]',
      'after the cleanup c is held by 2 node(s) [1, 2], but the final ring gives it 3 replica(s) [1, 2, 3]',
    ],
  );
  // The same holders on other nodes than the replicas: as many, but misplaced.
  t.is(run(ops, { placed: new Map([['a', { replicas: [0, 1, 2], holders: [1, 2, 3] }]]) }).counts.misplaced, 1);
});

test('a key no write reached may be on no node; without a cleanup the placement is not checked', (t) => {
  const ops = [
    w('a', 'w0:0', 0, 10, undefined, 'Unavailable'),
    w('b', 'w0:1', 0, 10, 100),
    r('b', 30, 40, { value: 'w0:1', ts: 100 }, true),
  ];
  const placed = new Map<string, KeyPlacement>([
    ['a', { replicas: [0, 1, 2], holders: [] }],
    ['b', { replicas: [0, 1, 2], holders: [0, 1, 2] }],
  ]);
  t.true(run(ops, { placed }).ok);
  const unacked = [w('a', 'w0:0', 0, 10, undefined, 'TimedOut')];
  t.is(
    run(unacked, { placed: new Map([['a', { replicas: [0, 1, 2], holders: [0] }]]) }).counts.misplaced,
    1,
    'once on a node, on all its replicas',
  );
  t.is(run(ops).counts.misplaced, 0);
});

// A large history: how fast it is checked is not asserted (no timing asserts in tests), only that it is clean.
test('the checker passes a large clean history (100,000 operations on 16 keys)', (t) => {
  const ops: Op[] = [];
  for (let i = 0; i < 50_000; i++) {
    const key = `k${i % 16}`;
    ops.push(w(key, `w0:${i}`, i * 2, i * 2 + 1, 1000 + i));
    ops.push(r(key, i * 2 + 1.5, i * 2 + 1.9, { value: `w0:${i}`, ts: 1000 + i }));
  }
  for (let k = 0; k < 16; k++) {
    const i = 50_000 - 16 + k;
    ops.push(r(`k${i % 16}`, 200_000, 200_001, { value: `w0:${i}`, ts: 1000 + i }, true));
  }
  const res = run(ops);
  t.true(res.ok, JSON.stringify(res.violations.slice(0, 3)));
  t.is(res.counts.lost + res.counts.stale + res.counts.phantom, 0);
});
