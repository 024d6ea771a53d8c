/**
 * Results: the JSON written by --out and the text block printed at the end,
 * laid out like cassandra-stress's summary. Both come from the same object,
 * so they always agree.
 */
import type { Routing } from '../client/client';
import { WriteLevelName } from '../coordinator/levels';
import { CoresBusy, CpuPerOp, cpuRatio } from './cpu';
import { LatencySummary } from './histogram';
import { itemsPerCall, PeerCallsByNode } from './internode';
import { Distribution } from './keys';
import { RunResult } from './runner';
import type { TimelinePoint } from './timeline';

/** What a run was asked to do, kept with its results so they can be told apart later. */
export interface RunConfig {
  readonly concurrency: number;
  readonly connections: number;
  readonly keys: number;
  readonly valueSize: number;
  readonly distribution: Distribution;
  /** Offered ops/s; null for a closed-loop run. */
  readonly rate: number | null;
  readonly nodes: number;
  /** Unmeasured seconds of the workload run just before the measured ones. */
  readonly warmupSeconds: number;
  /** Whether the warm-up ran until the nodes' CPU per operation settled (bench/warmup.ts) rather than for a given time. */
  readonly warmupAuto?: boolean;
  /** How the clients picked a node for each request (client.ts). */
  readonly routing: Routing;
  /** Whether the connections ran over TLS (absent in results written before TLS existed). */
  readonly tls?: boolean;
  /** The client's speculativeRetry (client/speculation.ts); absent in results written before clients speculated. */
  readonly speculativeRetry?: string;
}

export interface BenchResult {
  readonly workload: string;
  /** null for echo, which involves no replicas. */
  readonly level: WriteLevelName | null;
  /** Successful operations per second of wall time. */
  readonly opsPerSec: number;
  /** Of successful operations, in ms. */
  readonly latencyMs: LatencySummary;
  /** Failed operations by type (KvError code, Backlog, NotFound, …). */
  readonly errors: Record<string, number>;
  /** Operations that ended: successes plus errors. */
  readonly ops: number;
  readonly seconds: number;
  readonly seed: number;
  readonly config: RunConfig;
  /** The run second by second: ops, errors, p50 and p99 (see timeline.ts). */
  readonly timeline: TimelinePoint[];
  /** The latency histogram's non-empty buckets: [latency in ms, successes]. */
  readonly histogram: Array<[ms: number, count: number]>;
  /** CPU per operation of the nodes and of the benchmark (cpu.ts). */
  readonly cpu: CpuPerOp;
  /** Internode calls each node sent during the run, by node id; null where the nodes could not be asked (--node). */
  readonly internode: PeerCallsByNode | null;
  /** Reads the bench's clients sent a second time, to the next node, because the first was slow (absent: not counted). */
  readonly speculativeReads?: number;
  /** The scan workload: keys its calls returned per second of wall time. */
  readonly keysScannedPerSec?: number;
  /** The multiget workload: keys its calls read per second of wall time; batch: keys its calls wrote. */
  readonly keysReadPerSec?: number;
  readonly keysWrittenPerSec?: number;
  /** Either: the nodes' CPU per key read or written. */
  readonly nodeMicrosPerKey?: number;
}

/** What was read from the processes around a measured run. */
export interface Measured {
  readonly cpu: CpuPerOp;
  readonly internode: PeerCallsByNode | null;
  /** Reads the bench's clients sent a second time during the run (client/speculation.ts). */
  readonly speculativeReads?: number;
}

/** Extra fields of --workload restart. */
export interface RestartResult extends BenchResult {
  readonly restartedNode: number;
  /** From spawning the killed node until it answered a request (polled every 50 ms). */
  readonly restart_ms: number;
  /** Keys written a second time after the load (--rewrite), 0 for none. */
  readonly rewritten: number;
  /** Superseded log rows each node held after the rewrite, by node id; null without --rewrite. */
  readonly superseded_per_node: Record<string, number | null> | null;
  /** Resident memory of each node right after the load, by node id; null where unreadable (not Linux). */
  readonly rss_mb: Record<string, number | null>;
  /** Seconds the nodes idled after the load before `rss_settled_mb` was read (0: not read). */
  readonly settle_seconds: number;
  /** Resident memory of each node after `settle_seconds` without load; null when not read. */
  readonly rss_settled_mb: Record<string, number | null> | null;
  /** Resident memory of the restarted node once its hints were replayed; null when not read. */
  readonly rss_after_restart_mb: number | null;
  /** The restarted node's highest resident memory, from its start until `settle_seconds` after its hints were replayed. */
  readonly rss_peak_after_restart_mb: number | null;
  /** The restarted node's resident memory `settle_seconds` after its hints were replayed; null when not read. */
  readonly rss_restarted_settled_mb: number | null;
  /** Keys each node holds after the load, by node id (its replica share of --keys). */
  readonly keys_per_node: Record<string, number | null>;
  /** Hints the other nodes held for the restarted node when it came back (0: not measured). */
  readonly hints: number;
  /** From the restarted node's first answer until no node held hints for it. */
  readonly hint_replay_ms: number;
  /** hints / hint_replay_ms, per second; null when not measured. */
  readonly hints_per_sec: number | null;
}

