/**
 * Paxos ballots. A ballot is a hybrid-clock reading of the proposing node
 * plus the node's id: the clock makes a node's ballots increase, and the id
 * breaks ties between nodes whose clocks read the same microsecond, so no two
 * proposers ever hold the same ballot. A ballot's timestamp is also the
 * timestamp its committed value is written with (last-write-wins), so later
 * ballots commit later versions.
 */

export interface Ballot {
  /** Microseconds, from the proposer's hybrid clock. */
  readonly ts: number;
  /** The proposing node's id: the tie-break. */
  readonly node: number;
}

/** Negative when a is older than b, positive when newer, 0 when the same ballot. */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  return a.node - b.node;
}

/** The newer of two ballots, either of which may be missing. */
export function newerBallot(a: Ballot | undefined, b: Ballot | undefined): Ballot | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareBallots(a, b) >= 0 ? a : b;
}

/** True when `a` is strictly newer than `b` (anything is newer than nothing). */
export function isNewer(a: Ballot, b: Ballot | undefined): boolean {
  return b === undefined || compareBallots(a, b) > 0;
}

/** For messages and logs: `ts.node`. */
export function ballotText(b: Ballot): string {
  return `${b.ts}.${b.node}`;
}
