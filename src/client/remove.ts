/**
 * The operator's side of removing a dead node (`admin.sh remove`, Cassandra's
 * nodetool removenode): checks the removal against the current membership,
 * so that a bad one is refused in one sentence before any node is asked,
 * asks a live node to run it, and follows it there. The nodes do the work.
 */
import { isKvError, KvError } from '../common/errors';
import type { ClusterConfig } from '../config/cluster';
import { applyChange, Membership, ringMembers } from '../membership/changes';
import type { types } from '../rpc/thrift';
import { adminAt, currentMembership, endpointOf, followOperation, OperationView } from './operations';

/** The removal of `node` under way, when one is: the node that runs it. */
function runningRemoval(m: Membership, node: number): number | undefined {
  const op = m.operation;
  return op?.kind === 'leave' && op.node === node && op.by !== undefined && op.aborting !== true ? op.by : undefined;
}

/**
 * The nodes that may run the removal, in the order they are asked: the one
 * given, else every NORMAL member but the dead node, in id order. Each is
 * checked against the membership first (the reducer's sentence).
 */
function candidates(m: Membership, node: number, via: number | undefined): number[] {
  const ids =
    via !== undefined
      ? [via]
      : ringMembers(m)
          .filter((n) => n.state === 'NORMAL' && n.id !== node)
          .map((n) => n.id);
  for (const by of ids) applyChange(m, { epoch: m.epoch + 1, change: { kind: 'leave-begin', node, by } });
  if (ids.length === 0) applyChange(m, { epoch: m.epoch + 1, change: { kind: 'leave-begin', node } });
  return ids;
}

/**
 * Removes node `node`, which must be down for good, run by node `via` or by
 * the first live member that takes it, and follows the removal until it is
 * done; resolves with the node that ran it and its last progress. A removal
 * of the same node under way (this tool was interrupted) is followed again
 * on the node that runs it.
 */
export async function removeNode(
  config: ClusterConfig,
  node: number,
  via: number | undefined,
  show: (v: OperationView) => void,
): Promise<{ by: number; progress: types.OperationProgress }> {
  const m = await currentMembership(config);
  const running = runningRemoval(m, node);
  const ids = running !== undefined ? [running] : candidates(m, node, via);
  const failures: string[] = [];
  for (const by of ids) {
    const admin = adminAt(config, endpointOf(config, m, by));
    try {
      await admin.removeNode(node);
      // The node goes on by itself if this tool stops; its silence ends the wait after OPERATION_SILENCE_MS_MAX.
      const progress = await followOperation(
        admin,
        (p) => p.done,
        show,
        () => true,
      );
      return { by, progress };
    } catch (err) {
      // A node that does not answer is passed over for the next; any other refusal is the answer.
      if (!isKvError(err, 'ConnectionError') || via !== undefined || running !== undefined) throw err;
      failures.push(`node ${by}: ${err.message}`);
    } finally {
      admin.close();
    }
  }
  throw new KvError('Unavailable', `no node of the ring took the removal of node ${node} (${failures.join('; ')})`);
}
