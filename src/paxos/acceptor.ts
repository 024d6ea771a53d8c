/**
 * The acceptor side of Paxos for one key, as pure functions of its state:
 * every message in, the new state (which the caller makes durable before it
 * answers) and the reply out. As in Cassandra's lightweight transactions,
 * each key runs a sequence of Paxos instances; an instance ends with a
 * commit, and the most recent commit tells a later proposer which accepted
 * proposals are still in progress (those newer than it) and which are done.
 *
 * Exactly once: each proposal carries the client's request id, and an
 * acceptor remembers the ids of its recent commits (a bounded list), so a
 * retried request whose first attempt committed finds that out in its
 * prepare instead of applying again.
 */
import { PAXOS_RECENT_REQUESTS_MAX } from '../common/limits';
import { Ballot, compareBallots, isNewer, newerBallot } from './ballot';

/** A value proposed for a key under a ballot, on behalf of one client request. */
export interface Proposal {
  readonly ballot: Ballot;
  /** The new value (latin1 byte string); a commit writes it with the ballot's timestamp. */
  readonly value: string;
  /** The client's request id: how a retry recognises its own proposal. */
  readonly requestId: string;
}

/** A recent commit's request id, with its ballot's timestamp (µs) for expiry. */
export interface RecentRequest {
  readonly requestId: string;
  readonly ts: number;
}

/** What an acceptor keeps per key; durable before any reply that depends on it. */
export interface AcceptorState {
  readonly promised?: Ballot;
  readonly accepted?: Proposal;
  /** The most recent commit this acceptor has heard of. */
  readonly committed?: Proposal;
  /** Request ids of recent commits, oldest first, at most PAXOS_RECENT_REQUESTS_MAX. */
  readonly recent: readonly RecentRequest[];
}

export const EMPTY_STATE: AcceptorState = { recent: [] };

export interface PrepareReply {
  readonly promised: boolean;
  /** When refused: the newer ballot promised instead, so the proposer can go above it. */
  readonly refusedBy?: Ballot;
  readonly accepted?: Proposal;
  readonly committed?: Proposal;
  /** True when the prepare's request id is among this acceptor's recent commits. */
  readonly requestCommitted: boolean;
}

export interface ProposeReply {
  readonly accepted: boolean;
  readonly refusedBy?: Ballot;
}

/**
 * A ballot older than `oldestUs` is refused whatever the state: state is
 * deleted after a grace period (cleanup), and a proposer that old must not
 * find an acceptor that has forgotten its newer promises.
 */
function tooOld(ballot: Ballot, oldestUs: number): boolean {
  return ballot.ts < oldestUs;
}

/** Phase 1: promise not to accept anything older than `ballot` (a repeat of the promised ballot is promised again). */
export function onPrepare(
  s: AcceptorState,
  ballot: Ballot,
  requestId: string,
  oldestUs: number,
): { state: AcceptorState; reply: PrepareReply } {
  const requestCommitted = requestId !== '' && s.recent.some((r) => r.requestId === requestId);
  if (tooOld(ballot, oldestUs) || (s.promised !== undefined && compareBallots(ballot, s.promised) < 0)) {
    return { state: s, reply: { promised: false, refusedBy: s.promised ?? ballot, requestCommitted } };
  }
  const state = { ...s, promised: ballot };
  return { state, reply: { promised: true, accepted: s.accepted, committed: s.committed, requestCommitted } };
}

/** Phase 2: accept the proposal unless a newer ballot was promised, or a commit at least as new is known. */
export function onPropose(s: AcceptorState, p: Proposal, oldestUs: number): { state: AcceptorState; reply: ProposeReply } {
  const promisedNewer = s.promised !== undefined && compareBallots(p.ballot, s.promised) < 0;
  const superseded = s.committed !== undefined && !isNewer(p.ballot, s.committed.ballot);
  if (tooOld(p.ballot, oldestUs) || promisedNewer || superseded) {
    return { state: s, reply: { accepted: false, refusedBy: s.promised ?? s.committed?.ballot ?? p.ballot } };
  }
  return { state: { ...s, promised: p.ballot, accepted: p }, reply: { accepted: true } };
}

