import test from 'ava';
import { UsageError } from '../../src/common/args';
import { BenchOptions, DEFAULTS, parseBenchArgs } from '../../src/bench/options';

function options(argv: string[]): BenchOptions {
  const parsed = parseBenchArgs(argv);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed;
}

test('options: the documented defaults', (t) => {
  const o = options([]);
  t.is(o.workload, 'write');
  t.is(o.level, 'QUORUM');
  t.is(o.concurrency, 64);
  t.is(o.connections, 1);
  t.is(o.keys, 100_000);
  t.is(o.valueSize, 100);
  t.is(o.durationSeconds, 10);
  t.is(o.warmupSeconds, 'auto');
  t.is(o.ops, undefined);
  t.is(o.distribution, 'uniform');
  t.is(o.rate, undefined);
  t.false(o.spawn);
  t.false(o.compare);
  t.true(Number.isInteger(o.seed) && o.seed >= 0);
});

test('options: ANY is a level for the workloads that only write', (t) => {
  t.is(options(['--level', 'any']).level, 'ANY');
  t.is(options(['--workload', 'join', '--spawn', '--level', 'ANY']).level, 'ANY');
});

test('options: every documented name is accepted', (t) => {
  const o = options([
    '--workload',
    'read-mostly',
    '--level',
    'one',
    '--concurrency',
    '8',
    '--connections',
    '2',
    '--keys',
    '50',
    '--value-size',
    '0',
    '--ops',
    '200',
    '--distribution',
    'zipfian',
    '--rate',
    '123.5',
    '--seed',
    '7',
    '--out',
    'r.json',
    '--spawn',
    '--tls',
    '--compare',
    '--timeout-ms',
    '900',
    '--warmup',
    '0.5',
    '--routing',
    'node',
    '--profile',
    'prof',
    '--speculative-retry',
    '20MS',
  ]);
  t.like(o, {
    workload: 'read-mostly',
    level: 'ONE',
    concurrency: 8,
    connections: 2,
    keys: 50,
    valueSize: 0,
    ops: 200,
    distribution: 'zipfian',
    rate: 123.5,
    seed: 7,
    out: 'r.json',
    spawn: true,
    tls: true,
    compare: true,
    timeoutMs: 900,
    warmupSeconds: 0.5,
    routing: 'node',
    profileDir: 'prof',
    speculativeRetry: '20ms',
  });
  t.is(options([]).speculativeRetry, undefined, "no --speculative-retry: the client's default for its routing");
  t.is(options([]).profileDir, undefined);
  t.is(options([]).routing, undefined, 'no --routing: decided by what the cluster file gives');
  t.false(options(['--spawn']).tls, 'plain TCP unless asked');
  t.is(options(['--routing', 'TOKEN']).routing, 'token');
  t.is(o.durationSeconds, undefined);
  t.is(options(['--duration=2.5']).durationSeconds, 2.5);
  t.deepEqual(options(['--node', 'h:1,g:2']).nodes, [
    { host: 'h', port: 1 },
    { host: 'g', port: 2 },
  ]);
});

test('options: restart defaults to a higher concurrency and takes no --ops', (t) => {
  const o = options(['--workload', 'restart', '--spawn', '--keys', '1000']);
  t.is(o.concurrency, DEFAULTS.restartConcurrency);
  t.is(o.ops, undefined);
  t.is(o.durationSeconds, undefined);
  t.is(o.restartNode, 0);
  t.is(o.warmupSeconds, 0);
  t.is(o.settleSeconds, 20);
  t.is(options(['--workload', 'restart', '--spawn', '--restart-node', '3']).restartNode, 3);
  t.is(options(['--workload', 'restart', '--spawn', '--settle', '0']).settleSeconds, 0);
  t.is(options(['--workload', 'restart', '--spawn', '--settle', '1.5']).settleSeconds, 1.5);
  t.is(options([]).settleSeconds, 0, 'other workloads do not settle');
  t.is(o.rewriteShare, 0);
  t.is(options(['--workload', 'restart', '--spawn', '--rewrite', '0.9']).rewriteShare, 0.9);
});

test('options: repair preloads nothing by default, stops a node for 100,000 writes and prints JSON with --json', (t) => {
  const o = options(['--workload', 'repair', '--spawn']);
  t.is(o.keys, 0);
  t.is(o.downWrites, DEFAULTS.downWrites);
  t.is(o.downWrites, 100_000);
  t.is(o.restartNode, 0);
  t.is(o.concurrency, DEFAULTS.restartConcurrency);
  t.is(o.ops, undefined);
  t.is(o.warmupSeconds, 0);
  t.false(o.json);
  const insync = options(['--workload', 'repair', '--spawn', '--keys', '1000000', '--down-writes', '0', '--restart-node', '2', '--json']);
  t.is(insync.keys, 1_000_000);
  t.is(insync.downWrites, 0);
  t.is(insync.restartNode, 2);
  t.true(insync.json);
});

test('options: --help', (t) => {
  t.deepEqual(parseBenchArgs(['--spawn', '--help']), { help: true });
});