export interface CompareResult {
  readonly echo: BenchResult;
  readonly workload: BenchResult;
  /** workload.opsPerSec / echo.opsPerSec; null if echo completed nothing. */
  readonly ratio: number | null;
  /** CPU per operation, workload over echo; null where either is unknown. */
  readonly cpuRatio: { readonly node: number | null; readonly client: number | null };
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits));

export function benchResult(
  workload: string,
  level: WriteLevelName | null,
  run: RunResult,
  seed: number,
  config: RunConfig,
  measured: Measured,
): BenchResult {
  const l = run.latency.summary();
  return {
    workload,
    level,
    opsPerSec: run.seconds > 0 ? round(run.successes / run.seconds, 1) : 0,
    // Rounding is monotonic, so p50 <= p95 <= … <= max still holds afterwards.
    latencyMs: {
      mean: round(l.mean, 3),
      p50: round(l.p50, 3),
      p95: round(l.p95, 3),
      p99: round(l.p99, 3),
      p999: round(l.p999, 3),
      max: round(l.max, 3),
    },
    errors: run.errors,
    ops: run.ops,
    seconds: round(run.seconds, 3),
    seed,
    config,
    timeline: run.timeline.map((p) => ({ ...p, p50Ms: round(p.p50Ms, 3), p99Ms: round(p.p99Ms, 3) })),
    histogram: run.latency.buckets().map(([ms, count]) => [round(ms, 4), count]),
    cpu: measured.cpu,
    internode: measured.internode,
    ...(measured.speculativeReads !== undefined ? { speculativeReads: measured.speculativeReads } : {}),
  };
}

export function compareResult(echo: BenchResult, workload: BenchResult): CompareResult {
  return {
    echo,
    workload,
    ratio: echo.opsPerSec > 0 ? round(workload.opsPerSec / echo.opsPerSec, 4) : null,
    cpuRatio: {
      node: cpuRatio(workload.cpu.nodeMicrosPerOp, echo.cpu.nodeMicrosPerOp),
      client: cpuRatio(workload.cpu.clientMicrosPerOp, echo.cpu.clientMicrosPerOp),
    },
  };
}

/** A multiget run's keys read a second, and the nodes' CPU per key (its CPU per call over the keys a call reads). */
export function perKeyRead(
  r: Pick<BenchResult, 'opsPerSec' | 'cpu'>,
  keysPerCall: number,
): { keysReadPerSec: number; nodeMicrosPerKey?: number } {
  const { perSec, micros } = perKey(r, keysPerCall);
  return { keysReadPerSec: perSec, ...micros };
}

/** A batch run's keys written a second, and the nodes' CPU per key written. */
export function perKeyWritten(
  r: Pick<BenchResult, 'opsPerSec' | 'cpu'>,
  keysPerCall: number,
): { keysWrittenPerSec: number; nodeMicrosPerKey?: number } {
  const { perSec, micros } = perKey(r, keysPerCall);
  return { keysWrittenPerSec: perSec, ...micros };
}

function perKey(r: Pick<BenchResult, 'opsPerSec' | 'cpu'>, keysPerCall: number): { perSec: number; micros: { nodeMicrosPerKey?: number } } {
  const perOp = r.cpu.nodeMicrosPerOp;
  return { perSec: r.opsPerSec * keysPerCall, micros: perOp !== null ? { nodeMicrosPerKey: perOp / keysPerCall } : {} };
}

const LABEL_WIDTH = 26;
export const line = (label: string, value: string): string => `${label.padEnd(LABEL_WIDTH)}: ${value}`;
export const count = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => `${n.toFixed(2)} ms`;

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

