/**
 * Repair on hash trees with real processes: a node that missed writes (hints
 * off) is brought into line by `admin repair`; a node whose data directory
 * was lost catches up before it answers a read; a repair run beside a write
 * load loses nothing.
 */
import test from 'ava';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { KvClient } from '../../src/client/client';
import { inspect } from '../../src/client/inspect';
import { repairCluster } from '../../src/client/repair';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { Ring } from '../../src/partitioner/ring';

/** Hints off, background anti-entropy off: only repair can bring a node back into line. */
const REPAIR_ONLY = { hintWindowSeconds: 0, antiEntropyIntervalMs: 0 };

async function putAll(client: KvClient, keys: readonly string[], value: (k: string) => string): Promise<void> {
  for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => client.put(k, value(k), 'QUORUM')));
}

test('hints off, a node down while writes happen: after admin repair no replica diverges', async (t) => {
  const c = await LocalCluster.start({ settings: REPAIR_ONLY });
  try {
    const client = c.client();
    const keys = Array.from({ length: 600 }, (_, i) => `key-${i}`);
    await putAll(client, keys, (k) => `first-${k}`);
    await c.stopNode(2);
    await c.waitAllSeeEachOther();
    await putAll(client, keys, (k) => `second-${k}`);
    await c.startNode(2);
    await c.waitAllSeeEachOther();
    await c.waitCaughtUp([2]);
    const run = await repairCluster(c.config, undefined, () => undefined);
    t.true(run.agreed, JSON.stringify(run));
    const after = await inspect(c.config);
    t.deepEqual(after.divergent, []);
    // The node that was down now holds the second values itself.
    const ring = new Ring(c.config.nodes, 3);
    for (const key of keys.filter((k) => ring.isReplica(k, 2)).slice(0, 50)) {
      t.is(after.nodes[2]!.entries.find((e) => e.key === key)?.value, `second-${key}`);
    }
    client.close();
  } finally {
    await c.destroy();
  }
});

test('a node whose data directory was lost never answers a ONE read with not-found for a written key', async (t) => {
  const c = await LocalCluster.start({ settings: { antiEntropyIntervalMs: 0 } });
  try {
    const client = c.client();
    const ring = new Ring(c.config.nodes, 3);
    const keys = Array.from({ length: 400 }, (_, i) => `lost-${i}`).filter((k) => ring.isReplica(k, 1));
    await putAll(client, keys, (k) => `v-${k}`);
    await c.stopNode(1);
    rmSync(join(c.dir, 'node-1.sqlite'), { force: true });
    rmSync(join(c.dir, 'node-1.sqlite-wal'), { force: true });
    rmSync(join(c.dir, 'node-1.sqlite-shm'), { force: true });
    await c.startNode(1);
    // Pinned to node 1, from the moment it answers: catching up or not, it must not say not-found.
    const pinned = new KvClient([c.config.nodes[1]!], { timeoutMs: 5000 });
    let reads = 0;
    const deadline = Date.now() + 60_000;
    let caught = false;
    while (!caught && Date.now() < deadline) {
      for (const key of keys.slice(0, 40)) {
        const r = await pinned.get(key, 'ONE').catch(() => undefined);
        if (r !== undefined) {
          t.true(r.found, `${key} read through node 1`);
          t.is(r.value.toString(), `v-${key}`);
          reads++;
        }
      }
      const admin = c.admin(1);
      caught = (await admin.status().finally(() => admin.close())).counters['repair.catchingUp' as never] === (0 as never);
    }
    await c.waitCaughtUp([1]);
    for (const key of keys) {
      const r = await pinned.get(key, 'ONE');
      t.true(r.found, key);
      reads++;
    }
    t.true(reads >= keys.length);
    t.regex(c.log(1), /catching up \(an empty data directory\)/);
    t.regex(c.log(1), /caught up: .* fetched \d+ keys/);
    pinned.close();
    client.close();
  } finally {
    await c.destroy();
  }
});

test('a full repair beside a write load loses no acknowledged write', async (t) => {
  const c = await LocalCluster.start({ settings: REPAIR_ONLY });
  try {
    const client = c.client();
    await c.stopNode(0);
    await c.waitAllSeeEachOther();
    await putAll(
      client,
      Array.from({ length: 300 }, (_, i) => `pre-${i}`),
      (k) => k,
    );
    await c.startNode(0);
    await c.waitAllSeeEachOther();
    await c.waitCaughtUp([0]);
    const acked = new Map<string, string>();
    let writing = true;
    const load = (async () => {
      for (let i = 0; writing; i++) {
        const key = `load-${i % 500}`;
        const value = `v${i}`;
        await client.put(key, value, 'QUORUM').then(
          () => acked.set(key, value),
          () => undefined,
        );
      }
    })();
    await waitFor('some writes', () => acked.size > 50);
    const run = await repairCluster(c.config, undefined, () => undefined);
    writing = false;
    await load;
    t.true(run.total.rangesCompared > 0);
    for (const [key, value] of acked) t.is((await client.get(key, 'QUORUM')).value.toString(), value, key);
    for (let i = 0; i < 300; i++) t.true((await client.get(`pre-${i}`, 'ALL')).found);
    const settled = await repairCluster(c.config, undefined, () => undefined);
    t.true(settled.agreed, JSON.stringify(settled.total));
    t.deepEqual((await inspect(c.config)).divergent, []);
    client.close();
  } finally {
    await c.destroy();
  }
});
