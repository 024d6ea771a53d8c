/**
 * The dashboard's picture of the cluster: every node polled once a second,
 * and what the page shows derived from the answers. `DashboardState` is pure
 * (readings in, a view out) and keeps the last ten minutes; `Poller` runs
 * the polls through the fetchers it is given, so tests can drive either.
 *
 * A node is up when it answered this poll and down when it did not (refused,
 * lost or too slow: DASHBOARD_POLL_TIMEOUT_MS), so a dead node shows down at
 * the first poll after it died.
 *
 * The nodes polled are the ring's: each poll first learns the membership
 * from the nodes (when the fetchers can), so a node that joined is shown
 * and polled from then on, one that left is dropped, and the operation in
 * progress is listed.
 */
import { assert } from '../common/assert';
import { DASHBOARD_DIVERGENT_SHOWN_MAX, DASHBOARD_SAMPLES_MAX } from '../common/limits';
import { NodeAddress } from '../config/cluster';
import { Buckets, bucketDeltas, quantileOf, RingArc, ratePerSecond, ringArcs, sumBuckets } from './derive';

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

/** A poll of every node: the time, a sample per node polled (by id), and the whole cluster's. */
interface Row {
  readonly at: number;
  readonly samples: ReadonlyMap<number, Sample>;
  readonly cluster: ClusterSample;
}

/**
 * The cluster as one: every node's operations a second added up, and the p99
 * of every request any node coordinated, from their histograms added bucket
 * by bucket (a quantile of the union, which no mix of the nodes' own p99s gives).
 */
export interface ClusterSample {
  readonly opsPerSecond: number | null;
  readonly p99Ms: number | null;
}

/** A node of the ring as the dashboard polls and draws it: where it listens, its token and its state in the ring. */
export interface RingNode extends NodeAddress {
  /** NORMAL, JOINING, LEAVING or MOVING; absent when not learnt from the ring (the cluster file's nodes before any answer). */
  readonly state?: string;
}

/** The ring as one poll learnt it: its nodes (those that left are not among them) and the operation in progress, in words. */
export interface RingReading {
  readonly nodes: readonly RingNode[];
  readonly operations: readonly string[];
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
  /** Its state in the ring (NORMAL, JOINING, LEAVING, MOVING), once learnt. */
  readonly state?: string;
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
  /** The whole cluster's, one per poll time; `cluster` is the newest. */
  readonly clusterOpsPerSecond: (number | null)[];
  readonly clusterP99Ms: (number | null)[];
  readonly cluster: ClusterSample;
  /** Whether any node has served latency histograms: without them the latency chart has nothing. */
  readonly latency: boolean;
  /** The membership operation in progress, in words (a join, decommission, move, replacement or removal), if any. */
  readonly operations: readonly string[];
  readonly divergent: DivergentView | null;
}

function operationsOf(counters: Readonly<Record<string, number>>): number {
  return OPERATION_COUNTERS.reduce((sum, name) => sum + (counters[name] ?? 0), 0);
}

export class DashboardState {
  private readonly rows = new RingBuffer<Row>(DASHBOARD_SAMPLES_MAX);
  private readonly tracks = new Map<number, Track>();
  private nodes: readonly RingNode[] = [];
  private arcs = new Map<number, RingArc>();
  private operations: readonly string[] = [];
  private latencySeen = false;
  private divergent: DivergentView | null = null;

  constructor(
    nodes: readonly RingNode[],
    private readonly replicationFactor: number,
  ) {
    this.setRing({ nodes, operations: [] });
  }

  /** The nodes polled now, in id order. */
  ids(): number[] {
    return this.nodes.map((n) => n.id);
  }

  /** The ring as a poll learnt it: its nodes from now on (a node new to it starts unpolled), and the operation in progress. */
  setRing(ring: RingReading): void {
    assert(ring.nodes.length > 0, 'a ring has at least one node');
    this.nodes = [...ring.nodes].sort((a, b) => a.id - b.id);
    for (const n of this.nodes)
      if (!this.tracks.has(n.id))
        this.tracks.set(n.id, { up: false, since: 0, keys: null, diskFull: false, hints: new Map(), downPeers: [] });
    for (const id of this.tracks.keys()) if (!this.nodes.some((n) => n.id === id)) this.tracks.delete(id);
    this.arcs = new Map(ringArcs(this.nodes).map((a) => [a.id, a]));
    this.operations = ring.operations;
  }

