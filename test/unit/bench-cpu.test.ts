/**
 * CPU per operation: the /proc readers it rests on, the arithmetic between
 * two readings, and how the report shows it.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CpuReading, cpuPerOp, cpuRatio, readCpu, sentOps } from '../../src/bench/cpu';
import { Histogram } from '../../src/bench/histogram';
import { benchResult, compareResult, formatCompare, formatResult, RunConfig } from '../../src/bench/report';
import { clockTicksPerSecond, machineCpu, parseMachineCpu, parseSchedstatNs, parseStatCpuTicks, processCpu } from '../../src/common/procfs';

test('utime + stime are read from a stat line, whatever the command name holds', (t) => {
  // Fields 14 and 15 of proc(5) are utime and stime.
  const tail = 'S 1 2 3 0 -1 4194560 5000 0 12 0 345 67 0 0 20 0 11 0 1000 2000000 3000';
  const table: [string, number | undefined][] = [
    [`4242 (node) ${tail}`, 412],
    [`4242 (a) b (c)) ${tail}`, 412],
    [`4242 (with space) ${tail}`, 412],
    ['4242 (node) S 1 2 3', undefined],
    ['no parenthesis at all', undefined],
    [`4242 (node) S 1 2 3 0 -1 4194560 5000 0 12 0 x 67`, undefined],
  ];
  for (const [line, ticks] of table) t.is(parseStatCpuTicks(line), ticks, line);
});

test('the time on a CPU is the first field of schedstat', (t) => {
  t.is(parseSchedstatNs('200297686 88134066 186\n'), 200297686);
  t.is(parseSchedstatNs('0 305187 1'), 0);
  for (const bad of ['', '12 34', 'a b c', '1 2 3 4']) t.is(parseSchedstatNs(bad), undefined, bad);
});

test("the machine's busy and total time are read from the first line of /proc/stat", (t) => {
  // user nice system idle iowait irq softirq steal guest guest_nice
  t.deepEqual(parseMachineCpu('cpu  177231 124 41511 53525 440 0 1440 7 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n'), {
    busyTicks: 220313,
    totalTicks: 274278,
  });
  t.deepEqual(parseMachineCpu('cpu 10 0 5 100 1 0 0\n'), { busyTicks: 15, totalTicks: 116 }, 'an old kernel without steal');
  for (const bad of ['', 'cpu0 1 2 3 4 5 6 7', 'intr 1 2 3']) t.is(parseMachineCpu(bad), undefined, bad);
  if (process.platform === 'linux') t.true(machineCpu()!.totalTicks > 0);
});

/**
 * Spins in a process of its own for 100 ms between two readings, and prints them with process.cpuUsage's
 * count of the same time: in this worker thread, the main thread and the process's other threads are ava's.
 */
const SPIN = `
const { processCpu } = require(${JSON.stringify(join(__dirname, '../../src/common/procfs.js'))});
const before = processCpu(process.pid);
const usageBefore = process.cpuUsage();
let x = 0;
const until = Date.now() + 100;
while (Date.now() < until) x += Math.sqrt(x + 1);
const after = processCpu(process.pid);
console.log(JSON.stringify({ before, after, usage: process.cpuUsage(usageBefore), x }));
`;

test('a process: its CPU from /proc agrees with process.cpuUsage, and grows with work', (t) => {
  if (process.platform !== 'linux') return t.pass('needs /proc');
  t.true(clockTicksPerSecond() > 0);
  const { before, after, usage, x } = JSON.parse(execFileSync(process.execPath, ['-e', SPIN], { encoding: 'utf8' }));
  t.true(x > 0);
  const spentMicros = (after.totalNs - before.totalNs) / 1000;
  t.true(spentMicros > 0 && after.mainThreadNs > before.mainThreadNs, JSON.stringify({ before, after }));
  t.true(after.mainThreadNs <= after.totalNs);
  // Both count the same time, the kernel's in ns and the other in µs, rounded to the scheduler's accounting.
  t.true(Math.abs(spentMicros - (usage.user + usage.system)) < 20_000, `${spentMicros} µs against ${JSON.stringify(usage)}`);
  t.is(processCpu(2 ** 22 + 12345), undefined);
});

