/**
 * Speculative reads against four real node processes: a replica that stops
 * answering (SIGSTOP) but is not yet seen down must not make the QUORUM
 * reads that asked it wait out their timeout, while a third replica is up;
 * nor, on the client's side, the reads sent to it as their coordinator.
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { LocalCluster } from '../../src/harness/local-cluster';

// Default tokens: key 'A' has replicas 0, 1, 2. Node 1 coordinating a QUORUM read asks itself, then node 2.
const KEY = 'A';
const COORDINATOR = 1;
const STALLED = 2;

let cluster: LocalCluster | undefined;

// The failure detector waits a minute: the stalled node stays up to its peers for the whole file.
test.before(async () => {
  cluster = await LocalCluster.start({ settings: { failureTimeoutMs: 60_000 } });
});

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

test.serial(
  'QUORUM reads of a key whose asked replica stalled are answered by its third replica, before anyone sees it down',
  async (t) => {
    const writer = cluster!.client();
    const endpoint = cluster!.endpoint(COORDINATOR);
    const reader = new KvClient([{ host: endpoint.host, port: endpoint.port }], { routing: 'node' });
    try {
      await writer.put(KEY, 'before the stall', 'ALL');
      t.is(await speculativeReads(COORDINATOR), 0, 'no read has speculated yet');
      cluster!.signal(STALLED, 'SIGSTOP');
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
      t.deepEqual(await cluster!.downPeers(COORDINATOR), [], 'node 1 still holds the stalled node up');
    } finally {
      cluster!.signal(STALLED, 'SIGCONT');
      writer.close();
      reader.close();
    }
  },
);

test.serial("a client's reads sent to a stalled coordinator are sent again to the next node, and answered", async (t) => {
  const writer = cluster!.client();
  // Token routing speculates by default; node routing pointed at the stalled node only when asked to.
  const routed = cluster!.client({ routing: 'token' });
  const stalled = cluster!.endpoint(STALLED);
  const pinned = new KvClient([stalled, cluster!.endpoint(COORDINATOR)], { routing: 'node', speculativeRetry: '50ms' });
  // Six keys in each node's range (tokens M, f, p, \x7f): node 2 is the first or second replica of two of them.
  const keys = ['A', 'a', 'g', 'q'].flatMap((prefix) => Array.from({ length: 6 }, (_, i) => `${prefix}${i}`));
  try {
    for (const key of keys) await writer.put(key, `value of ${key}`, 'ALL');
    cluster!.signal(STALLED, 'SIGSTOP');
    for (const key of keys) t.is((await routed.get(key, 'QUORUM')).value.toString(), `value of ${key}`, key);
    // Each key's QUORUM reads start at its owner or the next replica, in turn.
    t.true(routed.speculativeReads > 0, 'some reads were first sent to the stalled node');
    t.true(routed.speculativeReads < keys.length, `${routed.speculativeReads} of ${keys.length} reads were sent twice`);
    const pages: string[] = [];
    for await (const { key } of routed.scan('', '', 'QUORUM', { pageSize: 10 })) pages.push(key.toString());
    t.deepEqual(
      pages.filter((k) => k !== KEY),
      [...keys].sort(),
      "a scan reads every key (and the first test's)",
    );
    t.is((await pinned.get(keys[0]!, 'ONE')).value.toString(), `value of ${keys[0]}`);
    t.is(pinned.speculativeReads, 1, 'the read sent to the stalled node was answered by the next one');
  } finally {
    cluster!.signal(STALLED, 'SIGCONT');
    writer.close();
    routed.close();
    pinned.close();
  }
});
