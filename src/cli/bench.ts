/**
 * The load generator, in the spirit of cassandra-stress and YCSB, built on
 * the project's own client library:
 *   scripts/bench.sh --spawn --workload mixed --duration 30
 *   scripts/bench.sh --cluster data/cluster.json --workload read --rate 5000 --out r.json
 *   scripts/bench.sh --spawn --workload write --compare
 * See --help (bench/options.ts) and docs/benchmarks.md.
 *
 * Around each measured run it reads the CPU the nodes and this process used
 * and the nodes' internode counters (bench/cpu.ts, bench/internode.ts); with
 * --profile, the nodes run under V8's profiler and each one's profile is cut
 * to the measured runs (bench/profile.ts).
 *
 * Results go to stdout (and --out as JSON); status lines and, on a terminal,
 * a live progress line go to stderr. Ctrl-C stops the run, prints what was
 * measured so far, and still stops a --spawn cluster.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PlotRun, plotHtml, UplotAssets } from '../bench/plot';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { KvClient, NodeAdmin, NodeEndpoint, Routing } from '../client/client';
import { isKvError } from '../common/errors';
import { VALUE_BYTES_MAX_DEFAULT } from '../common/limits';
import { nodePidFromFile } from '../common/procfs';
import { ClusterConfig, ConfigError, loadClusterFile } from '../config/cluster';
import { loadTls, TlsMaterial } from '../config/tls';
import { adminAt, learnedOrFileRing } from '../client/ring';
import { LocalCluster } from '../harness/local-cluster';
import { makeChooser, ringSpread } from '../bench/keys';
import { BenchOptions, DEFAULTS, parseBenchArgs, USAGE } from '../bench/options';
import { Random as Prng } from '../common/random';
import {
  BenchResult,
  benchResult,
  CompareResult,
  compareResult,
  formatCompare,
  formatRestart,
  formatResult,
  Measured,
  formatRepair,
  perKeyRead,
  perKeyWritten,
  RepairBenchResult,
  RestartResult,
  RunConfig,
} from '../bench/report';
import { AgreementWatch, divergence, overstreaming, REPAIR_WORKLOAD_SETTINGS, repairFigures, RootReader } from '../bench/repair';
import { ClusterRepair, repairCluster } from '../client/repair';
import { followJoin, formatJoin, JOIN_TIMEOUT_MS, JoinBenchResult, JoinCpu, joinResult, JoinRuns, streamingNodes } from '../bench/join';
import { JoinPlan, planJoin } from '../client/operations';
import { loadavg } from 'node:os';
import { cpuPerOp, readCpu, sentOps } from '../bench/cpu';
import { WARMUP_AUTO_SECONDS_MAX, WARMUP_BLIND_SECONDS, WARMUP_STEP_SECONDS, warmedUp } from '../bench/warmup';
import { peerCallsDelta, readPeerCalls } from '../bench/internode';
import { formatProfile, parseCpuProfile, profilesByPid, summarizeProfile, TimeWindow } from '../bench/profile';
import { clusterKeys, clusterRssMb, clusterSupersededRows, hintsFor, RssPeak, timeHintReplay } from '../bench/restart';
import { freeNodePort, waitFor } from '../harness/local-cluster';
import { Operation, RunOptions, RunResult, Runner } from '../bench/runner';
import { loadOperation, ValuePool, WORKLOADS, WorkloadName, workloadOperation } from '../bench/workloads';
import { clusterFilePath, UsageError } from '../common/args';

const PROGRESS_INTERVAL_MS = 1000;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/** 128 + SIGINT, as shells report an interrupted command. */
const EXIT_INTERRUPTED = 130;

type Output =
  | { kind: 'single'; result: BenchResult }
  | { kind: 'restart'; result: RestartResult }
  | { kind: 'repair'; result: RepairBenchResult }
  | { kind: 'join'; result: JoinBenchResult }
  | { kind: 'compare'; result: CompareResult };

interface Target {
  /** The nodes requests may go to, with their ids (learned from the cluster's membership log, joined nodes included). */
  readonly nodes: readonly NodeEndpoint[];
  /** The cluster file's cluster, whose clients learn the ring from its nodes; absent for --node. */
  readonly config?: ClusterConfig;
  /** Known from a cluster file; token routing needs it and the nodes' tokens. */
  readonly replicationFactor?: number;
  readonly maxValueBytes: number;
  /** Key prefixes that spread the keys over every node's range ([''] without tokens). */
  readonly spread: readonly string[];
  /** The CA and client pair, when the cluster runs TLS. */
  readonly tls?: TlsMaterial;
  /** The process of node `id`, for its CPU; undefined where unknown. */
  readonly pid: (id: number) => number | undefined;
  /** An admin connection to node `id`, for its counters; absent without the cluster's secret. */
  readonly admin?: (id: number) => NodeAdmin;
}

/** Bound on one admin call that reads a node's counters around a measured run. */
const ADMIN_TIMEOUT_MS = 3000;

