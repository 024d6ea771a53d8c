import test from 'ava';
import { Histogram } from '../../src/bench/histogram';
import { cpuPerKey, cpuPerWrite, JoinTimeline, rssRows, streamingNodes, targetsMet, writeLatency } from '../../src/bench/join';
import { DEFAULTS, parseBenchArgs } from '../../src/bench/options';
import { bootstrapEntry, EpochEntry } from '../../src/membership/changes';
import type { types } from '../../src/rpc/thrift';

const progress = (state: string, keys: number, rangesDone: number, rangesTotal: number, done = false): types.OperationProgress =>
  ({ state, keys, bytes: keys * 110, rangesDone, rangesTotal, fraction: rangesTotal === 0 ? 0 : rangesDone / rangesTotal, done }) as never;

test('JoinTimeline: streaming starts when the ranges are known and ends when every one is done', (t) => {
  const tl = new JoinTimeline();
  t.is(tl.observe(100, progress('JOINING', 0, 0, 0)), null, 'still sequencing its begin epoch');
  t.is(tl.observe(200, progress('JOINING', 0, 0, 3)), null);
  t.is(tl.observe(900, progress('JOINING', 5000, 1, 3)), null);
  t.is(tl.observe(1500, progress('JOINING', 9000, 3, 3)), null, 'streamed, reads not switched yet');
  t.is(tl.observe(1600, progress('JOINING', 9000, 3, 3)), null);
  t.deepEqual(tl.observe(1900, progress('NORMAL', 9000, 3, 3, true)), {
    streamStartMs: 200,
    streamEndMs: 1500,
    normalMs: 1900,
    keys: 9000,
    bytes: 990_000,
    ranges: 3,
  });
});

test('JoinTimeline: a join first seen finished counts its stream at that poll', (t) => {
  const times = new JoinTimeline().observe(700, progress('NORMAL', 10, 3, 3, true));
  t.is(times?.streamStartMs, 700);
  t.is(times?.streamEndMs, 700);
});

const bootstrap = bootstrapEntry(
  [
    { id: 0, token: 'M' },
    { id: 1, token: 'f' },
    { id: 2, token: 'p' },
    { id: 3, token: '\u007f' },
  ],
  3,
);

test("streamingNodes: the joining node and its ranges' sources, from the join's begin epoch", (t) => {
  const log: EpochEntry[] = [
    bootstrap,
    { epoch: 2, change: { kind: 'join-begin', node: 4, token: 'k', host: '127.0.0.1', port: 1 } },
    { epoch: 3, change: { kind: 'reads-switch', node: 4 } },
    { epoch: 4, change: { kind: 'join-complete', node: 4 } },
  ];
  // See the stream plan's test: node 4 at k takes ranges from nodes 2, 3 and 0.
  t.deepEqual(streamingNodes(log, 4), [0, 2, 3, 4]);
  t.deepEqual(streamingNodes([bootstrap], 4), [4], 'a log without the join names only the node');
});

test('targetsMet: each of issue 18 targets on its own', (t) => {
  const good = { streamKeysPerSec: 50_000, keysStreamed: 1_000_001, joinMs: 60_000, writeShareDuring: 0.5 };
  t.deepEqual(targetsMet(good), { streamRate: true, overMillionKeys: true, within60s: true, writeShare: true });
  t.false(targetsMet({ ...good, streamKeysPerSec: 49_999 }).streamRate);
  t.false(targetsMet({ ...good, keysStreamed: 1_000_000 }).overMillionKeys);
  t.false(targetsMet({ ...good, joinMs: 60_001 }).within60s);
  t.false(targetsMet({ ...good, writeShareDuring: null }).writeShare);
});

test('options: join needs --spawn, preloads a million keys by default and takes --duration but not --ops', (t) => {
  const o = parseBenchArgs(['--workload', 'join', '--spawn', '--json']);
  if (o.help) return t.fail();
  t.is(o.keys, DEFAULTS.joinKeys);
  t.is(o.durationSeconds, DEFAULTS.durationSeconds);
  t.is(o.warmupSeconds, 0);
  t.true(o.json);
  t.throws(() => parseBenchArgs(['--workload', 'join']), { message: /needs --spawn/ });
  t.throws(() => parseBenchArgs(['--workload', 'join', '--spawn', '--ops', '5']), { message: /--ops and --warmup do not apply/ });
  t.throws(() => parseBenchArgs(['--workload', 'join', '--spawn', '--compare']), { message: /does not apply to --workload join/ });
});

test("cpuPerKey: the nodes' CPU and the joined node's alone, per key streamed", (t) => {
  t.deepEqual(cpuPerKey({ '0': 1000, '1': 500, '4': 1500 }, 4, 100_000), { nodes: 30, joined: 15 });
  // One node unread: no total, but the joined node's own figure stands.
  t.deepEqual(cpuPerKey({ '0': null, '4': 1500 }, 4, 100_000), { nodes: null, joined: 15 });
  t.deepEqual(cpuPerKey({ '0': 1000, '4': 1500 }, 4, 0), { nodes: null, joined: null });
});

test("rssRows: the streaming nodes, then the others as the write load's own growth", (t) => {
  const rows = rssRows({
    streamingNodes: [0, 1, 2, 4],
    rssBeforeMb: { '0': 300, '1': 301, '2': 302, '3': 303.25, '4': null },
    rssPeakMb: { '0': 310, '1': 311, '2': 312, '3': 320, '4': 250 },
  });
  t.deepEqual(rows, [
    ['RSS node 0', '300.0 MB before, at most 310.0 MB during the join'],
    ['RSS node 1', '301.0 MB before, at most 311.0 MB during the join'],
    ['RSS node 2', '302.0 MB before, at most 312.0 MB during the join'],
    ['RSS node 4', 'unknown before, at most 250.0 MB during the join'],
    ['RSS node 3, not streaming', '303.3 MB before, at most 320.0 MB during the join'],
  ]);
});

test('writeLatency: p50 and p99 of the successes a phase recorded, in ms', (t) => {
  const latency = new Histogram();
  for (let i = 0; i < 98; i++) latency.record(1);
  latency.record(20);
  latency.record(40);
  const l = writeLatency({ latency });
  // Buckets are 1% wide: the figures come back within a bucket of what was recorded.
  t.true(Math.abs(l.p50 - 1) <= 0.01, `p50 ${l.p50}`);
  t.true(Math.abs(l.p99 - 20) <= 0.2, `p99 ${l.p99}`);
  t.deepEqual(writeLatency({ latency: new Histogram() }), { p50: 0, p99: 0 }, 'a phase with no success says 0');
});

test('cpuPerWrite: the nodes other than the joined one, per write; unknown when a reading is', (t) => {
  t.is(cpuPerWrite({ '0': 100, '1': 200, '4': 900 }, 4, 1000), 300, '300 ms over 1,000 writes, node 4 left out');
  t.is(cpuPerWrite({ '0': 100, '1': null }, 4, 1000), null);
  t.is(cpuPerWrite({ '0': 100 }, 4, 0), null, 'no writes');
});