  /** Takes one poll of the nodes (a reading per node of ids(), in that order) made at `at` (ms). */
  record(at: number, readings: readonly NodeReading[]): void {
    assert(readings.length === this.nodes.length, 'a poll reads every node');
    const samples = new Map<number, Sample>();
    const latencies: Buckets[] = [];
    readings.forEach((r, i) => {
      const id = this.nodes[i]!.id;
      const { sample, latency } = this.take(this.tracks.get(id)!, at, r);
      samples.set(id, sample);
      if (latency !== undefined) latencies.push(latency);
    });
    this.rows.push({ at, samples, cluster: clusterSample([...samples.values()], latencies) });
  }

  /** A node's sample of this poll, and what its latency histogram observed since the last one (when it can say). */
  private take(track: Track, at: number, r: NodeReading): { sample: Sample; latency?: Buckets } {
    if (track.since === 0 || track.up !== r.ok) track.since = at;
    track.up = r.ok;
    if (!r.ok) {
      Object.assign(track, { error: r.error, last: undefined, keys: null, diskFull: false, hints: new Map(), downPeers: [] });
      return { sample: { opsPerSecond: null, p99Ms: null, slowPerSecond: null } };
    }
    const operations = operationsOf(r.counters);
    const before = track.last;
    const elapsed = before === undefined ? 0 : at - before.at;
    const opsPerSecond = ratePerSecond(before?.operations, operations, elapsed);
    // A node from before the slow request log has no such counter: no rate, rather than a false 0.
    const slow = r.counters['client.slowRequests'];
    const slowPerSecond = slow === undefined ? null : ratePerSecond(before?.slow, slow, elapsed);
    let p99Ms: number | null = null;
    let latency: Buckets | undefined;
    if (r.buckets !== undefined) {
      this.latencySeen = true;
      latency = before === undefined ? undefined : (bucketDeltas(before.buckets, r.buckets) ?? undefined);
      const q = latency === undefined ? null : quantileOf(latency, LATENCY_QUANTILE);
      p99Ms = q === null ? null : q * 1000;
    }
    track.error = undefined;
    track.last = { at, operations, slow: slow ?? 0, buckets: r.buckets };
    track.keys = r.counters['store.keys'] ?? null;
    track.diskFull = r.counters['store.diskFull'] === 1;
    track.hints = r.hints;
    track.downPeers = r.downPeers;
    return { sample: { opsPerSecond, p99Ms, slowPerSecond }, latency };
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
      nodes: this.nodes.map((n) => this.nodeView(n, newest?.samples.get(n.id))),
      times: rows.map((r) => r.at / 1000),
      // A node that joined has nothing before its first poll: null there, as for a node that was down.
      opsPerSecond: this.nodes.map((n) => rows.map((r) => r.samples.get(n.id)?.opsPerSecond ?? null)),
      p99Ms: this.nodes.map((n) => rows.map((r) => r.samples.get(n.id)?.p99Ms ?? null)),
      clusterOpsPerSecond: rows.map((r) => r.cluster.opsPerSecond),
      clusterP99Ms: rows.map((r) => r.cluster.p99Ms),
      cluster: newest?.cluster ?? { opsPerSecond: null, p99Ms: null },
      latency: this.latencySeen,
      operations: this.operations,
      divergent: this.divergent,
    };
  }

  private nodeView(n: RingNode, sample: Sample | undefined): NodeView {
    const t = this.tracks.get(n.id)!;
    const hints = [...t.hints].map(([target, count]) => ({ target, count })).sort((a, b) => a.target - b.target);
    return {
      id: n.id,
      address: `${n.host}:${n.port}`,
      ...(n.state === undefined ? {} : { state: n.state }),
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

/** The cluster's sample of one poll, from its nodes' samples and the latency histograms' deltas of the nodes that gave one. */
function clusterSample(samples: readonly Sample[], latencies: readonly Buckets[]): ClusterSample {
  const rates = samples.map((s) => s.opsPerSecond).filter((r) => r !== null);
  const q = latencies.length === 0 ? null : quantileOf(sumBuckets(latencies), LATENCY_QUANTILE);
  return {
    opsPerSecond: rates.length === 0 ? null : rates.reduce((sum, r) => sum + r, 0),
    p99Ms: q === null ? null : q * 1000,
  };
}

/** How the poller reads one node: its status, and its metrics page when it serves one; and, when it can, the ring. */
export interface NodeFetchers {
  read(id: number): Promise<NodeReading>;
  /** The ring now, from the first node that gives it; undefined when none does (the last one learnt stands). */
  ring?(): Promise<RingReading | undefined>;
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
    const ring = await this.fetchers.ring?.().catch(() => undefined);
    if (ring !== undefined) this.state.setRing(ring);
    const at = Date.now();
    const readings = await Promise.all(
      this.state.ids().map((id) => this.fetchers.read(id).catch((err: Error): NodeReading => ({ ok: false, error: err.message }))),
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
