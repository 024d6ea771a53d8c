/**
 * The measurements of --workload join, taken from outside the nodes:
 *
 * - the join's own progress (operationProgress on the joining node), polled
 *   every JOIN_POLL_MS: when streaming began (the node knows its ranges)
 *   and ended (every range done), how many keys and bytes it streamed, and
 *   when the node was NORMAL;
 * - which nodes stream (the joining node and each range's source, from the
 *   stream plan of the join's begin epoch) and the highest resident memory
 *   of each while the join runs (RssPeak);
 * - the write load's throughput before the join and while it runs, which
 *   the bench's runner measures.
 *
 * The targets are issue 18's: streaming at 50,000 keys/s or more, a join of
 * over a million keys within 60 s, the write load keeping half its
 * throughput or more.
 */
import type { NodeAdmin } from '../client/client';
import type { JoinPlan } from '../client/operations';
import { isKvError } from '../common/errors';
import { STREAM_BATCHES_IN_FLIGHT_MAX, STREAM_PAGE_BYTES_MAX, STREAM_RANGES_IN_PARALLEL_MAX } from '../common/limits';
import { EpochEntry, replayLog } from '../membership/changes';
import { streamsOf } from '../membership/stream-plan';
import type { types } from '../rpc/thrift';
import type { BenchOptions } from './options';
import { CpuReading, readCpu } from './cpu';
import { count, line } from './report';
import type { RunResult } from './runner';

/** How often the bench asks the joining node where its join is: the resolution of the stream's timing. */
export const JOIN_POLL_MS = 100;
/** Longest a join may take before the bench gives up on it (and reports the join as failed). */
export const JOIN_TIMEOUT_MS = 15 * 60_000;

/** Issue 18's targets. */
export const JOIN_TARGETS = {
  streamKeysPerSecMin: 50_000,
  joinKeysMin: 1_000_000,
  joinSecondsMax: 60,
  writeShareMin: 0.5,
} as const;

/** The window of an operation's streams: the most bytes of pages read and not yet durable at their targets. */
export const STREAM_WINDOW_BYTES = STREAM_RANGES_IN_PARALLEL_MAX * STREAM_BATCHES_IN_FLIGHT_MAX * STREAM_PAGE_BYTES_MAX;

/** When a join's steps were seen, in ms from the joining node's spawn. */
export interface JoinTimes {
  /** First poll at which the node said how many ranges it streams. */
  readonly streamStartMs: number;
  /** First poll at which every range was done. */
  readonly streamEndMs: number;
  /** First poll at which the node was NORMAL with its operation done. */
  readonly normalMs: number;
  readonly keys: number;
  readonly bytes: number;
  readonly ranges: number;
}

/** Folds successive polls of a join's progress into its times; pure. */
export class JoinTimeline {
  private streamStartMs: number | null = null;
  private streamEndMs: number | null = null;
  private last: types.OperationProgress | null = null;

  /** Takes one poll; returns the times once the join is over. */
  observe(atMs: number, p: types.OperationProgress): JoinTimes | null {
    this.last = p;
    if (p.rangesTotal > 0 && this.streamStartMs === null) this.streamStartMs = atMs;
    const streamed = (p.rangesTotal > 0 && p.rangesDone >= p.rangesTotal) || p.done;
    if (streamed && this.streamEndMs === null) this.streamEndMs = atMs;
    if (!(p.done && p.state === 'NORMAL')) return null;
    return {
      streamStartMs: this.streamStartMs ?? atMs,
      streamEndMs: this.streamEndMs ?? atMs,
      normalMs: atMs,
      keys: Number(p.keys),
      bytes: Number(p.bytes),
      ranges: p.rangesTotal,
    };
  }

  /** Where the join was at the last poll, for an error. */
  lastSeen(): string {
    const p = this.last;
    return p === null ? 'never answered' : `${p.state}, ${Number(p.keys)} keys, ranges ${p.rangesDone}/${p.rangesTotal}`;
  }
}

/**
 * Polls the joining node until it is NORMAL; throws its error, or when it
 * exits, stays silent or takes longer than JOIN_TIMEOUT_MS. A node that does
 * not answer yet (still starting) is asked again.
 */
