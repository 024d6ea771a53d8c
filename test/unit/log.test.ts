import test from 'ava';
import { formatLogLine } from '../../src/node/log';

const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));

test('text lines: time, node, a level only when it is not info, then the message', (t) => {
  t.is(formatLogLine('text', 2, 'node 1 is up', 'info', at), '2026-01-02T03:04:05.006Z [node 2] node 1 is up');
  t.is(formatLogLine('text', 2, 'node 1 is down (silent)', 'warn', at), '2026-01-02T03:04:05.006Z [node 2] WARN node 1 is down (silent)');
});

test('json lines: one object with time, level, node and event, quotes and newlines escaped', (t) => {
  const line = formatLogLine('json', 0, 'tombstonePurge failed: "disk"\nfull', 'warn', at);
  t.false(line.includes('\n'), 'one line');
  t.deepEqual(JSON.parse(line), { time: '2026-01-02T03:04:05.006Z', level: 'warn', node: 0, event: 'tombstonePurge failed: "disk"\nfull' });
});