/**
 * A cluster from its config, on the ring its nodes give (so a node that
 * joined is loaded and measured too); `secretKnown`: the config holds the
 * real secret, so the nodes' counters can be read.
 */
async function clusterTarget(config: ClusterConfig, pid: (id: number) => number | undefined, secretKnown: boolean): Promise<Target> {
  const topology = await learnedOrFileRing(config);
  const placement = topology.placement;
  const spread = ringSpread((key) => placement.rangeOf(key).reads[0]!, topology.routable);
  const tls = loadTls(config);
  const nodes = topology.routable.map((id) => ({
    id,
    ...topology.locations[id]!,
    token: topology.members.find((m) => m.id === id)!.token,
  }));
  return {
    nodes,
    config,
    replicationFactor: placement.replicationFactor,
    maxValueBytes: config.settings.maxValueBytes,
    spread,
    ...(tls ? { tls } : {}),
    pid,
    ...(secretKnown ? { admin: (id: number) => adminAt(config, topology.locations[id]!, ADMIN_TIMEOUT_MS) } : {}),
  };
}

/** The ids of the target's nodes (--node's are their places in the list). */
function idsOf(target: Target): number[] {
  return target.nodes.map((n, i) => n.id ?? i);
}

const status = (text: string): void => {
  process.stderr.write(`bench: ${text}\n`);
};

/** The nodes to load: those of --node, else of the cluster file's cluster. */
async function existingTarget(opts: BenchOptions): Promise<Target> {
  if (opts.nodes) return { nodes: opts.nodes, maxValueBytes: VALUE_BYTES_MAX_DEFAULT, spread: [''], pid: () => undefined };
  const file = clusterFilePath(opts.cluster);
  const pid = (id: number): number | undefined => nodePidFromFile(dirname(file), id);
  let config: ClusterConfig;
  try {
    config = loadClusterFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Clients do not need the cluster secret (only the counters do); a placeholder satisfies the loader.
    const env = { ...process.env, KV_CLUSTER_SECRET: 'not-needed-by-clients' };
    return clusterTarget(loadClusterFile(file, env), pid, false);
  }
  return clusterTarget(config, pid, true);
}

function checkTarget(opts: BenchOptions, target: Target): void {
  if (opts.valueSize > target.maxValueBytes) {
    throw new UsageError(`--value-size ${opts.valueSize} is above the cluster's maxValueBytes (${target.maxValueBytes})`);
  }
  if (opts.workload === 'restart' && !idsOf(target).includes(opts.restartNode)) {
    throw new UsageError(`--restart-node must be one of the nodes' ids: ${idsOf(target).join(', ')}`);
  }
}

/** Token routing unless asked otherwise, when the nodes' tokens are known. */
function routingOf(opts: BenchOptions, target: Target): Routing {
  return opts.routing ?? (target.replicationFactor !== undefined ? 'token' : 'node');
}

/**
 * Node routing: one client per node, dealt operations round robin; client i
 * sends all its requests to node i, so every node coordinates an equal share.
 * Token routing: one client, which sends each request to a replica of its key
 * (pings to every node in turn). Either way the bench holds `connections`
 * connections to each node, so requests share sockets (and their writes
 * share system calls) alike.
 */
async function makeClients(opts: BenchOptions, target: Target): Promise<KvClient[]> {
  const routing = routingOf(opts, target);
  const options = {
    connectionsPerNode: opts.connections,
    valueBytesMax: target.maxValueBytes,
    routing,
    ...(target.tls !== undefined ? { tls: target.tls } : {}),
    ...(target.replicationFactor !== undefined ? { replicationFactor: target.replicationFactor } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.speculativeRetry !== undefined ? { speculativeRetry: opts.speculativeRetry } : {}),
  };
  if (routing === 'token' && target.config !== undefined) {
    // The client keeps the ring current itself while the bench runs (a node may join meanwhile).
    const client = KvClient.fromConfig(target.config, options);
    await client.refreshRing();
    return [client];
  }
  const client = (startAt: number): KvClient => new KvClient(target.nodes, { ...options, startAt });
  return routing === 'token' ? [client(0)] : target.nodes.map((_, i) => client(i));
}

/** On a terminal, rewrites one stderr line every second; returns a function that clears it. */
function showProgress(label: string, runner: Runner): () => void {
  if (!process.stderr.isTTY) return () => undefined;
  let last = runner.progress();
  const timer = setInterval(() => {
    const p = runner.progress();
    const rate = p.elapsedMs > last.elapsedMs ? ((p.ops - last.ops) * 1000) / (p.elapsedMs - last.elapsedMs) : 0;
    process.stderr.write(
      `\r\x1b[K${label}: ${(p.elapsedMs / 1000).toFixed(0)} s, ${p.ops.toLocaleString('en-US')} ops, ` +
        `${Math.round(rate).toLocaleString('en-US')} ops/s, ${p.errors.toLocaleString('en-US')} errors`,
    );
    last = p;
  }, PROGRESS_INTERVAL_MS);
  return () => {
    clearInterval(timer);
    process.stderr.write('\r\x1b[K');
  };
}

