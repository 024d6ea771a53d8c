/**
 * When a write is answered, and when its mark is settled: fake replicas and a
 * fake hint store whose every answer the test gives by hand.
 */
import test from 'ava';
import { HybridClock } from '../../src/clock/hlc';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Coordinator, CoordinatorDeps } from '../../src/coordinator/coordinator';
import { LevelName } from '../../src/coordinator/levels';
import { HINT_GRACE_MS } from '../../src/common/limits';
import { waitFor } from '../../src/harness/local-cluster';
import { Ring } from '../../src/partitioner/ring';
import { Replica } from '../../src/rpc/remote-replica';

const ring = new Ring(
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

function setup({ down = new Set<number>(), marks = true } = {}) {
  const remote = new Map<number, Deferred<void>>();
  const hints = new Map<number, Deferred<void>>();
  const local = deferred<number>();
  const settled: number[] = [];
  const replicas = new Map<number, Replica>();
  for (const id of [0, 1, 2, 3]) {
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
    ring,
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
  await waitFor('a hint for node 2', () => s.hints.has(2), 5000);
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
