/**
 * The slow request log (metrics/slow-requests.ts): what a burst of slow
 * requests makes of the node's log, and how keys are shown.
 */
import test from 'ava';
import { displayKey } from '../../src/common/bytes';
import { KEY_SHOWN_CHARS_MAX, SLOW_REQUEST_GROUPS_MAX } from '../../src/common/limits';
import { SlowRequestLog } from '../../src/metrics/slow-requests';

function log(thresholdMs = 500): { slow: SlowRequestLog; lines: string[] } {
  const lines: string[] = [];
  const slow = new SlowRequestLog({ thresholdMs, onReport: (line) => lines.push(line) });
  return { slow, lines };
}

test('an interval of slow requests is one line: grouped by op, level and key, the slowest group first', (t) => {
  const { slow, lines } = log();
  slow.note('get', 'QUORUM', Buffer.from('user:1'), 2004.4, 'TimedOut');
  slow.note('get', 'QUORUM', Buffer.from('user:1'), 612, 'ok');
  slow.note('put', 'ALL', 'cart:9', 730.6, 'ok');
  t.deepEqual(lines, [], 'told when the interval ends, not per request');
  slow.report();
  t.deepEqual(lines, [
    '3 client requests took 500 ms or more in the last 5 s (settings.slowRequestMs): ' +
      'get QUORUM "user:1" 2 times, at most 2004 ms (TimedOut); put ALL "cart:9" 731 ms',
  ]);
  t.is(slow.counters.slowRequests, 3);
  slow.report();
  t.is(lines.length, 1, 'an interval without slow requests says nothing');
  slow.close();
});

test('a burst past the groups kept is counted, so the line stays bounded', (t) => {
  const { slow, lines } = log(100);
  for (let i = 0; i < SLOW_REQUEST_GROUPS_MAX + 7; i++) slow.note('get', 'ONE', Buffer.from(`k${i}`), 100 + i, 'ok');
  slow.note('scan', 'QUORUM', undefined, 5000, 'TimedOut');
  slow.report();
  t.is(lines.length, 1);
  t.regex(lines[0]!, /^28 client requests took 100 ms or more/);
  t.true(lines[0]!.endsWith('; 8 more'), lines[0]);
  t.is(lines[0]!.split('; ').length, SLOW_REQUEST_GROUPS_MAX + 1);
  slow.close();
});

test('a threshold of 0 turns the log off: no request is slow', (t) => {
  t.is(log(0).slow.thresholdMs, Number.POSITIVE_INFINITY);
  t.is(log(250).slow.thresholdMs, 250);
});

const keys: [string, Buffer | string, string][] = [
  ['printable ASCII as it is', 'user:42', '"user:42"'],
  ['quotes, backslashes and other bytes escaped', Buffer.from([0x22, 0x5c, 0x00, 0xff, 0x41]), '"\\x22\\x5c\\x00\\xffA"'],
  ['a latin1 byte string as its bytes', '\u00c3\u00a9', '"\\xc3\\xa9"'],
  ['the empty key', Buffer.alloc(0), '""'],
];
for (const [name, key, shown] of keys) {
  test(`displayKey: ${name}`, (t) => {
    t.is(displayKey(key), shown);
  });
}

test('displayKey: a long key is cut, with its length', (t) => {
  const shown = displayKey(Buffer.alloc(1000, 0x61));
  t.is(shown, `"${'a'.repeat(KEY_SHOWN_CHARS_MAX)}"… (1000 bytes)`);
});
