/**
 * Membership operations as the chaos tool and the tests drive them on a
 * cluster of their own: follow a node's join until it is NORMAL, and
 * decommission a node until its process has exited. Both bounded by
 * MEMBERSHIP_OP_TIMEOUT_MS; a join that stops says the node's sentence.
 */
import type { NodeAdmin } from '../client/client';
import { isKvError } from '../common/errors';
import { waitFor } from '../harness/local-cluster';

/** Longest a join or decommission of the chaos tool's small data set may take (a loaded machine, a fault just healed). */
export const MEMBERSHIP_OP_TIMEOUT_MS = 120_000;

/** Polls the joining node until its join is done and it is NORMAL; throws the join's error, or if its process exits. */
export async function awaitJoined(admin: NodeAdmin, isRunning: () => boolean, timeoutMs = MEMBERSHIP_OP_TIMEOUT_MS): Promise<void> {
  await waitFor(
    'the join to complete',
    async () => {
      if (!isRunning()) throw new StopWaiting('the joining node exited');
      const p = await admin.operationProgress().catch((err) => {
        if (isKvError(err, 'ConnectionError') || isKvError(err, 'TimedOut')) return undefined;
        throw err;
      });
      if (p?.error) throw new StopWaiting(`the join stopped: ${p.error}`);
      return p !== undefined && p.done && p.state === 'NORMAL';
    },
    timeoutMs,
    (err) => err instanceof StopWaiting,
  );
}

/** Asks node to leave the ring (refusals throw at once) and waits until its process has exited. */
export async function decommissionNode(admin: NodeAdmin, isRunning: () => boolean, timeoutMs = MEMBERSHIP_OP_TIMEOUT_MS): Promise<void> {
  await admin.decommission();
  await waitFor('the node to leave the ring and exit', () => !isRunning(), timeoutMs);
}

/** An error that ends a wait at once rather than being retried until the deadline. */
class StopWaiting extends Error {}
