/**
 * The dashboard's picture of the cluster: every node polled once a second,
 * and what the page shows derived from the answers. `DashboardState` is pure
 * (readings in, a view out) and keeps the last ten minutes; `Poller` runs
 * the polls through the fetchers it is given, so tests can drive either.
 *
 * A node is up when it answered this poll and down when it did not (refused,
 * lost or too slow: DASHBOARD_POLL_TIMEOUT_MS), so a dead node shows down at
 * the first poll after it died.
 */
import { assert } from '../common/assert';
import { DASHBOARD_DIVERGENT_SHOWN_MAX, DASHBOARD_SAMPLES_MAX } from '../common/limits';
import { NodeAddress } from '../config/cluster';
import { Buckets, quantileBetween, RingArc, ratePerSecond, ringArcs } from './derive';

/** What one poll of one node brought back. */
export type NodeReading =
  | {
      readonly ok: true;
      /** Counters as `namespace.name` → value (see common/counters.ts). */
      readonly counters: Readonly<Record<string, number>>;
      /** Hints this node holds, by target node id. */
      readonly hints: ReadonlyMap<number, number>;
      readonly downPeers: readonly number[];
      /** Request latency buckets from the node's /metrics, when it serves them. */
      readonly buckets?: Buckets;
    }
  | { readonly ok: false; readonly error: string };

/** A fixed number of the newest items: pushing onto a full buffer drops the oldest. */
export class RingBuffer<T> {
  private readonly items: T[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, 'a ring buffer holds at least one item');
  }

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  get length(): number {
    return this.items.length;
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}

/** One poll of one node, as charted: null where there is nothing to draw (down, just up, no requests). */
export interface Sample {
  readonly opsPerSecond: number | null;
  readonly p99Ms: number | null;
  /** Client requests past settings.slowRequestMs, a second (client.slowRequests; the node's log names them). */
  readonly slowPerSecond: number | null;
}

/** A poll of every node: the time and a sample per node, in node id order. */
interface Row {
  readonly at: number;
  readonly samples: readonly Sample[];
}

/** The counters that count a client's operations, as a coordinator sees them. */
const OPERATION_COUNTERS = ['coordinator.reads', 'coordinator.writes'];
/** The quantile the latency chart shows. */
const LATENCY_QUANTILE = 0.99;

/** What the last answer of a node said, kept to compute the next rates. */
interface Last {
  readonly at: number;
  readonly operations: number;
  readonly slow: number;
  readonly buckets?: Buckets;
}

interface Track {
  up: boolean;
  /** When the node last went up or down (ms since the epoch); 0 before the first poll. */
  since: number;
  error?: string;
  last?: Last;
  keys: number | null;
  /** The node's last commit failed for a full disk (store.diskFull). */
  diskFull: boolean;
  hints: ReadonlyMap<number, number>;
  downPeers: readonly number[];
}

export interface NodeView {
  readonly id: number;
  readonly address: string;
  readonly up: boolean;
  readonly since: number;
  readonly error?: string;
  readonly keys: number | null;
  /** The node refuses writes: its disk is full. */
  readonly diskFull: boolean;
  readonly hints: { readonly target: number; readonly count: number }[];
  readonly hintsPending: number;
  readonly downPeers: readonly number[];
  readonly opsPerSecond: number | null;
  readonly p99Ms: number | null;
  readonly slowPerSecond: number | null;
  readonly arc: RingArc;
}

export interface DivergentView {
  /** When the scan finished, or null while it runs. */
  readonly at: number | null;
  readonly count: number;
  readonly keys: readonly string[];
  readonly error?: string;
}

export interface DashboardView {
  readonly at: number;
  readonly replicationFactor: number;
  readonly nodes: NodeView[];
  /** Poll times in seconds since the epoch, oldest first, and per node a value for each. */
  readonly times: number[];
  readonly opsPerSecond: (number | null)[][];
  readonly p99Ms: (number | null)[][];
  /** Whether any node has served latency histograms: without them the latency chart has nothing. */
  readonly latency: boolean;
  /** Cluster operations in progress (joins, leaves, repairs run by hand): none exist yet. */
  readonly operations: string[];
  readonly divergent: DivergentView | null;
}

function operationsOf(counters: Readonly<Record<string, number>>): number {
  return OPERATION_COUNTERS.reduce((sum, name) => sum + (counters[name] ?? 0), 0);
}

export class DashboardState {
  private readonly rows = new RingBuffer<Row>(DASHBOARD_SAMPLES_MAX);
  private readonly tracks: Track[];
  private readonly arcs: Map<number, RingArc>;
  private latencySeen = false;
  private divergent: DivergentView | null = null;

  constructor(
    private readonly nodes: readonly NodeAddress[],
    private readonly replicationFactor: number,
  ) {
    nodes.forEach((n, i) => assert(n.id === i, 'node ids are their index in the cluster file'));
    this.tracks = nodes.map(() => ({ up: false, since: 0, keys: null, diskFull: false, hints: new Map(), downPeers: [] }));
    this.arcs = new Map(ringArcs(nodes).map((a) => [a.id, a]));
  }

