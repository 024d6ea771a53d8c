/**
 * Anti-entropy brings replicas into line that nothing else would fix: a
 * version written to one replica only (as when a coordinator dies mid-write).
 */
import test from 'ava';
import { inspect } from '../../src/client/inspect';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { Ring } from '../../src/partitioner/ring';
import { RpcConnection } from '../../src/rpc/connection';
import { ABSENT, types } from '../../src/rpc/thrift';

test('versions held by one replica only reach the others', async (t) => {
  const c = await LocalCluster.start({ settings: { antiEntropyIntervalMs: 100 } });
  try {
    const ring = new Ring(c.config.nodes, 3);
    // A minute ahead: newer than the ALL writes below, within the clocks' 5-minute bound.
    const now = Date.now() * 1000;
    // Straight to one replica each, bypassing coordinators (and so hints and read repair).
    const writes: [string, string, number, boolean][] = [
      ['apple', 'only-on-one', now, false],
      ['grape', 'newer-here', now + 60_000_000, false],
      ['pear', '', now + 60_000_000, true],
      ['Zebra', 'z', now, false],
    ];
    const client = c.client();
    await client.put('grape', 'older-everywhere', 'ALL');
    await client.put('pear', 'to-be-deleted', 'ALL');
    for (const [key, value, ts, deleted] of writes) {
      const target = ring.replicas(key)[1]!;
      const node = c.config.nodes[target]!;
      const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 20 });
      const m = new types.Mutation({ key: Buffer.from(key), value: Buffer.from(value), ts: ts as never, deleted });
      await conn.call((cl) => cl.replicate(c.config.secret, [m], ABSENT, ABSENT), 2000);
      conn.close();
    }
    // No check of the divergence here: steps every 100 ms may already have
    // repaired some. Only anti-entropy can copy these versions to the others.
    const after = await waitFor(
      'anti-entropy to make the replicas agree',
      async () => {
        const ins = await inspect(c.config);
        return ins.divergent.length === 0 ? ins : null;
      },
      60_000,
    );
    for (const [key, value, , deleted] of writes) {
      for (const id of ring.replicas(key)) {
        const e = after.nodes[id]!.entries.find((x) => x.key === key);
        t.truthy(e, `${key} on node ${id}`);
        t.is(e!.deleted, deleted);
        if (!deleted) t.is(e!.value, value);
      }
    }
    t.false((await client.get('pear', 'ONE')).found);
    client.close();
  } finally {
    await c.destroy();
  }
});

test('sync checks its hash range, caller and secret, and answers for the range asked', async (t) => {
  const c = await LocalCluster.start({ settings: { antiEntropyIntervalMs: 0 } });
  try {
    const ring = new Ring(c.config.nodes, 3);
    const client = c.client();
    await client.put('apple', 'red', 'ALL');
    const [a, b] = ring.replicas('apple');
    const node = c.config.nodes[b!]!;
    const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 20 });
    const sync = (secret: string, from: number, lo: unknown, hi: unknown): Promise<types.SyncReply> =>
      conn.call((cl) => cl.sync(secret, from, lo as never, hi as never, []), 2000);
    try {
      const refused: [number, unknown, unknown, RegExp][] = [
        [b!, 0, 2 ** 32, /another node/],
        [a!, 5, 5, /start before its end/],
        [a!, 0, 2 ** 32 + 1, /start before its end/],
        [a!, -1, 10, /start before its end/],
        [a!, null, 10, /needs fromHash/],
      ];
      for (const [from, lo, hi, message] of refused) {
        const err = await sync(c.config.secret, from, lo, hi).catch((e) => e);
        t.true(err instanceof types.InvalidRequest, `[${String(lo)}, ${String(hi)}) from ${from}: ${String(err)}`);
        t.regex(String(err.message), message);
      }
      t.true((await sync('wrong', a!, 0, 2 ** 32).catch((e) => e)) instanceof types.Unauthorized);
      // No digests from the caller: the callee sends what it has in the range.
      const reply = await sync(c.config.secret, a!, 0, 2 ** 32);
      t.deepEqual(
        reply.newer.map((m) => m.key.toString()),
        ['apple'],
      );
      t.is(Number(reply.coveredTo), 2 ** 32);
    } finally {
      conn.close();
    }
    t.is((await client.get('apple', 'ONE')).value?.toString(), 'red', 'the node still serves');
    client.close();
  } finally {
    await c.destroy();
  }
});
