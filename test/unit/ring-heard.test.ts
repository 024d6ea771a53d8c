/**
 * How much of its ring a starting node hears before it serves
 * (membership/ring-heard.ts): a table, and a brute-force check that the rule
 * meets every majority that can hold a later epoch, with the weaker rule
 * (the node counting itself) shown to fail the same check.
 */
import test from 'ava';
import { heardEnough, peersToHear } from '../../src/membership/ring-heard';

test('a majority of the other nodes of the ring, none for a ring of one', (t) => {
  const cases: [number[], number, number][] = [
    [[0], 0, 0],
    [[0, 1], 0, 1],
    [[0, 1, 2], 1, 2],
    [[0, 1, 2, 3], 2, 2],
    [[0, 1, 2, 3, 4], 4, 3],
    [[0, 1, 2, 3, 4, 5], 0, 3],
    // A node not in the ring (a replacement before its begin): a majority of the whole ring.
    [[0, 1, 2, 3], 7, 3],
  ];
  for (const [ring, self, need] of cases) t.is(peersToHear(ring, self), need, `ring ${ring}, node ${self}`);
  t.true(heardEnough([0, 1, 2, 3], 1, new Set([0, 2])));
  t.false(heardEnough([0, 1, 2, 3], 1, new Set([0])));
  t.false(heardEnough([0, 1, 2, 3], 1, new Set([0, 1, 5])), 'itself and nodes outside the ring do not count');
  t.true(heardEnough([4], 4, new Set()), 'a ring of one serves at once');
});

type Rule = (ring: readonly number[], self: number, heard: ReadonlySet<number>) => boolean;

/** The rule one node shorter: the starting node counted as one of the majority. */
const countingSelf: Rule = (ring, self, heard) => {
  const count = ring.filter((id) => id === self || heard.has(id)).length;
  return count > ring.length / 2;
};

/** The rings before and after each operation on a ring of nodes 0..n-1 (node n is a new one). */
function operations(n: number): [string, number[], number[]][] {
  const ring = Array.from({ length: n }, (_, i) => i);
  const out: [string, number[], number[]][] = [
    ['join', ring, [...ring, n]],
    ['move', ring, ring],
  ];
  // Nothing leaves a ring of one: a decommission would empty it, and a replacement has no survivor to stream from.
  if (n === 1) return out;
  for (const d of ring) {
    out.push([`decommission of ${d}`, ring, ring.filter((id) => id !== d)]);
    out.push([`replacement of ${d}`, ring, [...ring.filter((id) => id !== d), n]]);
  }
  return out;
}

function subsets(ids: readonly number[]): Set<number>[] {
  const out: Set<number>[] = [];
  for (let mask = 0; mask < 1 << ids.length; mask++) out.push(new Set(ids.filter((_, i) => (mask & (1 << i)) !== 0)));
  return out;
}

/**
 * The first case where `rule` lets a starting node serve having heard no
 * node of a majority of the ring after an operation (one that holds the
 * operation's last epoch, as its barrier left it): undefined when none.
 */
function counterexample(rule: Rule, nMax: number): string | undefined {
  for (let n = 1; n <= nMax; n++) {
    for (const [what, before, after] of operations(n)) {
      const majorities = subsets(after).filter((q) => q.size > after.length / 2);
      for (const self of before) {
        for (const heard of subsets(before.filter((id) => id !== self))) {
          if (!rule(before, self, heard)) continue;
          // The node itself holds the epoch when it was one of the majority.
          const missed = majorities.find((q) => !q.has(self) && ![...heard].some((id) => q.has(id)));
          if (missed !== undefined)
            return `ring of ${n}, ${what}: node ${self} heard ${[...heard]} and none of ${[...missed]} that hold the last epoch`;
        }
      }
    }
  }
  return undefined;
}

test('hearing a majority of the other nodes meets every majority after a join, decommission, move or replacement', (t) => {
  t.is(counterexample(heardEnough, 7), undefined);
});

test('counting the starting node itself is not enough (a replaced node in a ring of three, or of five)', (t) => {
  const found = counterexample(countingSelf, 7);
  t.truthy(found);
  t.regex(found ?? '', /replacement/);
});