/** A measured run's label and span of the monotonic clock, for cutting the nodes' CPU profiles to it. */
interface MeasuredWindow extends TimeWindow {
  readonly label: string;
}

const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

class Bench {
  private preloaded = false;
  /** The last warm-up: seconds it ran, and whether it ran until the nodes' CPU settled. */
  private warmedUp = { seconds: 0, auto: false };
  /** Every measured run so far, in order. */
  readonly windows: MeasuredWindow[] = [];

  constructor(
    private readonly opts: BenchOptions,
    private readonly clients: readonly KvClient[],
    private readonly signal: AbortSignal,
    private readonly target: Target,
  ) {}

  private get spread(): readonly string[] {
    return this.target.spread;
  }

  private config(): RunConfig {
    const o = this.opts;
    return {
      concurrency: o.concurrency,
      connections: o.connections,
      keys: o.keys,
      valueSize: o.valueSize,
      distribution: o.distribution,
      rate: o.rate ?? null,
      nodes: this.clients[0]!.endpoints.length,
      warmupSeconds: this.warmedUp.seconds,
      ...(this.warmedUp.auto && this.warmedUp.seconds > 0 ? { warmupAuto: true } : {}),
      routing: this.clients[0]!.routing,
      tls: this.clients[0]!.tls,
      speculativeRetry: this.clients[0]!.speculativeRetry,
    };
  }

  private async measure(
    label: string,
    op: Operation,
    limits: Pick<RunOptions, 'ops' | 'durationMs' | 'rate'> & { concurrency?: number },
    signal: AbortSignal = this.signal,
  ): Promise<RunResult> {
    const runner = new Runner(op, { concurrency: this.opts.concurrency, signal, ...limits });
    const clear = showProgress(label, runner);
    try {
      return await runner.run();
    } finally {
      clear();
    }
  }

  /**
   * A run whose CPU per operation and internode calls are reported: the
   * nodes' counters and CPU, and this process's CPU, are read just before
   * and just after it.
   */
  private async measured(
    label: string,
    op: Operation,
    limits: Pick<RunOptions, 'ops' | 'durationMs' | 'rate'>,
  ): Promise<{ run: RunResult; measured: Measured }> {
    const ids = idsOf(this.target);
    const admin = this.target.admin;
    const callsBefore = admin ? await readPeerCalls(ids, admin) : null;
    const cpuBefore = readCpu(ids.map(this.target.pid));
    const speculatedBefore = this.speculativeReads();
    const startMicros = monotonicMicros();
    const run = await this.measure(label, op, limits);
    const endMicros = monotonicMicros();
    const cpuAfter = readCpu(ids.map(this.target.pid));
    const callsAfter = admin ? await readPeerCalls(ids, admin) : null;
    this.windows.push({ label, startMicros, endMicros });
    const internode = callsBefore && callsAfter ? peerCallsDelta(callsBefore, callsAfter) : null;
    const speculativeReads = this.speculativeReads() - speculatedBefore;
    return { run, measured: { cpu: cpuPerOp(cpuBefore, cpuAfter, sentOps(run)), internode, speculativeReads } };
  }

  /** Reads the clients have sent twice so far. */
  private speculativeReads(): number {
    return this.clients.reduce((sum, c) => sum + c.speculativeReads, 0);
  }

  /** Writes every key once, closed loop, unmeasured: reads then find values. */
  private async preload(): Promise<void> {
    if (this.preloaded) return;
    status(`preloading ${this.opts.keys.toLocaleString('en-US')} keys at ${this.opts.level}…`);
    const r = await this.load('preload');
    const failed = r.ops - r.successes;
    status(`preloaded in ${r.seconds.toFixed(1)} s${failed > 0 ? `; ${failed} writes failed: ${JSON.stringify(r.errors)}` : ''}`);
    this.preloaded = true;
  }

  /** Writes keys 0 to `count` - 1 of --keys once each. */
  private load(label: string, count = this.opts.keys): Promise<RunResult> {
    return this.measure(label, this.loadOperation(), { ops: count });
  }

  private loadOperation(): Operation {
    const values = new ValuePool(new Prng(this.opts.seed), this.opts.valueSize);
    return loadOperation({ clients: this.clients, level: this.opts.level, keys: this.opts.keys, values, spread: this.spread });
  }

  /**
   * One measured workload. Every call draws keys, op mix and value from fresh
   * generators seeded by --seed, so --compare's two halves see the same sequence.
   */
  async workload(name: WorkloadName): Promise<BenchResult> {
    const spec = WORKLOADS[name];
    if (spec.preload) await this.preload();
    const { ops, durationSeconds, rate, seed } = this.opts;
    const rateLimit = rate !== undefined ? { rate } : {};
    await this.warmUp(name, rateLimit);
    status(`running ${name} for ${ops !== undefined ? `${ops.toLocaleString('en-US')} ops` : `${durationSeconds} s`}…`);
    const level = spec.echo ? null : this.opts.level;
    const scanned = { keys: 0 };
    const { run, measured } = await this.measured(`${name}${level ? ` at ${level}` : ''}`, this.operation(name, seed, scanned), {
      ...(ops !== undefined ? { ops } : { durationMs: durationSeconds! * 1000 }),
      ...rateLimit,
    });
    const result = benchResult(name, level, run, seed, this.config(), measured);
    if (spec.scanPageKeys !== undefined) return { ...result, keysScannedPerSec: scanned.keys / run.seconds };
    if (spec.getManyKeys !== undefined) return { ...result, ...perKeyRead(result, spec.getManyKeys) };
    if (spec.batchKeys !== undefined) return { ...result, ...perKeyWritten(result, spec.batchKeys) };
    return result;
  }

