/**
 * The naive reference for placement properties: every way a write can be
 * acknowledged and every way a read can be answered, tried one against the
 * other. Not a test file.
 */

/** Every subset of `items` with `size` members, in lexicographic order of positions. */
export function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (size > items.length) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, size - 1).map((s) => [first!, ...s]), ...subsets(rest, size)];
}

/**
 * A pair (write acknowledgements, read answers) that share no replica, or
 * undefined when every `writeNeed` replicas of `writes` meet every
 * `readNeed` replicas of `reads`. A write that needs more replicas than it
 * has is a miss too (it could never succeed): returned as [writes, []].
 */
export function quorumsMiss(
  writes: readonly number[],
  writeNeed: number,
  reads: readonly number[],
  readNeed: number,
): [number[], number[]] | undefined {
  if (writeNeed > writes.length || readNeed > reads.length) return [[...writes], []];
  const readSets = subsets(reads, readNeed);
  for (const acks of subsets(writes, writeNeed)) {
    const miss = readSets.find((r) => !r.some((id) => acks.includes(id)));
    if (miss !== undefined) return [acks, miss];
  }
  return undefined;
}