export async function followJoin(admin: NodeAdmin, sinceMs: number, now: () => number, alive: () => boolean): Promise<JoinTimes> {
  const timeline = new JoinTimeline();
  for (;;) {
    try {
      const p = await admin.operationProgress();
      if (p.error) throw new Error(`the join stopped: ${p.error}`);
      const times = timeline.observe(now() - sinceMs, p);
      if (times !== null) return times;
    } catch (err) {
      if (!isKvError(err, 'ConnectionError') && !isKvError(err, 'TimedOut')) throw err;
    }
    if (!alive()) throw new Error(`the joining node exited (${timeline.lastSeen()})`);
    if (now() - sinceMs > JOIN_TIMEOUT_MS) throw new Error(`the join took over ${JOIN_TIMEOUT_MS / 1000} s (${timeline.lastSeen()})`);
    await new Promise((resolve) => setTimeout(resolve, JOIN_POLL_MS));
  }
}

/** The nodes that stream in `node`'s join: the node itself and every range's source, from the log of a node that holds the join. */
export function streamingNodes(entries: readonly EpochEntry[], node: number): number[] {
  const begin = entries.find((e) => e.change.kind === 'join-begin' && e.change.node === node);
  if (begin === undefined) return [node];
  const m = replayLog(entries.filter((e) => e.epoch <= begin.epoch));
  const sources = streamsOf(m)
    .filter((s) => s.target === node)
    .map((s) => s.source);
  return [node, ...new Set(sources)].sort((a, b) => a - b);
}

/**
 * The CPU time each node used while a join ran (all threads, from /proc):
 * what a streamed key costs, whatever the machine's load makes of the rate.
 * The write load's own CPU is in it too; with `--concurrency 1` it is small.
 */
export class JoinCpu {
  private readonly before: CpuReading;

  constructor(
    private readonly ids: readonly number[],
    private readonly pidOf: (id: number) => number | undefined,
  ) {
    this.before = this.read();
  }

  /** Ms of CPU of each node since the start (a node not running then, the joining one: since its spawn); null where unknown. */
  sinceStart(): Record<string, number | null> {
    const after = this.read();
    const out: Record<string, number | null> = {};
    this.ids.forEach((id, i) => {
      const a = after.nodes[i];
      const b = this.before.nodes[i];
      const base = b === undefined ? 0 : b.pid === a?.pid ? b.cpu.totalNs : undefined;
      out[String(id)] = a === undefined || base === undefined ? null : Math.round((a.cpu.totalNs - base) / 1e6);
    });
    return out;
  }

  private read(): CpuReading {
    return readCpu(this.ids.map(this.pidOf));
  }
}

