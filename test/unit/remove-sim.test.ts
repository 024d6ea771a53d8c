/**
 * Why a removal copies each range from every surviving replica, on the
 * simulator's virtual time: a QUORUM write that its coordinator (the node
 * then lost for good) and one survivor acknowledged, while the other
 * survivor was cut off and its hint went with the lost disk, must reach the
 * replica the removal adds. Copied from the other survivor alone (the known
 * bug removalCopiesOneSurvivor), it does not. Background anti-entropy is
 * off, so that nothing but the removal's streams can carry it. And a
 * removed node started again while its removal runs.
 */
import test from 'ava';
import type { KnownBugs } from '../../src/common/known-bugs';
import { Placement } from '../../src/membership/placement';
import { startedSimCluster } from './sim-cluster-harness';

const KEY = 'Kremoved';

/** Runs the scenario; resolves with the value the removal's new replica of KEY holds, if any. */
async function newReplicaHolds(bugs: KnownBugs): Promise<string | undefined> {
  const { cluster, net, runUntil } = await startedSimCluster(5, 21, { antiEntropyIntervalMs: 0 }, bugs);
  const m = cluster.nodes[0]!.epochs.membership;
  const [dead, missing, holder] = Placement.of(m).rangeOf(KEY).reads as [number, number, number];
  // The first survivor in the range's order is the one a plan that takes a single survivor copies from.
  net.partition(dead, missing);
  let acked = false;
  void cluster.nodes[dead]!.coordinator.write(KEY, 'written', false, 'QUORUM').then(() => (acked = true));
  await runUntil('the QUORUM write to be acknowledged', () => acked);
  if (cluster.nodes[missing]!.store.get(KEY) !== undefined || cluster.nodes[holder]!.store.get(KEY)?.value !== 'written')
    throw new Error('the scenario did not set up: the write must be on the holder and not on the cut-off survivor');
  cluster.lose(dead);
  net.heal();
  const runner = [0, 1, 2, 3, 4].find((id) => id !== dead)!;
  await runUntil('the lost node to be seen down', () => !cluster.nodes[runner]!.isUp(dead));
  void cluster.nodes[runner]!.removeNode(dead);
  await runUntil(
    'the removal to complete',
    () => cluster.nodes[runner]!.epochs.membership.members.find((n) => n.id === dead)?.state === 'LEFT',
  );
  const after = Placement.of(cluster.nodes[runner]!.epochs.membership).rangeOf(KEY).reads;
  const added = after.find((id) => id !== missing && id !== holder)!;
  return cluster.nodes[added]!.store.get(KEY)?.value;
}

test('a removal gives the new replica a QUORUM write that only the lost node and one survivor held', async (t) => {
  t.is(await newReplicaHolds({}), 'written');
});

test('copied from one survivor only (the known bug removalCopiesOneSurvivor), the new replica lacks that write', async (t) => {
  t.is(await newReplicaHolds({ removalCopiesOneSurvivor: true }), undefined);
});

test('a removed node started again while its removal runs serves as the leaving member it is, and stops once it learns the removal completed', async (t) => {
  // A slow stream pace, and keys to stream, so that the removal runs for a while.
  const slow = { streamBytesPerSecond: 2000, streamBytesPerSecondUnderLoad: 2000 };
  const { cluster, trace, runUntil } = await startedSimCluster(4, 22, slow);
  let written = 0;
  for (let i = 0; i < 100; i++) void cluster.nodes[0]!.coordinator.write(`k${i}`, 'x'.repeat(40), false, 'QUORUM').then(() => written++);
  await runUntil('the writes to be acknowledged', () => written === 100);
  cluster.lose(1);
  await runUntil('node 1 to be seen down', () => [0, 2, 3].every((id) => !cluster.nodes[id]!.isUp(1)));
  void cluster.nodes[0]!.removeNode(1);
  await runUntil('the removal to begin', () => cluster.nodes[0]!.epochs.membership.operation?.by === 0);

  void cluster.cameBack(1);
  await runUntil('node 1 to serve again', () => cluster.isRunning(1));
  t.is(cluster.nodes[0]!.epochs.membership.operation?.by, 0, 'node 1 is back before its removal completes');
  await runUntil('node 1 to learn of its removal', () => cluster.nodes[1]!.epochs.membership.operation?.by === 0);
  t.is(cluster.nodes[1]!.epochs.membership.members.find((n) => n.id === 1)?.state, 'LEAVING');
  // It does not take the removal for its own decommission: it streams nothing of its own.
  const own = cluster.nodes[1]!.operationProgress();
  t.like(own, { state: 'LEAVING', keys: 0, rangesTotal: 0 });

  await runUntil('the removal to complete', () => cluster.nodes[0]!.operationProgress().done === true);
  await runUntil('node 1 to stop', () => cluster.departed.has(1));
  t.regex(trace.lines!.join('\n'), /node 1 left the ring at epoch \d+ \(removed while down, by node 0\); it will not serve/);
  for (const id of [0, 2, 3]) t.is(cluster.nodes[id]!.epochs.membership.members.find((n) => n.id === 1)?.state, 'LEFT');
});
