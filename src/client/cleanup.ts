/**
 * `scripts/admin.sh cleanup [N]`: every node of the ring (or node N) deletes
 * the data it holds for ranges it no longer replicates, all at once (each
 * works on its own disk); this starts them, polls each until it is done, and
 * collects what each deleted. Refused while a membership operation runs.
 */
import { isKvError, KvError } from '../common/errors';
import { OPERATION_POLL_MS, OPERATION_SILENCE_MS_MAX } from '../common/limits';
import type { ClusterConfig } from '../config/cluster';
import { ringMembers } from '../membership/changes';
import { refuseCleanupDuring } from '../membership/reclaim';
import { int64ToNumber, types } from '../rpc/thrift';
import { adminAt, currentMembership, endpointOf } from './operations';

/** One node's cleanup, as it ended: keys and bytes deleted, or why it did not finish. */
export interface NodeCleanup {
  readonly node: number;
  readonly keys: number;
  readonly bytes: number;
  readonly error?: string;
}

export interface ClusterCleanup {
  readonly epoch: number;
  readonly nodes: NodeCleanup[];
  readonly keys: number;
  readonly bytes: number;
  /** Every node asked finished its cleanup. */
  readonly ok: boolean;
}

/** Runs node `id`'s cleanup and follows it to its end; `show` is told of each poll. */
async function cleanupNode(
  config: ClusterConfig,
  at: { host: string; port: number },
  id: number,
  show: (node: number, p: types.CleanupProgress) => void,
): Promise<NodeCleanup> {
  const admin = adminAt(config, at);
  let last: types.CleanupProgress | undefined;
  try {
    let p = await admin.cleanup(true);
    let heardMs = Date.now();
    for (;;) {
      last = p;
      show(id, p);
      if (p.error) throw new KvError('Unavailable', p.error);
      if (p.done) return { node: id, keys: int64ToNumber(p.keys), bytes: int64ToNumber(p.bytes) };
      await new Promise((resolve) => setTimeout(resolve, OPERATION_POLL_MS));
      try {
        p = await admin.cleanup(false);
        heardMs = Date.now();
      } catch (err) {
        if (!isKvError(err, 'TimedOut') || Date.now() - heardMs > OPERATION_SILENCE_MS_MAX) throw err;
      }
    }
  } catch (err) {
    if (!isKvError(err)) throw err;
    const keys = last === undefined ? 0 : int64ToNumber(last.keys);
    const bytes = last === undefined ? 0 : int64ToNumber(last.bytes);
    return { node: id, keys, bytes, error: err.message };
  } finally {
    admin.close();
  }
}

/** Cleans every node of the ring (or node `only`), at once. */
export async function cleanupCluster(
  config: ClusterConfig,
  only: number | undefined,
  show: (node: number, p: types.CleanupProgress) => void = () => undefined,
): Promise<ClusterCleanup> {
  const m = await currentMembership(config);
  refuseCleanupDuring(m);
  const ids = only === undefined ? ringMembers(m).map((n) => n.id) : [only];
  // endpointOf refuses an id that is not in the ring, in one sentence, before any node starts.
  const targets = ids.map((id) => ({ id, at: endpointOf(config, m, id) }));
  if (only !== undefined && m.members.find((n) => n.id === only)?.state === 'LEFT')
    throw new KvError('InvalidRequest', `node ${only} has left the ring; it holds nothing to clean up`);
  const nodes = await Promise.all(targets.map(({ id, at }) => cleanupNode(config, at, id, show)));
  return {
    epoch: m.epoch,
    nodes,
    keys: nodes.reduce((n, c) => n + c.keys, 0),
    bytes: nodes.reduce((n, c) => n + c.bytes, 0),
    ok: nodes.every((c) => c.error === undefined),
  };
}
