/**
 * The composition root: one node, both coordinator and replica. It wires the
 * pure parts (ring, clock, failure detector, coordinator) to the I/O parts
 * (SQLite, Thrift server and peer connections) and runs the periodic work:
 * heartbeats, hint delivery, anti-entropy steps, hint expiry and tombstone purging.
 *
 * Start order matters: the log is replayed into memory before the port opens,
 * so a node never answers from a partial state; then it says hello to every
 * peer, which tells them it is back and starts their hint delivery to it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isKvError } from '../common/errors';
import { DUMP_PAGE_BYTES_MAX, frameBytesMax, HINT_REPLAY_BATCH_MAX } from '../common/limits';
import { ClusterConfig, ConfigError } from '../config/cluster';
import { HybridClock } from '../clock/hlc';
import { Coordinator } from '../coordinator/coordinator';
import { HintDelivery } from '../hints/hint-delivery';
import { HintStore } from '../hints/hint-store';
import { FailureDetector } from '../membership/failure-detector';
import { Ring } from '../partitioner/ring';
import { RpcConnection } from '../rpc/connection';
import { AntiEntropy } from '../repair/anti-entropy';
import { Replica, RemoteReplica, toMutation } from '../rpc/remote-replica';
import { RpcServer } from '../rpc/server';
import { ProcessorClass, types } from '../rpc/thrift';
import { KeyedVersion, ReplicaStore } from '../storage/replica-store';
import { Sqlite } from '../storage/sqlite';
import { Handler } from './handler';
import { Logger, silentLogger } from './log';

export interface NodeOptions {
  readonly config: ClusterConfig;
  readonly id: number;
  readonly dataDir: string;
  readonly log?: Logger;
  /** Initial offset of the physical clock source, to test clock skew. */
  readonly clockOffsetMs?: number;
  /**
   * Where to reach peers, when not at their cluster-file address: the chaos
   * checker routes each internode link through a proxy it can cut.
   */
  readonly peerEndpoints?: ReadonlyMap<number, { host: string; port: number }>;
}

/** Largest clock offset the fault switch accepts. */
export const CLOCK_OFFSET_MS_MAX = 3600_000;

/** How often expired hints and tombstones are swept. */
const HINT_EXPIRY_INTERVAL_MS = 60_000;
const TOMBSTONE_PURGE_INTERVAL_MS = 3600_000;

/** The layout of the node's SQLite file; bump it whenever the tables change. */
const SCHEMA_VERSION = 1;

/** Stamps a new file with SCHEMA_VERSION; refuses a file written by another layout. */
async function checkSchemaVersion(db: Sqlite, file: string): Promise<void> {
  const [{ user_version: version }] = await db.all<{ user_version: number }>('PRAGMA user_version');
  const tables = await db.all<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'");
  if (version === 0 && tables[0]!.n === 0) {
    await db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    return;
  }
  if (version !== SCHEMA_VERSION) {
    await db.close();
    throw new ConfigError(
      `${file} has data layout ${version}, this build reads layout ${SCHEMA_VERSION}; move it away to start this node empty`,
    );
  }
}

/** The process's memory, for the inspector's counters. */
function memoryCounters(): Record<string, number> {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external + m.arrayBuffers };
}

function entryBytes(e: KeyedVersion): number {
  return e.key.length + e.version.value.length;
}

class LocalReplica implements Replica {
  constructor(
    readonly id: number,
    private readonly store: ReplicaStore,
  ) {}
  apply(items: readonly KeyedVersion[]): Promise<void> {
    return this.store.apply(items);
  }
  read(key: string): Promise<ReturnType<ReplicaStore['get']>> {
    return Promise.resolve(this.store.get(key));
  }
}

export class KvNode {
  readonly counters = { unauthorized: 0, peersDown: 0, peersUp: 0, rehintedAtStart: 0 };
  readonly clock: HybridClock;
  readonly coordinator: Coordinator;
  private readonly detector: FailureDetector;
  private readonly connections = new Map<number, RpcConnection>();
  private readonly remotes: RemoteReplica[] = [];
  private readonly delivery: HintDelivery;
  readonly antiEntropy: AntiEntropy;
  private readonly server: RpcServer;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly ring: Ring;
  private stopping = false;
  private clockOffsetUs = 0;