  /** Takes one poll of every node (a reading per node, in id order) made at `at` (ms). */
  record(at: number, readings: readonly NodeReading[]): void {
    assert(readings.length === this.tracks.length, 'a poll reads every node');
    const samples = readings.map((r, id) => this.take(this.tracks[id]!, at, r));
    this.rows.push({ at, samples });
  }

  private take(track: Track, at: number, r: NodeReading): Sample {
    if (track.since === 0 || track.up !== r.ok) track.since = at;
    track.up = r.ok;
    if (!r.ok) {
      Object.assign(track, { error: r.error, last: undefined, keys: null, diskFull: false, hints: new Map(), downPeers: [] });
      return { opsPerSecond: null, p99Ms: null, slowPerSecond: null };
    }
    const operations = operationsOf(r.counters);
    const before = track.last;
    const elapsed = before === undefined ? 0 : at - before.at;
    const opsPerSecond = ratePerSecond(before?.operations, operations, elapsed);
    // A node from before the slow request log has no such counter: no rate, rather than a false 0.
    const slow = r.counters['client.slowRequests'];
    const slowPerSecond = slow === undefined ? null : ratePerSecond(before?.slow, slow, elapsed);
    let p99Ms: number | null = null;
    if (r.buckets !== undefined) {
      this.latencySeen = true;
      const q = before === undefined ? null : quantileBetween(before.buckets, r.buckets, LATENCY_QUANTILE);
      p99Ms = q === null ? null : q * 1000;
    }
    track.error = undefined;
    track.last = { at, operations, slow: slow ?? 0, buckets: r.buckets };
    track.keys = r.counters['store.keys'] ?? null;
    track.diskFull = r.counters['store.diskFull'] === 1;
    track.hints = r.hints;
    track.downPeers = r.downPeers;
    return { opsPerSecond, p99Ms, slowPerSecond };
  }

  /** A divergent-key scan started (`result` undefined) or ended. */
  setDivergent(result: { count: number; keys: readonly string[]; error?: string } | undefined, at: number): void {
    if (result === undefined) this.divergent = { at: null, count: 0, keys: [] };
    else this.divergent = { at, count: result.count, keys: result.keys.slice(0, DASHBOARD_DIVERGENT_SHOWN_MAX), error: result.error };
  }

  get scanning(): boolean {
    return this.divergent !== null && this.divergent.at === null;
  }

  view(at: number): DashboardView {
    const rows = this.rows.toArray();
    const newest = rows[rows.length - 1];
    return {
      at,
      replicationFactor: this.replicationFactor,
      nodes: this.nodes.map((n) => this.nodeView(n, newest?.samples[n.id])),
      times: rows.map((r) => r.at / 1000),
      opsPerSecond: this.nodes.map((n) => rows.map((r) => r.samples[n.id]!.opsPerSecond)),
      p99Ms: this.nodes.map((n) => rows.map((r) => r.samples[n.id]!.p99Ms)),
      latency: this.latencySeen,
      operations: [],
      divergent: this.divergent,
    };
  }

  private nodeView(n: NodeAddress, sample: Sample | undefined): NodeView {
    const t = this.tracks[n.id]!;
    const hints = [...t.hints].map(([target, count]) => ({ target, count })).sort((a, b) => a.target - b.target);
    return {
      id: n.id,
      address: `${n.host}:${n.port}`,
      up: t.up,
      since: t.since,
      ...(t.error === undefined ? {} : { error: t.error }),
      keys: t.keys,
      diskFull: t.diskFull,
      hints,
      hintsPending: hints.reduce((sum, h) => sum + h.count, 0),
      downPeers: t.downPeers,
      opsPerSecond: sample?.opsPerSecond ?? null,
      p99Ms: sample?.p99Ms ?? null,
      slowPerSecond: sample?.slowPerSecond ?? null,
      arc: this.arcs.get(n.id)!,
    };
  }
}

/** How the poller reads one node: its status, and its metrics page when it serves one. */
export interface NodeFetchers {
  read(id: number): Promise<NodeReading>;
}

/**
 * Polls every node every `intervalMs` (or as soon as the previous poll is
 * done, when that took longer), records the readings, and calls `onPoll`.
 */
export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly state: DashboardState,
    private readonly fetchers: NodeFetchers,
    private readonly ids: readonly number[],
    private readonly intervalMs: number,
    private readonly onPoll: () => void,
  ) {}

  start(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.poll();
    }, delayMs);
  }

  private async poll(): Promise<void> {
    const at = Date.now();
    const readings = await Promise.all(
      this.ids.map((id) => this.fetchers.read(id).catch((err: Error): NodeReading => ({ ok: false, error: err.message }))),
    );
    if (this.stopped) return;
    this.state.record(at, readings);
    this.onPoll();
    this.schedule(Math.max(0, at + this.intervalMs - Date.now()));
  }

  /** Stops polling; resolves once a poll under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
