/**
 * Two calls that start one operation at once, on the simulator's virtual
 * time: an operator's retry of a decommission or move whose first call timed
 * out reaches the node while the first still sequences the begin. Both
 * propose the same change, so both would win its slot; the node must run
 * the operation once.
 */
import test from 'ava';
import { startedSimCluster } from './sim-cluster-harness';

/** How many times the trace says a run of node `id` began streaming for an operation. */
function streamRuns(lines: readonly string[], id: number): number {
  return lines.filter((l) => l.includes(`node ${id} info: streaming `)).length;
}

test('a decommission asked twice at once runs once, and both calls report it', async (t) => {
  const { cluster, trace, runUntil } = await startedSimCluster(4, 31);
  const node = cluster.nodes[0]!;
  const answers = [node.decommission(), node.decommission()];
  let settled = 0;
  for (const a of answers) void a.then(() => settled++);
  await runUntil('both calls to answer', () => settled === 2);
  for (const a of answers) t.is((await a).state, 'LEAVING');
  await runUntil('node 0 to leave', () => cluster.departed.has(0));
  t.is(streamRuns(trace.lines!, 0), 1, trace.lines!.filter((l) => l.includes('node 0 info')).join('\n'));
});

test('a move asked twice at once runs once; a different move asked meanwhile is refused', async (t) => {
  const { cluster, trace, runUntil } = await startedSimCluster(4, 32);
  const node = cluster.nodes[1]!;
  const ring = node.epochs.membership.members.map((n) => n.token).sort();
  const token = `${ring[1]}m`;
  const answers = [node.move(token), node.move(token)];
  const other = node.move(`${ring[1]}n`).then(
    () => 'accepted',
    (err: Error) => err.message,
  );
  let settled = 0;
  for (const a of [...answers, other]) void a.then(() => settled++);
  await runUntil('the calls to answer', () => settled === 3);
  t.regex(await other, /in progress/);
  await runUntil('the move to complete', () => node.operationProgress().done === true);
  t.is(streamRuns(trace.lines!, 1), 1, trace.lines!.filter((l) => l.includes('node 1 info')).join('\n'));
});
