/**
 * The operator's side of moves and aborts (`admin.sh move`, `rebalance
 * --apply`, `abort`): checks a request against the current membership so
 * that a bad one is refused in one sentence before any node is asked, asks
 * the node that runs it, and follows it. The nodes do the work.
 */
import { fromByteString, toByteString } from '../common/bytes';
import { isKvError, KvError } from '../common/errors';
import { ABORT_ANSWER_TIMEOUT_MS, REBALANCE_MOVES_MAX } from '../common/limits';
import type { ClusterConfig } from '../config/cluster';
import { applyChange, ringMembers, runnerOf } from '../membership/changes';
import type { types } from '../rpc/thrift';
import { adminAt, currentMembership, endpointOf, followOperation, OperationView } from './operations';
import type { Move } from './rebalance';
import { tokenText } from './ring';

/** A token as the tools print it (tokenText): "0x" and hex bytes, or UTF-8 text. */
export function parseTokenText(text: string): string {
  if (text === '') throw new KvError('InvalidRequest', 'a token needs at least one byte');
  const hex = /^0x((?:[0-9a-fA-F]{2})+)$/.exec(text);
  return toByteString(hex ? Buffer.from(hex[1]!, 'hex') : Buffer.from(text, 'utf8'));
}

/**
 * Moves node `node` to `token` (latin1) and follows it until the node is
 * NORMAL at its new token; resolves with its last progress. Refused, in
 * the reducer's sentence, when the membership does not allow the move; the
 * node refuses it too when a replica it would stream with is down.
 */
export async function moveNode(
  config: ClusterConfig,
  node: number,
  token: string,
  show: (v: OperationView) => void,
): Promise<types.OperationProgress> {
  const m = await currentMembership(config);
  const op = m.operation;
  // The same move already under way (this tool was interrupted): followed again; anything else is checked.
  const resumed = op?.kind === 'move' && op.node === node && op.token === token && op.aborting !== true;
  if (!resumed) applyChange(m, { epoch: m.epoch + 1, change: { kind: 'move-begin', node, token } });
  const admin = adminAt(config, endpointOf(config, m, node));
  try {
    await admin.move(fromByteString(token));
    // The node goes on by itself if this tool stops; its silence ends the wait after OPERATION_SILENCE_MS_MAX.
    return await followOperation(
      admin,
      (p) => p.done && p.state === 'NORMAL',
      show,
      () => true,
    );
  } finally {
    admin.close();
  }
}

/**
 * Makes rebalance's moves one at a time, each once the one before it is
 * done; stops at the first that fails, saying which and that the ones
 * before it are done.
 */
export async function applyMoves(
  config: ClusterConfig,
  moves: readonly Move[],
  show: (index: number, v: OperationView) => void,
): Promise<void> {
  if (moves.length > REBALANCE_MOVES_MAX)
    throw new KvError(
      'InvalidRequest',
      `${moves.length} moves are more than one run makes (${REBALANCE_MOVES_MAX}); move some by hand first`,
    );
  for (const [i, move] of moves.entries()) {
    try {
      await moveNode(config, move.node, move.to, (v) => show(i, v));
    } catch (err) {
      if (!isKvError(err)) throw err;
      const done = i === 0 ? 'no move was made' : `the ${i} before it ${i === 1 ? 'is' : 'are'} done`;
      throw new KvError(
        err.code,
        `move ${i + 1} of ${moves.length} (node ${move.node} to ${tokenText(move.to)}) failed: ${err.message}; ${done}`,
      );
    }
  }
}

/**
 * Aborts the operation in progress: asks its own node first (it stops its
 * streams before the abort is sequenced), then any other node of the ring
 * that answers. Resolves with what was aborted, in words.
 */
export async function abortOperation(config: ClusterConfig): Promise<string> {
  const m = await currentMembership(config);
  const op = m.operation;
  if (op === undefined) throw new KvError('InvalidRequest', 'no membership operation is in progress: there is nothing to abort');
  const runner = runnerOf(op);
  const others = ringMembers(m)
    .map((n) => n.id)
    .filter((id) => id !== runner);
  const failures: string[] = [];
  for (const id of [runner, ...others]) {
    let admin: ReturnType<typeof adminAt>;
    try {
      admin = adminAt(config, endpointOf(config, m, id));
    } catch (err) {
      if (!isKvError(err)) throw err;
      failures.push(`node ${id}: ${err.message}`);
      continue;
    }
    try {
      return await admin.abortOperation(ABORT_ANSWER_TIMEOUT_MS);
    } catch (err) {
      if (!isKvError(err, 'ConnectionError')) throw err;
      failures.push(`node ${id}: ${err.message}`);
    } finally {
      admin.close();
    }
  }
  throw new KvError('Unavailable', `no node of the ring took the abort (${failures.join('; ')})`);
}
