import test from 'ava';
import {
  benchResult,
  compareResult,
  formatCompare,
  formatRepair,
  formatRestart,
  formatResult,
  Measured,
  RepairBenchResult,
  RunConfig,
} from '../../src/bench/report';
import { parseVmRssKb } from '../../src/common/procfs';
import { RssPeak } from '../../src/bench/restart';
import { Histogram } from '../../src/bench/histogram';
import { RunResult } from '../../src/bench/runner';

const config: RunConfig = {
  concurrency: 4,
  connections: 1,
  keys: 50,
  valueSize: 100,
  distribution: 'uniform',
  rate: null,
  nodes: 4,
  warmupSeconds: 2,
  routing: 'token',
};

const measured: Measured = {
  cpu: { nodeMicrosPerOp: 40, nodeMainThreadMicrosPerOp: 25.5, clientMicrosPerOp: 8, nodesRead: 4, nodes: 4, coresBusy: null },
  internode: { 0: { replicateCalls: 1000, replicateItems: 3100, readLocalCalls: 0, readLocalItems: 0 }, 1: null },
};

function run(successes: number, errors: Record<string, number>, seconds: number): RunResult {
  const latency = new Histogram();
  for (let i = 1; i <= successes; i++) latency.record(i / 10);
  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  return { ops: successes + failed, successes, errors, latency, seconds, aborted: false, timeline: [] };
}

test('benchResult has the documented JSON fields', (t) => {
  const r = benchResult('write', 'QUORUM', run(200, { TimedOut: 2 }, 2), 9, config, measured);
  t.deepEqual(Object.keys(r).slice(0, 7), ['workload', 'level', 'opsPerSec', 'latencyMs', 'errors', 'ops', 'seconds']);
  t.deepEqual(Object.keys(r.latencyMs), ['mean', 'p50', 'p95', 'p99', 'p999', 'max']);
  t.is(r.opsPerSec, 100, 'successful ops per second');
  t.is(r.ops, 202);
  t.deepEqual(r.errors, { TimedOut: 2 });
  t.is(r.latencyMs.max, 20);
  t.is(r.seed, 9);
});

test('the text block names every figure, like cassandra-stress', (t) => {
  const text = formatResult(benchResult('read', 'ONE', run(1000, { Unavailable: 3 }, 1), 5, config, measured));
  for (const label of [
    'Op rate',
    'Latency mean',
    'Latency median',
    'Latency 95th percentile',
    'Latency 99th percentile',
    'Latency 99.9th percentile',
    'Latency max',
    'Total errors',
    'Unavailable',
    'Total operation time',
    'Seed',
  ]) {
    t.true(text.includes(label), label);
  }
  t.regex(text, /Op rate\s+: 1,000 op\/s/);
  t.false(text.includes('Reads sent twice'), 'not counted: not shown');
});