const bad: [string[], RegExp][] = [
  [['--speculative-retry', 'often'], /--speculative-retry must be a percentile \(99p\), a wait \(20ms\), ALWAYS or NONE, not "often"/],
  [['--concurrency', '0'], /--concurrency must be a whole number from 1/],
  [['--warmup', '-1'], /--warmup must be auto or from 0 to 600 seconds/],
  [['--warmup', 'soon'], /--warmup must be auto or from 0 to 600 seconds, not "soon"/],
  [['--warmup', ''], /--warmup must be auto or from 0 to 600 seconds/],
  [['--workload', 'restart', '--spawn', '--warmup', '1'], /--warmup does not apply to --workload restart/],
  [['--workload', 'restart', '--spawn', '--settle', '-1'], /--settle must be from 0 to 600 seconds/],
  [['--workload', 'restart', '--spawn', '--settle', '601'], /--settle must be from 0 to 600 seconds/],
  [['--settle', '5'], /--settle only applies to --workload restart/],
  [['--rewrite', '0.5'], /--rewrite only applies to --workload restart/],
  [['--profile', 'p'], /--profile starts the nodes with the profiler: it needs --spawn/],
  [['--cluster', 'c.json', '--profile', 'p'], /--profile .* needs --spawn/],
  [['--workload', 'restart', '--spawn', '--profile', 'p'], /--profile does not apply to --workload restart/],
  [['--spawn', '--profile'], /--profile needs a value/],
  [['--workload', 'restart', '--spawn', '--rewrite', '1.5'], /--rewrite must be a share of the keys from 0 to 1/],
  [['--workload', 'restart', '--spawn', '--rewrite', 'half'], /--rewrite must be a number/],
  [['--concurrency', '1.5'], /--concurrency/],
  [['--concurrency', '100000'], /--concurrency/],
  [['--keys', 'many'], /--keys must be a number/],
  [['--keys', ''], /--keys/],
  [['--value-size', '-1'], /--value-size/],
  [['--duration', '0'], /--duration must be greater than 0/],
  [['--rate', '-5'], /--rate must be greater than 0/],
  [['--ops', '5', '--duration', '3'], /--duration or --ops, not both/],
  [['--workload', 'sweep'], /--workload must be one of/],
  [['--level', 'TWICE'], /--level must be ANY, ONE, TWO, THREE, QUORUM or ALL, not "TWICE"/],
  [
    ['--workload', 'read', '--level', 'any'],
    /--level ANY is for writes only, and --workload read reads; use ONE, TWO, THREE, QUORUM or ALL/,
  ],
  [['--workload', 'scan', '--level', 'ANY'], /--level ANY is for writes only, and --workload scan reads/],
  [['--distribution', 'latest'], /--distribution must be one of uniform, zipfian/],
  [['--seed', '4294967296'], /--seed/],
  [['--spawn', '--cluster', 'c.json'], /--spawn starts its own cluster/],
  [['--tls', '--cluster', 'c.json'], /--tls applies to --spawn/],
  [['--set', 'antiEntropyIntervalMs=0'], /--set applies to --spawn/],
  [['--spawn', '--set', 'antiEntropyIntervalMs'], /--set takes NAME=VALUE pairs/],
  [['--spawn', '--set', 'bogus=1'], /--set: unknown setting "bogus"/],
  [['--spawn', '--set', 'hintWindowSeconds=-1'], /--set: settings.hintWindowSeconds/],
  [['--compare', '--workload', 'echo'], /--compare/],
  [['--workload', 'restart'], /needs --spawn/],
  [['--workload', 'restart', '--spawn', '--ops', '5'], /do not apply/],
  [['--restart-node', '1'], /only applies to --workload restart/],
  [['--workload', 'repair'], /--workload repair stops a node .* needs --spawn/],
  [['--workload', 'repair', '--spawn', '--duration', '5'], /--workload repair writes each of its keys once/],
  [['--workload', 'repair', '--spawn', '--plot', 'p.html'], /--plot .* does not apply to --workload repair/],
  [['--workload', 'repair', '--spawn', '--down-writes', '-1'], /--down-writes must be a whole number from 0/],
  [['--down-writes', '10'], /--down-writes only applies to --workload repair/],
  [['--keys', '0'], /--keys must be a whole number from 1/],
  [['--node', 'nowhere'], /is not HOST:PORT/],
  [['--routing', 'random'], /--routing must be one of token, node/],
  [['--node', 'h:1', '--routing', 'token'], /--routing token needs the nodes' tokens/],
  [['--bogus'], /unknown option --bogus/],
  [['--workload'], /--workload needs a value/],
  [['stray'], /unexpected argument "stray"/],
];

test('options: --set with --spawn gives the cluster its settings, numbers as numbers', (t) => {
  const o = options(['--spawn', '--set', 'antiEntropyIntervalMs=0,sqliteSynchronous=FULL']);
  t.deepEqual(o.settings, { antiEntropyIntervalMs: 0, sqliteSynchronous: 'FULL' });
  t.is(options(['--spawn']).settings, undefined);
});

for (const [argv, message] of bad) {
  test(`options: rejects ${argv.join(' ')}`, (t) => {
    t.throws(() => parseBenchArgs(argv), { instanceOf: UsageError, message });
  });
}
