/**
 * A logged batch's copies in the simulator, driven by hand: a coordinator
 * lost for good once the copies are durable, before it sends any write,
 * leaves the batch to its holders, which write it whole after the copy
 * wait. Without the copies, nothing of it would ever be written; with a
 * copy written in part, the batch would end applied in part.
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
