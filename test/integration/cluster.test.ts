/**
 * End-to-end tests against real node processes (four nodes, RF 3, free ports,
 * temp dirs). Each test that kills nodes gets a cluster of its own.
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { inspect } from '../../src/client/inspect';
import { errorOf } from './error-of';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { Ring } from '../../src/partitioner/ring';

const clusters: LocalCluster[] = [];
const clients: KvClient[] = [];

async function cluster(): Promise<LocalCluster> {
  const c = await LocalCluster.start();
  clusters.push(c);
  return c;
}

function clientOf(c: LocalCluster, startAt = 0): KvClient {
  const k = c.client({ startAt });
  clients.push(k);
  return k;
}

test.after.always(async () => {
  clients.forEach((k) => k.close());
  await Promise.all(clusters.map((c) => c.destroy()));
});

/** The replica ids of a key, as the nodes place it. */
function replicasOf(c: LocalCluster, key: string): number[] {
  return new Ring(c.config.nodes, c.config.replicationFactor).replicas(Buffer.from(key).toString('latin1'));
}

/** A node that is not a replica of the key, so killing replicas keeps a coordinator. */
function nonReplica(c: LocalCluster, key: string): number {
  return c.config.nodes.map((n) => n.id).find((id) => !replicasOf(c, key).includes(id))!;
}

test.serial('QUORUM reads return the last acknowledged QUORUM write, from every coordinator', async (t) => {
  const c = await cluster();
  const writers = c.config.nodes.map((n) => clientOf(c, n.id));
  const keys = ['apple', 'Banana', '42', 'zebra', 'grape', 'hello world', '\u00e9t\u00e9'];
  for (let round = 0; round < 4; round++) {
    for (const key of keys) {
      const writer = writers[(round + key.length) % writers.length]!;
      await writer.put(key, `${key}-v${round}`, 'QUORUM');
      for (const reader of writers) {
        const r = await reader.get(key, 'QUORUM');
        t.true(r.found);
        t.is(r.value.toString(), `${key}-v${round}`);
      }
    }
  }
  const missing = await writers[0]!.get('never-written', 'QUORUM');
  t.false(missing.found);
  await writers[1]!.delete('apple', 'QUORUM');
  t.false((await writers[2]!.get('apple', 'QUORUM')).found);

  // The admin status call: counters without entries; a page: entries in byte order.
  const admin = c.admin(0);
  try {
    const status = await admin.status();
    t.deepEqual(status.entries, []);
    t.false(status.more);
    const held = Number(status.counters['store.keys']);
    t.true(held > 0 && held <= keys.length, `node 0 holds ${held} keys`);
    const arenaLive = Number(status.counters['store.arenaLiveBytes']);
    t.true(arenaLive > 0 && arenaLive <= Number(status.counters['store.arenaBytes']), 'the arena holds its live records');
    const page = await admin.dumpPage(Buffer.alloc(0), 100);
    t.is(page.entries.length, held);
    const names = page.entries.map((e) => e.key.toString('latin1'));
    t.deepEqual(names, [...names].sort());
  } finally {
    admin.close();
  }
});

/** Requests each node has coordinated so far: reads or writes. */
async function coordinated(c: LocalCluster, what: 'reads' | 'writes'): Promise<number[]> {
  return Promise.all(
    c.config.nodes.map(async (n) => {
      const admin = c.admin(n.id);
      try {
        return Number((await admin.status()).counters[`coordinator.${what}`]);
      } finally {
        admin.close();
      }
    }),
  );
}

