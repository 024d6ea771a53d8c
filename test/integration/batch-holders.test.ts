/**
 * A batch whose writes failed while its coordinator lives is written again
 * by that coordinator alone, against six real node processes: the nodes
 * that hold its copies ask the coordinator (heldBatches), hear that it
 * still holds the batch, and leave it to it instead of trying it too.
 */
import test from 'ava';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import * as types from '../../src/gen/kv_types';
import { rawCall } from './cluster-calls';

// Node 3 owns the keys after 'f' up to 'h': 'g' has replicas 3, 4, 5. Node 0's copies go to nodes 1 and 2.
const TOKENS = ['b', 'd', 'f', 'h', 'j', 'l'];
const REPLICAS = [3, 4, 5];
const HOLDERS = [1, 2];

let cluster: LocalCluster | undefined;

test.after.always(async () => {
  for (const id of REPLICAS) cluster?.signal(id, 'SIGCONT');
  await cluster?.destroy();
});

async function counter(id: number, name: string): Promise<number> {
  const admin = cluster!.admin(id);
  try {
    return Number((await admin.status()).counters[name]);
  } finally {
    admin.close();
  }
}

const total = async (ids: readonly number[], name: string): Promise<number> =>
  (await Promise.all(ids.map((id) => counter(id, name)))).reduce((a, b) => a + b, 0);

test('holders leave a failed batch to its coordinator while it holds it; it alone writes it once the replicas are back', async (t) => {
  cluster = await LocalCluster.start({ tokens: TOKENS, settings: { antiEntropyIntervalMs: 0 } });
  // Stalled, not dead: node 0 still sees them up for a moment, logs the batch and sends its writes, which time out.
  for (const id of REPLICAS) cluster.signal(id, 'SIGSTOP');
  const write = new types.BatchWrite({ key: Buffer.from('g'), value: Buffer.from('late') });
  const failure = await rawCall(cluster, (c) => c.batch([write], types.Level.ONE, null as never));
  t.regex(String((failure as Error).message), /^key 1 of 1: .*; the batch is logged on node 0, which writes it again/);
  t.is(await counter(0, 'batches.batchLogBatches'), 1);
  await waitFor(
    'both holders to ask node 0 and leave the batch to it',
    async () => (await Promise.all(HOLDERS.map((id) => counter(id, 'batches.batchCopiesDeferred')))).every((n) => n >= 1) || undefined,
  );
  t.is(await total(HOLDERS, 'batches.batchReplayFailures'), 0, 'the holders never tried to write it');
  t.is(await total(HOLDERS, 'batches.batchCopiesReplayed'), 0);
  for (const id of REPLICAS) cluster.signal(id, 'SIGCONT');
  const reader = cluster.client();
  try {
    await waitFor('the batch to reach every replica', async () => (await reader.get('g', 'ALL')).value.toString() === 'late' || undefined);
  } finally {
    reader.close();
  }
  await waitFor('every batch log to empty', async () => (await total([0, ...HOLDERS], 'batches.batchLogBatches')) === 0 || undefined);
  t.true((await counter(0, 'batches.batchesReplayed')) >= 1, 'node 0 wrote it from its log');
});
