/** The chaos checker's checks of a cas workload's records (pure). */
import test from 'ava';
import { checkCas } from '../../src/chaos/cas-check';
import type { RegisterRecord } from '../../src/chaos/cas-workload';
import type { Outcome } from '../../src/chaos/history';

let id = 0;
function cas(
  start: number,
  end: number,
  expected: string | null,
  value: string,
  applied: boolean | Outcome,
  current?: string | null,
): RegisterRecord {
  const outcome: Outcome = typeof applied === 'boolean' ? 'ok' : applied;
  return {
    id: id++,
    process: 'i0',
    node: 0,
    key: 'c',
    kind: 'cas',
    start,
    end,
    outcome,
    expected,
    value,
    ...(typeof applied === 'boolean' ? { applied, current: current === undefined ? (applied ? value : null) : current } : {}),
  };
}
function read(start: number, end: number, current: string | null, final = false): RegisterRecord {
  return { id: id++, process: 's0', node: 0, key: 'c', kind: 'read', start, end, outcome: 'ok', current, final };
}

test('a clean history of increments, with a lost reply, checks clean', (t) => {
  const r = checkCas([
    cas(0, 1, null, '1', true),
    cas(2, 3, null, '1', false, '1'),
    cas(4, 5, '1', '2', 'TimedOut'),
    read(6, 7, '2'),
    cas(8, 9, '2', '3', true),
    read(20, 21, '3', true),
  ]);
  t.true(r.ok, r.violations.join('\n'));
  t.like(r.counts, { casOps: 4, casApplied: 2, casNotApplied: 1, casUnknown: 1, serialReads: 2 });
});

test('two applied increments from one value: double_applied, and not linearizable', (t) => {
  const r = checkCas([cas(0, 5, null, '1', true), cas(1, 6, null, '1', true), read(10, 11, '1', true)]);
  t.false(r.ok);
  t.like(r.counts, { doubleApplied: 1, notLinearizable: 1 });
  t.regex(r.violations.join('\n'), /double_applied c: two applied cas from -/);
});

test('a final count below the applied increments: lost_increment', (t) => {
  const r = checkCas([cas(0, 1, null, '1', true), cas(2, 3, '1', '2', true), read(10, 11, '1', true)]);
  t.like(r.counts, { lostIncrement: 1 });
  t.false(r.ok);
});

test('a final count above applied plus unknown: extra_increment', (t) => {
  const r = checkCas([cas(0, 1, null, '1', true), read(10, 11, '3', true)]);
  t.like(r.counts, { extraIncrement: 1 });
});

test('an Unavailable cas wrote nothing and is left out', (t) => {
  const r = checkCas([cas(0, 1, null, '1', 'Unavailable'), read(2, 3, null, true)]);
  t.true(r.ok, r.violations.join('\n'));
});