/**
 * Phase 3: the proposal was chosen. It becomes the most recent commit when
 * newer than the one known, an accepted proposal it supersedes is dropped,
 * and its request id joins the recent list (an older commit arriving late
 * still adds its id: it was committed all the same).
 */
export function onCommit(s: AcceptorState, p: Proposal): AcceptorState {
  const newer = s.committed === undefined || isNewer(p.ballot, s.committed.ballot);
  const committed = newer ? p : s.committed;
  const accepted = s.accepted !== undefined && isNewer(s.accepted.ballot, committed!.ballot) ? s.accepted : undefined;
  return { promised: s.promised, accepted, committed, recent: remember(s.recent, p) };
}

function remember(recent: readonly RecentRequest[], p: Proposal): readonly RecentRequest[] {
  if (p.requestId === '' || recent.some((r) => r.requestId === p.requestId)) return recent;
  const out = [...recent, { requestId: p.requestId, ts: p.ballot.ts }];
  return out.length > PAXOS_RECENT_REQUESTS_MAX ? out.slice(out.length - PAXOS_RECENT_REQUESTS_MAX) : out;
}

/** An accepted proposal newer than the most recent commit: a later proposer must finish it first. */
export function inProgress(s: AcceptorState): boolean {
  return s.accepted !== undefined && (s.committed === undefined || isNewer(s.accepted.ballot, s.committed.ballot));
}

/**
 * Whether the state may be forgotten: nothing in progress and every ballot
 * it holds older than `oldestUs` (proposers that old are refused anyway).
 */
export function forgettable(s: AcceptorState, oldestUs: number): boolean {
  if (inProgress(s)) return false;
  const newest = Math.max(s.promised?.ts ?? 0, s.accepted?.ballot.ts ?? 0, s.committed?.ballot.ts ?? 0);
  return newest < oldestUs;
}

/**
 * Two replicas' states of one key as one. A membership operation moves a
 * range's Paxos state with its values (operations/operator.ts): a node that
 * gains a range without its predecessor's recent request ids could be part
 * of a quorum that knows nothing of a committed request, and answer its
 * retry "not applied" (simulator seeds 2551, 30121). The gaining node may
 * already hold state of its own (a pending replica is an acceptor), so the
 * two are merged: the newer promise, the newer commit, the newer accepted
 * proposal while it is newer than that commit, and the recent request ids
 * of both (the newest PAXOS_RECENT_REQUESTS_MAX).
 */
export function mergeStates(a: AcceptorState, b: AcceptorState): AcceptorState {
  const committed = newerProposal(a.committed, b.committed);
  const accepted = newerProposal(a.accepted, b.accepted);
  return {
    promised: newerBallot(a.promised, b.promised),
    accepted: accepted !== undefined && isNewer(accepted.ballot, committed?.ballot) ? accepted : undefined,
    committed,
    recent: mergeRecent(a.recent, b.recent),
  };
}

function newerProposal(a: Proposal | undefined, b: Proposal | undefined): Proposal | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareBallots(a.ballot, b.ballot) >= 0 ? a : b;
}

function mergeRecent(a: readonly RecentRequest[], b: readonly RecentRequest[]): readonly RecentRequest[] {
  if (b.length === 0) return a;
  const seen = new Set(a.map((r) => r.requestId));
  const all = [...a, ...b.filter((r) => !seen.has(r.requestId))].sort((x, y) => x.ts - y.ts);
  return all.length > PAXOS_RECENT_REQUESTS_MAX ? all.slice(all.length - PAXOS_RECENT_REQUESTS_MAX) : all;
}

/** Whether two states say the same (a merge that changed nothing need not be written). */
export function sameState(a: AcceptorState, b: AcceptorState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