  private constructor(
    readonly config: ClusterConfig,
    readonly id: number,
    readonly store: ReplicaStore,
    readonly hints: HintStore,
    private readonly db: Sqlite,
    private readonly log: Logger,
    options: NodeOptions,
  ) {
    const s = config.settings;
    const frameMax = frameBytesMax(s.maxValueBytes);
    this.clockOffsetUs = (options.clockOffsetMs ?? 0) * 1000;
    this.clock = new HybridClock(() => Date.now() * 1000 + this.clockOffsetUs);
    const peers = config.nodes.filter((n) => n.id !== id);
    this.detector = new FailureDetector(
      id,
      peers.map((n) => n.id),
      s.failureTimeoutMs,
    );
    const replicas = new Map<number, Replica>([[id, new LocalReplica(id, store)]]);
    for (const peer of peers) {
      const at = options.peerEndpoints?.get(peer.id) ?? peer;
      const conn = new RpcConnection({ host: at.host, port: at.port, frameBytesMax: frameMax });
      conn.onDisconnect = () => this.markLost(peer.id);
      conn.onConnectFailure = () => this.markLost(peer.id);
      this.connections.set(peer.id, conn);
      const remote = new RemoteReplica(peer.id, conn, config.secret, s.requestTimeoutMs, id);
      this.remotes.push(remote);
      replicas.set(peer.id, remote);
    }
    const ring = new Ring(config.nodes, config.replicationFactor);
    this.ring = ring;
    const isUp = (n: number): boolean => this.detector.isUp(n);
    this.coordinator = new Coordinator({
      selfId: id,
      ring,
      replicas,
      isUp,
      hints,
      clock: this.clock,
      timeoutMs: s.requestTimeoutMs,
      readLocal: (key) => store.get(key),
      marked: store,
    });
    this.delivery = new HintDelivery(hints, replicas, isUp, s.hintWindowSeconds * 1000);
    this.antiEntropy = new AntiEntropy(id, ring, store, new Map(this.remotes.map((r) => [r.id, r])), isUp, (items) =>
      this.applyReplicated(items),
    );
    const self = config.nodes[id]!;
    this.server = new RpcServer(new ProcessorClass(new Handler(this)), {
      host: self.host,
      port: self.port,
      frameBytesMax: frameMax,
    });
  }

