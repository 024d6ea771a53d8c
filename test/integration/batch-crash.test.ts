/**
 * A logged batch outlives its coordinator, against real node processes:
 * node 0 coordinates a stream of two-key batches and is killed with -9 by a
 * timer in the middle of it, never to come back. The kill lands wherever
 * it lands: before a batch's copies (nothing of it was sent), between its
 * copies and its writes, with its writes half sent, or before its
 * coordinator told the holders to forget it. Whatever the phase, every
 * batch must end with both keys or neither on the nodes left: the holders
 * of node 0's copies (nodes 1 and 2, the next by id) write what they hold
 * once it is older than twice the request timeout. (The simulator's
 * batch-copies test puts the kill exactly between copies and writes.)
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import * as types from '../../src/gen/kv_types';
import { RpcConnection } from '../../src/rpc/connection';

/** Batches in flight at once to node 0, and how long they run before node 0 is killed (a timer: the kill lands in any phase of a batch). */
const IN_FLIGHT = 32;
const KILL_AFTER_MS = 1_500;

test('batches caught in flight by their coordinator’s kill -9 end all or nothing: its copies’ holders finish them', async (t) => {
  const cluster = await LocalCluster.start();
  const node = cluster.config.nodes[0]!;
  const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 24 });
  const kv = KvClient.fromClusterFile(cluster.clusterFile);
  try {
    // 'A…' keys are on nodes 0, 1, 2 and 'g…' keys on 2, 3, 0 (tokens M, f, p, 0x7f): each batch spans two replica sets.
    const keysOf = (i: number): [string, string] => [`A-crash-${i}`, `g-crash-${i}`];
    const put = (key: string, i: number): types.BatchWrite =>
      new types.BatchWrite({ key: Buffer.from(key), value: Buffer.from(`batch ${i}`) });
    let next = 0;
    let killed = false;
    const kill = new Promise<void>((resolve) =>
      setTimeout(() => {
        killed = true;
        resolve(cluster.kill(0));
      }, KILL_AFTER_MS),
    );
    const worker = async (): Promise<void> => {
      while (!killed) {
        const i = next++;
        await conn
          .call(
            (c) =>
              c.batch(
                keysOf(i).map((k) => put(k, i)),
                2 as never,
                null as never,
              ),
            5_000,
          )
          .catch(() => undefined);
      }
    };
    await Promise.all([kill, ...Array.from({ length: IN_FLIGHT }, worker)]);
    const sent = next;
    // Until the holders have written every copy they hold: older than the copy wait, they do it on their own.
    await waitFor(
      'the copies on nodes 1-3 to be written and dropped',
      async () => {
        for (const id of [1, 2, 3]) {
          const counters = (await cluster.admin(id).status()).counters;
          if (Number(counters['batches.batchLogBatches']) !== 0) return undefined;
        }
        return true;
      },
      30_000,
    );
    let whole = 0;
    let none = 0;
    for (let i = 0; i < sent; i++) {
      const found = await Promise.all(keysOf(i).map(async (key) => (await kv.get(key, 'QUORUM')).found));
      if (found[0] !== found[1]) t.fail(`batch ${i} ended applied in part: ${keysOf(i)[found[0] ? 0 : 1]} only`);
      if (found[0] && found[1]) whole++;
      else none++;
    }
    t.true(whole > 0, 'batches were written');
    let held = 0;
    let forgotten = 0;
    let replayed = 0;
    for (const id of [1, 2, 3]) {
      const counters = (await cluster.admin(id).status()).counters;
      held += Number(counters['batches.batchCopiesHeld']);
      forgotten += Number(counters['batches.batchCopiesForgotten']);
      replayed += Number(counters['batches.batchCopiesReplayed']);
    }
    t.log(
      `${sent} batches sent, ${whole} written whole, ${none} not at all; copies held ${held}, forgotten ${forgotten}, written by their holders ${replayed}`,
    );
  } finally {
    conn.close();
    kv.close();
    await cluster.destroy();
  }
});
