/**
 * Membership across hosts: every node in a network namespace of its own,
 * with an address of its own, as the chaos tool's netns mode builds them
 * (src/chaos/netns.ts). A fifth node joins, listening at its namespace's
 * address (--host), then node 1 is decommissioned; every write made before,
 * between and after reads back at QUORUM, and the replicas of the final ring
 * agree. Needs root (namespaces): elsewhere the test says so and passes.
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { inspect } from '../../src/client/inspect';
import { replayLog } from '../../src/membership/changes';
import { NetnsCluster, netnsUnavailable } from '../../src/chaos/netns';
import { waitFor } from '../../src/harness/local-cluster';

/** Keys spread over the four bootstrap ranges (first characters in each of them). */
const key = (phase: string, i: number): string => `${'BHNUgkqw'[i % 8]}-${phase}-${i}`;

async function writeAll(client: KvClient, phase: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 50)
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => client.put(key(phase, i + j), `${phase}:${i + j}`, 'QUORUM')));
}

/** The keys of `phase` that a QUORUM read does not return with their value. */
async function unreadable(client: KvClient, phase: string, n: number): Promise<string[]> {
  const missing: string[] = [];
  for (let i = 0; i < n; i++) {
    const got = await client.get(key(phase, i), 'QUORUM');
    if (!got.found || got.value.toString() !== `${phase}:${i}`) missing.push(key(phase, i));
  }
  return missing;
}

test('nodes in their own namespaces: a fifth joins at its own address and another is decommissioned; every write reads back', async (t) => {
  const why = await netnsUnavailable();
  if (why !== null) {
    t.log(`skipped: ${why}`);
    t.pass();
    return;
  }
  const cluster = await NetnsCluster.start({}, 1);
  const client = KvClient.fromConfig(cluster.config, {});
  try {
    await client.refreshRing();
    await writeAll(client, 'before', 400);

    // Token "j" splits node 2's range (f, p]: node 4 streams from nodes 2, 3 and 0 (see the stream plan's test).
    await cluster.join(4, 'j');
    const admin = cluster.admin(0, 10_000);
    const joined = replayLog((await admin.membership()).entries);
    admin.close();
    const node4 = joined.members.find((m) => m.id === 4);
    t.is(node4?.state, 'NORMAL');
    t.deepEqual({ host: node4?.host, port: node4?.port }, cluster.endpoint(4), 'the ring names node 4 at its namespace address');
    t.not(cluster.endpoint(4).host, '127.0.0.1');
    await client.refreshRing();
    await writeAll(client, 'between', 400);

    await cluster.decommission(1);
    t.false(cluster.isRunning(1));
    await client.refreshRing();
    t.is(client.epoch, 7, 'three epochs for the join, three for the decommission');
    t.deepEqual(
      client.endpoints.map((e) => e.id),
      [0, 2, 3, 4],
    );
    await writeAll(client, 'after', 400);

    for (const phase of ['before', 'between', 'after'])
      t.deepEqual((await unreadable(client, phase, 400)).slice(0, 10), [], `writes ${phase} the operations`);
    // The third replica of a write may land a moment after its QUORUM answer: poll with a deadline.
    let last: string[] = [];
    const ins = await waitFor('the replicas of the final ring to agree', async () => {
      const found = await inspect(cluster.config);
      last = found.divergent.slice(0, 5);
      return found.divergent.length === 0 ? found : undefined;
    }).catch((err) => {
      throw new Error(`${(err as Error).message}; divergent: ${JSON.stringify(last)}`);
    });
    t.true(ins.placement.ranges.every((r) => !r.reads.includes(1) && !r.writes.includes(1)));
  } finally {
    client.close();
    await cluster.destroy(false);
  }
});
