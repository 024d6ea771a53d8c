/**
 * Placement's properties, against brute-force and naive references.
 *
 * For any sequence of joins, leaves, moves and replacements, some of them
 * aborted after their begin or after their reads moved, at every step
 * from epoch e to e + 1, every way of acknowledging a write meets every way
 * of answering a read, at the levels that must meet: a QUORUM write and a
 * QUORUM read, ALL and ONE, ONE and ALL. All four pairings of the two epochs
 * are checked (a coordinator may be one epoch behind another), on every
 * range of both placements, against the brute-force reference. (Each step
 * checks old-to-new, new-to-old and new-to-new; old-to-old was the previous
 * step's new-to-new.) And any key's lookup finds the range a linear scan
 * finds, with the Ring's replicas.
 */
import test from 'ava';
import fc from 'fast-check';
import { LevelName, requiredReplicas, writeAcksNeeded } from '../../src/coordinator/levels';
import { isKvError } from '../../src/common/errors';
import { applyChange, bootstrapEntry, Change, Membership } from '../../src/membership/changes';
import { compareKeyStrings } from '../../src/common/bytes';
import { bootstrapPlacement, Placement } from '../../src/membership/placement';
import { Ring } from '../../src/partitioner/ring';
import { byteString } from './arbitraries';
import { fcParams } from './fc-params';
import { quorumsMiss } from './placement-check';

/** Levels whose write and read must meet. */
const MEETING: Array<[write: LevelName, read: LevelName]> = [
  ['QUORUM', 'QUORUM'],
  ['ALL', 'ONE'],
  ['ONE', 'ALL'],
];

/** Tokens from a small alphabet, so that operations collide with each other's tokens often. */
const token = fc.constantFrom(...'bcdefghijklmnopqrstuvw'.split(''));

/**
 * An operation, its node picked among the current ones by position; `abortAfter`
 * 1 aborts it after its begin, 2 after its reads moved (reads-back, then abort).
 */
type Op = (
  | { kind: 'join'; token: string }
  | { kind: 'leave'; pick: number }
  | { kind: 'move'; pick: number; token: string }
  | { kind: 'replace'; pick: number }
) & { abortAfter: 0 | 1 | 2 };

const abortAfter = fc.constantFrom<0 | 1 | 2>(0, 0, 1, 2);

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ token, abortAfter }).map((o) => ({ kind: 'join' as const, ...o })) },
  { weight: 3, arbitrary: fc.record({ pick: fc.nat(), abortAfter }).map((o) => ({ kind: 'leave' as const, ...o })) },
  { weight: 2, arbitrary: fc.record({ pick: fc.nat(), token, abortAfter }).map((o) => ({ kind: 'move' as const, ...o })) },
  { weight: 1, arbitrary: fc.record({ pick: fc.nat(), abortAfter }).map((o) => ({ kind: 'replace' as const, ...o })) },
);

/** The changes of an operation, for the membership it starts from: three, or its aborted prefix. */
function stepsOf(m: Membership, o: Op): Change[] {
  const normal = m.members.filter((n) => n.state === 'NORMAL');
  const nextId = Math.max(...m.members.map((n) => n.id)) + 1;
  const picked = normal[('pick' in o ? o.pick : 0) % normal.length]!.id;
  const node = o.kind === 'join' || o.kind === 'replace' ? nextId : picked;
  const first: Change =
    o.kind === 'join'
      ? { kind: 'join-begin', node, token: o.token }
      : o.kind === 'leave'
        ? { kind: 'leave-begin', node }
        : o.kind === 'move'
          ? { kind: 'move-begin', node, token: o.token }
          : { kind: 'replace-begin', node, replaces: picked };
  if (o.abortAfter === 1) return [first, { kind: 'abort', node }];
  if (o.abortAfter === 2) return [first, { kind: 'reads-switch', node }, { kind: 'reads-back', node }, { kind: 'abort', node }];
  return [first, { kind: 'reads-switch', node }, { kind: `${o.kind}-complete`, node }];
}

/** A write in one placement and a read in another that can miss each other, described; or undefined. */
function missBetween(w: Placement, r: Placement): string | undefined {
  const keys = [...new Set([...w.ranges, ...r.ranges].map((x) => x.end))];
  for (const key of keys) {
    const wr = w.rangeOf(key);
    const rr = r.rangeOf(key);
    for (const [wl, rl] of MEETING) {
      const need = writeAcksNeeded(wl, w.replicationFactor, wr.pending);
      const miss = quorumsMiss(wr.writes, need, rr.reads, requiredReplicas(rl, r.replicationFactor));
      if (miss)
        return `${wl} write at epoch ${w.epoch} acked by [${miss[0]}] of [${wr.writes}], ${rl} read at epoch ${r.epoch} from [${miss[1]}] of [${rr.reads}], key ${JSON.stringify(key)}`;
    }
  }
  return undefined;
}

/**
 * Where a read is placed, as Coordinator.placement places it: among the write
 * replicas, the level's count plus the pending ones (the asked replicas then
 * hold what it returned: the read repairs them); with `readsOnly`, the rule
 * before CASSANDRA-14740's: the read replicas and the level's count.
 */
function readPlaced(p: Placement, key: string, level: LevelName, readsOnly: boolean): [replicas: readonly number[], need: number] {
  const range = p.rangeOf(key);
  if (readsOnly) return [range.reads, requiredReplicas(level, p.replicationFactor)];
  return [range.writes, writeAcksNeeded(level, p.replicationFactor, range.pending)];
}