test.serial('token routing sends each request to a replica of its key, in turn, and skips a dead one', async (t) => {
  const c = await cluster();
  const key = 'kiwi';
  const replicas = replicasOf(c, key);
  const other = nonReplica(c, key);
  // Counts each coordinator's reads: no read may be sent twice by a slow moment of the machine.
  const client = c.client({ routing: 'token', speculativeRetry: 'NONE' });
  clients.push(client);
  await client.put(key, 'green', 'ALL');
  const before = await coordinated(c, 'reads');
  for (let i = 0; i < 9; i++) t.is((await client.get(key, 'ONE')).value.toString(), 'green');
  const after = await coordinated(c, 'reads');
  t.is(after[other]! - before[other]!, 0, 'the node that is not a replica coordinated none');
  for (const id of replicas) t.is(after[id]! - before[id]!, 3, `replica ${id} coordinated every third read`);
  t.deepEqual(
    (await coordinated(c, 'writes')).map((n, id) => (id === other ? n : 0)),
    [0, 0, 0, 0],
    'nor the write',
  );

  // QUORUM reads start only at the key's first two replicas (readStarts), in turn.
  const beforeQuorum = await coordinated(c, 'reads');
  for (let i = 0; i < 6; i++) t.is((await client.get(key, 'QUORUM')).value.toString(), 'green');
  const afterQuorum = await coordinated(c, 'reads');
  t.deepEqual(
    replicas.map((id) => afterQuorum[id]! - beforeQuorum[id]!),
    [3, 3, 0],
    'owner and next replica coordinated three each, the third replica none',
  );

  // A client that has never reached the dead replica: refused, so tried on the next one at once.
  await c.kill(replicas[0]!);
  const fresh = c.client({ routing: 'token' });
  clients.push(fresh);
  for (let i = 0; i < 6; i++) t.is((await fresh.get(key, 'ONE')).value.toString(), 'green');
  await fresh.put(key, 'ripe', 'QUORUM');
  t.is((await fresh.get(key, 'QUORUM')).value.toString(), 'ripe');
  t.is((await fresh.ping('x')).toString(), 'x', 'a ping skips the dead node too');
});

test.serial('one replica killed -9: QUORUM and TWO keep working, ALL and THREE fail with Unavailable, hints bring it back', async (t) => {
  const c = await cluster();
  const key = 'pear';
  const [, victim] = replicasOf(c, key) as [number, number, number];
  const client = clientOf(c, nonReplica(c, key));
  await client.put(key, 'three', 'THREE');
  t.is((await client.get(key, 'THREE')).value.toString(), 'three');
  await client.put(key, 'before', 'ALL');

  await c.kill(victim);
  const unavailable = await waitFor('ALL to fail fast with Unavailable', async () => {
    const err = await errorOf(client.put(key, 'x', 'ALL')).catch(() => null);
    return err?.code === 'Unavailable' ? err : null;
  });
  t.is(unavailable.details.required, 3);
  t.is(unavailable.details.alive, 2);
  t.regex(unavailable.message, /needs 3/);
  const three = await errorOf(client.get(key, 'THREE'));
  t.like(three, { code: 'Unavailable', details: { required: 3, alive: 2 } });
  t.regex(three.message, /^THREE needs 3 of the key's 3 replicas but only 2 are up/);

  await client.put(key, 'two', 'TWO');
  t.is((await client.get(key, 'TWO')).value.toString(), 'two');
  await client.put(key, 'during', 'QUORUM');
  t.is((await client.get(key, 'QUORUM')).value.toString(), 'during');
  for (let i = 0; i < 20; i++) await client.put(`p${i}`, `v${i}`, 'QUORUM');

  const ins = await inspect(c.config);
  const hintsForVictim = ins.nodes.reduce((n, node) => n + (node.hints[String(victim)] ?? 0), 0);
  t.true(hintsForVictim > 0, 'coordinators hold hints for the dead replica');

  await c.restart(victim);
  const settled = await waitFor('hints to be delivered and replicas to agree', async () => {
    const now = await inspect(c.config);
    const pending = now.nodes.reduce((n, node) => n + Object.values(node.hints).reduce((a, b) => a + b, 0), 0);
    return pending === 0 && now.divergent.length === 0 ? now : null;
  });
  const onVictim = settled.nodes[victim]!.entries.find((e) => e.key === key);
  t.is(onVictim?.value, 'during');
  await client.put(key, 'after', 'ALL');
});

test.serial(
  'every replica of a key killed -9: an ANY write is kept as hints by its coordinator, and reaches the replicas when they return',
  async (t) => {
    const c = await cluster();
    const key = 'fig';
    const replicas = replicasOf(c, key);
    const coordinator = nonReplica(c, key);
    const client = clientOf(c, coordinator);
    for (const id of replicas) await c.kill(id);
    await waitFor('QUORUM to fail fast with Unavailable', async () => {
      const err = await errorOf(client.put(key, 'x', 'QUORUM')).catch(() => null);
      return err?.code === 'Unavailable' ? err : null;
    });

    await client.put(key, 'kept', 'ANY');
    await client.delete('gone-too', 'any');
    const read = await errorOf(client.get(key, 'ANY'));
    t.is(read.code, 'InvalidRequest');
    t.regex(read.message, /^ANY is a level for writes only/);
    const held = (await inspect(c.config)).nodes[coordinator]!.hints;
    for (const id of replicas) t.true((held[String(id)] ?? 0) > 0, `node ${coordinator} holds hints for node ${id}`);

    for (const id of replicas) await c.restart(id);
    const after = await waitFor('the hints to reach the replicas', async () => {
      const r = await client.get(key, 'ALL').catch(() => null);
      return r?.found && r.value.toString() === 'kept' ? r : null;
    });
    t.is(after.value.toString(), 'kept');
  },
);

/** A counter of one node's admin status. */
async function counter(c: LocalCluster, id: number, name: string): Promise<number> {
  const admin = c.admin(id);
  try {
    return Number((await admin.status()).counters[name]);
  } finally {
    admin.close();
  }
}

test.serial(
  'a coordinator killed -9 just after answering, its third replica stalled, hints the write again when it restarts',
  async (t) => {
    // No anti-entropy, so only hints can bring the stalled replica up to date.
    const c = await LocalCluster.start({ settings: { antiEntropyIntervalMs: 0 } });
    clusters.push(c);
    const key = 'A';
    t.deepEqual(replicasOf(c, key), [0, 1, 2]);
    const client = clientOf(c, 0);
    await client.put(key, 'before', 'ALL');
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.put(`${key}${i}`, 'v', 'QUORUM')));
    // Every mark is settled once the third replicas have answered: none is left behind.
    await waitFor('node 0 to settle its marks', async () => (await counter(c, 0, 'store.unsettledRows')) === 0);
    c.signal(2, 'SIGSTOP');
    try {
      // Answered by node 0 (its own row, marked) and node 1; node 2 cannot answer.
      await client.put(key, 'during', 'QUORUM');
      await c.kill(0);
    } finally {
      c.signal(2, 'SIGCONT');
    }
    await c.restart(0);
    t.true((await counter(c, 0, 'node.rehintedAtStart')) >= 2, 'the unsettled write is hinted to its two other replicas again');
    const onTwo = c.client({ startAt: 2 });
    clients.push(onTwo);
    await waitFor('node 2 to hold the acknowledged write', async () => (await onTwo.get(key, 'ONE')).value.toString() === 'during');
    t.is((await client.get(key, 'ALL')).value.toString(), 'during');
  },
);

