/**
 * The benchmark tool end to end: the real CLI as a child process, with its
 * own --spawn cluster. Asserts that runs complete and report sane fields,
 * never how fast they were.
 */
import test, { ExecutionContext } from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Exit, runCli } from './run-cli';

const BENCH_JS = resolve(__dirname, '../src/cli/bench.js');
const TINY = ['--spawn', '--ops', '200', '--keys', '50', '--concurrency', '4', '--seed', '1', '--warmup', '0.2'];

function runBench(args: string[]): Promise<Exit> {
  return runCli(BENCH_JS, args);
}

/** Runs the CLI with --out to a temp file and returns the exit and the parsed JSON. */
async function runWithOut(args: string[]): Promise<{ exit: Exit; json: Record<string, any> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-bench-test-'));
  try {
    const out = join(dir, 'result.json');
    const plot = join(dir, 'charts.html');
    const exit = await runBench([...args, '--out', out, '--plot', plot]);
    if (exit.code !== 0) return { exit, json: {} };
    const page = readFileSync(plot, 'utf8');
    if (!(page.startsWith('<!doctype html>') && page.includes('new uPlot(')))
      throw new Error(`--plot wrote no chart page: ${page.slice(0, 200)}`);
    return { exit, json: JSON.parse(readFileSync(out, 'utf8')) as Record<string, any> };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertSaneResult(t: ExecutionContext, r: Record<string, any>, workload: string, ops: number): void {
  t.is(r.workload, workload);
  t.is(r.ops, ops);
  t.true(r.opsPerSec > 0, `opsPerSec ${r.opsPerSec}`);
  t.true(r.seconds > 0);
  t.is(typeof r.errors, 'object');
  t.false(Array.isArray(r.errors));
  for (const n of Object.values(r.errors)) t.true(Number.isInteger(n) && (n as number) > 0);
  const l = r.latencyMs;
  for (const f of ['mean', 'p50', 'p95', 'p99', 'p999', 'max']) t.true(typeof l[f] === 'number' && l[f] >= 0, `${f} = ${l[f]}`);
  t.true(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, JSON.stringify(l));
  t.true(l.mean <= l.max);
  // Second by second, and the histogram, for --plot: successes there add up to those of the totals.
  t.true(Array.isArray(r.timeline) && Array.isArray(r.histogram));
  const histogramSuccesses = r.histogram.reduce((sum: number, [, n]: [number, number]) => sum + n, 0);
  const errors = Object.values(r.errors as Record<string, number>).reduce((a, b) => a + b, 0);
  t.is(histogramSuccesses, ops - errors, 'the histogram holds every success');
  assertCpu(t, r);
}

const positive = (n: unknown): boolean => typeof n === 'number' && Number.isFinite(n) && n > 0;

/** CPU per op of the nodes (all of them read from /proc) and of the bench, and every node's internode calls. */
function assertCpu(t: ExecutionContext, r: Record<string, any>): void {
  const c = r.cpu;
  t.true(positive(c.nodeMicrosPerOp), `nodeMicrosPerOp ${c.nodeMicrosPerOp}`);
  t.true(positive(c.nodeMainThreadMicrosPerOp) && c.nodeMainThreadMicrosPerOp <= c.nodeMicrosPerOp, JSON.stringify(c));
  t.true(positive(c.clientMicrosPerOp), `clientMicrosPerOp ${c.clientMicrosPerOp}`);
  t.is(c.nodesRead, 4);
  const b = c.coresBusy;
  t.true(positive(b.machine) && positive(b.nodes) && positive(b.bench) && b.others >= 0 && b.cores >= 1, JSON.stringify(b));
  t.deepEqual(Object.keys(r.internode), ['0', '1', '2', '3']);
  for (const calls of Object.values(r.internode) as Record<string, number>[]) {
    t.true(calls.replicateItems >= calls.replicateCalls && calls.readLocalItems >= calls.readLocalCalls, JSON.stringify(calls));
  }
}

test.serial('a tiny write run with --spawn completes and reports sane fields', async (t) => {
  const { exit, json } = await runWithOut(TINY);
  t.is(exit.code, 0, exit.stderr);
  assertSaneResult(t, json, 'write', 200);
  t.is(json.level, 'QUORUM');
  t.is(json.seed, 1);
  // The warm-up ran but is not in the counts (ops is exactly --ops).
  t.regex(exit.stderr, /warming up write for 0\.2 s/);
  t.is(json.config.warmupSeconds, 0.2);
  t.is(json.config.routing, 'token', 'a spawned cluster has tokens, so requests go to replicas');
  t.regex(exit.stdout, /, token routing,/);
  t.regex(exit.stdout, /after 0\.2 s warm-up/);
  t.regex(exit.stdout, /Op rate\s+: [\d,]+ op\/s/);
  t.regex(exit.stdout, /Latency 99\.9th percentile\s+: [\d.]+ ms/);
  t.regex(exit.stdout, /Total operation time/);
  t.false(json.config.tls, 'plain TCP unless --tls');
  t.regex(exit.stdout, /CPU per op, nodes\s+: [\d.]+ µs \(all threads of 4 nodes; their main threads [\d.]+ µs\)/);
  t.regex(exit.stdout, /CPU per op, bench\s+: [\d.]+ µs/);
  t.regex(exit.stdout, /Internode calls, node 3\s+: [\d,]+ replicate calls of [\d.]+ items/);
  // QUORUM writes go to the other replicas: some were sent, in calls of one item or more.
  const sent = Object.values(json.internode as Record<string, { replicateCalls: number }>).reduce((n, c) => n + c.replicateCalls, 0);
  t.true(sent > 0, `replicate calls ${sent}`);
});

test.serial("by default the warm-up runs in steps until the nodes' CPU per op settles, and says how long it took", async (t) => {
  const args = TINY.filter((a, i) => a !== '--warmup' && TINY[i - 1] !== '--warmup');
  t.false(args.includes('--warmup'));
  const { exit, json } = await runWithOut([...args, '--workload', 'read', '--level', 'one']);
  t.is(exit.code, 0, exit.stderr);
  assertSaneResult(t, json, 'read', 200);
  t.regex(exit.stderr, /warming up read until the nodes' CPU per operation settles \(at most 20 s\)/);
  const seconds = json.config.warmupSeconds as number;
  // At least two steps (the first has nothing to compare with), whole steps, at most the limit.
  t.true(seconds >= 4 && seconds <= 20 && seconds % 2 === 0, `warm-up of ${seconds} s`);
  t.true(json.config.warmupAuto);
  t.regex(exit.stderr, new RegExp(`warmed up for ${seconds} s; node CPU per op in each step: [\\d.]+ µs, [\\d.]+ µs`));
  t.regex(exit.stdout, new RegExp(`after ${seconds} s warm-up \\(until the nodes' CPU per op settled\\)`));
});

test.serial('--compare runs echo and the workload and reports their ratio', async (t) => {
  const { exit, json } = await runWithOut([...TINY, '--workload', 'mixed', '--compare', '--routing', 'node']);
  t.is(exit.code, 0, exit.stderr);
  t.is(json.workload.config.routing, 'node');
  t.deepEqual(Object.keys(json).sort(), ['cpuRatio', 'echo', 'ratio', 'workload']);
  assertSaneResult(t, json.echo, 'echo', 200);
  assertSaneResult(t, json.workload, 'mixed', 200);
  t.is(json.echo.level, null);
  t.true(typeof json.ratio === 'number' && json.ratio > 0);
  t.regex(exit.stdout, /Ratio mixed\/echo\s+: [\d.]+/);
  t.true(positive(json.cpuRatio.node) && positive(json.cpuRatio.client), JSON.stringify(json.cpuRatio));
  t.regex(exit.stdout, /CPU ratio mixed\/echo\s+: nodes [\d.]+×, bench [\d.]+×/);
});

test.serial("--profile writes a CPU profile per node and prints each node's top functions in the measured run", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-bench-profile-'));
  try {
    const exit = await runBench([...TINY, '--workload', 'echo', '--profile', dir]);
    t.is(exit.code, 0, exit.stderr);
    t.is(readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).length, 4);
    for (const id of [0, 1, 2, 3]) {
      t.regex(
        exit.stdout,
        new RegExp(
          `== node ${id}, echo \\(.+\\.cpuprofile\\): main thread busy [\\d.]+% of [\\d.]+ s sampled\n +self ms +busy +function\n`,
        ),
      );
    }
    t.notRegex(exit.stderr, /no CPU profile/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('a tiny restart run measures memory, a restart and a hint replay', async (t) => {
  const args = [
    '--spawn',
    '--workload',
    'restart',
    '--keys',
    '300',
    '--rewrite',
    '0.5',
    '--hint-writes',
    '60',
    '--settle',
    '0.2',
    '--seed',
    '1',
  ];
  const { exit, json } = await runWithOut(args);
  t.is(exit.code, 0, exit.stderr);
  assertSaneResult(t, json, 'restart', 300);
  const ids = ['0', '1', '2', '3'];
  t.deepEqual(Object.keys(json.rss_mb), ids);
  for (const id of ids) {
    t.true(json.rss_mb[id] > 0, `rss_mb ${id}`);
    t.true(json.rss_settled_mb[id] > 0, `rss_settled_mb ${id}`);
  }
  // Replication factor 3: every key is on three of the four nodes.
  t.is(
    ids.reduce((sum, id) => sum + json.keys_per_node[id], 0),
    900,
  );
  // The rewrite supersedes one row on each replica of 150 keys: on at least the two that
  // answered each write, and on the third too once it has caught up.
  t.is(json.rewritten, 150);
  const superseded = ids.reduce((sum, id) => sum + json.superseded_per_node[id], 0);
  t.true(superseded >= 300 && superseded <= 450, `superseded rows ${superseded}`);
  t.is(json.settle_seconds, 0.2);
  t.is(json.restartedNode, 0);
  t.true(json.restart_ms > 0);
  t.true(json.rss_after_restart_mb > 0);
  t.true(json.rss_restarted_settled_mb > 0);
  t.true(
    json.rss_peak_after_restart_mb >= Math.max(json.rss_after_restart_mb, json.rss_restarted_settled_mb),
    'the peak is at least every reading',
  );
  // Writes while node 0 is down reach the keys node 0 replicates, so some are hinted. So
  // may earlier writes whose copy for node 0 was still on its way when it was killed: a QUORUM
  // write is answered once two replicas have it, and a busy third one can lag.
  t.true(json.hints > 0 && json.hints <= 60 + 300 + 150, `hints ${json.hints}`);
  t.true(json.hints_per_sec > 0);
  t.regex(exit.stdout, /RSS node 3\s+: [\d.]+ MB after load, [\d.]+ MB after 0\.2 s idle, holding [\d,]+ keys and [\d,]+ superseded rows/);
  t.regex(exit.stdout, /Restart time\s+: [\d,]+ ms \(node 0: kill -9/);
  t.regex(
    exit.stdout,
    /RSS node 0 restarted\s+: [\d.]+ MB once its hints were replayed, [\d.]+ MB 0\.2 s later; at most [\d.]+ MB from its start on/,
  );
  t.regex(exit.stdout, /Hint replay\s+: [\d,]+ hints in/);
});

test.serial('a tiny repair run stops a node for writes with hints off, repairs, and checks the replicas agree', async (t) => {
  const exit = await runBench([
    '--spawn',
    '--workload',
    'repair',
    '--keys',
    '500',
    '--down-writes',
    '2000',
    '--restart-node',
    '2',
    '--seed',
    '1',
    '--json',
  ]);
  t.is(exit.code, 0, exit.stderr);
  const r = JSON.parse(exit.stdout) as Record<string, any>;
  t.is(r.workload, 'repair');
  t.is(r.keysPreloaded, 500);
  t.is(r.downNode, 2);
  t.is(r.downWrites, 2000);
  t.is(typeof r.downWriteErrors, 'object');
  // Node 2 replicates three of the four ranges: about three quarters of the keys written missed it.
  t.true(r.divergentKeysBefore > 1000 && r.divergentKeysBefore <= 2000, `divergent keys ${r.divergentKeysBefore}`);
  // One stale copy per such key (the stopped one), more only where a write that failed reached a single replica.
  t.true(r.staleCopiesBefore >= r.divergentKeysBefore, `stale copies ${r.staleCopiesBefore}`);
  t.true(r.rangesDisagreeingBefore >= 1);
  t.is(r.rangesCompared, 24, 'four nodes, three ranges each, two other replicas per range');
  t.true(r.keysSent + r.keysFetched >= r.staleCopiesBefore, 'every stale copy was streamed');
  t.true(r.overstreaming >= 1, `overstreaming ${r.overstreaming}`);
  t.is(r.rangesDisagreeingAfter, 0);
  t.is(r.divergentKeysAfter, 0);
  t.true(r.agreedAfterMs !== null && r.agreedAfterMs >= 0);
  t.true(r.repairSaysAgreed);
  t.true(r.agreed);
  t.is(r.perNode.length, 4);
  t.true(typeof r.loadAverage.start === 'number');
});

test('bad options: one-line error, the usage, exit 2, no cluster started', async (t) => {
  const exit = await runBench(['--spawn', '--concurrency', '0']);
  t.is(exit.code, 2);
  t.regex(exit.stderr.split('\n')[0]!, /^bench: --concurrency must be a whole number from 1 to \d+, not "0"$/);
  t.regex(exit.stderr, /usage: scripts\/bench\.sh/);
  t.notRegex(exit.stderr, /starting a four-node cluster/);
});

test('--help prints the usage and exits 0', async (t) => {
  const exit = await runBench(['--help']);
  t.is(exit.code, 0);
  for (const name of [
    '--workload',
    '--level',
    '--concurrency',
    '--connections',
    '--keys',
    '--value-size',
    '--duration',
    '--ops',
    '--distribution',
    '--rate',
    '--seed',
    '--out',
    '--spawn',
    '--compare',
    '--warmup',
    '--profile',
    '--down-writes',
    '--json',
  ]) {
    t.true(exit.stdout.includes(name), name);
  }
  t.regex(exit.stdout, /CPU per operation/);
});

test.serial('a tiny read run with --spawn --tls runs its cluster and its clients on TLS', async (t) => {
  const { exit, json } = await runWithOut([...TINY, '--tls', '--workload', 'read']);
  t.is(exit.code, 0, exit.stderr);
  assertSaneResult(t, json, 'read', 200);
  t.deepEqual(json.errors, {}, 'every request got through TLS');
  t.true(json.config.tls);
  t.regex(exit.stderr, /starting a four-node cluster on TLS/);
  t.regex(exit.stdout, /token routing, TLS,/);
});

const BENCH_AB_JS = resolve(__dirname, '../src/cli/bench-ab.js');
/** The project itself, as bench-ab's --base: both sides run the same build here. */
const PROJECT_DIR = resolve(__dirname, '../..');

test.serial('bench-ab runs two builds at the same time and prints B/A per round and its median', async (t) => {
  const tiny = ['--ops', '200', '--keys', '50', '--concurrency', '4', '--warmup', '0.2', '--workload', 'echo'];
  const exit = await runCli(BENCH_AB_JS, ['--base', PROJECT_DIR, '--rounds', '2', '--', ...tiny]);
  t.is(exit.code, 0, exit.stderr);
  const lines = exit.stdout.trim().split('\n');
  t.is(lines.length, 3, exit.stdout);
  for (const round of [1, 2]) {
    t.regex(lines[round - 1]!, new RegExp(`^round ${round}: A [\\d,]+ op/s [\\d.]+ µs, B [\\d,]+ op/s [\\d.]+ µs, B/A \\d+\\.\\d{3}$`));
  }
  t.regex(lines[2]!, /^node CPU per op B\/A: \d+\.\d{3} \/ \d+\.\d{3} \(median \d+\.\d{3}\)$/);
});

test('bench-ab: a base without a built bench is a one-line usage error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-bench-ab-'));
  try {
    const exit = await runCli(BENCH_AB_JS, ['--base', dir, '--', '--workload', 'echo']);
    t.is(exit.code, 2);
    t.regex(exit.stderr, /^bench-ab: .* has no built bench \(dist\/src\/cli\/bench\.js\): run npm install \(or npm run build\) there\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench-ab: a bench that fails ends the run with its own error, exit 1', async (t) => {
  const exit = await runCli(BENCH_AB_JS, ['--base', PROJECT_DIR, '--rounds', '3', '--', '--workload', 'nope']);
  t.is(exit.code, 1);
  t.regex(exit.stderr, /^bench-ab: round 1: build A's bench exited with code 2:\n/);
  t.regex(exit.stderr, /--workload must be one of/);
  t.is(exit.stdout, '');
});
