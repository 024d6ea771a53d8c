/**
 * Hints for a node that left the ring (hints/hint-router.ts): a write whose
 * ring moved between placing it and hinting a replica that has left sends
 * its version on to the key's current replicas that lack it, through the
 * real coordinator and the real SQLite hint store; nothing stays stored for
 * the node that left.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HybridClock } from '../../src/clock/hlc';
import { KvError } from '../../src/common/errors';
import { Coordinator } from '../../src/coordinator/coordinator';
import type { Replica } from '../../src/coordinator/replica';
import { waitFor } from '../../src/harness/local-cluster';
import { HintRouter } from '../../src/hints/hint-router';
import { HintStore } from '../../src/hints/hint-store';
import type { Change, Membership } from '../../src/membership/changes';
import { Placement } from '../../src/membership/placement';
import { Sqlite } from '../../src/storage/sqlite';
import type { KeyedVersion } from '../../src/storage/version';
import { after } from './four-node-ring';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-hint-router-'));
let fileNo = 0;
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** In node 3's range (l, p]: replicas 3, 0, 1 on the four-node ring; 0, 1, 2 once node 3 has left. */
const KEY = 'm';
const LEAVE: Change[] = [
  { kind: 'leave-begin', node: 3 },
  { kind: 'reads-switch', node: 3 },
  { kind: 'leave-complete', node: 3 },
];

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Node 0 coordinating with remote replicas whose answers the test gives by
 * hand, a real hint store, and the router between them; the ring is
 * whatever `ring.m` says when asked.
 */
async function setup(first: Membership) {
  const ring = { m: first, placement: Placement.of(first) };
  const moveTo = (m: Membership): void => {
    ring.m = m;
    ring.placement = Placement.of(m);
  };
  const db = await Sqlite.open(join(dir, `hints-${++fileNo}.db`));
  const store = await HintStore.open(db);
  const appliedHere: KeyedVersion[] = [];
  const router = new HintRouter({
    selfId: 0,
    store,
    hasLeft: (id) => ring.m.members.find((n) => n.id === id)?.state === 'LEFT',
    writeReplicas: (key) => ring.placement.rangeOf(key).writes,
    applyLocal: async (items) => void appliedHere.push(...items),
  });
  const calls = new Map<number, Pending>();
  const replicas = new Map<number, Replica>();
  for (const id of [1, 2, 3])
    replicas.set(id, {
      id,
      apply: () => new Promise<void>((resolve, reject) => calls.set(id, { resolve, reject })),
      read: () => Promise.reject(new Error('no reads here')),
    });
  let seq = 0;
  const settled: number[] = [];
  const coordinator = new Coordinator({
    selfId: 0,
    placement: () => ring.placement,
    replicas,
    isUp: () => true,
    hints: router,
    clock: new HybridClock(() => 5_000_000),
    timeoutMs: 10_000,
    readLocal: () => undefined,
    marked: { applyMarked: async () => ++seq, settle: (s) => void settled.push(s) },
  });
  const answer = (id: number): Pending => {
    const call = calls.get(id);
    if (call === undefined) throw new Error(`node ${id} was not sent the write`);
    return call;
  };
  const sent = (...ids: number[]): boolean => ids.every((id) => calls.has(id));
  const close = async (): Promise<void> => {
    await store.flush();
    await db.close();
  };
  return { coordinator, store, router, moveTo, sent, answer, appliedHere, settled, close };
}

const lost = (): KvError => new KvError('ConnectionError', 'connection lost');

test('a write placed before node 3 began to leave, whose call to it fails once it has left, is hinted to the new replica only', async (t) => {
  const s = await setup(after());
  try {
    t.deepEqual(Placement.of(after()).rangeOf(KEY).writes, [3, 0, 1]);
    t.deepEqual(Placement.of(after(...LEAVE)).rangeOf(KEY).writes, [0, 1, 2]);
    const written = s.coordinator.write(KEY, 'v', false, 'QUORUM');
    await waitFor('the write to reach nodes 1 and 3', () => s.sent(1, 3));
    s.answer(1).resolve();
    await written;
    // The ring moves on meanwhile: node 3 leaves, node 2 takes the key over; then node 3's call fails (its process stopped).
    s.moveTo(after(...LEAVE));
    s.answer(3).reject(lost());
    await waitFor('the mark to settle (every replica covered)', () => s.settled.length === 1);
    await s.store.flush();
    t.is(s.store.count(3), 0, 'nothing is stored for the node that left');
    t.is(s.store.count(2), 1, 'the new replica, which the write never reached, is hinted');
    t.is(s.store.count(1), 0, 'node 1 acknowledged: not hinted');
    t.deepEqual(s.appliedHere, [], 'node 0 acknowledged: not applied again');
    t.deepEqual(s.router.counters, { leftHintsRedirected: 1, leftHintsAcknowledged: 0, leftHintApplyErrors: 0 });
    const [hint] = await s.store.next(2, 0, 10);
    t.like(hint, { key: KEY, version: { value: 'v' } });
  } finally {
    await s.close();
  }
});

test('a write placed while node 3 was leaving reached every current replica: its failed call to node 3 leaves nothing to hint', async (t) => {
  const leaving = after(...LEAVE.slice(0, 2));
  const s = await setup(leaving);
  try {
    t.deepEqual([...Placement.of(leaving).rangeOf(KEY).writes].sort(), [0, 1, 2, 3], 'node 3 leaving and node 2 gaining both take writes');
    const written = s.coordinator.write(KEY, 'v', false, 'QUORUM');
    await waitFor('the write to reach nodes 1, 2 and 3', () => s.sent(1, 2, 3));
    s.answer(1).resolve();
    s.answer(2).resolve();
    await written;
    s.moveTo(after(...LEAVE));
    s.answer(3).reject(lost());
    await waitFor('the mark to settle', () => s.settled.length === 1);
    await s.store.flush();
    t.deepEqual(
      [...s.store.countsByTarget()].filter(([, n]) => n > 0),
      [],
      'no hint for anyone',
    );
    t.deepEqual(s.router.counters, { leftHintsRedirected: 0, leftHintsAcknowledged: 1, leftHintApplyErrors: 0 });
  } finally {
    await s.close();
  }
});

test('without acknowledgements (a repair, a Paxos commit), a hint for a node that left goes to every current replica, this node’s own copy applied here; a node in the ring is hinted as before', async (t) => {
  const s = await setup(after(...LEAVE));
  try {
    const item: KeyedVersion = { key: KEY, version: { value: 'w', ts: 9, deleted: false } };
    await s.router.add(3, [item]);
    await s.router.add(1, [item]);
    await s.store.flush();
    t.deepEqual(
      [...s.store.countsByTarget()].filter(([, n]) => n > 0).sort(),
      [
        [1, 2],
        [2, 1],
      ],
      'node 1: the redirected one and its own; node 2: the redirected one',
    );
    t.deepEqual(s.appliedHere, [item]);
    t.deepEqual(s.router.counters, { leftHintsRedirected: 3, leftHintsAcknowledged: 0, leftHintApplyErrors: 0 });
  } finally {
    await s.close();
  }
});
