/**
 * When a write is answered, and when its mark is settled: fake replicas and a
 * fake hint store whose every answer the test gives by hand.
 */
import test from 'ava';
import { HybridClock } from '../../src/clock/hlc';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Coordinator, CoordinatorDeps } from '../../src/coordinator/coordinator';
import { WriteLevelName } from '../../src/coordinator/levels';
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
/** Owned by node 1, so its replicas are nodes 1, 2 and 3: the coordinator, node 0, is not one. */
const OTHER_KEY = 'Z';

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

function setup({ down = new Set<number>(), marks = true, placed = placement, hintsOff = false } = {}) {
  const remote = new Map<number, Deferred<void>>();
  const hints = new Map<number, Deferred<boolean>>();
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
        const d = deferred<boolean>();
        hints.set(target, d);
        return d.promise;
      },
    },
    clock: new HybridClock(() => 2000),
    timeoutMs: 10_000,
    readLocal: () => undefined,
    marked: marks ? { applyMarked: () => local.promise, settle: (seq) => void settled.push(seq) } : undefined,
    hintsOff,
  };
  const coordinator = new Coordinator(deps);
  const write = (level: WriteLevelName, key = KEY) => {
    const state = { answered: false };
    const done = coordinator.write(key, 'v', false, level).then((ts) => {
      state.answered = true;
      return ts;
    });
    return { done, state };
  };
  return { write, remote, hints, local, settled };
}

test('the keys used here are replicated on nodes 0, 1 and 2, and on nodes 1, 2 and 3', (t) => {
  t.deepEqual(ring.replicas(KEY), [0, 1, 2]);
  t.deepEqual(ring.replicas(OTHER_KEY), [1, 2, 3]);
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
  s.hints.get(2)!.resolve(true);
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
  s.hints.get(2)!.resolve(true);
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
  s.hints.get(2)!.resolve(true);
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
  s.hints.get(0)?.resolve(true);
  t.is(await w.done, 2000);
});

test('an ANY write is answered at its first acknowledgement, as ONE is', async (t) => {
  const s = setup();
  const w = s.write('ANY');
  s.local.resolve(3);
  t.is(await w.done, 2000);
  t.deepEqual([...s.hints.keys()], [], 'no hint: the other replicas are live');
});

test('an ANY write with every replica down is Unavailable at no level but ANY, and is answered once its hints are settled, one of them durable', async (t) => {
  const down = new Set([1, 2, 3]);
  const quorum = t.throws(() => setup({ down }).write('QUORUM', OTHER_KEY));
  t.true(isKvError(quorum, 'Unavailable'), String(quorum));
  const s = setup({ down });
  const w = s.write('ANY', OTHER_KEY);
  t.deepEqual([...s.hints.keys()].sort(), [1, 2, 3], 'each down replica hinted at once');
  t.deepEqual([...s.remote.keys()], [], 'nothing sent');
  s.hints.get(1)!.resolve(false);
  s.hints.get(2)!.resolve(true);
  await settleDown();
  t.false(w.state.answered, 'every replica is covered before the answer, as at every level');
  s.hints.get(3)!.resolve(true);
  t.is(await w.done, 2000);
});

test('an ANY write whose every hint was dropped, with every replica down, is TimedOut: no copy of it exists', async (t) => {
  const s = setup({ down: new Set([1, 2, 3]) });
  const w = s.write('ANY', OTHER_KEY);
  w.done.catch(() => undefined);
  for (const id of [1, 2, 3]) s.hints.get(id)!.resolve(false);
  const err = await t.throwsAsync(w.done);
  t.true(isKvError(err, 'TimedOut'), String(err));
  t.is(err!.message, "ANY write reached none of the key's 3 replicas and could store no hint for them");
  t.deepEqual((err as KvError).details, { acked: 0, required: 1 });
});

test('an ANY write whose live replicas all fail is answered once their hints are settled, one durable; with none durable it is TimedOut', async (t) => {
  for (const durable of [true, false]) {
    const s = setup({ down: new Set([3]) });
    const w = s.write('ANY', OTHER_KEY);
    w.done.catch(() => undefined);
    s.hints.get(3)!.resolve(false);
    s.remote.get(1)!.reject(new Error('connection lost'));
    await settleDown();
    t.false(w.state.answered, 'one replica still to answer');
    s.remote.get(2)!.reject(new Error('connection reset'));
    await waitFor('hints for the failed replicas', () => s.hints.has(1) && s.hints.has(2));
    s.hints.get(1)!.resolve(false);
    s.hints.get(2)!.resolve(durable);
    if (durable) {
      t.is(await w.done, 2000);
      continue;
    }
    const err = await t.throwsAsync(w.done);
    t.true(isKvError(err, 'TimedOut'), String(err));
    t.regex(
      err!.message,
      /^ANY write reached none of the key's 3 replicas and could store no hint for them; 2 failed \(node 1: connection lost\)$/,
    );
  }
});

test('an ANY write refused by every replica for a full disk is answered once a hint for them is durable', async (t) => {
  const s = setup();
  const w = s.write('ANY');
  s.local.reject(storageFull('SQLITE_FULL'));
  s.remote.get(1)!.reject(storageFull('SQLITE_FULL'));
  s.remote.get(2)!.reject(storageFull('SQLITE_FULL'));
  await waitFor('three hints', () => s.hints.size === 3);
  t.false(w.state.answered);
  for (const id of [0, 1, 2]) s.hints.get(id)!.resolve(id === 1);
  t.is(await w.done, 2000);
});

test('with hints off (hintWindowSeconds 0) a hint is no copy: ANY needs a replica, as ONE does, and says why', async (t) => {
  const err = t.throws(() => setup({ down: new Set([1, 2, 3]), hintsOff: true }).write('ANY', OTHER_KEY));
  t.true(isKvError(err, 'Unavailable'), String(err));
  t.is(err!.message, "ANY needs 1 of the key's 3 replicas while hints are off (hintWindowSeconds 0) but only 0 are up");
  const s = setup({ down: new Set([3]), hintsOff: true });
  const w = s.write('ANY', OTHER_KEY);
  w.done.catch(() => undefined);
  s.hints.get(3)!.resolve(true);
  s.remote.get(1)!.reject(new Error('connection lost'));
  await waitFor('a hint for node 1', () => s.hints.has(1));
  s.hints.get(1)!.resolve(true);
  await settleDown();
  t.false(w.state.answered, 'durable hints alone do not answer it');
  s.remote.get(2)!.resolve();
  t.is(await w.done, 2000);
});
