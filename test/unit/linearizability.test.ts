/**
 * The single-register linearizability checker: tables of histories, known
 * linearizable and known not, and a property test against a brute-force
 * reference that tries every order of every subset of unknown operations.
 */
import test from 'ava';
import fc from 'fast-check';
import { checkRegister, RegisterOp, RegisterValue, step, TimedOp } from '../../src/chaos/linearizability';
import { LINEARIZABILITY_OPS_MAX } from '../../src/common/limits';
import { fcParams, fcSeed, seedNote } from './fc-params';

const INF = Number.POSITIVE_INFINITY;
let nextId = 0;
const at = (start: number, end: number, op: RegisterOp): TimedOp => ({ op, start, end, id: nextId++ });
const read = (value: RegisterValue): RegisterOp => ({ kind: 'read', value });
const cas = (expected: RegisterValue, value: string, applied = true, current: RegisterValue = applied ? value : null): RegisterOp => ({
  kind: 'cas',
  expected,
  value,
  applied,
  current,
});
const unknown = (expected: RegisterValue, value: string): RegisterOp => ({ kind: 'cas-unknown', expected, value });

const table: { name: string; ops: TimedOp[]; linearizable: boolean }[] = [
  { name: 'empty history', ops: [], linearizable: true },
  { name: 'one cas then a read of it', ops: [at(0, 1, cas(null, '1')), at(2, 3, read('1'))], linearizable: true },
  {
    name: 'a read after an applied cas that misses it (stale)',
    ops: [at(0, 1, cas(null, '1')), at(2, 3, read(null))],
    linearizable: false,
  },
  {
    name: 'reads during a cas see the old value, then the new',
    ops: [at(0, 10, cas(null, '1')), at(1, 2, read(null)), at(3, 4, read('1'))],
    linearizable: true,
  },
  {
    name: 'reads during a cas see the new value, then the old (backwards)',
    ops: [at(0, 10, cas(null, '1')), at(1, 2, read('1')), at(3, 4, read(null))],
    linearizable: false,
  },
  {
    name: 'two applied increments from the same value',
    ops: [at(0, 5, cas(null, '1')), at(1, 6, cas(null, '1'))],
    linearizable: false,
  },
  {
    name: 'two concurrent applied cas that chain',
    ops: [at(0, 10, cas(null, '1')), at(0, 10, cas('1', '2')), at(11, 12, read('2'))],
    linearizable: true,
  },
  {
    name: 'a cas not applied that reports the value it found',
    ops: [at(0, 1, cas(null, 'a')), at(2, 3, cas('x', 'y', false, 'a'))],
    linearizable: true,
  },
  {
    name: 'a cas not applied although its expected value was there',
    ops: [at(0, 1, cas(null, 'a')), at(2, 3, cas('a', 'y', false, 'a'))],
    linearizable: false,
  },
  {
    name: 'a cas not applied reporting a value nobody wrote',
    ops: [at(0, 1, cas(null, 'a')), at(2, 3, cas('x', 'y', false, 'z'))],
    linearizable: false,
  },
  {
    name: 'real time: a read after two sequential cas returns the first value',
    ops: [at(0, 1, cas(null, 'a')), at(2, 3, cas('a', 'b')), at(4, 5, read('a'))],
    linearizable: false,
  },
  {
    name: 'an unknown cas that took effect much later',
    ops: [at(0, INF, unknown(null, '1')), at(1, 2, read(null)), at(100, 101, read('1'))],
    linearizable: true,
  },
  { name: 'an unknown cas that never took effect', ops: [at(0, INF, unknown(null, '1')), at(5, 6, read(null))], linearizable: true },
  {
    name: 'an unknown cas seen, then unseen',
    ops: [at(0, INF, unknown(null, '1')), at(5, 6, read('1')), at(7, 8, read(null))],
    linearizable: false,
  },
  {
    name: 'a value that appears from nowhere',
    ops: [at(0, 1, cas(null, 'a')), at(2, 3, read('b'))],
    linearizable: false,
  },
];

for (const row of table) {
  test(`checker: ${row.name}`, (t) => {
    const verdict = checkRegister(row.ops);
    t.is(verdict.result, row.linearizable ? 'linearizable' : 'not-linearizable', JSON.stringify(verdict));
  });
}