  /**
   * Runs workload `name` unmeasured before its measured run: for --warmup's
   * seconds, or by default in steps until the nodes' CPU per operation stops
   * falling (bench/warmup.ts). Keeps the seconds spent for the report.
   */
  private async warmUp(name: WorkloadName, rateLimit: { rate?: number }): Promise<void> {
    const asked = this.opts.warmupSeconds;
    this.warmedUp = { seconds: 0, auto: asked === 'auto' };
    if (asked === 0 || this.signal.aborted) return;
    // Its own key sequence, so that the measured run's is the same with or without a warm-up.
    const operation = this.operation(name, (this.opts.seed ^ WARMUP_SEED_MASK) >>> 0);
    const pids = idsOf(this.target).map(this.target.pid);
    const blind = pids.length === 0 || pids.some((pid) => pid === undefined);
    const fixed = asked !== 'auto' ? asked : blind ? WARMUP_BLIND_SECONDS : null;
    if (fixed !== null) {
      status(`warming up ${name} for ${fixed} s…`);
      await this.measure(`${name} warm-up`, operation, { durationMs: fixed * 1000, ...rateLimit });
      this.warmedUp.seconds = fixed;
      return;
    }
    status(`warming up ${name} until the nodes' CPU per operation settles (at most ${WARMUP_AUTO_SECONDS_MAX} s)…`);
    const steps: (number | null)[] = [];
    while (this.warmedUp.seconds < WARMUP_AUTO_SECONDS_MAX && !this.signal.aborted) {
      const before = readCpu(pids);
      const run = await this.measure(`${name} warm-up`, operation, { durationMs: WARMUP_STEP_SECONDS * 1000, ...rateLimit });
      steps.push(cpuPerOp(before, readCpu(pids), sentOps(run)).nodeMicrosPerOp);
      this.warmedUp.seconds += WARMUP_STEP_SECONDS;
      if (warmedUp(steps.at(-2) ?? null, steps.at(-1)!)) break;
    }
    status(
      `warmed up for ${this.warmedUp.seconds} s; node CPU per op in each step: ${steps.map((v) => (v === null ? '?' : `${v} µs`)).join(', ')}`,
    );
  }

  /** The workload's operation, drawing keys, op mix and value from generators seeded by `seed`. */
  private operation(name: WorkloadName, seed: number, scanned?: { keys: number }): Operation {
    const master = new Prng(seed);
    const chooser = makeChooser(this.opts.distribution, this.opts.keys, new Prng(master.uint32()));
    const rng = new Prng(master.uint32());
    const values = new ValuePool(master, this.opts.valueSize);
    return workloadOperation(name, {
      clients: this.clients,
      level: this.opts.level,
      keys: this.opts.keys,
      values,
      chooser,
      rng,
      spread: this.spread,
      ...(scanned ? { scanned } : {}),
    });
  }

  /** Loads every key once, then measures memory and a crash restart. */
  async restart(cluster: LocalCluster): Promise<RestartResult> {
    status(
      `loading ${this.opts.keys.toLocaleString('en-US')} keys of ${this.opts.valueSize} bytes at ${this.opts.level}, concurrency ${this.opts.concurrency}…`,
    );
    const { run, measured } = await this.measured('load', this.loadOperation(), { ops: this.opts.keys });
    const loaded = benchResult('restart', this.opts.level, run, this.opts.seed, this.config(), measured);
    const rewritten = await this.rewrite();
    const rss = clusterRssMb(cluster);
    const keys = await clusterKeys(cluster);
    const superseded = rewritten > 0 ? await clusterSupersededRows(cluster) : null;
    const settled = await this.settledRss(cluster);
    const node = this.opts.restartNode;
    const base = {
      ...loaded,
      restartedNode: node,
      rewritten,
      superseded_per_node: superseded,
      rss_mb: rss,
      keys_per_node: keys,
      settle_seconds: settled === null ? 0 : this.opts.settleSeconds,
      rss_settled_mb: settled,
      rss_after_restart_mb: null,
      rss_peak_after_restart_mb: null,
      rss_restarted_settled_mb: null,
      hints: 0,
      hint_replay_ms: 0,
      hints_per_sec: null,
    };
    if (this.signal.aborted) return { ...base, restart_ms: 0 };
    status(`killing node ${node} (SIGKILL)…`);
    await cluster.kill(node);
    const hints = await this.writeHints(cluster, node);
    status(`restarting node ${node}…`);
    const memory = new RssPeak(() => cluster.pid(node));
    try {
      const start = performance.now();
      await cluster.startNode(node);
      const restartMs = Math.round(performance.now() - start);
      const replayMs = hints === 0 ? 0 : await timeHintReplay(cluster, node, HINT_REPLAY_TIMEOUT_MS);
      const restartedRss = memory.sample();
      const settledRss = (await this.idle(`letting node ${node} idle`)) ? memory.sample() : null;
      const peakRss = memory.stop();
      return {
        ...base,
        restart_ms: restartMs,
        rss_after_restart_mb: restartedRss,
        rss_peak_after_restart_mb: peakRss,
        rss_restarted_settled_mb: settledRss,
        hints,
        hint_replay_ms: replayMs,
        hints_per_sec: hints === 0 ? null : (hints / Math.max(1, replayMs)) * 1000,
      };
    } finally {
      memory.stop();
    }
  }

