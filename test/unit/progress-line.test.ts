/**
 * The operator's progress line: keys, bytes, rate, the streams' pace while
 * the node reports one (an older node does not), ranges and ETA.
 */
import test from 'ava';
import { progressLine } from '../../src/client/operations';
import { types } from '../../src/rpc/thrift';

const base = {
  state: 'JOINING',
  keys: 40_000 as never,
  bytes: 4_400_000 as never,
  rangesDone: 1,
  rangesTotal: 3,
  fraction: 0.25,
  done: false,
};

const table: { progress: types.OperationProgress; line: string; why: string }[] = [
  {
    progress: new types.OperationProgress(base),
    line: 'join: JOINING, 40000 keys, 4.2 MiB, 20000 keys/s, ranges 1/3, ETA 6 s',
    why: 'a node that reports no pace (an older build, or before its first page)',
  },
  {
    progress: new types.OperationProgress({ ...base, paceBytesPerSecond: (2304 * 1024) as never }),
    line: 'join: JOINING, 40000 keys, 4.2 MiB, 20000 keys/s, paced at 2.3 MiB/s, ranges 1/3, ETA 6 s',
    why: 'a stream paced for a loaded node',
  },
];

for (const row of table) {
  test(`progressLine: ${row.why}`, (t) => {
    t.is(progressLine('join', { progress: row.progress, elapsedMs: 2000 }), row.line);
  });
}