  static async start(options: NodeOptions): Promise<KvNode> {
    const { config, id } = options;
    if (!config.nodes[id]) throw new Error(`node ${id} is not in the cluster file`);
    mkdirSync(options.dataDir, { recursive: true });
    const file = join(options.dataDir, `node-${id}.sqlite`);
    const startedMs = Date.now();
    const db = await Sqlite.open(file);
    await db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${config.settings.sqliteSynchronous};`);
    await checkSchemaVersion(db, file);
    const store = await ReplicaStore.open(db);
    const hints = await HintStore.open(db);
    const node = new KvNode(config, id, store, hints, db, options.log ?? silentLogger, options);
    await node.rehintUnsettled();
    await node.server.listen();
    node.startBackgroundWork();
    // After listening: purging compacts the log first, which may take a while
    // (it is the whole garbage list), and an old tombstone served meanwhile does no harm.
    void node.purgeOldTombstones();
    node.log(
      `node ${id} serving ${store.size} keys on ${config.nodes[id]!.host}:${config.nodes[id]!.port} (log replayed and listening ${Date.now() - startedMs} ms after start)`,
    );
    return node;
  }

  /**
   * Hints again the writes whose marks were not settled when the node
   * stopped (ReplicaStore's marks): the newest version of each of those keys,
   * to each of its other replicas. Before the node serves, so that nothing
   * can move the settle pointer past them first.
   */
  private async rehintUnsettled(): Promise<void> {
    const byTarget = new Map<number, KeyedVersion[]>();
    for (const key of await this.store.rowsAfterSettled()) {
      const version = this.store.get(key);
      if (version === undefined) continue;
      for (const target of this.ring.replicas(key)) {
        if (target === this.id) continue;
        let items = byTarget.get(target);
        if (items === undefined) byTarget.set(target, (items = []));
        items.push({ key, version });
      }
    }
    for (const [target, items] of byTarget) {
      // In slices, each durable before the next, so the hint store's queue never overflows.
      for (let i = 0; i < items.length; i += HINT_REPLAY_BATCH_MAX) await this.hints.add(target, items.slice(i, i + HINT_REPLAY_BATCH_MAX));
      this.counters.rehintedAtStart += items.length;
    }
    if (this.counters.rehintedAtStart > 0)
      this.log(
        `node ${this.id} hinted ${this.counters.rehintedAtStart} versions again: writes it coordinated that may not have reached every replica before it stopped`,
      );
  }

  private startBackgroundWork(): void {
    const s = this.config.settings;
    this.heartbeat();
    this.timers.push(setInterval(() => this.heartbeat(), s.heartbeatIntervalMs));
    if (s.antiEntropyIntervalMs > 0) this.everyFromRandomPhase(s.antiEntropyIntervalMs, () => void this.antiEntropy.step());
    this.timers.push(setInterval(() => void this.expireHints(), HINT_EXPIRY_INTERVAL_MS));
    this.timers.push(setInterval(() => void this.purgeOldTombstones(), TOMBSTONE_PURGE_INTERVAL_MS));
    for (const t of this.timers) t.unref();
  }

  /**
   * Runs `work` every `intervalMs`, the first time after one to two
   * intervals, at random. For anti-entropy: nodes started together would
   * otherwise all hash values and compare digests at the same moment, and
   * writes then waited on the slowest of their replicas (at 11,000 writes/s
   * that alignment, with the key sorts of the time, made p99.9 55-75 ms,
   * docs/benchmarks.md). Not before one interval: a node that has just
   * started has hints to take in first.
   */
  private everyFromRandomPhase(intervalMs: number, work: () => void): void {
    const first = setTimeout(
      () => {
        work();
        const t = setInterval(work, intervalMs);
        t.unref();
        this.timers.push(t);
      },
      intervalMs * (1 + Math.random()),
    );
    first.unref();
    this.timers.push(first);
  }

  /** One heartbeat round: hello to every peer, then expire the silent ones. */
  private heartbeat(): void {
    if (this.stopping) return;
    const timeout = this.config.settings.failureTimeoutMs;
    for (const [peer, conn] of this.connections) {
      conn
        .call((c) => c.hello(this.config.secret, this.id, this.clock.now() as never), timeout)
        .then(
          (theirClock) => this.heardFrom(peer, Number(theirClock)),
          // Refused or lost: down now. A timeout is silence, which expire() handles.
          (err) => isKvError(err, 'ConnectionError') && this.markLost(peer),
        );
    }
    for (const peer of this.detector.expire(Date.now())) this.noteDown(peer, 'silent');
    this.delivery.kickAll();
  }

  /** Anything heard from a peer: it is up, and its clock reading is folded in. */
  heardFrom(peer: number, clockReading: number): void {
    if (Number.isSafeInteger(clockReading)) this.clock.observe(clockReading);
    this.connections.get(peer)?.resetBackoff();
    if (this.detector.heard(peer, Date.now())) {
      this.counters.peersUp++;
      this.log(`node ${peer} is up`);
      this.delivery.kick(peer);
    }
  }

  private markLost(peer: number): void {
    if (this.detector.lost(peer)) this.noteDown(peer, 'connection lost');
  }

  private noteDown(peer: number, why: string): void {
    this.counters.peersDown++;
    this.log(`node ${peer} is down (${why})`);
  }

  /** Versions from another coordinator (or hints, or read repair). */
  applyReplicated(items: KeyedVersion[]): Promise<void> {
    for (const it of items) this.clock.observe(it.version.ts);
    return this.store.apply(items);
  }

  /** The clock-skew fault switch; returns the hybrid clock's reading after it. */
  setClockOffset(offsetMs: number): number {
    this.clockOffsetUs = offsetMs * 1000;
    this.log(`clock offset set to ${offsetMs} ms`);
    return this.clock.now();
  }

  isUp(id: number): boolean {
    return this.detector.isUp(id);
  }

  async dump(after: string | undefined, limit: number): Promise<types.NodeDump> {
    const scanned = limit > 0 ? await this.store.scan(after, limit + 1) : [];
    // Also cut the page by bytes, so that it always fits in a frame.
    let bytes = 0;
    let n = 0;
    while (n < Math.min(limit, scanned.length) && (n === 0 || bytes + entryBytes(scanned[n]!) <= DUMP_PAGE_BYTES_MAX)) {
      bytes += entryBytes(scanned[n]!);
      n++;
    }
    const page = scanned.slice(0, n);
    const more = scanned.length > n;
    const peerCalls = { replicateCalls: 0, replicateItems: 0, readLocalCalls: 0, readLocalItems: 0 };
    for (const r of this.remotes) {
      peerCalls.replicateCalls += r.writes.stats.calls;
      peerCalls.replicateItems += r.writes.stats.items;
      peerCalls.readLocalCalls += r.reads.stats.calls;
      peerCalls.readLocalItems += r.reads.stats.items;
    }
    const counters: Record<string, number> = {
      ...peerCalls,
      ...this.coordinator.counters,
      ...this.antiEntropy.counters,
      ...this.hints.counters,
      ...this.store.counters,
      ...this.counters,
      ...this.server.stats,
      keys: this.store.size,
      garbageRows: this.store.garbageRows,
      unsettledRows: this.store.unsettledRows,
      ...this.store.arenaCounters(),
      ...memoryCounters(),
    };
    return new types.NodeDump({
      id: this.id,
      entries: page.map(toMutation),
      hints: [...this.hints.countsByTarget()].filter(([, n]) => n > 0).map(([target, count]) => new types.HintCount({ target, count })),
      counters: counters as never,
      downPeers: this.detector.downPeers(),
      more,
    });
  }

  private async expireHints(): Promise<void> {
    const n = await this.hints.expire(Date.now() - this.config.settings.hintWindowSeconds * 1000).catch(() => 0);
    if (n > 0) this.log(`dropped ${n} hints older than the hint window`);
  }

  private async purgeOldTombstones(): Promise<void> {
    const cutoffUs = (Date.now() - this.config.settings.tombstoneGraceSeconds * 1000) * 1000;
    const n = await this.store.purgeTombstones(cutoffUs).catch(() => 0);
    if (n > 0) this.log(`purged ${n} tombstones older than the grace period`);
  }

  /** Clean shutdown: stop serving, finish queued commits, close the database. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await this.server.close();
    for (const conn of this.connections.values()) conn.close();
    await this.store.drain();
    await this.hints.flush();
    await this.db.close();
    this.log(`node ${this.id} stopped`);
  }
}
