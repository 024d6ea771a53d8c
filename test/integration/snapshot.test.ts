/**
 * Snapshots against four real node processes: every node writes a copy of
 * its data file while it serves; a name taken, a bad name and a wrong
 * secret are refused in one sentence; a node whose file is copied back
 * from its snapshot starts with what the file held then, and a repair
 * brings it up to date; with restore.sh's mark beside it, the node catches
 * up from its peers by itself before it serves reads.
 */
import test from 'ava';
import { copyFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvClient, NodeAdmin } from '../../src/client/client';
import { listClusterSnapshots, snapshotCluster } from '../../src/client/snapshot';
import { isKvError } from '../../src/common/errors';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';

let cluster: LocalCluster | undefined;
let kv: KvClient | undefined;

test.before(async () => {
  // No background anti-entropy: only the repair below may bring the restored node forward.
  cluster = await LocalCluster.start({ settings: { antiEntropyIntervalMs: 0 } });
  kv = KvClient.fromClusterFile(cluster.clusterFile);
});

test.after.always(async () => {
  kv?.close();
  await cluster?.destroy();
});

/** Node `id`'s own version of `key`, from its dump: what its file gave it, whatever its peers hold. */
async function ownValue(id: number, key: string): Promise<string | undefined> {
  const admin = cluster!.admin(id);
  try {
    const page = await admin.dumpPage(Buffer.alloc(0), 1000);
    const entry = page.entries.find((e) => e.key.toString() === key);
    return entry?.value.toString();
  } finally {
    admin.close();
  }
}

const failure = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => undefined,
    (e: unknown) => e,
  );

test.serial('every node writes its snapshot while it serves; a name taken, a bad name and a wrong secret are refused', async (t) => {
  await kv!.put('A', 'before', 'ALL');
  const r = await snapshotCluster(cluster!.config, 'first');
  t.true(r.ok, JSON.stringify(r));
  t.deepEqual(
    r.nodes.map((n) => n.node),
    [0, 1, 2, 3],
  );
  for (const n of r.nodes) {
    t.is(n.path, join(cluster!.dir, 'snapshots', 'first', `node-${n.node}.sqlite`));
    t.true(existsSync(n.path!) && n.bytes! > 0);
  }
  const again = await snapshotCluster(cluster!.config, 'first', 2);
  t.false(again.ok);
  t.regex(again.nodes[0]!.error!, /^a snapshot named first exists already on this node \(.*node-2\.sqlite\)$/);
  const admin = cluster!.admin(0);
  const stranger = new NodeAdmin(cluster!.endpoint(0), 'not-the-secret');
  try {
    const bad = await failure(admin.snapshot('../escape'));
    t.true(isKvError(bad, 'InvalidRequest'), String(bad));
    t.is((bad as Error).message, "a snapshot name is 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'");
    const refused = await failure(stranger.snapshot('second'));
    t.true(isKvError(refused, 'Unauthorized'), String(refused));
  } finally {
    admin.close();
    stranger.close();
  }
  t.false(existsSync(join(cluster!.dir, 'snapshots', 'second')), 'nothing written for a refused call');
  const listed = await listClusterSnapshots(cluster!.config);
  t.deepEqual(
    listed.map((n) => [n.node, n.snapshots?.map((e) => e.name)]),
    [0, 1, 2, 3].map((id) => [id, ['first']]),
  );
});

/** Stops node 0 and puts its file back from snapshot `first`, as restore.sh does (with its mark, when `marked`). */
async function putBack(marked: boolean): Promise<void> {
  await cluster!.stopNode(0);
  const file = join(cluster!.dir, 'node-0.sqlite');
  copyFileSync(join(cluster!.dir, 'snapshots', 'first', 'node-0.sqlite'), file);
  // The log of the file replaced belongs to it: it must not be applied to the snapshot.
  rmSync(`${file}-wal`, { force: true });
  rmSync(`${file}-shm`, { force: true });
  if (marked) writeFileSync(join(cluster!.dir, 'node-0.restored'), '');
  await cluster!.startNode(0);
}

test.serial(
  'a node whose file is copied back from its snapshot starts with what it held then; a repair brings it up to date',
  async (t) => {
    await kv!.put('A', 'after', 'ALL');
    t.is(await ownValue(0, 'A'), 'after');
    await putBack(false);
    t.is(await ownValue(0, 'A'), 'before', 'the file as it was when the snapshot was written');
    const admin = cluster!.admin(0, 60_000);
    try {
      const summary = await admin.repair([], 60_000);
      t.true(summary.keysFetched >= 1, JSON.stringify(summary));
    } finally {
      admin.close();
    }
    t.is(await ownValue(0, 'A'), 'after');
  },
);

test.serial("with restore.sh's mark, a node put back catches up from its peers before it serves reads, then clears the mark", async (t) => {
  await kv!.put('A', 'latest', 'ALL');
  await putBack(true);
  const mark = join(cluster!.dir, 'node-0.restored');
  await waitFor('node 0 to catch up and clear the mark', () => !existsSync(mark) || undefined);
  // No background anti-entropy and no repair asked: only the catch-up can have brought it.
  t.is(await ownValue(0, 'A'), 'latest');
  t.regex(cluster!.log(0), /node 0 is catching up \(its data file was put back from a snapshot\)/);
});

test.serial(
  'nodes on the thread driver (sqliteSynchronous FULL) write their snapshots on a second connection of that library',
  async (t) => {
    const full = await LocalCluster.start({ settings: { sqliteSynchronous: 'FULL', antiEntropyIntervalMs: 0 } });
    const client = KvClient.fromClusterFile(full.clusterFile);
    try {
      t.regex(full.log(0), /SQLite thread/);
      await client.put('A', 'durable', 'ALL');
      const r = await snapshotCluster(full.config, 'full');
      t.true(r.ok, JSON.stringify(r));
      await full.stopNode(0);
      const file = join(full.dir, 'node-0.sqlite');
      copyFileSync(join(full.dir, 'snapshots', 'full', 'node-0.sqlite'), file);
      rmSync(`${file}-wal`, { force: true });
      rmSync(`${file}-shm`, { force: true });
      await full.startNode(0);
      const admin = full.admin(0);
      try {
        const page = await admin.dumpPage(Buffer.alloc(0), 10);
        t.is(page.entries.find((e) => e.key.toString() === 'A')?.value.toString(), 'durable');
      } finally {
        admin.close();
      }
    } finally {
      client.close();
      await full.destroy();
    }
  },
);
