/**
 * A logged batch's copies in the simulator, driven by hand: a coordinator
 * lost for good once the copies are durable, before it sends any write,
 * leaves the batch to its holders, which write it whole after the copy
 * wait. Without the copies, nothing of it would ever be written; with a
 * copy written in part, the batch would end applied in part. And a batch
 * whose coordinator is up and still holds it is left to that coordinator:
 * its holders do not write it a second and third time.
 */
import test from 'ava';
import { startedSimCluster } from './sim-cluster-harness';

test('a batch whose coordinator is lost for good once its copies are durable is written whole by a holder', async (t) => {
  const { cluster, sched, runUntil } = await startedSimCluster(4, 11);
  const keys = ['A', 'a', 'g', 'q'];
  const call = cluster.nodes[0]!.batches.write(
    keys.map((key) => ({ key, value: `v-${key}`, deleted: false, ttlSeconds: 0 })),
    'QUORUM',
  );
  call.catch(() => undefined);
  // In steps far shorter than a message's latency: node 0 is lost before the holders' acknowledgements reach it.
  const bothDurable = (): boolean => [...cluster.batchCopyHolders.values()].some((holders) => holders.size === 2);
  for (let steps = 0; !bothDurable() && steps < 1_000_000; steps++) await sched.runUntil(sched.nowMs + 0.01);
  cluster.lose(0);
  const [holders] = [...cluster.batchCopyHolders.values()];
  t.deepEqual([...holders!].sort(), [1, 2], "node 0's copies go to the next nodes by id");
  const survivors = [1, 2, 3];
  t.true(
    keys.every((key) => survivors.every((id) => cluster.nodes[id]!.store.get(key) === undefined)),
    'no write of the batch was sent before its copies were acknowledged',
  );
  // Every key at the batch's one timestamp on each of its replicas that is still there.
  const ts = Number([...cluster.batchCopyHolders.keys()][0]!.split('/')[1]);
  const writtenWhole = (): boolean =>
    keys.every((key) =>
      cluster.nodes[1]!.epochs.placement.rangeOf(key)
        .writes.filter((id) => id !== 0)
        .every((id) => cluster.nodes[id]!.store.get(key)?.ts === ts),
    );
  await runUntil('a holder to write the batch whole', writtenWhole);
  await runUntil('the copies to leave the holders', () => survivors.every((id) => cluster.nodes[id]!.batches.logged === 0));
  const replayed = survivors.reduce((n, id) => n + cluster.nodes[id]!.batches.counters.batchCopiesReplayed, 0);
  t.true(replayed >= 1, 'written from a copy');
});

test('a batch its coordinator still holds is left to it: the holders ask, wait, and write nothing', async (t) => {
  const { cluster, sched, runUntil, config } = await startedSimCluster(6, 12);
  const placement = cluster.nodes[0]!.epochs.placement;
  // A key none of whose replicas is node 0 or one of its holders (1 and 2), so that all three can be up while the key cannot be written.
  const key = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'].find((k) => placement.rangeOf(k).writes.every((id) => id > 2))!;
  t.truthy(key);
  const replicas = placement.rangeOf(key).writes;
  let failed = false;
  const call = cluster.nodes[0]!.batches.write([{ key, value: 'v', deleted: false, ttlSeconds: 0 }], 'ONE');
  call.catch(() => {
    failed = true;
  });
  const bothDurable = (): boolean => [...cluster.batchCopyHolders.values()].some((holders) => holders.size === 2);
  for (let steps = 0; !bothDurable() && steps < 1_000_000; steps++) await sched.runUntil(sched.nowMs + 0.01);
  for (const id of replicas) cluster.crash(id);
  await runUntil('the batch to fail', () => failed);
  const holders = [1, 2];
  const deferred = (): number => holders.reduce((n, id) => n + cluster.nodes[id]!.batches.counters.batchCopiesDeferred, 0);
  // Three copy waits: each holder asks node 0 once a wait at most, and is told each time that node 0 holds the batch.
  const untilMs = sched.nowMs + 3 * 2 * config.settings.requestTimeoutMs;
  await runUntil('three copy waits to pass', () => sched.nowMs >= untilMs);
  t.true(deferred() >= 2, 'each holder asked and left the batch to node 0');
  t.is(cluster.nodes[0]!.batches.logged, 1, 'node 0 still holds it');
  for (const id of replicas) void cluster.start(id);
  await runUntil('node 0 to write the batch', () => replicas.every((id) => cluster.nodes[id]?.store.get(key)?.value === 'v'));
  await runUntil('every log to empty', () => [0, ...holders].every((id) => cluster.nodes[id]!.batches.logged === 0));
  t.is(cluster.nodes[0]!.batches.counters.batchesReplayed, 1);
  t.deepEqual(
    holders.map((id) => cluster.nodes[id]!.batches.counters.batchCopiesReplayed),
    [0, 0],
    'the holders were told to forget their copies, and wrote none',
  );
});
