/**
 * A join as an operator runs it: a cluster started by scripts/server.sh,
 * a fifth node started and joined by `scripts/server.sh --join` (the
 * planner's default token) while a QUORUM write load runs and node 1 is
 * down. Then: the load lost no acknowledged write, a client reaches the
 * new node for the keys it owns and its dump holds them, and node 1,
 * restarted with `scripts/server.sh 1`, reports the ring's current epoch.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvClient, NodeAdmin } from '../../src/client/client';
import { processRunning } from '../../src/common/procfs';
import { waitFor } from '../../src/harness/local-cluster';
import { freeBase, releaseBase, run, script } from './scripts-env';
import { keysHeld, WriteLoad } from './membership-helpers';

/** Keys of the range the joining node takes as its primary one: after node 2's token "f", before the load's keys. */
const OWNED_KEYS = Array.from({ length: 50 }, (_, i) => `g-owned-${String(i).padStart(2, '0')}`);

test('server.sh --join under a QUORUM load: no acknowledged write lost, clients reach the new node, a node down meanwhile catches up', async (t) => {
  const base = await freeBase();
  // Made just before the try whose finally removes it: nothing can fail in between.
  const data = mkdtempSync(join(tmpdir(), 'ringkv-join-'));
  const env = { KV_DATA_DIR: data, KV_BASE_PORT: String(base) };
  const clients: KvClient[] = [];
  try {
    const up = await run(script('server.sh'), [], '', env);
    t.is(up.code, 0, up.stdout + up.stderr);
    const client = await KvClient.connect(join(data, 'cluster.json'));
    clients.push(client);
    const load = new WriteLoad(client);
    await waitFor('writes before the join', () => load.acked.size > 1000, 60_000);

    // Node 1 is no source of the range the join takes (the load's keys lie in node 2's range, which it splits).
    const pid1 = Number(readFileSync(join(data, 'node-1.pid'), 'utf8'));
    process.kill(pid1, 'SIGTERM');
    await waitFor('node 1 to stop', () => !processRunning(pid1), 30_000);

    const joined = await run(script('server.sh'), ['--join'], '', env);
    t.is(joined.code, 0, joined.stdout + joined.stderr);
    const at = /node 4 joined the ring on 127\.0\.0\.1:(\d+) \(streamed (\d+) keys/.exec(joined.stdout);
    t.truthy(at, joined.stdout);
    t.regex(joined.stderr, /node 4 joins at token "load-\d+" \(splits node 2's primary range/);
    const port = Number(at![1]);
    t.true(Number(at![2]) > 0, 'the join streamed the keys written before it');

    const afterJoin = load.acked.size;
    await waitFor('writes after the join', () => load.acked.size > afterJoin + 200, 60_000);
    await load.stop();
    const lost = await load.lost();
    t.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${load.acked.size} acknowledged writes lost`);
    t.log(`${load.acked.size} writes acknowledged, ${load.failed} failed, 0 lost`);

    // The client learned the ring the nodes give: node 4 is a replica it routes to.
    await client.refreshRing();
    t.is(client.epoch, 4);
    t.true(client.endpoints.some((e) => e.id === 4 && e.port === port));
    for (const key of OWNED_KEYS) await client.put(key, `v-${key}`, 'QUORUM');
    // And through node 4 alone: it coordinates reads and writes of its keys.
    const direct = new KvClient([{ host: '127.0.0.1', port }], { routing: 'node' });
    clients.push(direct);
    for (const key of OWNED_KEYS) t.is((await direct.get(key, 'QUORUM')).value.toString(), `v-${key}`);
    await direct.put('g-owned-direct', 'through node 4', 'QUORUM');
    t.is((await client.get('g-owned-direct', 'QUORUM')).value.toString(), 'through node 4');

    const cluster = JSON.parse(readFileSync(join(data, 'cluster.json'), 'utf8')) as { secret: string };
    const admin4 = new NodeAdmin({ host: '127.0.0.1', port }, cluster.secret, 10_000);
    const held = await keysHeld(admin4).finally(() => admin4.close());
    t.deepEqual(
      [...OWNED_KEYS, 'g-owned-direct'].filter((k) => !held.has(k)),
      [],
      "node 4's dump holds every key of its range",
    );

    const restarted = await run(script('server.sh'), ['1'], '', env);
    t.is(restarted.code, 0, restarted.stdout + restarted.stderr);
    const status = await run(script('admin.sh'), ['status', '--json'], '', env);
    t.is(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { epoch: number; nodes: { id: number; up: boolean; state: string; epoch: number }[] };
    t.is(s.epoch, 4);
    t.deepEqual(
      s.nodes.map((n) => [n.id, n.up, n.state, n.epoch]),
      [
        [0, true, 'NORMAL', 4],
        [1, true, 'NORMAL', 4],
        [2, true, 'NORMAL', 4],
        [3, true, 'NORMAL', 4],
        [4, true, 'NORMAL', 4],
      ],
      'node 1, down through the join, took up its epochs before it served',
    );
  } finally {
    for (const c of clients) c.close();
    await run(script('terminate_servers.sh'), [], '', env);
    rmSync(data, { recursive: true, force: true });
    releaseBase(base);
  }
});