/** --workload join: a fifth node joins a preloaded four-node cluster while a write load runs. */
export interface JoinBenchResult {
  readonly workload: 'join';
  readonly level: string;
  readonly seed: number;
  readonly nodesBefore: number;
  readonly valueSize: number;
  readonly concurrency: number;
  readonly keysPreloaded: number;
  readonly preloadSeconds: number;
  readonly preloadErrors: Record<string, number>;
  readonly joinedNode: number;
  /** The token the join planner chose, as text (JSON-escaped where not printable). */
  readonly token: string;
  /** How long the planner took to choose it (it reads every primary range). */
  readonly planMs: number;
  readonly keysStreamed: number;
  readonly bytesStreamed: number;
  readonly rangesStreamed: number;
  /** Keys the joined node holds once NORMAL (its own count). */
  readonly keysHeld: number | null;
  readonly streamMs: number;
  readonly streamKeysPerSec: number;
  /** From the node's spawn until it is NORMAL. */
  readonly joinMs: number;
  readonly writesBeforePerSec: number;
  readonly writesDuringPerSec: number;
  /** During over before. */
  readonly writeShareDuring: number | null;
  readonly writesAfterPerSec: number;
  readonly writeErrorsBefore: Record<string, number>;
  readonly writeErrorsDuring: Record<string, number>;
  readonly writeErrorsAfter: Record<string, number>;
  /**
   * The write load's latency (ms, of the operations that succeeded) in each
   * phase: what a join costs the clients beside their rate.
   */
  readonly writeLatencyMs: { readonly before: WriteLatency; readonly during: WriteLatency; readonly after: WriteLatency };
  /** The joining node and the sources of its ranges. */
  readonly streamingNodes: number[];
  /** Each node's RSS just before the join (the joining node: null) and its highest while the join ran. */
  readonly rssBeforeMb: Record<string, number | null>;
  readonly rssPeakMb: Record<string, number | null>;
  readonly streamWindowBytes: number;
  readonly loadAverage: { readonly start: number; readonly end: number };
  /** Each node's CPU time (ms, all threads) from the joining node's spawn until it was NORMAL; null where unknown. */
  readonly joinCpuMs: Record<string, number | null>;
  /** All the nodes' CPU in that time per key streamed (the write load's included), and the joined node's alone; null where unknown. */
  readonly cpuMicrosPerKey: { readonly nodes: number | null; readonly joined: number | null };
  /**
   * The CPU of the nodes that were there before the join, per write, over
   * the writes before it and while it ran (the sources' stream reads are in
   * the second): a write costs more when the writes are fewer (see
   * docs/benchmarks.md, CPU per operation against the offered rate).
   */
  readonly oldNodesCpuMicrosPerWrite: { readonly before: number | null; readonly during: number | null };
  readonly targets: JoinTargetsMet;
}

export interface WriteLatency {
  readonly p50: number;
  readonly p99: number;
}

export interface JoinTargetsMet {
  readonly streamRate: boolean;
  readonly overMillionKeys: boolean;
  readonly within60s: boolean;
  readonly writeShare: boolean;
}

export function targetsMet(r: Pick<JoinBenchResult, 'streamKeysPerSec' | 'keysStreamed' | 'joinMs' | 'writeShareDuring'>): JoinTargetsMet {
  return {
    streamRate: r.streamKeysPerSec >= JOIN_TARGETS.streamKeysPerSecMin,
    overMillionKeys: r.keysStreamed > JOIN_TARGETS.joinKeysMin,
    within60s: r.joinMs <= JOIN_TARGETS.joinSecondsMax * 1000,
    writeShare: r.writeShareDuring !== null && r.writeShareDuring >= JOIN_TARGETS.writeShareMin,
  };
}

const errorsText = (e: Record<string, number>): string => {
  const total = Object.values(e).reduce((a, b) => a + b, 0);
  return total === 0
    ? 'none failed'
    : `${count(total)} failed (${Object.entries(e)
        .map(([k, n]) => `${k} ${count(n)}`)
        .join(', ')})`;
};

const yes = (ok: boolean): string => (ok ? 'met' : 'NOT met');

const mb = (v: number | null | undefined): string => (v == null ? 'unknown' : `${v.toFixed(1)} MB`);

/**
 * The RSS lines: the streaming nodes first, then the others, whose growth
 * is the write load's own and so tells what of the streaming nodes' growth
 * the stream's window does not explain.
 */
export function rssRows(r: Pick<JoinBenchResult, 'streamingNodes' | 'rssBeforeMb' | 'rssPeakMb'>): [string, string][] {
  const others = Object.keys(r.rssPeakMb)
    .map(Number)
    .filter((id) => !r.streamingNodes.includes(id))
    .sort((a, b) => a - b);
  const text = (id: number): string => `${mb(r.rssBeforeMb[String(id)])} before, at most ${mb(r.rssPeakMb[String(id)])} during the join`;
  return [
    ...r.streamingNodes.map((id): [string, string] => [`RSS node ${id}`, text(id)]),
    ...others.map((id): [string, string] => [`RSS node ${id}, not streaming`, text(id)]),
  ];
}

