/**
 * How much of its ring a starting node hears before it serves
 * (membership/ring-heard.ts): a table, and a brute-force check against a
 * model of what operations leave in the nodes' logs. Each operation is three
 * epochs (begin, reads-switch, complete) with the rings the reducer gives
 * them, its own node holds every one of them, and each epoch's barrier left
 * it with a majority of that epoch's ring; beyond that a node may hold any
 * prefix of the log. A node that starts behind hears the nodes in any order
 * (each gives it its log) and stops once the rule says it heard enough of
 * the ring of the newest epoch it holds: it must then hold the last one.
 * Weaker rules are shown to fail the same check.
 */
import test from 'ava';
import { heardEnough, peersToHear } from '../../src/membership/ring-heard';

test('a majority of the ring, the node itself counted when it is a member', (t) => {
  const cases: [number[], number, number][] = [
    [[0], 0, 0],
    [[0, 1], 0, 1],
    [[0, 1, 2], 1, 1],
    [[0, 1, 2, 3], 2, 2],
    [[0, 1, 2, 3, 4], 4, 2],
    // A node not in the ring (a replacement before its begin): a majority of the whole ring.
    [[0, 1, 2, 3], 7, 3],
  ];
  for (const [ring, self, need] of cases) t.is(peersToHear(ring, self), need, `ring ${ring}, node ${self}`);
  t.true(heardEnough([0, 1, 2, 3], 1, new Set([0, 2])));
  t.false(heardEnough([0, 1, 2, 3], 1, new Set([0])));
  t.false(heardEnough([0, 1, 2, 3], 7, new Set([0, 1, 5])), 'nodes outside the ring do not count');
  t.true(heardEnough([4], 4, new Set()), 'a ring of one serves at once');
});

type Rule = (ring: readonly number[], self: number, heard: ReadonlySet<number>) => boolean;

/** A history of operations: the ring of each epoch (0: the one before them) and the node that ran it. */
interface History {
  readonly what: string;
  readonly rings: readonly (readonly number[])[];
  readonly operators: readonly number[];
}

/** Each operation on `ring` as its three epochs: [what, node running it, ring while it runs, ring after]. */
function operationsOn(ring: readonly number[], fresh: number): [string, number, number[], number[]][] {
  const out: [string, number, number[], number[]][] = [[`join of ${fresh}`, fresh, [...ring, fresh], [...ring, fresh]]];
  for (const d of ring) {
    out.push([`move of ${d}`, d, [...ring], [...ring]]);
    // Nothing leaves a ring of one: a decommission would empty it, and a replacement has no survivor to stream from.
    if (ring.length === 1) continue;
    out.push([`decommission of ${d}`, d, [...ring], ring.filter((id) => id !== d)]);
    out.push([`replacement of ${d} by ${fresh}`, fresh, [...ring, fresh], [...ring.filter((id) => id !== d), fresh]]);
  }
  return out;
}

/** Every history of `count` operations from a ring of nodes 0..n-1 (new nodes take the next ids). */
function histories(n: number, count: number): History[] {
  let out: History[] = [{ what: '', rings: [Array.from({ length: n }, (_, i) => i)], operators: [] }];
  for (let k = 0; k < count; k++) {
    out = out.flatMap((h) =>
      operationsOn(h.rings[h.rings.length - 1]!, n + k).map(([what, node, during, after]) => ({
        what: h.what === '' ? what : `${h.what}, then ${what}`,
        rings: [...h.rings, during, during, after],
        operators: [...h.operators, node, node, node],
      })),
    );
  }
  return out;
}

/** Every way the nodes can hold prefixes of the log that the barriers allow: held[id] is the last epoch node id holds. */
function* holdings(h: History, nodes: number): Generator<number[]> {
  const last = h.rings.length - 1;
  const held = new Array<number>(nodes).fill(0);
  for (;;) {
    const allowed =
      h.operators.every((op, i) => held[op]! >= i + 1) &&
      h.rings.every((ring, e) => e === 0 || 2 * ring.filter((id) => held[id]! >= e).length > ring.length);
    if (allowed) yield held;
    let i = 0;
    while (i < nodes && held[i] === last) held[i++] = 0;
    if (i === nodes) return;
    held[i]!++;
  }
}

/**
 * Whether node `self`, holding `held[self]`, can stop before it holds the
 * last epoch, whatever order it hears the nodes in: the order, or undefined.
 * `judge` gives the ring the rule is applied to, from the epoch held so far.
 */
function stopsShort(
  h: History,
  held: readonly number[],
  self: number,
  rule: Rule,
  judge: (epoch: number) => readonly number[],
): string | undefined {
  const last = h.rings.length - 1;
  const seen = new Set<number>();
  const walk = (heard: Set<number>, mask: number, epoch: number): string | undefined => {
    if (seen.has(mask * 64 + epoch)) return undefined;
    seen.add(mask * 64 + epoch);
    if (rule(judge(epoch), self, heard))
      return epoch < last ? `stopped at epoch ${epoch} of ${last}, having heard ${[...heard]}` : undefined;
    for (let id = 0; id < held.length; id++) {
      if (id === self || heard.has(id)) continue;
      const found = walk(new Set([...heard, id]), mask | (1 << id), Math.max(epoch, held[id]!));
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(new Set(), 0, held[self]!);
}

/** The first history, holding and starting node where `rule` stops short; undefined when none. */
function counterexample(rule: Rule, firstRingOnly: boolean, sizes: readonly [number, number][]): string | undefined {
  for (const [nMax, count] of sizes) {
    for (let n = 1; n <= nMax; n++) {
      for (const h of histories(n, count)) {
        for (const held of holdings(h, n + count)) {
          for (const self of h.rings[0]!) {
            if (held[self] === h.rings.length - 1) continue;
            const judge = firstRingOnly ? () => h.rings[held[self]!]! : (e: number) => h.rings[e]!;
            const found = stopsShort(h, held, self, rule, judge);
            if (found !== undefined) return `ring of ${n}, ${h.what}: node ${self}, the nodes holding epochs ${held}, ${found}`;
          }
        }
      }
    }
  }
  return undefined;
}

/** One operation on rings of up to six nodes, two on rings of up to three. */
const SIZES: [number, number][] = [
  [6, 1],
  [3, 2],
];

test('a majority of the newest ring heard so far, judged again as epochs come, always ends holding the last epoch', (t) => {
  t.is(counterexample(heardEnough, false, SIZES), undefined);
});

test('judged by the ring the node started with only, the same majority can stop short', (t) => {
  t.regex(counterexample(heardEnough, true, SIZES) ?? '', /replacement/);
});

test('hearing any one other node can stop short', (t) => {
  const anyOne: Rule = (ring, self, heard) => ring.every((id) => id === self) || ring.some((id) => id !== self && heard.has(id));
  t.truthy(counterexample(anyOne, false, SIZES));
});