test('checker: a verdict names where the search got stuck', (t) => {
  const ops = [at(0, 1, cas(null, 'a')), at(2, 3, cas('a', 'b')), at(4, 5, read('a'))];
  const verdict = checkRegister(ops);
  t.deepEqual(verdict, { result: 'not-linearizable', placed: 2, stuckAt: [ops[2]!.id] });
});

test('checker: too long a history is "unknown", not a verdict', (t) => {
  const ops = Array.from({ length: LINEARIZABILITY_OPS_MAX + 1 }, (_, i) => at(i, i + 0.5, read(null)));
  t.is(checkRegister(ops).result, 'unknown');
});

test('checker: a long counter history (deeper than a call stack would go) gets a verdict', (t) => {
  const ops: TimedOp[] = [];
  for (let i = 0; i < 12_000; i++) ops.push(at(i * 2, i * 2 + 1.5, cas(i === 0 ? null : String(i), String(i + 1))));
  for (let i = 0; i < 2_000; i++) ops.push(at(i * 10 + 0.2, i * 10 + 3, read(String(i * 5 + 1))));
  t.is(checkRegister(ops).result, 'linearizable');
  ops.push(at(24_001, 24_002, read('5')));
  t.is(checkRegister(ops).result, 'not-linearizable');
});

test('checker: many unknown increments from the same values (a node killed under a cas load) still get a verdict', (t) => {
  // Six unknown-outcome increments from each of 25 counts, all in flight from the start: the counter may be anywhere from 0 to 25.
  const ops: TimedOp[] = [];
  for (let k = 0; k < 25; k++) for (let j = 0; j < 6; j++) ops.push(at(0, 1, unknown(k === 0 ? null : String(k), String(k + 1))));
  ops.push(at(100, 101, read('25')));
  t.is(checkRegister(ops).result, 'linearizable');
  // No count the increments reach: the whole search, every order of every subset, must be ruled out.
  ops.push(at(102, 103, read('26')));
  t.is(checkRegister(ops).result, 'not-linearizable');
});

/** The reference: every subset of unknown ops, every order consistent with real time. */
function bruteForce(ops: readonly TimedOp[]): boolean {
  const unknowns = ops.filter((o) => o.op.kind === 'cas-unknown');
  const known = ops.filter((o) => o.op.kind !== 'cas-unknown');
  for (let mask = 0; mask < 1 << unknowns.length; mask++) {
    const chosen = [...known, ...unknowns.filter((_, i) => mask & (1 << i))];
    if (someOrder(chosen, [], null)) return true;
  }
  return false;
}

function someOrder(left: readonly TimedOp[], done: readonly TimedOp[], state: RegisterValue): boolean {
  if (left.length === 0) return true;
  return left.some((o, i) => {
    const end = (x: TimedOp) => (x.op.kind === 'cas-unknown' ? INF : x.end);
    if (left.some((p) => p !== o && end(p) < o.start)) return false;
    const after = step(state, o.op);
    if (after === undefined) return false;
    return someOrder([...left.slice(0, i), ...left.slice(i + 1)], [...done, o], after);
  });
}

const value = fc.constantFrom<RegisterValue>(null, '1', '2');
const str = fc.constantFrom('1', '2');
const opArb: fc.Arbitrary<RegisterOp> = fc.oneof(
  value.map(read),
  fc.tuple(value, str, fc.boolean(), value).map(([e, v, applied, c]) => cas(e, v, applied, applied ? v : c)),
  fc.tuple(value, str).map(([e, v]) => unknown(e, v)),
);
const historyArb = fc.array(
  fc
    .tuple(opArb, fc.integer({ min: 0, max: 10 }), fc.integer({ min: 1, max: 6 }))
    .map(([op, start, len]) => ({ op, start, end: start + len })),
  { maxLength: 6 },
);

test('checker: agrees with a brute-force search on small random histories', (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(historyArb, (ops) => {
        const withIds = ops.map((o, id) => ({ ...o, id }));
        const fast = checkRegister(withIds).result === 'linearizable';
        return fast === bruteForce(withIds);
      }),
      fcParams(500),
    ),
  );
});

test('checker: the random histories hold both verdicts, so the comparison means something', (t) => {
  const sample = fc.sample(historyArb, { numRuns: 400, seed: fcSeed }).map((ops) => ops.map((o, id) => ({ ...o, id })));
  const yes = sample.filter((ops) => bruteForce(ops)).length;
  t.true(yes > 40 && sample.length - yes > 40, `${yes} of ${sample.length} linearizable; ${seedNote}`);
});
