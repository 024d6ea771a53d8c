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
    hints: { add: () => Promise.resolve() },
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
    hints: { add: () => Promise.resolve() },
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
