/**
 * Checks a move before it begins, so that a move that could not stream is
 * refused without changing anything: the reducer's refusals (unknown node,
 * node not NORMAL, token taken, another operation), and every other end of
 * its streams up. A range streams only from the replica that gives it up
 * (stream-plan.ts): with that replica down the move could not go on, and
 * copying from another replica instead could miss a QUORUM write.
 */
import { KvError } from '../common/errors';
import { applyChange, Membership } from '../membership/changes';
import { streamsOf } from '../membership/stream-plan';

/** Throws, in one sentence, why node `node` cannot move to `token` now. */
export function checkMove(m: Membership, node: number, token: string, isUp: (id: number) => boolean): void {
  const begun = applyChange(m, { epoch: m.epoch + 1, change: { kind: 'move-begin', node, token } });
  for (const s of streamsOf(begun)) {
    if (s.target === node && !isUp(s.source))
      throw new KvError(
        'Unavailable',
        `node ${s.source}, which would give up a range to node ${node} in this move, is down; start node ${s.source} again, then move (a range is copied only from the replica that gives it up)`,
      );
    if (s.source === node && !isUp(s.target))
      throw new KvError(
        'Unavailable',
        `node ${s.target}, which would take over a range from node ${node} in this move, is down; start node ${s.target} again, then move`,
      );
  }
}
