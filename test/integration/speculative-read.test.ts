/**
 * Speculative reads against four real node processes: a replica that stops
 * answering (SIGSTOP) but is not yet seen down must not make the QUORUM
 * reads that asked it wait out their timeout, while a third replica is up.
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { LocalCluster } from '../../src/harness/local-cluster';

// Default tokens: key 'A' has replicas 0, 1, 2. Node 1 coordinating a QUORUM read asks itself, then node 2.
const KEY = 'A';
const COORDINATOR = 1;
const STALLED = 2;

let cluster: LocalCluster | undefined;

test.after.always(async () => {
  cluster?.signal(STALLED, 'SIGCONT');
  await cluster?.destroy();
});

async function speculativeReads(id: number): Promise<number> {
  const admin = cluster!.admin(id);
  try {
    return Number((await admin.status()).counters['coordinator.speculativeReads']);
  } finally {
    admin.close();
  }
}

test('QUORUM reads of a key whose asked replica stalled are answered by its third replica, before anyone sees it down', async (t) => {
  // The failure detector waits a minute: the stalled node stays up to its peers for the whole test.
  cluster = await LocalCluster.start({ settings: { failureTimeoutMs: 60_000 } });
  const writer = cluster.client();
  const endpoint = cluster.endpoint(COORDINATOR);
  const reader = new KvClient([{ host: endpoint.host, port: endpoint.port }], { routing: 'node' });
  try {
    await writer.put(KEY, 'before the stall', 'ALL');
    t.is(await speculativeReads(COORDINATOR), 0, 'no read has speculated yet');
    cluster.signal(STALLED, 'SIGSTOP');
    const READS = 5;
    for (let i = 0; i < READS; i++) {
      t.is((await reader.get(KEY, 'QUORUM')).value.toString(), 'before the stall', `read ${i}`);
    }
    t.is(await speculativeReads(COORDINATOR), READS, 'each read asked the third replica');
    const traced = await reader.trace(KEY, { op: 'get', level: 'QUORUM' });
    t.is(traced.read?.value.toString(), 'before the stall');
    const steps = traced.events.map((e) => e.activity);
    t.true(steps.includes(`asks node ${STALLED}`), steps.join('\n'));
    t.true(
      steps.some((s) => s.endsWith('asks one replica more (speculative retry)')),
      steps.join('\n'),
    );
    t.true(steps.includes('asks node 0'), steps.join('\n'));
    t.deepEqual(await cluster.downPeers(COORDINATOR), [], 'node 1 still holds the stalled node up');
  } finally {
    cluster.signal(STALLED, 'SIGCONT');
    writer.close();
    reader.close();
  }
});
