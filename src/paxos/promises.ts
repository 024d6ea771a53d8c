/**
 * What a proposer makes of a quorum of promises (pure). In order:
 *   1. its own request id is already committed (a retry whose first attempt
 *      went through): answer "applied", once the most recent commit is sent
 *      to the acceptors that lack it (the first attempt's commit may have
 *      reached fewer than a quorum: it timed out);
 *   2. an accepted proposal newer than every commit they report, and than
 *      every replica's current version of the key, is in progress: finish it
 *      first (re-propose its value under this ballot);
 *   3. a commit they report, or a current version, is as new as this ballot:
 *      start again above it (a committed value's timestamp is its ballot's,
 *      and a later value must win last-write-wins);
 *   4. otherwise go on, after sending the most recent commit to the acceptors
 *      that lack it (so that a quorum holds it before anything newer commits).
 */
import type { PrepareReply, Proposal } from './acceptor';
import { Ballot, isNewer } from './ballot';

export type PrepareOutcome =
  | { readonly kind: 'alreadyCommitted'; readonly repair: readonly number[]; readonly newestCommit?: Proposal }
  | { readonly kind: 'complete'; readonly proposal: Proposal; readonly own: boolean }
  | { readonly kind: 'ballotTooLow'; readonly seen: Ballot }
  | { readonly kind: 'ready'; readonly repair: readonly number[]; readonly newestCommit?: Proposal };

function newestOf(proposals: readonly (Proposal | undefined)[]): Proposal | undefined {
  let best: Proposal | undefined;
  for (const p of proposals) if (p !== undefined && (best === undefined || isNewer(p.ballot, best.ballot))) best = p;
  return best;
}

/**
 * `currentTs`: the timestamp of the newest version of the key among the
 * promises (0 for none). A committed value is written with its ballot's
 * timestamp, so a version that new means a commit that new, even where no
 * promising acceptor remembers it: one that joined the key's replicas since
 * (it received the value by streaming, not through Paxos) or that was down
 * when it committed. A proposal accepted before that commit either became
 * part of it or lost; finishing it now would write an old value over a newer
 * one (simulator seed 163: a counter went back from 7 to 5 after a join).
 */
export function afterPromises(
  ballot: Ballot,
  requestId: string,
  promises: ReadonlyMap<number, PrepareReply>,
  currentTs = 0,
): PrepareOutcome {
  const replies = [...promises.values()];
  const newestCommit = newestOf(replies.map((r) => r.committed));
  const mine = requestId !== '';
  // The promisers missing the most recent commit.
  const repair: number[] = [];
  if (newestCommit !== undefined) {
    for (const [id, r] of promises) if (r.committed === undefined || isNewer(newestCommit.ballot, r.committed.ballot)) repair.push(id);
  }
  if (mine && (replies.some((r) => r.requestCommitted) || newestCommit?.requestId === requestId)) {
    // Committed somewhere, perhaps on one replica only (its first attempt's commit timed out, or was refused by
    // replicas that had moved to a newer epoch): it must reach this quorum before "applied" is answered, or a
    // quorum of a later epoch may miss it (simulator seed 850335: a join dropped the only other replica that had
    // the value, as accepted, and a cas applied 13 -> 14 a second time).
    return newestCommit === undefined ? { kind: 'alreadyCommitted', repair } : { kind: 'alreadyCommitted', repair, newestCommit };
  }
  const accepted = newestOf(replies.map((r) => r.accepted));
  const superseded = accepted !== undefined && accepted.ballot.ts < currentTs;
  if (accepted !== undefined && !superseded && (newestCommit === undefined || isNewer(accepted.ballot, newestCommit.ballot))) {
    return { kind: 'complete', proposal: { ...accepted, ballot }, own: mine && accepted.requestId === requestId };
  }
  if (newestCommit !== undefined && newestCommit.ballot.ts >= ballot.ts) return { kind: 'ballotTooLow', seen: newestCommit.ballot };
  if (currentTs >= ballot.ts) return { kind: 'ballotTooLow', seen: { ts: currentTs, node: ballot.node } };
  return newestCommit === undefined ? { kind: 'ready', repair } : { kind: 'ready', repair, newestCommit };
}
