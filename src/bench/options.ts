/**
 * The benchmark's command line: names, defaults and validation. Pure, so it
 * can be tested without a cluster. Every problem is a UsageError with one
 * plain sentence; the CLI prints it with the usage text.
 */
import { randomInt } from 'node:crypto';
import { UsageError, parseArgs, parseEndpoint } from '../common/args';
import { VALUE_BYTES_MAX_CEILING } from '../common/limits';
import { formatSpeculativeRetry, parseSpeculativeRetry } from '../config/speculative-retry';
import { LEVEL_LIST, parseWriteLevel, WRITE_LEVEL_LIST, WriteLevelName } from '../coordinator/levels';
import { parseSettings, type Settings } from '../config/cluster';
import { Distribution, DISTRIBUTIONS, KEYS_MAX } from './keys';
import { SEED_MAX } from '../common/random';
import { WORKLOAD_NAMES, WorkloadName } from './workloads';
import type { Routing } from '../client/client';

export const ROUTINGS: readonly Routing[] = ['token', 'node'];

/** Most requests in flight; a node reads at most 1024 per connection anyway (limits.ts). */
export const CONCURRENCY_MAX = 4096;
/** Longest warm-up. */
export const WARMUP_SECONDS_MAX = 600;

/** A warm-up's length in seconds, or auto: until the nodes' CPU per operation settles (bench/warmup.ts). */
export type Warmup = number | 'auto';
/** Longest --settle. */
export const SETTLE_SECONDS_MAX = 600;
/** Most connections per node. */
export const CONNECTIONS_MAX = 64;

/** The workloads that only write (or only ping): the ones --level ANY is for. */
const ONLY_WRITES: readonly WorkloadName[] = ['write', 'batch', 'batch-unlogged', 'join', 'echo'];

export const DEFAULTS = {
  workload: 'write' as WorkloadName,
  level: 'QUORUM' as WriteLevelName,
  concurrency: 64,
  /** The restart and repair workloads load at higher concurrency so that coordinators fill their internode batches. */
  restartConcurrency: 256,
  connections: 1,
  keys: 100_000,
  valueSize: 100,
  durationSeconds: 10,
  /**
   * Unmeasured seconds of the same workload before each measured run (and
   * before each half of --compare); `auto`: until the nodes' CPU per
   * operation settles (bench/warmup.ts): the first seconds of a fresh node
   * are mostly the JIT compiling the hot path, not the store serving.
   */
  warmupSeconds: 'auto' as Warmup,
  distribution: 'uniform' as Distribution,
  restartNode: 0,
  /** Writes made while the restart workload's node is down; they become hints replayed when it returns. */
  hintWrites: 100_000,
  /** QUORUM writes the repair workload makes while its node is stopped (hints off): what the repair must bring back. */
  downWrites: 100_000,
  /** Keys the repair workload writes before it stops a node: none, unless --keys says. */
  repairKeys: 0,
  /** Keys the join workload writes before the join: a million, as issue 18's target streams. */
  joinKeys: 1_000_000,
  /** Share of the keys the restart workload writes again after its load (superseded rows in every log). */
  rewriteShare: 0,
  /**
   * Seconds the restart workload lets the nodes idle after its load before it
   * reads their memory again: right after a load, a third or more of a node's
   * RSS can be garbage the collector has not looked at yet (V8 collects an
   * idle heap about 8 s after it goes quiet).
   */
  settleSeconds: 20,
};

