import test from 'ava';
import { WARNING_INTERVAL_MS } from '../../src/common/limits';
import { ThrottledWarning } from '../../src/common/warnings';

function setup(intervalMs?: number) {
  const told: string[] = [];
  const clock = { ms: 5_000 };
  const warning = new ThrottledWarning('the thing', 'it waits', {
    onWarning: (m) => told.push(m),
    warningIntervalMs: intervalMs,
    nowMs: () => clock.ms,
  });
  return { told, clock, warning };
}

test('the first failure is told at once; later ones once an interval has passed, with how many since', (t) => {
  const { told, clock, warning } = setup();
  warning.failed(new Error('one'));
  t.deepEqual(told, ['the thing failed once since start (last error: one); it waits']);
  clock.ms += WARNING_INTERVAL_MS - 1;
  warning.failed(new Error('two'));
  warning.failed('three');
  t.is(told.length, 1);
  clock.ms += 1;
  warning.failed(new Error('four'));
  t.deepEqual(told.slice(1), ['the thing failed 3 times since the last warning (last error: four); it waits']);
  clock.ms += WARNING_INTERVAL_MS;
  warning.failed(new Error('five'));
  t.deepEqual(told.slice(2), ['the thing failed once since the last warning (last error: five); it waits']);
});

test('the interval can be set', (t) => {
  const { told, clock, warning } = setup(10);
  warning.failed(new Error('a'));
  clock.ms += 9;
  warning.failed(new Error('b'));
  t.is(told.length, 1);
  clock.ms += 1;
  warning.failed(new Error('c'));
  t.is(told.length, 2);
});
