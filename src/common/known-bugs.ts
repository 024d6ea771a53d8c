/**
 * Bugs this store once had, or could easily have, that the deterministic
 * simulator's own tests put back on purpose to show that it catches them
 * (test/unit/sim-bugs.test.ts). Only the simulator builds nodes with these
 * set: nothing in the cluster file, the command line or the environment of
 * a real node can reach them.
 */
export interface KnownBugs {
  /** A write this node coordinates counts its own copy as acknowledged before that copy (and its mark) is durable. */
  readonly ackBeforeMark?: boolean;
  /** A read leaves out the one replica that alone answered with the newest version. */
  readonly readSkipsNewest?: boolean;
  /** A Paxos acceptor accepts a proposal under a ballot older than the one it promised since (it checks only the last commit). */
  readonly acceptIgnoresPromise?: boolean;
  /** A write goes to the key's read replicas only, not to a replica a membership operation adds (pending), and needs no more acknowledgements for it. */
  readonly writesSkipPending?: boolean;
  /** A read of a range with pending replicas asks its read replicas only (CASSANDRA-14740), as writes need not. */
  readonly readsSkipPending?: boolean;
  /** A membership stream copies a range's values but not its Paxos rows, so the gaining node knows no committed request id. */
  readonly paxosRowsStayBehind?: boolean;
  /** A removal copies each range the dead node gives up from one surviving replica, not from every one. */
  readonly removalCopiesOneSurvivor?: boolean;
}