  /** --rewrite: writes that share of the keys a second time, so each log holds superseded rows; returns how many. */
  private async rewrite(): Promise<number> {
    const n = Math.floor(this.opts.keys * this.opts.rewriteShare);
    if (n === 0 || this.signal.aborted) return 0;
    status(`writing ${n.toLocaleString('en-US')} of the keys again…`);
    const r = await this.load('rewrite', n);
    const failed = r.ops - r.successes;
    if (failed > 0) status(`${failed} of those writes failed: ${JSON.stringify(r.errors)}`);
    return r.successes;
  }

  /** Every node's RSS after --settle seconds without load; null if that is 0 or the run was stopped. */
  private async settledRss(cluster: LocalCluster): Promise<Record<string, number | null> | null> {
    return (await this.idle('letting the nodes idle')) ? clusterRssMb(cluster) : null;
  }

  /** Waits --settle seconds; false if that is 0 or the run was stopped. */
  private async idle(doing: string): Promise<boolean> {
    const s = this.opts.settleSeconds;
    if (s === 0 || this.signal.aborted) return false;
    status(`${doing} for ${s} s, then reading memory again…`);
    return !(await sleep(s * 1000, false, { signal: this.signal }).catch(() => true));
  }

  /** QUORUM writes of keys 0 to `count` - 1 of a space of `space` keys through `clients`, values drawn from `seed`. */
  private writeKeys(label: string, clients: readonly KvClient[], space: number, count: number, seed: number): Promise<RunResult> {
    const values = new ValuePool(new Prng(seed), this.opts.valueSize);
    const op = loadOperation({ clients, level: 'QUORUM', keys: space, values, spread: this.spread });
    // Loading is not what is measured: at least the restart workload's concurrency, so that a run whose
    // measured load is light (a join's stream rate alone, at --concurrency 1) does not spend minutes loading.
    return this.measure(label, op, { ops: count, concurrency: Math.max(this.opts.concurrency, DEFAULTS.restartConcurrency) });
  }

  /**
   * --workload repair: writes --keys keys, stops a node (SIGSTOP) for
   * --down-writes writes with hints off, resumes it, then runs the full
   * repair `admin repair` runs and times it until every range's replicas
   * hold the same tree root, checking the outcome against every node's dump.
   * The node is paused rather than killed: a killed node with hints off
   * restarts catching up and repairs itself before an operator could start
   * a repair, and this measures the repair an operator starts.
   */
  async repair(cluster: LocalCluster): Promise<RepairBenchResult> {
    const o = this.opts;
    const space = Math.max(o.keys, o.downWrites, 1);
    let preloadSeconds = 0;
    if (o.keys > 0) {
      status(`writing ${o.keys.toLocaleString('en-US')} keys of ${o.valueSize} bytes at QUORUM…`);
      const r = await this.writeKeys('preload', this.clients, space, o.keys, o.seed);
      preloadSeconds = r.seconds;
      if (r.ops !== r.successes) status(`${r.ops - r.successes} preload writes failed: ${JSON.stringify(r.errors)}`);
    }
    const downNode = o.downWrites > 0 ? o.restartNode : null;
    const down = downNode === null ? undefined : await this.writeWhileStopped(cluster, downNode, space);
    const reader = new RootReader(cluster.config);
    try {
      const rangesBefore = (await reader.disagreeing()).length;
      // Reading every dump of a large cluster takes long; it is what overstreaming is measured against.
      const before = downNode === null ? null : await divergence(cluster.config);
      const timed = await this.timedRepair(cluster, reader);
      const rangesAfter = (await reader.disagreeing()).length;
      const after = downNode === null ? null : await divergence(cluster.config);
      const figures = repairFigures(timed.run);
      return {
        workload: 'repair',
        seed: o.seed,
        nodes: cluster.size,
        valueSize: o.valueSize,
        concurrency: o.concurrency,
        keysPreloaded: o.keys,
        preloadSeconds: Math.round(preloadSeconds * 10) / 10,
        downNode,
        downWrites: down?.ops ?? 0,
        downWriteErrors: down?.errors ?? {},
        downWritesPerSec: down === undefined || down.seconds === 0 ? 0 : Math.round(down.successes / down.seconds),
        divergentKeysBefore: before?.keys ?? null,
        staleCopiesBefore: before?.copies ?? null,
        rangesDisagreeingBefore: rangesBefore,
        agreedAfterMs: timed.agreedAfterMs,
        repairMs: timed.repairMs,
        ...figures,
        rangesDisagreeingAfter: rangesAfter,
        divergentKeysAfter: after?.keys ?? null,
        overstreaming: overstreaming(figures.keysSent, figures.keysFetched, before),
        loadAverage: timed.loadAverage,
        coresBusy: timed.coresBusy,
        agreed: rangesAfter === 0 && timed.agreedAfterMs !== null && (after === null || after.keys === 0),
      };
    } finally {
      reader.close();
    }
  }

