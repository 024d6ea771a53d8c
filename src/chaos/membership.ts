/**
 * Membership operations as the chaos tool and the tests drive them on a
 * cluster of their own: follow a new node (joining, or replacing a dead
 * one) until it is NORMAL, move a node to a token until it is NORMAL there,
 * and decommission a node until its process has exited. Each bounded by
 * MEMBERSHIP_OP_TIMEOUT_MS; an operation that stops says the node's sentence.
 */
import type { NodeAdmin } from '../client/client';
import { fromByteString } from '../common/bytes';
import { isKvError, KvError } from '../common/errors';
import { applyChange, Change, Membership, replayLog } from '../membership/changes';
import { waitFor } from '../harness/local-cluster';
import { tokenText } from '../client/ring';
import { removeNode } from '../client/remove';
import type { ClusterConfig } from '../config/cluster';

/** Longest a membership operation on the chaos tool's small data set may take (a loaded machine, a fault just healed). */
export const MEMBERSHIP_OP_TIMEOUT_MS = 120_000;

/**
 * Polls the node until its operation (a join, a replacement, a move) is done
 * and it is NORMAL; throws the operation's error, or if its process exits.
 * `what` names the operation in the errors ("join").
 */
export async function awaitNormal(
  admin: NodeAdmin,
  isRunning: () => boolean,
  what: string,
  timeoutMs = MEMBERSHIP_OP_TIMEOUT_MS,
): Promise<void> {
  await waitFor(
    `the ${what} to complete`,
    async () => {
      if (!isRunning()) throw new StopWaiting(`the node exited during its ${what}`);
      const p = await admin.operationProgress().catch((err) => {
        if (isKvError(err, 'ConnectionError') || isKvError(err, 'TimedOut')) return undefined;
        throw err;
      });
      if (p?.error) throw new StopWaiting(`the ${what} stopped: ${p.error}`);
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

/**
 * Moves node `id` to `token` with the admin move call (refusals throw at
 * once, changing nothing), waits until it is NORMAL again, and checks that
 * its ring then puts it at `token`.
 */
export async function moveNode(
  admin: NodeAdmin,
  id: number,
  token: string,
  isRunning: () => boolean,
  timeoutMs = MEMBERSHIP_OP_TIMEOUT_MS,
): Promise<void> {
  await admin.move(fromByteString(token));
  await awaitNormal(admin, isRunning, 'move', timeoutMs);
  const m = replayLog((await admin.membership()).entries);
  const at = m.members.find((n) => n.id === id)?.token;
  if (at !== token)
    throw new KvError('Unavailable', `node ${id} is NORMAL after its move, but at token ${at === undefined ? 'none' : tokenText(at)}`);
}

/** Throws, in the reducer's sentence, when `change` could not begin on membership `m` (another operation, a node not NORMAL). */
export function refuseUnless(m: Membership, change: Change): void {
  applyChange(m, { epoch: m.epoch + 1, change });
}

/**
 * Removes node `dead`, down already, through admin.sh remove's path (a live
 * member runs it); resolves once it has left the ring. The members refuse
 * a node they still count up until their failure detectors time it out,
 * so that refusal is asked again until the deadline; any other is final.
 */
export async function removeDeadNode(config: ClusterConfig, dead: number, timeoutMs = MEMBERSHIP_OP_TIMEOUT_MS): Promise<void> {
  const stillUp = (err: unknown): boolean => isKvError(err, 'InvalidRequest') && /is up \(it answers\)/.test(err.message);
  await waitFor(
    `node ${dead} to be removed`,
    () => removeNode(config, dead, undefined, () => undefined).then(() => true),
    timeoutMs,
    (err) => !stillUp(err),
  );
}

/**
 * A refusal because another membership operation is in progress: the ring
 * allows one at a time, so such a fault is skipped, not counted as a failed
 * operation (the one in progress, if it never ends, is counted by itself).
 */
export function isBusyRefusal(err: unknown): boolean {
  return isKvError(err, 'InvalidRequest') && /^another operation \(.+\) is in progress$/.test(err.message);
}

/** An error that ends a wait at once rather than being retried until the deadline. */
class StopWaiting extends Error {}
