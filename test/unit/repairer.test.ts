/**
 * The repairer between nodes in one process: memtables as the stores (their
 * trees kept by the same observer a node uses), peers as direct calls to the
 * other repairers' answering side. Four nodes, three replicas: each pair of
 * nodes shares two or three ranges.
 */
import test from 'ava';
import { systemTime, Time } from '../../src/clock/time';
import { ANTI_ENTROPY_BACKOFF_STEPS_MAX, ANTI_ENTROPY_RECHECK_PAUSE_MS, REPAIR_RECHECK_PAUSE_MS } from '../../src/common/limits';
import { Ring } from '../../src/partitioner/ring';
import { RangeTrees, type TreeRange } from '../../src/repair/range-trees';
import { bootstrapPlacement } from '../../src/membership/placement';
import { backgroundPauseMs, rangeName, RepairPeer, Repairer } from '../../src/repair/repairer';
import { Memtable } from '../../src/storage/memtable';
import { KeyedVersion, supersedes } from '../../src/storage/version';

const nodes = ['M', 'f', 'p', '\u007f'].map((token, id) => ({ id, token }));
const ring = new Ring(nodes, 3);

interface Node {
  id: number;
  table: Memtable;
  repairer: Repairer;
  up: boolean;
  /** Versions into this node's memtable, the winner kept. */
  apply(items: readonly KeyedVersion[]): Promise<void>;
}

function cluster(catchingUp: (id: number) => boolean, time: Time = systemTime, lostForGood?: (id: number) => boolean): Node[] {
  const out: Node[] = [];
  let seq = 0;
  for (const { id } of nodes) {
    const trees = new RangeTrees(bootstrapPlacement(nodes, 3), id);
    const table = new Memtable(undefined, trees);
    const apply = async (items: readonly KeyedVersion[]): Promise<void> => {
      for (const { key, version } of items) if (supersedes(version, table.get(key))) table.set(key, version, ++seq);
    };
    const peers = new Map<number, RepairPeer>();
    for (const other of nodes) {
      if (other.id === id) continue;
      const peer = {
        catchingUp: false,
        treeHashes: async (range: TreeRange, level: 0 | 1 | 2, indices: readonly number[]) => {
          const answer = out[other.id]!.repairer.answerHashes(id, rangeName(range), level, indices);
          peer.catchingUp = answer.catchingUp;
          return answer.hashes;
        },
        segmentKeys: async (range: TreeRange, segments: readonly number[]) =>
          out[other.id]!.repairer.answerSegmentKeys(id, rangeName(range), segments),
        fetch: async (keys: readonly string[]) =>
          keys.flatMap((key) => {
            const v = out[other.id]!.table.get(key);
            return v === undefined ? [] : [{ key, version: v }];
          }),
        apply: async (items: readonly KeyedVersion[]) => out[other.id]!.apply(items),
      };
      peers.set(other.id, peer);
    }
    const repairer: Repairer = new Repairer({
      trees,
      store: table,
      peers,
      isUp: (n) => out[n]!.up,
      ...(lostForGood ? { lostForGood } : {}),
      applyLocal: apply,
      time,
      catchingUp: catchingUp(id),
    });
    out.push({ id, table, up: true, apply, repairer });
  }
  return out;
}

const put = (n: Node, key: string, ts: number): Promise<void> => n.apply([{ key, version: { value: `v${ts}`, ts, deleted: false } }]);

const keys = Array.from({ length: 300 }, (_, i) => `${String.fromCharCode(0x41 + (i % 60))}-${i}`);

test('a full repair brings a node that missed writes into line, sending each differing key once', async (t) => {
  const c = cluster(() => false);
  for (const key of keys) for (const id of ring.replicas(key)) if (id !== 2) await put(c[id]!, key, 10);
  const missed = keys.filter((k) => ring.isReplica(k, 2));
  const summary = await c[0]!.repairer.repairAll();
  const rest = await Promise.all([1, 2, 3].map((id) => c[id]!.repairer.repairAll()));
  t.true(summary.agreed && rest.every((s) => s.agreed));
  t.is(summary.keysSent + rest.reduce((n, s) => n + s.keysSent + s.keysFetched, summary.keysFetched), missed.length);
  for (const key of missed) t.is(c[2]!.table.get(key)?.ts, 10, key);
  t.true(c[0]!.repairer.counters.lastFullRepairMs > 0);
  // In sync now: one root per pair, nothing else.
  const again = await c[1]!.repairer.repairAll();
  t.is(again.keysDiffered, 0);
  t.is(again.rangesCompared, 6);
});

test('a full repair with a peer down reports it skipped and not agreed', async (t) => {
  const c = cluster(() => false);
  c[3]!.up = false;
  const s = await c[0]!.repairer.repairAll();
  t.true(s.rangesSkipped > 0);
  t.false(s.agreed);
  t.is(c[0]!.repairer.counters.lastFullRepairMs, 0);
});

test('a catching-up node ends it once repaired from a replica that is not catching up, and has what it missed', async (t) => {
  const c = cluster((id) => id === 1);
  for (const key of keys) for (const id of ring.replicas(key)) if (id !== 1) await put(c[id]!, key, 7);
  t.true(c[1]!.repairer.catchingUp);
  t.throws(() => c[1]!.repairer.answerHashes(5, { owner: 1 }, 0, [0]));
  await c[1]!.repairer.catchUp(() => false);
  t.false(c[1]!.repairer.catchingUp);
  t.is(c[1]!.repairer.counters.catchingUp, 0);
  for (const key of keys.filter((k) => ring.isReplica(k, 1))) t.is(c[1]!.table.get(key)?.ts, 7, key);
});