export function formatJoin(r: JoinBenchResult): string {
  const t = r.targets;
  return [
    line('Workload', `join, ${r.nodesBefore} nodes + node ${r.joinedNode}, ${r.valueSize}-byte values, writes at ${r.level}`),
    line('Keys preloaded', `${count(r.keysPreloaded)} in ${r.preloadSeconds.toFixed(1)} s, ${errorsText(r.preloadErrors)}`),
    line('Token', `${r.token} (planned in ${count(r.planMs)} ms)`),
    line('Streamed', `${count(r.keysStreamed)} keys, ${count(r.bytesStreamed)} bytes, ${r.rangesStreamed} ranges`),
    line('Joined node holds', r.keysHeld === null ? 'unknown' : `${count(r.keysHeld)} keys`),
    line('Stream rate', `${count(r.streamKeysPerSec)} keys/s (${count(r.streamMs)} ms streaming)`),
    line('Join time', `${count(r.joinMs)} ms (spawn to NORMAL)`),
    line(
      'Writes before',
      `${count(r.writesBeforePerSec)} op/s, ${latencyText(r.writeLatencyMs.before)}, ${errorsText(r.writeErrorsBefore)}`,
    ),
    line(
      'Writes during the join',
      `${count(r.writesDuringPerSec)} op/s${r.writeShareDuring === null ? '' : ` (${(r.writeShareDuring * 100).toFixed(1)}% of before)`}, ` +
        `${latencyText(r.writeLatencyMs.during)}, ${errorsText(r.writeErrorsDuring)}`,
    ),
    line('Writes after', `${count(r.writesAfterPerSec)} op/s, ${latencyText(r.writeLatencyMs.after)}, ${errorsText(r.writeErrorsAfter)}`),
    ...rssRows(r).map(([label, text]) => line(label, text)),
    line(
      'Stream window',
      `${count(r.streamWindowBytes)} bytes (STREAM_RANGES_IN_PARALLEL_MAX ranges × STREAM_BATCHES_IN_FLIGHT_MAX pages × STREAM_PAGE_BYTES_MAX)`,
    ),
    line(
      'Targets',
      `stream ≥ ${count(JOIN_TARGETS.streamKeysPerSecMin)} keys/s ${yes(t.streamRate)}; over ${count(JOIN_TARGETS.joinKeysMin)} keys ${yes(t.overMillionKeys)}; ` +
        `≤ ${JOIN_TARGETS.joinSecondsMax} s ${yes(t.within60s)}; writes ≥ ${JOIN_TARGETS.writeShareMin * 100}% ${yes(t.writeShare)}`,
    ),
    line('CPU during the join', cpuText(r)),
    line('Load average', `${r.loadAverage.start.toFixed(2)} at the start, ${r.loadAverage.end.toFixed(2)} at the end`),
    line('Seed', String(r.seed)),
  ].join('\n');
}

function latencyText(l: WriteLatency): string {
  return `p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms`;
}

function cpuText(r: JoinBenchResult): string {
  const us = (v: number | null): string => (v === null ? 'unknown' : `${v.toFixed(1)} µs`);
  const nodes = Object.entries(r.joinCpuMs)
    .map(([id, ms]) => `node ${id} ${ms === null ? 'unknown' : `${count(ms)} ms`}`)
    .join(', ');
  const perWrite = r.oldNodesCpuMicrosPerWrite;
  return (
    `${nodes}; per key streamed ${us(r.cpuMicrosPerKey.nodes)} all nodes, ${us(r.cpuMicrosPerKey.joined)} the joined node (the write load's share included); ` +
    `per write, the nodes before the join: ${us(perWrite.before)} before it, ${us(perWrite.during)} during it`
  );
}

/** CPU µs per write of every node but the joined one, from their ms; null where any is unknown or nothing was written. */
export function cpuPerWrite(cpuMs: Record<string, number | null>, joined: number, writes: number): number | null {
  const old = Object.entries(cpuMs)
    .filter(([id]) => id !== String(joined))
    .map(([, ms]) => ms);
  if (writes <= 0 || old.length === 0 || old.some((ms) => ms === null)) return null;
  const total = old.reduce<number>((a, b) => a + (b ?? 0), 0);
  return Math.round(((total * 1000) / writes) * 10) / 10;
}