export function formatResult(r: BenchResult): string {
  const errorTotal = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const c = r.config;
  const lines = [
    line('Workload', `${r.workload}${r.level ? ` at ${r.level}` : ''}`),
    line('Op rate', `${count(r.opsPerSec)} op/s`),
    ...(r.keysScannedPerSec !== undefined ? [line('Keys scanned', `${count(r.keysScannedPerSec)} keys/s`)] : []),
    ...(r.keysReadPerSec !== undefined ? [line('Keys read', `${count(r.keysReadPerSec)} keys/s`)] : []),
    ...(r.keysWrittenPerSec !== undefined ? [line('Keys written', `${count(r.keysWrittenPerSec)} keys/s`)] : []),
    ...(r.nodeMicrosPerKey !== undefined
      ? [line(`Node CPU per key ${r.keysWrittenPerSec !== undefined ? 'written' : 'read'}`, `${r.nodeMicrosPerKey.toFixed(1)} µs`)]
      : []),
    line('Latency mean', ms(r.latencyMs.mean)),
    line('Latency median', ms(r.latencyMs.p50)),
    line('Latency 95th percentile', ms(r.latencyMs.p95)),
    line('Latency 99th percentile', ms(r.latencyMs.p99)),
    line('Latency 99.9th percentile', ms(r.latencyMs.p999)),
    line('Latency max', ms(r.latencyMs.max)),
    line('Total operations', count(r.ops)),
    line('Total errors', count(errorTotal)),
    ...Object.entries(r.errors).map(([type, n]) => line(`  ${type}`, count(n))),
    line('Total operation time', `${clock(r.seconds)} (${r.seconds.toFixed(2)} s)`),
    ...cpuLines(r.cpu),
    ...internodeLines(r.internode),
    ...(c.speculativeRetry !== undefined && c.speculativeRetry !== 'NONE' && r.speculativeReads !== undefined
      ? [line('Reads sent twice', `${count(r.speculativeReads)} (the client's speculativeRetry ${c.speculativeRetry})`)]
      : []),
    line(
      'Settings',
      `concurrency ${c.concurrency}, ${c.connections} connection(s)/node, ${c.nodes} nodes, ${c.routing} routing, ${c.tls ? 'TLS, ' : ''}` +
        `${count(c.keys)} keys ${c.distribution}, ${c.valueSize}-byte values${c.rate !== null ? `, rate ${count(c.rate)} op/s` : ''}` +
        `${c.warmupSeconds > 0 ? `, after ${c.warmupSeconds} s warm-up${c.warmupAuto ? " (until the nodes' CPU per op settled)" : ''}` : ''}`,
    ),
    line('Seed', String(r.seed)),
  ];
  return lines.join('\n');
}

const micros = (n: number): string => `${n.toFixed(1)} µs`;

function cpuLines(c: CpuPerOp): string[] {
  const nodes =
    c.nodeMicrosPerOp === null
      ? `unknown (${c.nodesRead} of ${c.nodes} nodes read from /proc${c.nodes === 0 ? '' : '; their pids come from --spawn or the pid files beside the cluster file'})`
      : `${micros(c.nodeMicrosPerOp)} (all threads of ${c.nodes} nodes; their main threads ${micros(c.nodeMainThreadMicrosPerOp!)})`;
  return [
    line('CPU per op, nodes', nodes),
    line('CPU per op, bench', c.clientMicrosPerOp === null ? 'unknown (no operation sent)' : micros(c.clientMicrosPerOp)),
    ...(c.coresBusy === null ? [] : [line('Cores busy', coresText(c.coresBusy))]),
  ];
}

function coresText(b: CoresBusy): string {
  const n = (v: number | null): string => (v === null ? 'unknown' : v.toFixed(2));
  return `${n(b.machine)} of ${b.cores} (nodes ${n(b.nodes)}, bench ${n(b.bench)}, other processes ${n(b.others)})`;
}

function callsText(what: string, calls: number, items: number): string {
  const each = itemsPerCall(calls, items);
  return `${count(calls)} ${what} calls${each === null ? '' : ` of ${each.toFixed(2)} items`}`;
}

function internodeLines(byNode: PeerCallsByNode | null): string[] {
  if (byNode === null) return [];
  return Object.entries(byNode).map(([id, c]) =>
    line(
      `Internode calls, node ${id}`,
      c === null
        ? 'unknown (the node did not answer)'
        : `${callsText('replicate', c.replicateCalls, c.replicateItems)}, ${callsText('readLocal', c.readLocalCalls, c.readLocalItems)}`,
    ),
  );
}

