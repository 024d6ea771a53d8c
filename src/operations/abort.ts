/**
 * Aborting the membership operation in progress, from any node: back to the
 * placement before it, through the same sequencing, publication and barrier
 * as the operation's own steps (operator.ts).
 *
 *   reads-back  only when the operation's reads had moved: reads return to
 *               the old replicas, both sets still take writes;
 *   abort       the ring before the operation (a joining node is LEFT, a
 *               leaving or moving one NORMAL at its old token).
 *
 * The operation's own node stops streaming when it takes either epoch up
 * (or before, when the abort runs there). Data it streamed to a new replica
 * stays there, no longer replicated by it: reclaimable, like any range a
 * node stopped replicating.
 */
import { displayBytes, fromByteString } from '../common/bytes';
import { KvError } from '../common/errors';
import { ABORT_STEPS_MAX } from '../common/limits';
import { Change, EpochEntry, Operation, runnerOf } from '../membership/changes';
import type { EpochLog } from '../membership/epoch-log';
import type { Operator } from './operator';

/** The operation in words: "move of node 1 to k", "replace of node 2 by node 5". */
export function operationWords(op: Operation): string {
  if (op.kind === 'move') return `move of node ${op.node} to ${displayBytes(fromByteString(op.token ?? ''))}`;
  if (op.kind === 'replace') return `replace of node ${op.replaces} by node ${op.node}`;
  if (op.by !== undefined) return `removal of node ${op.node} by node ${op.by}`;
  return `${op.kind} of node ${op.node}`;
}

function sameOperation(a: Operation | undefined, b: Operation): boolean {
  return a !== undefined && a.node === b.node && a.kind === b.kind && a.token === b.token && a.by === b.by;
}

/** Whether `change` (just taken up) undoes `op`, the operation node `self` runs. */
export function abortsOperationOf(change: Change, op: Operation, self: number): boolean {
  return (change.kind === 'reads-back' || change.kind === 'abort') && change.node === op.node && runnerOf(op) === self;
}

/**
 * Aborts the operation in progress and waits for each step's barrier;
 * resolves with what was aborted, in words. Refused in one sentence when
 * nothing is in progress, or when the operation completed first.
 */
export async function runAbort(operator: Operator, log: EpochLog, catchUp: () => Promise<void>): Promise<string> {
  await catchUp();
  const target = log.membership.operation;
  if (target === undefined) throw new KvError('InvalidRequest', 'no membership operation is in progress: there is nothing to abort');
  for (let step = 0; step < ABORT_STEPS_MAX; step++) {
    const op = log.membership.operation;
    if (!sameOperation(op, target))
      throw new KvError('InvalidRequest', `the ${operationWords(target)} completed before it could be aborted`);
    const change: Change = { kind: op!.readsSwitched ? 'reads-back' : 'abort', node: target.node };
    let entry: EpochEntry;
    try {
      entry = await operator.sequence(change);
    } catch (err) {
      // The operation's own step took the epoch first: the next step of the abort is judged again from there.
      if (log.membership.operation !== op) continue;
      throw err;
    }
    await operator.barrier(entry.epoch, target.node);
    if (change.kind === 'abort')
      return `the ${operationWords(target)} was aborted at epoch ${entry.epoch}: the placement before it is back`;
  }
  throw new KvError(
    'Unavailable',
    `the ${operationWords(target)} kept taking the next epoch first (${ABORT_STEPS_MAX} attempts); run the abort again`,
  );
}