/** A read in `a` and a later read in `b` whose answer sets can miss each other (the later one goes backwards), described; or undefined. */
function readsMissBetween(a: Placement, b: Placement, readsOnly = false): string | undefined {
  const keys = [...new Set([...a.ranges, ...b.ranges].map((x) => x.end))];
  for (const key of keys) {
    for (const [first, then] of MEETING) {
      const [fr, fn] = readPlaced(a, key, first, readsOnly);
      const [tr, tn] = readPlaced(b, key, then, readsOnly);
      const miss = quorumsMiss(fr, fn, tr, tn);
      if (miss)
        return `${first} read at epoch ${a.epoch} from [${miss[0]}] of [${fr}], then ${then} read at epoch ${b.epoch} from [${miss[1]}] of [${tr}], key ${JSON.stringify(key)}`;
    }
  }
  return undefined;
}

/** Every pair of placements a step can pair (a coordinator may be one epoch behind another), checked by `miss`. */
function stepMiss(before: Placement, after: Placement, miss: (x: Placement, y: Placement) => string | undefined): string | undefined {
  for (const [x, y] of [
    [before, after],
    [after, before],
    [after, after],
  ] as const) {
    const found = miss(x, y);
    if (found) return found;
  }
  return undefined;
}

const scenario = fc.record({
  nodes: fc.integer({ min: 1, max: 6 }),
  rf: fc.integer({ min: 1, max: 5 }),
  tokens: fc.uniqueArray(token, { minLength: 6, maxLength: 6 }),
  ops: fc.array(op, { maxLength: 12 }),
});

test('every write set meets every read set, and every read set every later one, as the levels need, across every epoch step', (t) => {
  let steps = 0;
  let aborts = 0;
  const property = fc.property(scenario, ({ nodes, rf, tokens, ops }) => {
    const boot = bootstrapEntry(
      tokens.slice(0, nodes).map((tok, id) => ({ id, token: tok })),
      Math.min(rf, nodes),
    );
    let m = applyChange(undefined, boot);
    let placement = Placement.of(m);
    const self = missBetween(placement, placement) ?? readsMissBetween(placement, placement);
    if (self) throw new Error(self);
    for (const o of ops) {
      for (const change of stepsOf(m, o)) {
        let next: Membership;
        try {
          next = applyChange(m, { epoch: m.epoch + 1, change });
        } catch (err) {
          // A change the ring does not allow (token taken, too few nodes to leave): the operation is skipped whole.
          if (isKvError(err, 'InvalidRequest') && change.kind.endsWith('-begin')) break;
          throw err;
        }
        const nextPlacement = Placement.of(next);
        const miss = stepMiss(placement, nextPlacement, missBetween) ?? stepMiss(placement, nextPlacement, readsMissBetween);
        if (miss) throw new Error(miss);
        m = next;
        placement = nextPlacement;
        steps++;
        if (change.kind === 'abort') aborts++;
      }
    }
  });
  t.notThrows(() => fc.assert(property, fcParams(300)));
  t.true(steps > 300, `the runs took ${steps} epoch steps: enough changes were allowed to test anything`);
  t.true(aborts > 50, `${aborts} aborts were taken: enough to test them`);
});

test('reads of the read replicas alone (the rule before CASSANDRA-14740) miss an earlier read across a reads-switch', (t) => {
  // Four nodes, node 4 joining at 'B' between them: key 'A' goes from 0, 1, 2 to 4, 0, 1.
  const tokens = ['M', 'f', 'p', 'z'];
  const m = applyChange(
    undefined,
    bootstrapEntry(
      tokens.map((tok, id) => ({ id, token: tok })),
      3,
    ),
  );
  const begin = applyChange(m, { epoch: 2, change: { kind: 'join-begin', node: 4, token: 'B' } });
  const switched = applyChange(begin, { epoch: 3, change: { kind: 'reads-switch', node: 4 } });
  const [a, b] = [Placement.of(begin), Placement.of(switched)];
  // Read replicas 0, 1, 2 at the begin epoch and 4, 0, 1 after the switch: a QUORUM of 0 and 2, then one of 4 and 1.
  t.is(
    readsMissBetween(a, b, true),
    'QUORUM read at epoch 2 from [0,2] of [0,1,2], then QUORUM read at epoch 3 from [4,1] of [4,0,1], key "B"',
  );
  t.is(readsMissBetween(a, b), undefined);
});

test('a key finds the range (start, end] that holds it, and on a fixed ring the same replicas as the Ring', (t) => {
  const property = fc.property(
    fc.uniqueArray(byteString(1, 3), { minLength: 1, maxLength: 8, comparator: (a, b) => a === b }),
    fc.integer({ min: 1, max: 3 }),
    fc.array(byteString(0, 4), { minLength: 1, maxLength: 20 }),
    (tokens, rf, keys) => {
      const nodes = tokens.map((token, id) => ({ id, token }));
      const factor = Math.min(rf, nodes.length);
      const placement = bootstrapPlacement(nodes, factor);
      const ring = new Ring(nodes, factor);
      for (const key of keys) {
        const range = placement.rangeOf(key);
        // Naive: scan the ranges in order for the first end at or above the key; none means it wraps to the first.
        const naive = placement.ranges.find((r) => compareKeyStrings(key, r.end) <= 0) ?? placement.ranges[0]!;
        if (range !== naive) throw new Error(`key ${JSON.stringify(key)} went to the range ending ${JSON.stringify(range.end)}`);
        if (JSON.stringify(range.reads) !== JSON.stringify(ring.replicas(key)))
          throw new Error(`key ${JSON.stringify(key)}: reads ${range.reads}`);
        if (range.pending !== 0 || JSON.stringify(range.writes) !== JSON.stringify(range.reads))
          throw new Error('writes differ on a fixed ring');
      }
    },
  );
  t.notThrows(() => fc.assert(property, fcParams(2000)));
});