/** CPU µs per key: all nodes' and the joined node's, from their ms. */
export function cpuPerKey(
  cpuMs: Record<string, number | null>,
  joined: number,
  keys: number,
): { nodes: number | null; joined: number | null } {
  const values = Object.values(cpuMs);
  const per = (ms: number): number => Math.round(((ms * 1000) / keys) * 10) / 10;
  const all = values.every((v) => v !== null) ? values.reduce<number>((a, b) => a + (b ?? 0), 0) : null;
  const own = cpuMs[String(joined)] ?? null;
  return keys > 0 ? { nodes: all === null ? null : per(all), joined: own === null ? null : per(own) } : { nodes: null, joined: null };
}

const perSec = (run: RunResult): number => (run.seconds > 0 ? Math.round(run.successes / run.seconds) : 0);

/** p50 and p99 of a run's latencies, to the microsecond. */
export function writeLatency(run: Pick<RunResult, 'latency'>): WriteLatency {
  const ms = (q: number): number => Math.round(run.latency.percentile(q) * 1000) / 1000;
  return { p50: ms(50), p99: ms(99) };
}

/** What the join workload saw, put together. */
export interface JoinRuns {
  readonly o: Pick<BenchOptions, 'level' | 'seed' | 'valueSize' | 'concurrency' | 'keys'>;
  readonly preload: RunResult;
  readonly before: RunResult;
  readonly during: RunResult;
  readonly after: RunResult;
  readonly plan: JoinPlan;
  readonly planMs: number;
  readonly times: JoinTimes;
  readonly keysHeld: number | null;
  readonly streaming: number[];
  readonly rssBefore: Record<string, number | null>;
  readonly rssPeak: Record<string, number | null>;
  readonly nodes: number;
  readonly loadAverage: { readonly start: number; readonly end: number };
  readonly cpuMs: Record<string, number | null>;
  /** Each node's CPU time (ms, all threads) over the writes before the join. */
  readonly cpuMsBefore: Record<string, number | null>;
}

export function joinResult(r: JoinRuns): JoinBenchResult {
  const streamMs = Math.max(1, Math.round(r.times.streamEndMs - r.times.streamStartMs));
  const before = perSec(r.before);
  const during = perSec(r.during);
  const base = {
    workload: 'join' as const,
    level: r.o.level,
    seed: r.o.seed,
    nodesBefore: r.nodes,
    valueSize: r.o.valueSize,
    concurrency: r.o.concurrency,
    keysPreloaded: r.o.keys,
    preloadSeconds: Math.round(r.preload.seconds * 10) / 10,
    preloadErrors: r.preload.errors,
    joinedNode: r.plan.id,
    token: JSON.stringify(r.plan.token),
    planMs: r.planMs,
    keysStreamed: r.times.keys,
    bytesStreamed: r.times.bytes,
    rangesStreamed: r.times.ranges,
    keysHeld: r.keysHeld,
    streamMs,
    streamKeysPerSec: Math.round((r.times.keys * 1000) / streamMs),
    joinMs: Math.round(r.times.normalMs),
    writesBeforePerSec: before,
    writesDuringPerSec: during,
    writeShareDuring: before > 0 ? Math.round((during / before) * 1000) / 1000 : null,
    writesAfterPerSec: perSec(r.after),
    writeErrorsBefore: r.before.errors,
    writeErrorsDuring: r.during.errors,
    writeErrorsAfter: r.after.errors,
    writeLatencyMs: { before: writeLatency(r.before), during: writeLatency(r.during), after: writeLatency(r.after) },
    streamingNodes: r.streaming,
    rssBeforeMb: r.rssBefore,
    rssPeakMb: r.rssPeak,
    streamWindowBytes: STREAM_WINDOW_BYTES,
    loadAverage: r.loadAverage,
    joinCpuMs: r.cpuMs,
    cpuMicrosPerKey: cpuPerKey(r.cpuMs, r.plan.id, r.times.keys),
    oldNodesCpuMicrosPerWrite: {
      before: cpuPerWrite(r.cpuMsBefore, r.plan.id, r.before.successes),
      during: cpuPerWrite(r.cpuMs, r.plan.id, r.during.successes),
    },
  };
  return { ...base, targets: targetsMet(base) };
}