  /** The full repair of `admin repair`, with the roots read meanwhile to see when the replicas agree. */
  private async timedRepair(
    cluster: LocalCluster,
    reader: RootReader,
  ): Promise<{
    run: ClusterRepair;
    repairMs: number;
    agreedAfterMs: number | null;
    loadAverage: RepairBenchResult['loadAverage'];
    coresBusy: RepairBenchResult['coresBusy'];
  }> {
    const ids = cluster.config.nodes.map((n) => n.id);
    status('running the full repair of admin repair…');
    const cpuBefore = readCpu(ids.map((id) => cluster.pid(id)));
    const loadStart = loadavg()[0]!;
    const startMicros = monotonicMicros();
    const started = performance.now();
    const watch = new AgreementWatch(reader, started, () => performance.now());
    const run = await repairCluster(cluster.config, undefined, () => undefined);
    const repairMs = Math.round(performance.now() - started);
    const agreedAfterMs = await watch.stop();
    this.windows.push({ label: 'repair', startMicros, endMicros: monotonicMicros() });
    const cpu = cpuPerOp(cpuBefore, readCpu(ids.map((id) => cluster.pid(id))), 0);
    return { run, repairMs, agreedAfterMs, loadAverage: { start: loadStart, end: loadavg()[0]! }, coresBusy: cpu.coresBusy };
  }

  /** Stops `node` (SIGSTOP), writes keys 0 to --down-writes - 1 again through the other nodes, and resumes it. */
  private async writeWhileStopped(cluster: LocalCluster, node: number, space: number): Promise<RunResult> {
    const live = cluster.config.nodes.map((n) => n.id).filter((id) => id !== node);
    status(`stopping node ${node} (SIGSTOP)…`);
    cluster.signal(node, 'SIGSTOP');
    // Each goes to one live node: token routing would send a stopped replica's share to it, to wait out the deadline.
    const clients = live.map((id) => cluster.client({ routing: 'node', startAt: id, valueBytesMax: this.target.maxValueBytes }));
    try {
      await waitFor(`the others to see node ${node} down`, async () => {
        for (const id of live) if (!(await cluster.downPeers(id)).includes(node)) return false;
        return true;
      });
      status(`writing ${this.opts.downWrites.toLocaleString('en-US')} keys at QUORUM while node ${node} is stopped (hints off)…`);
      return await this.writeKeys('down writes', clients, space, this.opts.downWrites, this.opts.seed + 1);
    } finally {
      for (const c of clients) c.close();
      status(`resuming node ${node} (SIGCONT)…`);
      cluster.signal(node, 'SIGCONT');
      await cluster.waitAllSeeEachOther();
    }
  }

  /**
   * --workload join: writes --keys keys at QUORUM, measures the write load
   * for --duration seconds, then spawns a fifth node that joins at the
   * planner's token (as scripts/server.sh --join does) while the same load
   * runs, until the node is NORMAL; then the load once more on five nodes.
   */
  async join(cluster: LocalCluster): Promise<JoinBenchResult> {
    const o = this.opts;
    status(`writing ${o.keys.toLocaleString('en-US')} keys of ${o.valueSize} bytes at QUORUM…`);
    const preload = await this.writeKeys('preload', this.clients, o.keys, o.keys, o.seed);
    const durationMs = o.durationSeconds! * 1000;
    status(`writing at ${o.level} for ${o.durationSeconds} s before the join…`);
    const cpuBefore = new JoinCpu(cluster.nodeIds(), (id) => cluster.pid(id));
    const before = await this.measure('writes before the join', this.operation('write', o.seed), { durationMs });
    const cpuMsBefore = cpuBefore.sinceStart();
    status('planning the join (the planner reads every primary range)…');
    const planStart = performance.now();
    const plan = await planJoin(cluster.config, undefined);
    const planMs = Math.round(performance.now() - planStart);
    const rssBefore = clusterRssMb(cluster);
    const joined = await this.joinUnderLoad(cluster, plan);
    status(`node ${plan.id} is NORMAL; writing at ${o.level} for ${o.durationSeconds} s on ${cluster.size + 1} nodes…`);
    const after = await this.measure('writes after the join', this.operation('write', o.seed + 2), { durationMs });
    return joinResult({ o, preload, before, after, plan, planMs, rssBefore, nodes: cluster.size, cpuMsBefore, ...joined });
  }