test.serial('killing every node with -9 and restarting loses no acknowledged write', async (t) => {
  const c = await cluster();
  const client = clientOf(c);
  const acked = new Map<string, string>();
  const write = (i: number): Promise<void> => {
    const key = `k${i % 97}`;
    const value = `v${i}`;
    return client.put(key, value, 'QUORUM').then(
      () => {
        // Writes to one key are issued in increasing i, so keep the highest acked.
        if (Number(acked.get(key)?.slice(1) ?? -1) < i) acked.set(key, value);
      },
      () => undefined,
    );
  };
  let i = 0;
  for (; i < 300; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => write(i + j)));
  // A burst still in flight when every node dies.
  const burst = Array.from({ length: 100 }, (_, j) => write(i + j));
  await Promise.all(c.config.nodes.map((n) => c.kill(n.id)));
  await Promise.all(burst);
  t.true(acked.size > 0);
  await Promise.all(c.config.nodes.map((n) => c.restart(n.id)));
  await c.waitAllSeeEachOther();
  const reader = clientOf(c, 1);
  for (const [key, value] of acked) {
    const r = await reader.get(key, 'QUORUM');
    t.true(r.found, `${key} survives`);
    // A later write to the same key may have been applied without an ack; never an older one.
    t.true(Number(r.value.toString().slice(1)) >= Number(value.slice(1)), `${key}: ${r.value} is not older than ${value}`);
  }
});

test.serial('bad requests get clear errors and the node stays up', async (t) => {
  const c = await cluster();
  const client = clientOf(c);
  const cases: [string, Promise<unknown>, RegExp][] = [
    ['empty key', client.put('', 'v', 'ONE'), /key is empty/],
    ['oversize key', client.put(Buffer.alloc(64 * 1024 + 1, 97), 'v', 'ONE'), /key is 65537 bytes/],
    ['oversize value', client.put('k', Buffer.alloc(1024 * 1024 + 1), 'ONE'), /value is 1048577 bytes/],
    ['bad level', client.get('k', 'TWICE'), /unknown consistency level/],
  ];
  for (const [what, p, message] of cases) {
    const err = await errorOf(p);
    t.is(err.code, 'InvalidRequest', what);
    t.regex(err.message, message, what);
  }
  // The biggest allowed value round-trips.
  const big = Buffer.alloc(1024 * 1024, 7);
  await client.put('big', big, 'QUORUM');
  t.true((await client.get('big', 'QUORUM')).value.equals(big));
  for (const n of c.config.nodes) t.true(c.isRunning(n.id));
});
