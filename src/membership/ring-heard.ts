/**
 * How much of its ring a node that starts must hear before it answers
 * clients. Pure.
 *
 * A step's epoch is known, once the operator's barrier passed, to a majority
 * of the ring of that epoch (operations/operator.ts). A node that was down
 * holds an older epoch and an older ring; what it must hear is enough of its
 * own ring that every such majority of the next ring meets it. A majority of
 * the ring's *other* nodes does that for a join, a decommission, a move and
 * a replacement, whichever node they are about and whichever node starts
 * (test/unit/ring-heard.test.ts checks it by brute force). Counting the
 * starting node itself as one of the majority would be one fewer to wait
 * for, and is not enough: a replaced node never held the epoch that made it
 * LEFT, and with an odd number of nodes the survivors that hold it can all
 * be among the ones it did not hear.
 */

/** How many of the ring's nodes other than `self` must have given their logs. */
export function peersToHear(ring: readonly number[], self: number): number {
  const others = ring.filter((id) => id !== self).length;
  return others === 0 ? 0 : Math.floor(others / 2) + 1;
}

/** Whether the nodes `heard` (logs received, or hellos at no newer epoch) are enough for `self` to serve. */
export function heardEnough(ring: readonly number[], self: number, heard: ReadonlySet<number>): boolean {
  let count = 0;
  for (const id of ring) if (id !== self && heard.has(id)) count++;
  return count >= peersToHear(ring, self);
}