export const USAGE = `usage: scripts/bench.sh [options]        (or: npm run bench -- [options])

Where:
  --spawn                 start a private four-node cluster in a temp dir, stop it afterwards
  --tls                   with --spawn: the cluster and the bench's connections run mutual TLS
                          (a cluster file says for itself whether its cluster does)
  --set NAME=V[,NAME=V]   with --spawn: cluster settings (as in the cluster file's "settings"),
                          e.g. --set antiEntropyIntervalMs=0 for an A/B of background repair
  --cluster FILE          the cluster file of a running cluster (default $KV_DATA_DIR/cluster.json)
  --node HOST:PORT[,...]  or the nodes' addresses directly
What:
  --workload NAME         write | read | mixed | read-mostly | echo | restart | scan | multiget
                          | batch | batch-unlogged | repair | join (default write)
                          read, mixed (50/50), read-mostly (95/5), scan and multiget write every
                          key once first; scan: calls of 1000 keys from a random key, reported
                          also in keys/s; multiget: getMany calls of 10 random keys, reported also
                          in keys/s and the nodes' CPU per key read; batch: logged batches of
                          10 distinct random keys, reported also in keys/s and per key written
                          (batch-unlogged: the same, unlogged: no batch log, no copies);
                          echo is ping(payload) only; restart, repair and join need --spawn;
                          join: after --keys keys, writes for --duration s, then a fifth node
                          joins (server.sh --join's token) while the writes go on: stream
                          rate, join time, write throughput and p50/p99 during it, the nodes'
                          CPU per key and per write, streaming nodes' RSS (see docs/benchmarks.md)
  --level LEVEL           ONE | TWO | THREE | QUORUM | ALL (default QUORUM); ANY for write and join
  --keys N                number of distinct keys, key000000 ... (default 100000; repair:
                          keys written before a node is stopped, default 0; join: default
                          1000000)
  --value-size BYTES      value size, also the echo payload size (default 100); values are
                          random bytes, 65,536 different ones in turn (see docs/benchmarks.md)
  --distribution D        uniform | zipfian (default uniform)
How much:
  --duration SECONDS      run this long (default 10) ...
  --ops N                 ... or run this many operations
  --warmup SECONDS|auto   run the workload unmeasured this long first (0: none); auto, the
                          default: in 2 s steps until the nodes' CPU per op stops falling
                          (at most 20 s; 12 s when the nodes' pids are unknown)
  --concurrency N         requests in flight (default 64; 256 for restart and repair;
                          join and repair write their keys first at 256 or more)
  --rate OPS              offer this many ops/s (open loop); ops due while --concurrency
                          are in flight are not sent and count as Backlog errors
  --connections N         connections per node (default 1)
  --routing R             token: send each request to a replica of its key (default with a
                          cluster file or --spawn); node: client i sends everything to node i
                          (the only choice with --node, which gives no tokens)
  --timeout-ms MS         per-request deadline of the client (default 5000)
  --speculative-retry P   when the client sends a read again to the next node because the
                          first has not answered: 99p (its reads' 99th percentile; the
                          default with token routing), 20ms, ALWAYS or NONE (the default
                          with node routing)
  --seed N                seed of keys, op mix and values (default random, printed)
  --restart-node ID       the node the restart workload kills and restarts, and the repair
                          workload stops and resumes (default 0)
  --hint-writes N         restart workload: writes made while that node is down, replayed
                          to it as hints when it returns (default 100000; 0 skips this)
  --rewrite SHARE         restart workload: after the load, write this share of the keys
                          (0 to 1) again, so that each log also holds superseded rows
                          (default 0; below 1, no compaction removes them before the restart)
  --down-writes N         repair workload: QUORUM writes (keys 0 to N-1) made while that node
                          is stopped (SIGSTOP), hints off; then it is resumed (SIGCONT) and
                          the full repair of admin repair timed until every range's replicas
                          hold the same tree root (default 100000; 0: no node stopped, the
                          full repair of an in-sync cluster)
  --settle SECONDS        restart workload: read each node's memory again after the
                          nodes idle this long after the load (default 20; 0: don't)
Output:
  --json                  print the results as JSON instead of text
  --out FILE              also write the results as JSON (with the run second by second and its histogram)
  --plot FILE.html        also write a page with charts of the run: throughput and p50/p99
                          latency second by second, and the latency histogram (both
                          sides of --compare on each chart); self-contained, opens offline
  --compare               run echo, then the workload, with the same options; print workload/echo,
                          and the ratio of their CPU per operation
  --profile DIR           with --spawn: start the nodes with V8's CPU profiler (--cpu-prof), writing
                          one .cpuprofile per node into DIR when the cluster stops, and print each
                          node's top functions by self time during each measured run (the
                          profiler's own cost is in that run's figures; not for restart)
  --help                  this text

Besides op rate and latency, every run reports CPU per operation (user + system
time over the operations sent, the preload and warm-up not counted): of all
threads of the node processes, read from /proc (the nodes of --spawn, or the
pids in the node-N.pid files beside the cluster file), and of the benchmark
process; how many cores the machine, the nodes, the benchmark and all other
processes kept busy meanwhile; and, where the cluster file gives the admin
secret, the internode calls each node sent during the run and the items per
call (the coalescing).`;

