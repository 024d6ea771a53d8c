/**
 * How much of its ring a node that starts must hear before it answers
 * clients. Pure.
 *
 * Each step of an operation ends with a barrier that leaves the step's epoch
 * with a majority of the ring of that epoch (operations/operator.ts), and
 * while a node joins, leaves or is replaced, the ring of the begin and
 * reads-switch epochs holds both the old nodes and the new one. A node that
 * was down holds an older epoch; it is enough that it hears a majority of
 * the ring of the newest epoch it holds *so far*, itself counted when it is
 * a member, and judges again each time what it heard gives it a newer epoch
 * (a ring of more nodes, or other ones). test/unit/ring-heard.test.ts checks
 * that by brute force over every way one or two operations can leave the
 * nodes' logs, and that judging by the first ring alone, or hearing any
 * one node, is not enough.
 */

/** How many of the ring's nodes other than `self` make a majority of it with `self` (counted when it is one). */
export function peersToHear(ring: readonly number[], self: number): number {
  const majority = Math.floor(ring.length / 2) + 1;
  return Math.max(0, majority - (ring.includes(self) ? 1 : 0));
}

/** Whether the nodes `heard` (their logs, or hellos at no newer epoch) and `self` are a majority of `ring`. */
export function heardEnough(ring: readonly number[], self: number, heard: ReadonlySet<number>): boolean {
  let count = 0;
  for (const id of ring) if (id === self || heard.has(id)) count++;
  return count > ring.length / 2;
}