const node = (pid: number, totalNs: number, mainThreadNs: number): CpuReading['nodes'][number] => ({ pid, cpu: { totalNs, mainThreadNs } });

/** A reading at `seconds` on the clock, the machine busy `busyTicks` (of 100 a second) until then, on two cores. */
function reading(nodes: CpuReading['nodes'], clientMicros: number, seconds = 0, busyTicks = 0): CpuReading {
  return { nodes, clientMicros, atMicros: seconds * 1e6, machine: { busyTicks, totalTicks: seconds * 200 }, ticksPerSecond: 100, cores: 2 };
}

test('CPU per op: the nodes summed, their main threads, the benchmark; unknown unless every node is read twice', (t) => {
  const before = reading([node(10, 1e9, 5e8), node(11, 2e9, 1e9)], 1_000_000);
  const after = reading([node(10, 1.5e9, 7e8), node(11, 2.5e9, 1.3e9)], 1_300_000);
  const table: [string, CpuReading, CpuReading, number, Record<string, number | null>][] = [
    ['both nodes', before, after, 10_000, { nodeMicrosPerOp: 100, nodeMainThreadMicrosPerOp: 50, clientMicrosPerOp: 30, nodesRead: 2 }],
    [
      'rounded to 0.1 µs',
      before,
      after,
      3_000,
      { nodeMicrosPerOp: 333.3, nodeMainThreadMicrosPerOp: 166.7, clientMicrosPerOp: 100, nodesRead: 2 },
    ],
    [
      'a node restarted between',
      before,
      { ...after, nodes: [node(10, 1.5e9, 7e8), node(12, 1e8, 1e8)] },
      10_000,
      { nodeMicrosPerOp: null, nodeMainThreadMicrosPerOp: null, clientMicrosPerOp: 30, nodesRead: 1 },
    ],
    [
      'a pid unknown',
      { ...before, nodes: [before.nodes[0], undefined] },
      after,
      10_000,
      { nodeMicrosPerOp: null, nodeMainThreadMicrosPerOp: null, clientMicrosPerOp: 30, nodesRead: 1 },
    ],
    [
      'no nodes known (--node)',
      reading([], 0),
      reading([], 500),
      100,
      { nodeMicrosPerOp: null, nodeMainThreadMicrosPerOp: null, clientMicrosPerOp: 5, nodesRead: 0 },
    ],
    ['no operation', before, after, 0, { nodeMicrosPerOp: null, nodeMainThreadMicrosPerOp: null, clientMicrosPerOp: null, nodesRead: 2 }],
  ];
  for (const [name, b, a, ops, want] of table) {
    const got = cpuPerOp(b, a, ops);
    t.deepEqual({ ...got, nodes: undefined, coresBusy: undefined }, { ...want, nodes: undefined, coresBusy: undefined }, name);
    t.is(got.nodes, b.nodes.length, name);
  }
});

test('cores busy: the machine, the nodes, the bench, and whatever else ran meanwhile', (t) => {
  // 2 s: the nodes used 1 s of CPU, the bench 0.3 s, the machine 1.8 s (180 ticks).
  const before = reading([node(10, 1e9, 5e8), node(11, 2e9, 1e9)], 1_000_000, 10, 1000);
  const after = reading([node(10, 1.5e9, 7e8), node(11, 2.5e9, 1.3e9)], 1_300_000, 12, 1180);
  t.deepEqual(cpuPerOp(before, after, 1000).coresBusy, { machine: 0.9, nodes: 0.5, bench: 0.15, others: 0.25, cores: 2 });
  const unknownNode = { ...after, nodes: [after.nodes[0], undefined] };
  t.deepEqual(cpuPerOp(before, unknownNode, 1000).coresBusy, { machine: 0.9, nodes: null, bench: 0.15, others: null, cores: 2 });
  t.deepEqual(cpuPerOp(before, { ...after, machine: undefined }, 1000).coresBusy, {
    machine: null,
    nodes: 0.5,
    bench: 0.15,
    others: null,
    cores: 2,
  });
  // Ticks round the machine's time down: what is left for others never goes below 0.
  t.is(cpuPerOp(before, reading(after.nodes, 1_300_000, 12, 1120), 1000).coresBusy!.others, 0);
  t.is(cpuPerOp(before, { ...after, atMicros: before.atMicros }, 1000).coresBusy, null, 'no time passed');
});

