/**
 * The repairer between nodes in one process: memtables as the stores (their
 * trees kept by the same observer a node uses), peers as direct calls to the
 * other repairers' answering side. Four nodes, three replicas: each pair of
 * nodes shares two or three ranges.
 */
import test from 'ava';
import { systemTime } from '../../src/clock/time';
import { Ring } from '../../src/partitioner/ring';
import { RangeTrees } from '../../src/repair/range-trees';
import { RepairPeer, Repairer } from '../../src/repair/repairer';
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

function cluster(catchingUp: (id: number) => boolean): Node[] {
  const out: Node[] = [];
  let seq = 0;
  for (const { id } of nodes) {
    const trees = new RangeTrees(
      ring,
      id,
      nodes.map((n) => n.id),
    );
    const table = new Memtable(undefined, trees);
    const apply = async (items: readonly KeyedVersion[]): Promise<void> => {
      for (const { key, version } of items) if (supersedes(version, table.get(key))) table.set(key, version, ++seq);
    };
    const peers = new Map<number, RepairPeer>();
    for (const other of nodes) {
      if (other.id === id) continue;
      const peer = {
        catchingUp: false,
        treeHashes: async (range: number, level: 0 | 1 | 2, indices: readonly number[]) => {
          const answer = out[other.id]!.repairer.answerHashes(id, range, level, indices);
          peer.catchingUp = answer.catchingUp;
          return answer.hashes;
        },
        segmentKeys: async (range: number, segments: readonly number[]) => out[other.id]!.repairer.answerSegmentKeys(id, range, segments),
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
      applyLocal: apply,
      time: systemTime,
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
  t.throws(() => c[1]!.repairer.answerHashes(5, 1, 0, [0]));
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
