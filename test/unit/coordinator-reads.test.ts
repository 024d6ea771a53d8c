import test from 'ava';
import { HybridClock } from '../../src/clock/hlc';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { readStarts } from '../../src/client/client';
import { Coordinator, CoordinatorDeps } from '../../src/coordinator/coordinator';
import { isKvError, KvError } from '../../src/common/errors';
import { bootstrapEntry, Change, replayLog } from '../../src/membership/changes';
import { bootstrapPlacement, Placement } from '../../src/membership/placement';
import { Ring } from '../../src/partitioner/ring';
import { Replica } from '../../src/coordinator/replica';
import type { KnownBugs } from '../../src/common/known-bugs';
import { Version } from '../../src/storage/version';

// Ids in token order (M < f < p < 0x7f), so node i + 1 follows node i round the ring.
const ring = new Ring(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
const placement = bootstrapPlacement(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
const NODES = DEFAULT_TOKENS.length;
/** One key in each node's range: a key <= a token belongs to that token's node. */
const keysByOwner = ['A', 'Z', 'o', 'r'];

const stored: Version = { value: 'v', ts: 1000, deleted: false };

/** A coordinator over fake replicas that record who was asked (itself through readLocal); `failing` replicas reject every read. */
function setup(selfId: number, failing: ReadonlySet<number> = new Set()) {
  const asked: number[] = [];
  const replicas = new Map<number, Replica>();
  for (let id = 0; id < NODES; id++) {
    replicas.set(id, {
      id,
      apply: () => Promise.resolve(),
      read: () => {
        asked.push(id);
        return failing.has(id) ? Promise.reject(new Error(`node ${id} failed`)) : Promise.resolve(stored);
      },
    });
  }
  const deps: CoordinatorDeps = {
    selfId,
    placement: () => placement,
    replicas,
    isUp: () => true,
    hints: { add: () => Promise.resolve(true) },
    clock: new HybridClock(() => 2000),
    timeoutMs: 1000,
    readLocal: () => {
      asked.push(selfId);
      return stored;
    },
  };
  return { coordinator: new Coordinator(deps), asked };
}

test('the keys used here fall in the ranges they are named for', (t) => {
  keysByOwner.forEach((key, owner) => t.is(ring.owner(key), owner));
});

for (let self = 0; self < NODES; self++) {
  test(`node ${self}: a QUORUM read asks itself and the next replica clockwise, so only the two nodes after it`, async (t) => {
    const peers = new Set<number>();
    for (const key of keysByOwner) {
      const replicas = ring.replicas(key);
      if (!replicas.includes(self)) continue;
      const { coordinator, asked } = setup(self);
      t.deepEqual(await coordinator.read(key, 'QUORUM'), stored);
      const next = replicas.map((id) => (id - self + NODES) % NODES).filter((d) => d > 0);
      t.deepEqual(asked, [self, (self + Math.min(...next)) % NODES], `key ${key}`);
      peers.add(asked[1]!);
    }
    t.deepEqual([...peers].sort(), [(self + 1) % NODES, (self + 2) % NODES].sort());
  });
}

test('when the next replica fails, a QUORUM read asks the remaining one', async (t) => {
  // Node 1 reading a key of node 0's range (replicas 0, 1, 2): it asks 2 first, then 0.
  const { coordinator, asked } = setup(1, new Set([2]));
  t.deepEqual(await coordinator.read('A', 'QUORUM'), stored);
  t.deepEqual(asked, [1, 2, 0]);
});

test('a QUORUM read reads its own copy directly, not through its replica client', async (t) => {
  const { coordinator, asked } = setup(0);
  let viaClient = 0;
  const own = { id: 0, apply: () => Promise.resolve(), read: () => (viaClient++, Promise.resolve(stored)) };
  (coordinator as unknown as { deps: { replicas: Map<number, Replica> } }).deps.replicas.set(0, own);
  await coordinator.read('A', 'QUORUM');
  t.is(viaClient, 0);
  t.deepEqual(asked, [0, 1]);
});

test('QUORUM reads started where token routing starts them go from each node to the node after it only', async (t) => {
  const peers = new Map<number, Set<number>>();
  for (const key of keysByOwner) {
    for (let i = 0; i < readStarts(3, 'QUORUM'); i++) {
      const coordinatorId = ring.replicaAt(key, i);
      const { coordinator, asked } = setup(coordinatorId);
      await coordinator.read(key, 'QUORUM');
      t.is(asked[0], coordinatorId);
      if (!peers.has(coordinatorId)) peers.set(coordinatorId, new Set());
      peers.get(coordinatorId)!.add(asked[1]!);
    }
  }
  t.is(peers.size, NODES, 'every node coordinates some');
  for (const [id, asked] of peers) t.deepEqual([...asked], [(id + 1) % NODES], `node ${id}`);
});

test('a read placed before a replica left the ring, asking it after another failed, counts it as failed (its link is gone)', async (t) => {
  const boot = bootstrapEntry(
    DEFAULT_TOKENS.map((token, id) => ({ id, token })),
    3,
  );
  const steps: Change[] = [
    { kind: 'leave-begin', node: 2 },
    { kind: 'reads-switch', node: 2 },
    { kind: 'leave-complete', node: 2 },
  ];
  const leftPlacement = Placement.of(replayLog([boot, ...steps.map((change, i) => ({ epoch: i + 2, change }))]));
  let current = placement;
  const replicas = new Map<number, Replica>();
  for (let id = 0; id < NODES; id++) replicas.set(id, { id, apply: () => Promise.resolve(), read: () => Promise.resolve(stored) });
  // Node 1 fails; meanwhile node 2 completes its leave: the node drops its link and places by the new epoch.
  replicas.set(1, {
    id: 1,
    apply: () => Promise.resolve(),
    read: () => {
      replicas.delete(2);
      current = leftPlacement;
      return Promise.reject(new KvError('ConnectionError', 'node 1 failed'));
    },
  });
  const coordinator = new Coordinator({
    selfId: 0,
    placement: () => current,
    replicas,
    isUp: () => true,
    hints: { add: () => Promise.resolve(true) },
    clock: new HybridClock(() => 2000),
    timeoutMs: 1000,
    readLocal: () => stored,
  });
  t.deepEqual(ring.replicas(keysByOwner[0]!), [0, 1, 2]);
  const err = await t.throwsAsync(coordinator.read(keysByOwner[0]!, 'QUORUM'));
  t.true(isKvError(err, 'TimedOut'), String(err));
  // Both failures counted at once, not the read's deadline passing.
  t.regex(err!.message, /got 1 of 2 replica answers; 2 failed/);
});

/** Node 4 joining at token 'B': key 'A' moves from replicas 0, 1, 2 to 4, 0, 1 (epoch 2 begins, epoch 3 switches reads). */
const joinSteps: Change[] = [
  { kind: 'join-begin', node: 4, token: 'B' },
  { kind: 'reads-switch', node: 4 },
];
function joinAt(step: number): Placement {
  const boot = bootstrapEntry(
    DEFAULT_TOKENS.map((token, id) => ({ id, token })),
    3,
  );
  return Placement.of(replayLog([boot, ...joinSteps.slice(0, step).map((change, i) => ({ epoch: i + 2, change }))]));
}

/** A coordinator over replicas 0-4 holding `held` (none where not given), recording reads and the repairs each got. */
function joinSetup(selfId: number, placed: Placement, held: Map<number, Version>, down: ReadonlySet<number> = new Set(), bugs?: KnownBugs) {
  const asked: number[] = [];
  const repaired: number[] = [];
  const replicas = new Map<number, Replica>();
  for (let id = 0; id <= NODES; id++) {
    replicas.set(id, {
      id,
      apply: (items) => {
        repaired.push(id);
        held.set(id, items[0]!.version);
        return Promise.resolve();
      },
      read: () => {
        asked.push(id);
        return Promise.resolve(held.get(id));
      },
    });
  }
  const coordinator = new Coordinator({
    selfId,
    placement: () => placed,
    replicas,
    isUp: (id) => !down.has(id),
    hints: { add: () => Promise.resolve(true) },
    clock: new HybridClock(() => 2000),
    timeoutMs: 1000,
    readLocal: () => {
      asked.push(selfId);
      return held.get(selfId);
    },
    bugs,
  });
  return { coordinator, asked, repaired };
}

const older: Version = { value: 'old', ts: 500, deleted: false };

test('while node 4 joins, a QUORUM read asks three of the four write replicas and repairs the pending one it asked', async (t) => {
  const placed = joinAt(1);
  t.deepEqual(
    [placed.rangeOf('A').reads, placed.rangeOf('A').writes],
    [
      [0, 1, 2],
      [0, 1, 2, 4],
    ],
  );
  // Node 1 asks itself, then clockwise through the write replicas: 2, then the pending 4.
  const { coordinator, asked, repaired } = joinSetup(
    1,
    placed,
    new Map([
      [1, stored],
      [2, stored],
    ]),
  );
  t.deepEqual(await coordinator.read('A', 'QUORUM'), stored);
  t.deepEqual(asked, [1, 2, 4]);
  t.deepEqual(repaired, [4], 'the pending replica holds what the read returned before it answers');
});

test('after the reads-switch, a QUORUM read asks three replicas too, the one that leaves the key among them', async (t) => {
  const placed = joinAt(2);
  t.deepEqual(
    [placed.rangeOf('A').reads, placed.rangeOf('A').writes],
    [
      [4, 0, 1],
      [4, 0, 1, 2],
    ],
  );
  const held = new Map([
    [0, older],
    [1, stored],
  ]);
  const { coordinator, asked, repaired } = joinSetup(0, placed, held);
  t.deepEqual(await coordinator.read('A', 'QUORUM'), stored);
  t.deepEqual(asked, [0, 1, 2]);
  t.deepEqual(repaired.sort(), [0, 2]);
});

test('the reads-switch cannot make a QUORUM read go backwards: what a read returned before it is found after it', async (t) => {
  // A ONE write acknowledged by 1 and 2 (one plus the pending replica's one), its copy for 4 still a hint; 2 leaves the
  // key at the switch. A QUORUM read of 1 and 2 alone returned it, and a QUORUM read of 4 and 0 after the switch did not.
  const scenario = async (bugs: KnownBugs): Promise<(Version | undefined)[]> => {
    const held = new Map([
      [0, older],
      [1, stored],
      [2, stored],
    ]);
    const before = joinSetup(1, joinAt(1), held, new Set(), bugs);
    const first = await before.coordinator.read('A', 'QUORUM');
    const after = joinSetup(4, joinAt(2), held, new Set([1]), bugs);
    return [first, await after.coordinator.read('A', 'QUORUM')];
  };
  t.deepEqual(await scenario({}), [stored, stored]);
  t.deepEqual(await scenario({ readsSkipPending: true }), [stored, older], 'the known bug goes backwards here');
});

test('while node 4 joins, a ONE read is not answered from the coordinator alone: two replicas, the stale one repaired', async (t) => {
  const placed = joinAt(1);
  const { coordinator, asked, repaired } = joinSetup(0, placed, new Map([[0, stored]]));
  t.false(coordinator.readsLocally('A', 'ONE'));
  t.deepEqual(await coordinator.read('A', 'ONE'), stored);
  t.deepEqual(asked, [0, 1]);
  t.deepEqual(repaired, [1]);
  // Where no operation runs, the coordinator's own copy alone answers.
  t.true(joinSetup(0, placement, new Map([[0, stored]])).coordinator.readsLocally('A', 'ONE'));
});

test('while node 4 joins, a QUORUM read with two of the four replicas down is Unavailable, in the write’s words', async (t) => {
  const { coordinator, asked } = joinSetup(0, joinAt(1), new Map(), new Set([2, 4]));
  const err = await t.throwsAsync(coordinator.read('A', 'QUORUM'));
  t.true(isKvError(err, 'Unavailable'), String(err));
  t.is(err!.message, "QUORUM needs 3 of the key's 4 replicas (1 of them pending) but only 2 are up");
  t.deepEqual(asked, []);
});