test("the client's speculative reads are shown when it speculates, with its setting", (t) => {
  const counted = { ...measured, speculativeReads: 12 };
  const text = formatResult(benchResult('read', 'QUORUM', run(1000, {}, 1), 5, { ...config, speculativeRetry: '99p' }, counted));
  t.regex(text, /Reads sent twice\s+: 12 \(the client's speculativeRetry 99p\)/);
  const off = formatResult(benchResult('read', 'QUORUM', run(1000, {}, 1), 5, { ...config, speculativeRetry: 'NONE' }, counted));
  t.false(off.includes('Reads sent twice'), 'a client that never speculates shows no count');
  t.is(benchResult('read', 'QUORUM', run(10, {}, 1), 5, config, counted).speculativeReads, 12, 'and the JSON has it');
});

test('compare: ratio of op rates, workload over echo', (t) => {
  const echo = benchResult('echo', null, run(400, {}, 1), 1, config, measured);
  const write = benchResult('write', 'QUORUM', run(100, {}, 1), 1, config, measured);
  const c = compareResult(echo, write);
  t.deepEqual(Object.keys(c), ['echo', 'workload', 'ratio', 'cpuRatio']);
  t.is(c.ratio, 0.25);
  t.regex(formatCompare(c), /Ratio write\/echo\s+: 0\.250/);
  t.is(compareResult(benchResult('echo', null, run(0, {}, 1), 1, config, measured), write).ratio, null);
});

test('restart report lists RSS per node and the restart time', (t) => {
  const base = benchResult('restart', 'QUORUM', run(10, {}, 1), 1, config, measured);
  const restart = {
    ...base,
    restartedNode: 2,
    rewritten: 0,
    superseded_per_node: null,
    restart_ms: 812,
    rss_mb: { 0: 101.5, 1: null },
    keys_per_node: { 0: 750000, 1: null },
    settle_seconds: 0,
    rss_settled_mb: null,
    rss_after_restart_mb: null,
    rss_peak_after_restart_mb: null,
    rss_restarted_settled_mb: null,
    hints: 75000,
    hint_replay_ms: 1500,
    hints_per_sec: 50000,
  };
  const text = formatRestart(restart);
  t.regex(text, /RSS node 0\s+: 101\.5 MB, holding 750,000 keys/);
  t.regex(text, /RSS node 1\s+: unknown/);
  t.regex(text, /Restart time\s+: 812 ms \(node 2/);
  t.regex(text, /Hint replay\s+: 75,000 hints in 1,500 ms = 50,000 hints\/s/);
  t.notRegex(text, /idle|restarted/);

  const settled = formatRestart({
    ...restart,
    settle_seconds: 20,
    rss_settled_mb: { 0: 88.25, 1: null },
    rss_after_restart_mb: 95,
    rss_peak_after_restart_mb: 97.5,
    rss_restarted_settled_mb: 90,
  });
  t.regex(settled, /RSS node 0\s+: 101\.5 MB after load, 88\.3 MB after 20 s idle, holding 750,000 keys/);
  t.regex(settled, /RSS node 1\s+: unknown after load, unknown after 20 s idle/);
  t.regex(
    settled,
    /RSS node 2 restarted\s+: 95\.0 MB once its hints were replayed, 90\.0 MB 20 s later; at most 97\.5 MB from its start on/,
  );
  const unsettled = formatRestart({ ...restart, rss_after_restart_mb: 95, rss_peak_after_restart_mb: 95 });
  t.regex(unsettled, /RSS node 2 restarted\s+: 95\.0 MB once its hints were replayed; at most 95\.0 MB from its start on/);

  const rewritten = formatRestart({ ...restart, rewritten: 500000, superseded_per_node: { 0: 374321, 1: null } });
  t.regex(rewritten, /RSS node 0\s+: 101\.5 MB, holding 750,000 keys and 374,321 superseded rows/);
  t.regex(rewritten, /RSS node 1\s+: unknown\n/);
});

test('VmRSS is read from /proc status text', (t) => {
  t.is(parseVmRssKb('Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t  123456 kB\nThreads: 7\n'), 123456);
  t.is(parseVmRssKb('Name:\tkthreadd\n'), undefined);
});

test('RssPeak keeps the highest reading of a process, and nothing for one not spawned yet', (t) => {
  const self = new RssPeak(() => process.pid);
  const now = self.sample();
  t.true(now !== null && now > 0);
  const peak = self.stop();
  t.true(peak !== null && peak >= now!);
  let pid: number | undefined;
  const later = new RssPeak(() => pid);
  t.is(later.sample(), null);
  pid = process.pid;
  t.true(later.stop()! > 0);
});

function repairResult(over: Partial<RepairBenchResult>): RepairBenchResult {
  return {
    workload: 'repair',
    seed: 1,
    nodes: 4,
    valueSize: 100,
    concurrency: 256,
    keysPreloaded: 0,
    preloadSeconds: 0,
    downNode: 0,
    downWrites: 100_000,
    downWriteErrors: {},
    downWritesPerSec: 6000,
    divergentKeysBefore: 75_000,
    staleCopiesBefore: 75_000,
    rangesDisagreeingBefore: 3,
    agreedAfterMs: 5677,
    repairMs: 5672,
    rangesCompared: 24,
    rangesSkipped: 0,
    segmentsDiffered: 62_356,
    keysDiffered: 75_000,
    keysSent: 0,
    keysFetched: 75_000,
    bytesSent: 0,
    bytesFetched: 8_250_000,
    compareBytes: 5_916_532,
    repairSaysAgreed: true,
    perNode: [{ id: 0, elapsedMs: 5600, keysSent: 0, keysFetched: 75_000 }],
    rangesDisagreeingAfter: 0,
    divergentKeysAfter: 0,
    overstreaming: 1,
    loadAverage: { start: 11.15, end: 10.98 },
    coresBusy: null,
    agreed: true,
    ...over,
  };
}

test('formatRepair: when the replicas agree, and figures of the repair', (t) => {
  const text = formatRepair(repairResult({}));
  t.regex(text, /Replicas agree\s+: 5,677 ms after the repair started/);
  t.regex(text, /Before the repair\s+: 3 ranges' roots differed; dumps: 75,000 keys and 75,000 copies differed/);
  t.regex(text, /Overstreaming\s+: 1\.000/);
  t.regex(text, /Verdict\s+: the replicas agree/);
  t.regex(text, /Load average\s+: 11\.15 at the start, 10\.98 at the end/);
});

test('formatRepair: replicas that still differ are said so, whatever the repair claims', (t) => {
  const text = formatRepair(repairResult({ agreedAfterMs: null, rangesDisagreeingAfter: 1, divergentKeysAfter: 12, agreed: false }));
  t.regex(text, /Replicas agree\s+: never/);
  t.regex(text, /After the repair\s+: 1 ranges' roots differ; dumps: 12 keys differ; the repair says agreed/);
  t.regex(text, /Verdict\s+: the replicas DO NOT agree/);
  const inSync = formatRepair(repairResult({ downNode: null, divergentKeysBefore: null, staleCopiesBefore: null, overstreaming: null }));
  t.regex(inSync, /Node down\s+: none/);
  t.regex(inSync, /dumps not read/);
});
