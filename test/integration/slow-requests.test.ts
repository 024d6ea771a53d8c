/**
 * The slow request log against four real node processes: requests held up
 * by a stalled replica are told in the coordinator's log, grouped, and
 * counted; requests that were fast are not.
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { isKvError } from '../../src/common/errors';
import { LocalCluster } from '../../src/harness/local-cluster';

// Default tokens: key 'A' has replicas 0, 1, 2. Node 1 coordinating a QUORUM read asks itself, then node 2, and
// node 0 only if node 2 fails first. Both stall, so every read and write of the key waits out its timeout.
const KEY = 'A';
const COORDINATOR = 1;
const STALLED = [2, 0];

let cluster: LocalCluster | undefined;

test.after.always(async () => {
  for (const id of STALLED) cluster?.signal(id, 'SIGCONT');
  await cluster?.destroy();
});

/** Polls `check` until it returns something, or fails after `ms`. */
async function eventually<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('requests a stalled replica held past slowRequestMs are told in one grouped line of the log, and counted', async (t) => {
  // No speculation and a long failure timeout: the reads and writes of the key wait out the 500 ms timeout.
  cluster = await LocalCluster.start({
    settings: { failureTimeoutMs: 60_000, requestTimeoutMs: 500, slowRequestMs: 200, speculativeRetry: 'NONE' },
  });
  const endpoint = cluster.endpoint(COORDINATOR);
  const client = new KvClient([{ host: endpoint.host, port: endpoint.port }], { routing: 'node', timeoutMs: 5000 });
  try {
    await client.put(KEY, 'v', 'ALL');
    await client.put('fast', 'v', 'ONE');
    for (const id of STALLED) cluster.signal(id, 'SIGSTOP');
    for (let i = 0; i < 2; i++) {
      const err = await client.get(KEY, 'QUORUM').catch((e: unknown) => e);
      t.true(isKvError(err, 'TimedOut'), String(err));
    }
    const write = await client.put(KEY, 'w', 'ALL').catch((e: unknown) => e);
    t.true(isKvError(write, 'TimedOut'), String(write));

    const line = await eventually('the slow request line in node 1 log', () =>
      cluster!
        .log(COORDINATOR)
        .split('\n')
        .find((l) => l.includes('took 200 ms or more')),
    );
    t.log(line);
    t.regex(line, /WARN 3 client requests took 200 ms or more in the last 5 s \(settings\.slowRequestMs\): /);
    t.regex(line, /get QUORUM "A" 2 times, at most \d+ ms \(TimedOut\)/);
    t.regex(line, /put ALL "A" \d+ ms \(TimedOut\)/);
    t.false(line.includes('"fast"'), 'the fast write is not in it');
    const admin = cluster.admin(COORDINATOR);
    try {
      t.is(Number((await admin.status()).counters['client.slowRequests']), 3);
    } finally {
      admin.close();
    }
  } finally {
    for (const id of STALLED) cluster.signal(id, 'SIGCONT');
    client.close();
  }
});
