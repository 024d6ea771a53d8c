/**
 * When a write is answered, and when its mark is settled: fake replicas and a
 * fake hint store whose every answer the test gives by hand.
 */
import test from 'ava';
import { HybridClock } from '../../src/clock/hlc';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Coordinator, CoordinatorDeps } from '../../src/coordinator/coordinator';
import { LevelName } from '../../src/coordinator/levels';
import { isKvError, KvError, storageFull } from '../../src/common/errors';
import { HINT_GRACE_MS } from '../../src/common/limits';
import { waitFor } from '../../src/harness/local-cluster';
import { bootstrapEntry, replayLog } from '../../src/membership/changes';
import { bootstrapPlacement, Placement } from '../../src/membership/placement';
import { Ring } from '../../src/partitioner/ring';
import { Replica } from '../../src/coordinator/replica';

const ring = new Ring(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
const placement = bootstrapPlacement(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
/** Owned by node 0, so its replicas are nodes 0, 1 and 2; the coordinator is node 0. */
const KEY = 'A';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(v: T): void;
  reject(err: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every callback that is ready run. */
const settleDown = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup({ down = new Set<number>(), marks = true, placed = placement } = {}) {
  const remote = new Map<number, Deferred<void>>();
  const hints = new Map<number, Deferred<void>>();
  const local = deferred<number>();
  const settled: number[] = [];
  const replicas = new Map<number, Replica>();
  for (const id of [0, 1, 2, 3, 4]) {
    replicas.set(id, {
      id,
      apply: () => {
        const d = deferred<void>();
        remote.set(id, d);
        return d.promise;
      },
      read: () => Promise.reject(new Error('no reads here')),
    });
  }
  const deps: CoordinatorDeps = {
    selfId: 0,
    placement: () => placed,
    replicas,
    isUp: (id) => !down.has(id),
    hints: {
      add: (target) => {
        const d = deferred<void>();
        hints.set(target, d);
        return d.promise;
      },
    },
    clock: new HybridClock(() => 2000),
    timeoutMs: 10_000,
    readLocal: () => undefined,
    marked: marks ? { applyMarked: () => local.promise, settle: (seq) => void settled.push(seq) } : undefined,
  };
  const coordinator = new Coordinator(deps);
  const write = (level: LevelName) => {
    const state = { answered: false };
    const done = coordinator.write(KEY, 'v', false, level).then((ts) => {
      state.answered = true;
      return ts;
    });
    return { done, state };
  };
  return { write, remote, hints, local, settled };
}

test('the key used here is replicated on nodes 0, 1 and 2', (t) => {
  t.deepEqual(ring.replicas(KEY), [0, 1, 2]);
});

/** Node 4 joining at token 'B': KEY's range gets it as a pending write replica beside 0, 1 and 2. */
const joining = Placement.of(
  replayLog([
    bootstrapEntry(
      DEFAULT_TOKENS.map((token, id) => ({ id, token })),
      3,
    ),
    { epoch: 2, change: { kind: 'join-begin', node: 4, token: 'B' } },
  ]),
);

test('while node 4 joins, a QUORUM write goes to four replicas and needs three of them', async (t) => {
  t.deepEqual(joining.rangeOf(KEY).writes, [0, 1, 2, 4]);
  const s = setup({ placed: joining });
  const w = s.write('QUORUM');
  s.local.resolve(5);
  s.remote.get(1)!.resolve();
  await settleDown();
  t.false(w.state.answered, 'two acknowledgements are not enough with one replica pending');
  t.deepEqual([...s.remote.keys()].sort(), [1, 2, 4], 'sent to the pending replica too');
  s.remote.get(4)!.resolve();
  await w.done;
  s.remote.get(2)!.resolve();
  await settleDown();
  t.deepEqual(s.settled, [5]);
});

test('while node 4 joins, a QUORUM write with two of the four replicas down is Unavailable', (t) => {
  const s = setup({ placed: joining, down: new Set([2, 4]) });
  // Refused before anything is sent, as the coordinator refuses without a promise.
  const err = t.throws(() => s.write('QUORUM'));
  t.true(isKvError(err, 'Unavailable'), String(err));
  t.regex(err!.message, /QUORUM needs 3 of the key's 4 replicas \(1 of them pending\) but only 2 are up/);
  t.deepEqual([...s.remote.keys()], [], 'nothing written');
});

test('with its own row marked, a QUORUM write is answered at the level; the mark settles when the third replica acknowledges', async (t) => {
  const s = setup();
  const w = s.write('QUORUM');
  s.local.resolve(7);
  await settleDown();
  t.false(w.state.answered, 'one acknowledgement is not a quorum');
  s.remote.get(1)!.resolve();
  await w.done;
  t.deepEqual(s.settled, [], 'node 2 has not answered yet');
  s.remote.get(2)!.resolve();
  await settleDown();
  t.deepEqual(s.settled, [7]);
  t.is(s.hints.size, 0, 'nobody needed a hint');
});

test('a ONE write is answered once its own marked row is durable', async (t) => {
  const s = setup();
  const w = s.write('ONE');
  s.local.resolve(3);
  await w.done;
  s.remote.get(1)!.resolve();
  s.remote.get(2)!.resolve();
  await settleDown();
  t.deepEqual(s.settled, [3]);
});

test('with a mark, a replica slower than the grace costs no hint; the mark settles when it answers', async (t) => {
  const s = setup();
  const w = s.write('QUORUM');
  s.local.resolve(9);
  s.remote.get(1)!.resolve();
  await w.done;
  const answeredAt = Date.now();
  await waitFor('twice the grace to pass', () => Date.now() - answeredAt > 2 * HINT_GRACE_MS, 5000);
  await settleDown();
  t.is(s.hints.size, 0, 'slowness alone costs no hint: the mark covers node 2 until it answers or fails');
  t.deepEqual(s.settled, []);
  s.remote.get(2)!.resolve();
  await settleDown();
  t.deepEqual(s.settled, [9]);
});

test('without a mark (the version lost here) the write waits for the third replica or its durable hint', async (t) => {
  const s = setup();
  const w = s.write('QUORUM');
  s.local.resolve(0);
  s.remote.get(1)!.resolve();
  await waitFor('a hint for node 2', () => s.hints.has(2));
  await settleDown();
  t.false(w.state.answered, 'not before the hint is durable');
  s.hints.get(2)!.resolve();
  await w.done;
  t.deepEqual(s.settled, []);
});

test('without marks at all the write waits for every live replica', async (t) => {
  const s = setup({ marks: false });
  const w = s.write('QUORUM');
  s.remote.get(0)!.resolve();
  s.remote.get(1)!.resolve();
  await settleDown();
  t.false(w.state.answered);
  s.remote.get(2)!.resolve();
  await w.done;
});

test('a down replica: the answer waits for its hint to be durable, and so does the mark', async (t) => {
  const s = setup({ down: new Set([2]) });
  const w = s.write('QUORUM');
  t.true(s.hints.has(2), 'hinted at once');
  s.local.resolve(5);
  s.remote.get(1)!.resolve();
  await settleDown();
  t.false(w.state.answered);
  t.deepEqual(s.settled, []);
  s.hints.get(2)!.resolve();
  await w.done;
  await settleDown();
  t.deepEqual(s.settled, [5]);
});

test('a failed replica is hinted, and the mark settles once that hint is durable', async (t) => {
  const s = setup();
  const w = s.write('QUORUM');
  s.local.resolve(4);
  s.remote.get(2)!.reject(new Error('connection lost'));
  await settleDown();
  t.true(s.hints.has(2));
  s.remote.get(1)!.resolve();
  await w.done;
  t.deepEqual(s.settled, []);
  s.hints.get(2)!.resolve();
  await settleDown();
  t.deepEqual(s.settled, [4]);
});

test('replicas refusing a write for a full disk make it StorageFull, naming the node, not TimedOut', async (t) => {
  const s = setup();
  const w = s.write('QUORUM');
  w.done.catch(() => undefined);
  s.local.reject(storageFull('SQLITE_FULL: database or disk is full'));
  s.remote.get(1)!.reject(new Error('connection lost'));
  const err = await t.throwsAsync(w.done);
  t.true(isKvError(err, 'StorageFull'), String(err));
  t.regex(err!.message, /^QUORUM write reached 0 of 2 replicas: node 0 refused it, its disk is full/);
  t.deepEqual((err as KvError).details, { acked: 0, required: 2 });
});

test('other failures that miss the level stay TimedOut', async (t) => {
  const s = setup();
  const w = s.write('QUORUM');
  w.done.catch(() => undefined);
  s.local.reject(new Error('disk I/O error'));
  s.remote.get(1)!.reject(new Error('connection lost'));
  const err = await t.throwsAsync(w.done);
  t.true(isKvError(err, 'TimedOut'), String(err));
});

test('a ONE write succeeds on the other replicas while the coordinator own disk is full', async (t) => {
  const s = setup();
  const w = s.write('ONE');
  s.local.reject(storageFull('SQLITE_FULL'));
  await settleDown();
  s.remote.get(1)!.resolve();
  s.remote.get(2)!.resolve();
  s.hints.get(0)?.resolve();
  t.is(await w.done, 2000);
});