test('operations sent: those that ended, less Backlog', (t) => {
  t.is(sentOps({ ops: 1000, errors: {} }), 1000);
  t.is(sentOps({ ops: 1000, errors: { Backlog: 300, TimedOut: 5 } }), 700);
});

test('CPU ratio: workload over echo, unknown where either is', (t) => {
  const table: [number | null, number | null, number | null][] = [
    [40, 10, 4],
    [10, 3, 3.333],
    [null, 10, null],
    [40, null, null],
    [40, 0, null],
  ];
  for (const [w, e, want] of table) t.is(cpuRatio(w, e), want, `${w}/${e}`);
});

test('readCpu: this process always, a pid that is not running never', (t) => {
  if (process.platform !== 'linux') return t.pass('needs /proc');
  const r = readCpu([process.pid, undefined, 2 ** 22 + 12345]);
  t.is(r.nodes[0]?.pid, process.pid);
  t.is(r.nodes[1], undefined);
  t.is(r.nodes[2], undefined);
  t.true(r.clientMicros > 0);
});

const config: RunConfig = {
  concurrency: 64,
  connections: 1,
  keys: 1000,
  valueSize: 100,
  distribution: 'uniform',
  rate: null,
  nodes: 4,
  warmupSeconds: 2,
  routing: 'token',
};

function result(workload: string, nodeMicros: number | null, clientMicros: number, nodesRead = 4) {
  const latency = new Histogram();
  latency.record(1);
  const run = { ops: 1, successes: 1, errors: {}, latency, seconds: 1, aborted: false, timeline: [] };
  const coresBusy = {
    machine: 1.95,
    nodes: nodeMicros === null ? null : 1.4,
    bench: 0.37,
    others: nodeMicros === null ? null : 0.18,
    cores: 2,
  };
  const cpu = {
    nodeMicrosPerOp: nodeMicros,
    nodeMainThreadMicrosPerOp: nodeMicros === null ? null : nodeMicros / 2,
    clientMicrosPerOp: clientMicros,
    nodesRead,
    nodes: 4,
    coresBusy,
  };
  const internode = { 0: { replicateCalls: 2000, replicateItems: 6200, readLocalCalls: 0, readLocalItems: 0 }, 1: null };
  return benchResult(workload, workload === 'echo' ? null : 'QUORUM', run, 1, config, { cpu, internode });
}

test('the text report shows CPU per op, and the internode calls with their items per call', (t) => {
  const text = formatResult(result('write', 187.2, 35));
  t.regex(text, /CPU per op, nodes\s+: 187\.2 µs \(all threads of 4 nodes; their main threads 93\.6 µs\)/);
  t.regex(text, /CPU per op, bench\s+: 35\.0 µs/);
  t.regex(text, /Cores busy\s+: 1\.95 of 2 \(nodes 1\.40, bench 0\.37, other processes 0\.18\)/);
  t.regex(formatResult(result('write', null, 35, 3)), /Cores busy\s+: 1\.95 of 2 \(nodes unknown, bench 0\.37, other processes unknown\)/);
  t.regex(text, /Internode calls, node 0\s+: 2,000 replicate calls of 3\.10 items, 0 readLocal calls\n/);
  t.regex(text, /Internode calls, node 1\s+: unknown/);
  t.regex(formatResult(result('write', null, 35, 3)), /CPU per op, nodes\s+: unknown \(3 of 4 nodes read from \/proc/);
});

test('--compare: the JSON and the text give the CPU ratios', (t) => {
  const c = compareResult(result('echo', 10, 10), result('write', 187.2, 35));
  t.deepEqual(c.cpuRatio, { node: 18.72, client: 3.5 });
  t.regex(formatCompare(c), /CPU ratio write\/echo\s+: nodes 18\.72×, bench 3\.50× \(CPU per op\)/);
  t.deepEqual(compareResult(result('echo', null, 10, 0), result('write', 187.2, 35)).cpuRatio, { node: null, client: 3.5 });
  t.regex(formatCompare(compareResult(result('echo', null, 10, 0), result('write', 187.2, 35))), /nodes unknown, bench 3\.50×/);
});