const SWITCHES = ['spawn', 'tls', 'compare', 'json', 'help'] as const;
const VALUED = [
  'workload',
  'level',
  'concurrency',
  'connections',
  'keys',
  'value-size',
  'duration',
  'ops',
  'distribution',
  'rate',
  'seed',
  'out',
  'plot',
  'cluster',
  'node',
  'timeout-ms',
  'set',
  'restart-node',
  'hint-writes',
  'down-writes',
  'warmup',
  'settle',
  'rewrite',
  'routing',
  'profile',
  'speculative-retry',
] as const;

export interface BenchOptions {
  readonly workload: WorkloadName;
  readonly level: WriteLevelName;
  readonly concurrency: number;
  readonly connections: number;
  readonly keys: number;
  readonly valueSize: number;
  /** Exactly one of ops and durationSeconds is set (restart: neither; it writes each key once). */
  readonly ops?: number;
  readonly durationSeconds?: number;
  /** Unmeasured seconds before each measured run (0 for restart), or auto (bench/warmup.ts). */
  readonly warmupSeconds: Warmup;
  readonly distribution: Distribution;
  readonly rate?: number;
  readonly seed: number;
  readonly out?: string;
  /** Where to write the charts page (an .html file). */
  readonly plot?: string;
  readonly spawn: boolean;
  /** With spawn: the cluster runs TLS. */
  readonly tls: boolean;
  /** With --spawn: settings for the cluster file, checked as a cluster file's are. */
  readonly settings?: Partial<Settings>;
  readonly compare: boolean;
  readonly cluster?: string;
  readonly nodes?: { host: string; port: number }[];
  readonly timeoutMs?: number;
  readonly restartNode: number;
  readonly hintWrites: number;
  /** Repair workload: writes made while its node is stopped (0: none stopped). */
  readonly downWrites: number;
  /** --json: results on stdout as JSON. */
  readonly json: boolean;
  /** Restart workload: share of the keys written a second time after the load (0: none). */
  readonly rewriteShare: number;
  readonly settleSeconds: number;
  /** Absent: token routing when the nodes' tokens are known (cluster file or --spawn), else node. */
  readonly routing?: Routing;
  /** --profile: the directory the nodes' CPU profiles go to. */
  readonly profileDir?: string;
  /** The client's speculativeRetry (client/speculation.ts); absent: the client's default for its routing. */
  readonly speculativeRetry?: string;
}

export type ParsedCommand = { readonly help: true } | ({ readonly help: false } & BenchOptions);

function number(flags: Map<string, string | true>, name: string): number | undefined {
  const text = flags.get(name);
  if (typeof text !== 'string') return undefined;
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not "${text}"`);
  return n;
}

function integer(flags: Map<string, string | true>, name: string, min: number, max: number): number | undefined {
  const n = number(flags, name);
  if (n !== undefined && !(Number.isInteger(n) && n >= min && n <= max)) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${String(flags.get(name))}"`);
  }
  return n;
}

function positive(flags: Map<string, string | true>, name: string): number | undefined {
  const n = number(flags, name);
  if (n !== undefined && !(n > 0)) throw new UsageError(`--${name} must be greater than 0, not "${String(flags.get(name))}"`);
  return n;
}

