/**
 * After a join, with real processes: the joined node takes part in repair
 * and anti-entropy, scans and compare-and-set follow the current ring, the
 * ring's own keys stay hidden and out of clients' reach, and a replica
 * refuses a write placed by an epoch from before the join.
 */
import test from 'ava';
import { NodeAdmin } from '../../src/client/client';
import { EPOCH_SLOT_KEY_PREFIX } from '../../src/membership/reserved-keys';
import { freeNodePort, LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { RpcConnection } from '../../src/rpc/connection';
import { toKvError } from '../../src/rpc/errors';
import { ABSENT, types } from '../../src/rpc/thrift';
import { errorOf } from './error-of';

// The default ring's tokens are M, f, p, DEL (nodes 0 to 3); node 4 joins at k, and then
// (f, k] is on nodes 4, 2 and 3 (it was on 2, 3 and 0), and keys up to M on 0, 1 and 4 (0, 1 and 2).
const JOIN_TOKEN = 'k';
const KEYS = [...'ABCJMNRafghjklmnoqrz~'].flatMap((c) => [0, 1, 2].map((i) => `${c}-${i}`));

/** Writes `mutation` to node `id` directly, as a coordinator at `epoch` (absent: an older build) would. */
async function replicateTo(c: LocalCluster, port: number, key: string, ts: number, epoch: number | undefined): Promise<void> {
  const conn = new RpcConnection({ host: '127.0.0.1', port, frameBytesMax: 1 << 20 });
  try {
    const m = new types.Mutation({ key: Buffer.from(key, 'latin1'), value: Buffer.from(`direct-${ts}`), ts: ts as never, deleted: false });
    await conn
      .call((cl) => cl.replicate(c.config.secret, [m], (epoch ?? ABSENT) as never, epoch === undefined ? ABSENT : 0), 5000)
      .catch((err: unknown) => {
        throw toKvError(err);
      });
  } finally {
    conn.close();
  }
}

/** Node `id`'s own version of `key` (its timestamp; undefined: none). */
async function heldAt(admin: NodeAdmin, key: string): Promise<number | undefined> {
  const from = Buffer.from(key, 'latin1');
  const page = await admin.readRange(from, Buffer.concat([from, Buffer.from([0])]), 1, 1 << 20);
  const entry = page.entries[0];
  return entry === undefined ? undefined : Number(entry.ts);
}

test('after a join: repair and anti-entropy include the new node, scans and cas follow the new ring, stale writes are refused', async (t) => {
  const c = await LocalCluster.start({ settings: { antiEntropyIntervalMs: 200 } });
  const client = c.client();
  const admins = new Map<number, NodeAdmin>();
  try {
    for (const key of KEYS) await client.put(key, `v-${key}`, 'ALL');
    const port = await freeNodePort();
    c.spawnNode(4, ['--host', '127.0.0.1', '--port', String(port), '--join-token-hex', Buffer.from(JOIN_TOKEN).toString('hex')]);
    const admin4 = new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 30_000);
    admins.set(4, admin4);
    for (const id of [0, 1, 2, 3]) admins.set(id, c.admin(id, 30_000));
    await waitFor(
      'node 4 to join',
      async () => {
        const p = await admin4.operationProgress().catch(() => undefined);
        if (p?.error) throw new Error(p.error);
        return p?.done === true && p.state === 'NORMAL';
      },
      180_000,
    );
    await waitFor('every node at epoch 4', async () => {
      for (const admin of admins.values()) if ((await admin.membership()).epoch !== 4) return false;
      return true;
    });

    // The ring's own keys: clients can neither write nor read them.
    const slot = Buffer.from(`${EPOCH_SLOT_KEY_PREFIX}2`, 'latin1');
    for (const call of [client.put(slot, 'forged', 'QUORUM'), client.get(slot, 'QUORUM'), client.putIfAbsent(slot, 'forged')]) {
      const err = await errorOf(call);
      t.is(err.code, 'InvalidRequest');
      t.regex(err.message, /^keys starting with .*ringkv-epoch-slot:.* are reserved for the ring's membership log$/);
    }

    // A scan of the whole key space: every key once, no slot key (they exist: epochs 2 to 4 were sequenced on them).
    const scanned: string[] = [];
    for await (const { key } of client.scan('', '', 'QUORUM', { pageSize: 7 })) scanned.push(key.toString('latin1'));
    t.deepEqual(scanned, [...KEYS].sort(), 'every key once, in order');
    const reserved = await Promise.all([0, 1, 4].map(async (id) => (await admins.get(id)!.status()).counters['store.reservedKeys']));
    t.true(
      reserved.some((n) => Number(n) > 0),
      `slot keys held by the slot's replicas: ${reserved}`,
    );
    const dumped = await admins.get(0)!.dumpPage(Buffer.alloc(0), 1000);
    t.false(
      dumped.entries.some((e) => e.key.toString('latin1').startsWith(EPOCH_SLOT_KEY_PREFIX)),
      'the dump shows data only',
    );

    // Compare-and-set on keys whose replicas changed with the join.
    for (const key of ['h-cas', 'C-cas']) {
      t.true((await client.putIfAbsent(key, 'one')).applied, key);
      t.true((await client.cas(key, 'one', 'two')).applied, key);
      t.false((await client.cas(key, 'one', 'three')).applied, key);
      t.is((await client.get(key, 'SERIAL')).value.toString(), 'two', key);
    }

    // Admin repair on the new node covers its three ranges with both other replicas each, and agrees.
    const summary = await admin4.repair([], 120_000);
    t.true(summary.agreed, JSON.stringify(summary));
    t.is(summary.rangesCompared, 6, JSON.stringify(summary));
    // Node 2 counts node 4 as up only once it has heard from it (a loaded machine can delay that past node 4's own repair).
    await waitFor('node 2 to see node 4 up', async () => !(await c.downPeers(2)).includes(4));
    const fromTwo = await admins.get(2)!.repair([4], 120_000);
    t.true(fromTwo.agreed && fromTwo.rangesCompared > 0, `node 2 repairs with node 4: ${JSON.stringify(fromTwo)}`);

    // Background anti-entropy: a version only node 4 holds reaches the range's other replicas, 2 and 3.
    const ts = Date.now() * 1000;
    await replicateTo(c, port, 'h-ae', ts, undefined);
    await waitFor(
      'anti-entropy to copy node 4 version to nodes 2 and 3',
      async () => (await heldAt(admins.get(2)!, 'h-ae')) === ts && (await heldAt(admins.get(3)!, 'h-ae')) === ts,
      60_000,
    );

    // A coordinator still at epoch 1 is refused where the join moved the key, and only there.
    const node2 = c.config.nodes[2]!.port;
    const stale = await errorOf(replicateTo(c, node2, 'h-stale', ts, 1));
    t.is(stale.code, 'StaleEpoch');
    t.is(stale.details.epoch, 4);
    t.is(await heldAt(admins.get(2)!, 'h-stale'), undefined, 'the refused write did not land');
    await replicateTo(c, node2, 'n-kept', ts, 1);
    t.is(await heldAt(admins.get(2)!, 'n-kept'), ts, '(k, p] kept its replicas: epoch 1 placed it right');
    await replicateTo(c, node2, 'h-no-epoch', ts, undefined);
    t.is(await heldAt(admins.get(2)!, 'h-no-epoch'), ts, 'a write without an epoch (an older build) is taken');
  } finally {
    client.close();
    for (const admin of admins.values()) admin.close();
    await c.destroy();
  }
});