function mbText(mb: number | null): string {
  return mb === null ? 'unknown' : `${mb.toFixed(1)} MB`;
}

function restartedRssText(r: RestartResult): string {
  const settled = r.rss_restarted_settled_mb === null ? '' : `, ${mbText(r.rss_restarted_settled_mb)} ${r.settle_seconds} s later`;
  const peak = r.rss_peak_after_restart_mb === null ? '' : `; at most ${mbText(r.rss_peak_after_restart_mb)} from its start on`;
  return `${mbText(r.rss_after_restart_mb)} once its hints were replayed${settled}${peak}`;
}

export function formatRestart(r: RestartResult): string {
  return [
    formatResult(r),
    ...Object.entries(r.rss_mb).map(([id, mb]) => {
      const keys = r.keys_per_node[id];
      const settled = r.rss_settled_mb === null ? '' : `, ${mbText(r.rss_settled_mb[id] ?? null)} after ${r.settle_seconds} s idle`;
      const superseded = r.superseded_per_node?.[id];
      const rows = superseded == null ? '' : ` and ${count(superseded)} superseded rows`;
      return line(
        `RSS node ${id}`,
        `${mbText(mb)}${r.rss_settled_mb === null ? '' : ' after load'}${settled}${keys == null ? '' : `, holding ${count(keys)} keys${rows}`}`,
      );
    }),
    line('Restart time', `${count(r.restart_ms)} ms (node ${r.restartedNode}: kill -9, start, first answer)`),
    ...(r.rss_after_restart_mb === null ? [] : [line(`RSS node ${r.restartedNode} restarted`, restartedRssText(r))]),
    ...(r.hints_per_sec === null
      ? []
      : [line('Hint replay', `${count(r.hints)} hints in ${count(r.hint_replay_ms)} ms = ${count(Math.round(r.hints_per_sec))} hints/s`)]),
  ].join('\n');
}

const ratioText = (r: number | null): string => (r === null ? 'unknown' : `${r.toFixed(2)}×`);

export function formatCompare(c: CompareResult): string {
  const ratio =
    c.ratio === null
      ? 'n/a (echo completed nothing)'
      : `${c.ratio.toFixed(3)} (${c.workload.workload} reaches ${(c.ratio * 100).toFixed(1)}% of the echo op rate)`;
  return [
    '== echo ==',
    formatResult(c.echo),
    '',
    `== ${c.workload.workload} ==`,
    formatResult(c.workload),
    '',
    line(`Ratio ${c.workload.workload}/echo`, ratio),
    line(
      `CPU ratio ${c.workload.workload}/echo`,
      `nodes ${ratioText(c.cpuRatio.node)}, bench ${ratioText(c.cpuRatio.client)} (CPU per op)`,
    ),
  ].join('\n');
}

/** What one node's part of the full repair did (client/repair.ts), or why it failed. */
export interface RepairNodeResult {
  readonly id: number;
  readonly elapsedMs: number | null;
  readonly keysSent: number | null;
  readonly keysFetched: number | null;
  readonly error?: string;
}

/** --workload repair: a node stopped while writes happen with hints off, then a full repair timed. */
export interface RepairBenchResult {
  readonly workload: 'repair';
  readonly seed: number;
  readonly nodes: number;
  readonly valueSize: number;
  readonly concurrency: number;
  /** Keys written with every node up, before one was stopped. */
  readonly keysPreloaded: number;
  readonly preloadSeconds: number;
  /** The node stopped (SIGSTOP) during the down writes; null when none was (in-sync repair). */
  readonly downNode: number | null;
  /** QUORUM writes made while it was stopped, and how many of them failed. */
  readonly downWrites: number;
  readonly downWriteErrors: Record<string, number>;
  readonly downWritesPerSec: number;
  /** From every node's dump before the repair (bench/repair.ts); null where not read. */
  readonly divergentKeysBefore: number | null;
  readonly staleCopiesBefore: number | null;
  /** Ranges whose replicas' tree roots differed before the repair. */
  readonly rangesDisagreeingBefore: number;
  /** From the repair's start until every range's replicas held the same root; null if they never did. */
  readonly agreedAfterMs: number | null;
  /** From the repair's start until every node's part of it had answered. */
  readonly repairMs: number;
  /** The repair's own summary, summed over the nodes. */
  readonly rangesCompared: number;
  readonly rangesSkipped: number;
  readonly segmentsDiffered: number;
  readonly keysDiffered: number;
  readonly keysSent: number;
  readonly keysFetched: number;
  readonly bytesSent: number;
  readonly bytesFetched: number;
  readonly compareBytes: number;
  /** What the repair said of itself: every node ended in agreement. */
  readonly repairSaysAgreed: boolean;
  readonly perNode: RepairNodeResult[];
  /** Checked after the repair apart from it: ranges whose roots differ, keys whose versions differ (null where not read). */
  readonly rangesDisagreeingAfter: number;
  readonly divergentKeysAfter: number | null;
  /** (keysSent + keysFetched) / staleCopiesBefore; null when nothing differed or it was not read. */
  readonly overstreaming: number | null;
  /** The machine's 1-minute load average when the repair started and when it ended. */
  readonly loadAverage: { readonly start: number; readonly end: number };
  /** Cores busy while the repair ran. */
  readonly coresBusy: CoresBusy | null;
  /** The replicas agree by both checks: no root differs, and no key where the dumps were read. */
  readonly agreed: boolean;
}