test('nodes of a new cluster, all catching up, end it together; alone, one waits for a peer', async (t) => {
  const c = cluster(() => true);
  c[2]!.up = false;
  c[3]!.up = false;
  let polls = 0;
  // Node 0 shares ranges with nodes 2 and 3, which are down: it cannot end, and stops when told.
  await c[0]!.repairer.catchUp(() => ++polls > 3);
  t.true(c[0]!.repairer.catchingUp);
  c[2]!.up = true;
  c[3]!.up = true;
  await Promise.all(c.map((n) => n.repairer.catchUp(() => false)));
  t.true(c.every((n) => !n.repairer.catchingUp));
});

test('nodes of a new cluster, all catching up, end it without a peer lost for good that a replacement takes over from', async (t) => {
  // Simulator seed 851395: node 3 was lost while the cluster caught up; its survivors waited for it for ever,
  // and refused the reads its replacement streams the ranges with, so the replacement never finished.
  let replaced = false;
  const c = cluster(
    () => true,
    systemTime,
    (id) => replaced && id === 3,
  );
  c[3]!.up = false;
  let polls = 0;
  await c[0]!.repairer.catchUp(() => ++polls > 3);
  t.true(c[0]!.repairer.catchingUp);
  replaced = true;
  let after = 0;
  await Promise.all([0, 1, 2].map((id) => c[id]!.repairer.catchUp(() => ++after > 30)));
  t.true([0, 1, 2].every((id) => !c[id]!.repairer.catchingUp));
});

/** systemTime whose one-shot timers (the re-check pause) fire only when the test says. */
function heldTimers(): { time: Time; fire: () => Promise<void> } {
  const held: Array<() => void> = [];
  const time: Time = {
    ...systemTime,
    after: (_ms, fn) => {
      held.push(fn);
      return { cancel: () => undefined };
    },
  };
  const fire = async (): Promise<void> => {
    // The step reaches its pause after a few promise turns (the in-process peer calls).
    for (let turns = 0; held.length === 0; turns++) {
      if (turns > 1000) throw new Error('the step never paused to re-check');
      await Promise.resolve();
    }
    held.shift()!();
  };
  return { time, fire };
}

test('background steps that meet only writes in flight back off, doubling up to the limit; a step in sync ends it', async (t) => {
  const { time, fire } = heldTimers();
  const c = cluster(() => false, time);
  const r = c[0]!.repairer;
  c[2]!.up = false;
  c[3]!.up = false; // node 1 is the only live peer, so every step that runs picks it
  // 'A' lies in the range (0x7f, M] that nodes 0, 1 and 2 replicate: node 1 lacks it, so each step sees it differ.
  let ts = 10;
  await put(c[0]!, 'A', ++ts);
  /** Calls step() until one runs instead of skipping; returns it (paused before its re-check) and the steps skipped. */
  const nextRunning = (): { step: Promise<void>; skipped: number } => {
    for (let skipped = 0; ; skipped++) {
      const before = r.counters.stepsSkipped;
      const step = r.step(); // a skip counts at once, before the step's first await
      if (r.counters.stepsSkipped === before) return { step, skipped };
      if (skipped > ANTI_ENTROPY_BACKOFF_STEPS_MAX) throw new Error('steps skipped past the limit');
    }
  };
  const skipsSeen: number[] = [];
  for (let i = 0; i < 8; i++) {
    const { step, skipped } = nextRunning();
    skipsSeen.push(skipped);
    await fire();
    await put(c[0]!, 'A', ++ts); // node 0's leaf moves while the step waits to re-check: a write in flight
    await step;
  }
  t.deepEqual(
    skipsSeen,
    [0, 1, 2, 4, 8, 16, 32, 64].map((n) => Math.min(n, ANTI_ENTROPY_BACKOFF_STEPS_MAX)),
  );
  t.is(r.counters.keysSent + r.counters.keysFetched, 0, 'nothing streamed for writes in flight');
  // A write in flight beside a difference that holds still ('K', which node 1 lacks, in another segment
  // of the same range): the stable one is repaired, and the back-off stays where it was.
  await put(c[0]!, 'K', 1);
  {
    const { step, skipped } = nextRunning();
    t.is(skipped, ANTI_ENTROPY_BACKOFF_STEPS_MAX);
    await fire();
    await put(c[0]!, 'A', ++ts);
    await step;
  }
  t.is(c[1]!.table.get('K')?.ts, 1, 'the difference that held still was repaired');
  const held = nextRunning();
  t.is(held.skipped, ANTI_ENTROPY_BACKOFF_STEPS_MAX, 'a mixed step keeps the back-off');
  await fire();
  await held.step; // 'A' did not move this time: repaired, and every difference held still
  t.is(nextRunning().skipped, 0, 'a step whose every difference held still ends the back-off');
  await fire().catch(() => undefined);
  // In sync (node 1 gets the same version): the next step that runs finds nothing, and ends the back-off.
  await c[1]!.apply([{ key: 'A', version: c[0]!.table.get('A')! }]);
  const { step } = nextRunning();
  await step;
  const skipped = r.counters.stepsSkipped;
  await r.step();
  await r.step();
  t.is(r.counters.stepsSkipped, skipped, 'no step skipped once in sync');
});

test('a background step pauses four step intervals before its re-check, within a full repair pause and 2 s', (t) => {
  const table: [number, number][] = [
    [0, REPAIR_RECHECK_PAUSE_MS],
    [25, REPAIR_RECHECK_PAUSE_MS],
    [100, 400],
    [500, ANTI_ENTROPY_RECHECK_PAUSE_MS],
    [60_000, ANTI_ENTROPY_RECHECK_PAUSE_MS],
  ];
  for (const [interval, pause] of table) t.is(backgroundPauseMs(interval), pause, `interval ${interval} ms`);
});