function oneOf<T extends string>(flags: Map<string, string | true>, name: string, allowed: readonly T[], fallback: T): T {
  const text = flags.get(name);
  if (typeof text !== 'string') return fallback;
  const found = allowed.find((a) => a === text.toLowerCase());
  if (found === undefined) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, not "${text}"`);
  return found;
}

function string(flags: Map<string, string | true>, name: string): string | undefined {
  const v = flags.get(name);
  if (v === '') throw new UsageError(`--${name} needs a value`);
  return typeof v === 'string' ? v : undefined;
}

export function parseBenchArgs(argv: string[]): ParsedCommand {
  const { flags, positional } = parseArgs(argv, SWITCHES, VALUED);
  if (flags.has('help')) return { help: true };
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);

  const workload = oneOf(flags, 'workload', WORKLOAD_NAMES, DEFAULTS.workload);
  const levelText = string(flags, 'level');
  const level = levelText === undefined ? DEFAULTS.level : parseWriteLevel(levelText);
  if (level === undefined) throw new UsageError(`--level must be ${WRITE_LEVEL_LIST}, not "${levelText}"`);
  if (level === 'ANY' && !ONLY_WRITES.includes(workload)) {
    throw new UsageError(`--level ANY is for writes only, and --workload ${workload} reads; use ${LEVEL_LIST}`);
  }
  const restart = workload === 'restart';
  const repair = workload === 'repair';
  const join = workload === 'join';
  /** Workloads of fixed steps rather than a measured stream of operations. */
  const steps = restart || repair;

  const opsFlag = integer(flags, 'ops', 1, Number.MAX_SAFE_INTEGER);
  const durationFlag = positive(flags, 'duration');
  if (opsFlag !== undefined && durationFlag !== undefined) throw new UsageError('give --duration or --ops, not both');
  const rate = positive(flags, 'rate');
  const warmupText = flags.get('warmup');
  const warmup: Warmup | undefined = warmupText === 'auto' ? 'auto' : typeof warmupText === 'string' ? Number(warmupText) : undefined;
  if (warmup !== undefined && warmup !== 'auto' && !(warmupText !== '' && warmup >= 0 && warmup <= WARMUP_SECONDS_MAX)) {
    throw new UsageError(`--warmup must be auto or from 0 to ${WARMUP_SECONDS_MAX} seconds, not "${String(flags.get('warmup'))}"`);
  }
  const spawn = flags.has('spawn');
  const compare = flags.has('compare');
  const cluster = string(flags, 'cluster');
  const nodeText = string(flags, 'node');
  const restartNode = integer(flags, 'restart-node', 0, Number.MAX_SAFE_INTEGER);
  const hintWrites = integer(flags, 'hint-writes', 0, KEYS_MAX);
  const downWrites = integer(flags, 'down-writes', 0, KEYS_MAX);
  const rewrite = number(flags, 'rewrite');
  if (rewrite !== undefined && !(rewrite >= 0 && rewrite <= 1)) {
    throw new UsageError(`--rewrite must be a share of the keys from 0 to 1, not "${String(flags.get('rewrite'))}"`);
  }
  const settle = number(flags, 'settle');
  if (settle !== undefined && !(settle >= 0 && settle <= SETTLE_SECONDS_MAX)) {
    throw new UsageError(`--settle must be from 0 to ${SETTLE_SECONDS_MAX} seconds, not "${String(flags.get('settle'))}"`);
  }
  const out = string(flags, 'out');
  const plot = string(flags, 'plot');
  if (plot !== undefined && !plot.toLowerCase().endsWith('.html')) {
    throw new UsageError(`--plot writes an HTML page: give a file name ending in .html, not "${plot}"`);
  }
  const routing = flags.has('routing') ? oneOf(flags, 'routing', ROUTINGS, 'token') : undefined;
  const profileDir = string(flags, 'profile');
  const speculativeRetry = string(flags, 'speculative-retry');
  if (speculativeRetry !== undefined && parseSpeculativeRetry(speculativeRetry) === undefined) {
    throw new UsageError(`--speculative-retry must be a percentile (99p), a wait (20ms), ALWAYS or NONE, not "${speculativeRetry}"`);
  }

  if (flags.has('tls') && !spawn)
    throw new UsageError('--tls applies to --spawn: a cluster file says for itself whether its cluster runs TLS');
  const settings = settingsOf(string(flags, 'set'));
  if (settings !== undefined && !spawn)
    throw new UsageError("--set applies to --spawn: a running cluster's settings are in its cluster file");
  if (spawn && (cluster !== undefined || nodeText !== undefined))
    throw new UsageError('--spawn starts its own cluster: leave out --cluster and --node');
  if (cluster !== undefined && nodeText !== undefined) throw new UsageError('give --cluster or --node, not both');
  if (routing === 'token' && nodeText !== undefined) {
    throw new UsageError("--routing token needs the nodes' tokens: give --cluster or --spawn instead of --node");
  }
  if (compare && (workload === 'echo' || steps))
    throw new UsageError(`--compare compares a workload with echo: it does not apply to --workload ${workload}`);
  if (restart && !spawn) throw new UsageError('--workload restart kills and restarts a node: it needs --spawn');
  if (repair && !spawn) throw new UsageError('--workload repair stops a node and turns hints off: it needs --spawn');
  if (join && !spawn) throw new UsageError('--workload join starts a node of its own: it needs --spawn');
  if (join && (opsFlag !== undefined || warmup !== undefined))
    throw new UsageError(
      '--workload join writes for --duration seconds before and after the join, and while it runs: --ops and --warmup do not apply',
    );
  if (join && compare) throw new UsageError('--compare compares a workload with echo: it does not apply to --workload join');
  if (join && plot !== undefined) throw new UsageError('--plot draws a run of operations: it does not apply to --workload join');
  if (steps && (opsFlag !== undefined || durationFlag !== undefined || rate !== undefined)) {
    throw new UsageError(`--workload ${workload} writes each of its keys once: --ops, --duration and --rate do not apply`);
  }
  if (steps && warmup !== undefined) {
    throw new UsageError(`--warmup does not apply to --workload ${workload}: its writes are what it measures`);
  }
  if (!steps && restartNode !== undefined) throw new UsageError('--restart-node only applies to --workload restart or repair');
  if (repair && plot !== undefined) throw new UsageError('--plot draws a run of operations: it does not apply to --workload repair');
  if (!repair && downWrites !== undefined) throw new UsageError('--down-writes only applies to --workload repair');
  if (!restart && hintWrites !== undefined) throw new UsageError('--hint-writes only applies to --workload restart');
  if (!restart && settle !== undefined) throw new UsageError('--settle only applies to --workload restart');
  if (!restart && rewrite !== undefined) throw new UsageError('--rewrite only applies to --workload restart');
  if (profileDir !== undefined && !spawn) throw new UsageError('--profile starts the nodes with the profiler: it needs --spawn');
  if (profileDir !== undefined && restart)
    throw new UsageError('--profile does not apply to --workload restart: a node killed with -9 writes no profile');

  return {
    help: false,
    workload,
    level,
    concurrency: integer(flags, 'concurrency', 1, CONCURRENCY_MAX) ?? (steps ? DEFAULTS.restartConcurrency : DEFAULTS.concurrency),
    connections: integer(flags, 'connections', 1, CONNECTIONS_MAX) ?? DEFAULTS.connections,
    keys:
      (repair ? integer(flags, 'keys', 0, KEYS_MAX) : integer(flags, 'keys', 1, KEYS_MAX)) ??
      (repair ? DEFAULTS.repairKeys : join ? DEFAULTS.joinKeys : DEFAULTS.keys),
    valueSize: integer(flags, 'value-size', 0, VALUE_BYTES_MAX_CEILING) ?? DEFAULTS.valueSize,
    ...(steps ? {} : opsFlag !== undefined ? { ops: opsFlag } : { durationSeconds: durationFlag ?? DEFAULTS.durationSeconds }),
    warmupSeconds: steps || join ? 0 : (warmup ?? DEFAULTS.warmupSeconds),
    distribution: oneOf(flags, 'distribution', DISTRIBUTIONS, DEFAULTS.distribution),
    ...(rate !== undefined ? { rate } : {}),
    seed: integer(flags, 'seed', 0, SEED_MAX) ?? randomInt(0, SEED_MAX + 1),
    ...(out !== undefined ? { out } : {}),
    ...(plot !== undefined ? { plot } : {}),
    spawn,
    tls: flags.has('tls'),
    ...(settings !== undefined ? { settings } : {}),
    compare,
    ...(cluster !== undefined ? { cluster } : {}),
    ...(nodeText !== undefined ? { nodes: nodeText.split(',').map(parseEndpoint) } : {}),
    ...(flags.has('timeout-ms') ? { timeoutMs: positive(flags, 'timeout-ms') } : {}),
    restartNode: restartNode ?? DEFAULTS.restartNode,
    hintWrites: hintWrites ?? DEFAULTS.hintWrites,
    downWrites: downWrites ?? DEFAULTS.downWrites,
    json: flags.has('json'),
    rewriteShare: rewrite ?? DEFAULTS.rewriteShare,
    settleSeconds: restart ? (settle ?? DEFAULTS.settleSeconds) : 0,
    ...(routing !== undefined ? { routing } : {}),
    ...(profileDir !== undefined ? { profileDir } : {}),
    ...(speculativeRetry !== undefined ? { speculativeRetry: formatSpeculativeRetry(parseSpeculativeRetry(speculativeRetry)!) } : {}),
  };
}

/** `--set NAME=VALUE,…`: numbers as numbers, the rest as text; checked against the cluster file's rules. */
function settingsOf(text: string | undefined): Partial<Settings> | undefined {
  if (text === undefined) return undefined;
  const raw: Record<string, number | string> = {};
  for (const pair of text.split(',')) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(pair.trim());
    if (m === null) throw new UsageError(`--set takes NAME=VALUE pairs separated by commas, not "${pair}"`);
    raw[m[1]!] = /^-?\d+$/.test(m[2]!) ? Number(m[2]) : m[2]!;
  }
  try {
    parseSettings(raw);
  } catch (err) {
    throw new UsageError(`--set: ${(err as Error).message}`);
  }
  return raw as Partial<Settings>;
}