/** What the nodes' dumps showed, or that they were not read (no node was stopped: the roots alone tell). */
function dumpsText(n: number | null, text: (n: number) => string): string {
  return n === null ? 'dumps not read' : `dumps: ${text(n)}`;
}

function repairNodeText(n: RepairNodeResult): string {
  if (n.error !== undefined) return `failed: ${n.error}`;
  return `${count(n.elapsedMs ?? 0)} ms, sent ${count(n.keysSent ?? 0)}, fetched ${count(n.keysFetched ?? 0)} keys`;
}

export function formatRepair(r: RepairBenchResult): string {
  const down =
    r.downNode === null
      ? 'none (the cluster was in sync)'
      : `node ${r.downNode} stopped for ${count(r.downWrites)} QUORUM writes (${count(r.downWritesPerSec)} op/s, ` +
        `${count(Object.values(r.downWriteErrors).reduce((a, b) => a + b, 0))} failed), hints off`;
  const agreed = r.agreedAfterMs === null ? 'never: the roots still differ' : `${count(r.agreedAfterMs)} ms after the repair started`;
  return [
    line('Workload', `repair, ${r.nodes} nodes, ${r.valueSize}-byte values`),
    line('Keys preloaded', `${count(r.keysPreloaded)}${r.keysPreloaded > 0 ? ` in ${r.preloadSeconds.toFixed(1)} s` : ''}`),
    line('Node down', down),
    line(
      'Before the repair',
      `${count(r.rangesDisagreeingBefore)} ranges' roots differed; ${dumpsText(r.divergentKeysBefore, (n) => `${count(n)} keys and ${count(r.staleCopiesBefore ?? 0)} copies differed`)}`,
    ),
    line('Replicas agree', agreed),
    line('Repair time', `${count(r.repairMs)} ms (every node's part answered)`),
    line('Ranges compared', `${count(r.rangesCompared)} (range, peer) pairs, ${count(r.rangesSkipped)} skipped`),
    line('Differed (repair says)', `${count(r.segmentsDiffered)} segments, ${count(r.keysDiffered)} keys`),
    line(
      'Streamed',
      `${count(r.keysSent)} keys sent (${count(r.bytesSent)} bytes), ${count(r.keysFetched)} fetched (${count(r.bytesFetched)} bytes); ${count(r.compareBytes)} bytes of hashes and digests`,
    ),
    line(
      'Overstreaming',
      r.overstreaming === null
        ? 'n/a (nothing differed, or the dumps were not read)'
        : `${r.overstreaming.toFixed(3)} (keys streamed / copies that differed)`,
    ),
    ...r.perNode.map((n) => line(`  node ${n.id}`, repairNodeText(n))),
    line(
      'After the repair',
      `${count(r.rangesDisagreeingAfter)} ranges' roots differ; ${dumpsText(r.divergentKeysAfter, (n) => `${count(n)} keys differ`)}; the repair says ${r.repairSaysAgreed ? 'agreed' : 'NOT agreed'}`,
    ),
    line('Verdict', r.agreed ? 'the replicas agree' : 'the replicas DO NOT agree'),
    line('Load average', `${r.loadAverage.start.toFixed(2)} at the start, ${r.loadAverage.end.toFixed(2)} at the end`),
    ...(r.coresBusy === null ? [] : [line('Cores busy', coresText(r.coresBusy))]),
    line('Seed', String(r.seed)),
  ].join('\n');
}