  /** Starts the planned node joining while the write load runs; stops the load once the node is NORMAL. */
  private async joinUnderLoad(
    cluster: LocalCluster,
    plan: JoinPlan,
  ): Promise<Pick<JoinRuns, 'during' | 'times' | 'keysHeld' | 'streaming' | 'rssPeak' | 'loadAverage' | 'cpuMs'>> {
    const port = await freeNodePort();
    const ids = [...cluster.nodeIds(), plan.id];
    const peaks = new Map(ids.map((id) => [id, new RssPeak(() => cluster.pid(id))]));
    const cpu = new JoinCpu(ids, (id) => cluster.pid(id));
    const loadStart = loadavg()[0]!;
    const stopLoad = new AbortController();
    const startMicros = monotonicMicros();
    const signal = AbortSignal.any([this.signal, stopLoad.signal]);
    const load = this.measure(
      'writes during the join',
      this.operation('write', this.opts.seed + 1),
      { durationMs: JOIN_TIMEOUT_MS },
      signal,
    );
    status(`node ${plan.id} joins at ${JSON.stringify(plan.token)} (${plan.why}) while the writes go on…`);
    const spawnedAt = performance.now();
    cluster.spawnJoining(plan.id, port, plan.token);
    const admin = cluster.admin(plan.id, ADMIN_TIMEOUT_MS);
    try {
      const times = await followJoin(
        admin,
        spawnedAt,
        () => performance.now(),
        () => cluster.isRunning(plan.id),
      ).finally(() => stopLoad.abort());
      const cpuMs = cpu.sinceStart();
      const during = await load;
      this.windows.push({ label: 'join', startMicros, endMicros: monotonicMicros() });
      const rssPeak = Object.fromEntries([...peaks].map(([id, p]) => [String(id), p.stop()]));
      const loadAverage = { start: loadStart, end: loadavg()[0]! };
      const keysHeld = Number((await admin.status()).counters['store.keys']);
      const streaming = streamingNodes((await admin.membership()).entries, plan.id);
      return { during, times, keysHeld, streaming, rssPeak, loadAverage, cpuMs };
    } finally {
      stopLoad.abort();
      for (const p of peaks.values()) p.stop();
      admin.close();
    }
  }

  /** While `node` is down, overwrites keys so that coordinators store hints for it; returns how many. */
  private async writeHints(cluster: LocalCluster, node: number): Promise<number> {
    const n = Math.min(this.opts.hintWrites, this.opts.keys);
    if (n === 0 || this.signal.aborted) return 0;
    await waitFor(`the others to see node ${node} down`, async () => (await cluster.downPeers((node + 1) % cluster.size)).includes(node));
    status(`writing ${n.toLocaleString('en-US')} keys while node ${node} is down…`);
    const values = new ValuePool(new Prng(this.opts.seed + 1), this.opts.valueSize);
    const op = loadOperation({ clients: this.clients, level: 'QUORUM', keys: this.opts.keys, values, spread: this.spread });
    await this.measure('hint writes', op, { ops: n });
    return hintsFor(cluster, node);
  }
}

/** Flips the seed for a warm-up's generators (any fixed non-zero mask would do). */
const WARMUP_SEED_MASK = 0x5bd1e995;

/** Bound on waiting for a hint replay to finish. */
const HINT_REPLAY_TIMEOUT_MS = 300_000;

/** The runs a plot draws: one, or both sides of --compare. */
function plotRuns(output: Output): PlotRun[] {
  if (output.kind === 'compare') {
    return [
      { label: 'echo', result: output.result.echo },
      { label: output.result.workload.workload, result: output.result.workload },
    ];
  }
  // The repair workload is no run of operations (options.ts refuses --plot for it).
  if (output.kind === 'repair' || output.kind === 'join') return [];
  return [{ label: output.result.workload, result: output.result }];
}

/** uPlot's browser build and stylesheet, from the installed package, to inline in the page. */
function uplotAssets(): UplotAssets {
  const read = (file: string): string => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  return { js: read('uPlot.iife.min.js'), css: read('uPlot.min.css') };
}

async function runBench(bench: Bench, opts: BenchOptions, cluster: LocalCluster | undefined): Promise<Output> {
  if (opts.workload === 'restart') return { kind: 'restart', result: await bench.restart(cluster!) };
  if (opts.workload === 'repair') return { kind: 'repair', result: await bench.repair(cluster!) };
  if (opts.workload === 'join') return { kind: 'join', result: await bench.join(cluster!) };
  if (!opts.compare) return { kind: 'single', result: await bench.workload(opts.workload) };
  const echo = await bench.workload('echo');
  const workload = await bench.workload(opts.workload);
  return { kind: 'compare', result: compareResult(echo, workload) };
}

/** Functions of each node's profile printed per measured run. */
const PROFILE_TOP_FUNCTIONS = 15;

/** The V8 options that make a node write its CPU profile into `dir` when it exits. */
function profilerArgs(dir: string): string[] {
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/**
 * After the nodes have stopped (a node writes its profile as it exits):
 * each node's top functions by self time in each measured run.
 */
function printProfiles(dir: string, pids: readonly (number | undefined)[], windows: readonly MeasuredWindow[]): void {
  const files = profilesByPid(
    dir,
    pids.filter((p): p is number => p !== undefined),
  );
  pids.forEach((pid, id) => {
    const file = pid === undefined ? undefined : files.get(pid);
    if (file === undefined) {
      status(`no CPU profile of node ${id} (pid ${pid ?? 'unknown'}) in ${dir}`);
      return;
    }
    const profile = parseCpuProfile(readFileSync(file, 'utf8'));
    for (const w of windows) {
      process.stdout.write(
        `\n${formatProfile(`== node ${id}, ${w.label} (${file})`, summarizeProfile(profile, w), PROFILE_TOP_FUNCTIONS)}\n`,
      );
    }
  });
}

function render(output: Output): string {
  switch (output.kind) {
    case 'single':
      return formatResult(output.result);
    case 'restart':
      return formatRestart(output.result);
    case 'repair':
      return formatRepair(output.result);
    case 'join':
      return formatJoin(output.result);
    case 'compare':
      return formatCompare(output.result);
  }
}

/**
 * Ctrl-C or SIGTERM: stop issuing, let requests in flight finish, report,
 * clean up. (On a terminal the nodes of a --spawn cluster get the Ctrl-C too,
 * being in the same process group; the harness then only reaps them.)
 */
function stopOnSignals(stop: AbortController): () => void {
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stop.signal.aborted) return;
    status(`${sig}: stopping…`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

async function main(): Promise<number> {
  const parsed = parseBenchArgs(process.argv.slice(2));
  if (parsed.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const opts: BenchOptions = parsed;
  const stop = new AbortController();
  const restoreSignals = stopOnSignals(stop);
  let cluster: LocalCluster | undefined;
  try {
    const profileDir = opts.profileDir === undefined ? undefined : resolve(opts.profileDir);
    if (opts.spawn) {
      status(`starting a four-node cluster${opts.tls ? ' on TLS' : ''}${profileDir === undefined ? '' : `, profiled into ${profileDir}`}…`);
      const started = performance.now();
      if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
      cluster = await LocalCluster.start({
        ...(opts.tls ? { tls: true } : {}),
        ...(opts.workload === 'repair'
          ? { settings: { ...REPAIR_WORKLOAD_SETTINGS, ...opts.settings } }
          : opts.settings !== undefined
            ? { settings: opts.settings }
            : {}),
        ...(profileDir === undefined ? {} : { execArgv: profilerArgs(profileDir) }),
      });
      status(`cluster up in ${((performance.now() - started) / 1000).toFixed(1)} s (${cluster.dir})`);
    }
    if (stop.signal.aborted) return EXIT_INTERRUPTED;
    const spawned = cluster;
    const target = spawned ? await clusterTarget(spawned.config, (id) => spawned.pid(id), true) : await existingTarget(opts);
    checkTarget(opts, target);
    const clients = await makeClients(opts, target);
    const bench = new Bench(opts, clients, stop.signal, target);
    let output: Output;
    try {
      output = await runBench(bench, opts, cluster);
    } finally {
      for (const c of clients) c.close();
    }
    process.stdout.write((opts.json ? JSON.stringify(output.result, null, 2) : render(output)) + '\n');
    if (stop.signal.aborted) {
      status('stopped early: the results above are partial and were not written to --out');
      return EXIT_INTERRUPTED;
    }
    if (opts.out !== undefined) writeFileSync(opts.out, JSON.stringify(output.result, null, 2) + '\n');
    if (opts.plot !== undefined) {
      writeFileSync(opts.plot, plotHtml(plotRuns(output), uplotAssets()));
      status(`charts in ${opts.plot}`);
    }
    if (spawned && profileDir !== undefined) {
      const pids = spawned.nodeIds().map((id) => spawned.pid(id));
      status('stopping the cluster, so that the nodes write their profiles…');
      await spawned.stop();
      printProfiles(profileDir, pids, bench.windows);
    }
    if (output.kind === 'repair' && !output.result.agreed) {
      status('the replicas do not agree after the repair (see "After the repair" above)');
      return EXIT_FAILED;
    }
    return 0;
  } finally {
    if (cluster) {
      status('stopping the cluster…');
      await cluster.destroy();
    }
    restoreSignals();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const known = err instanceof UsageError || err instanceof ConfigError || isKvError(err);
    process.stderr.write(`bench: ${known ? (err as Error).message : (err as Error).stack}\n`);
    if (err instanceof UsageError) process.stderr.write(USAGE + '\n');
    process.exit(err instanceof UsageError || err instanceof ConfigError ? EXIT_USAGE : EXIT_FAILED);
  },
);
