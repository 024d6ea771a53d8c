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
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CounterCollector } from '../common/counters';
import { isKvError, KvError } from '../common/errors';
import { frameBytesMax, HINT_REPLAY_BATCH_MAX } from '../common/limits';
import { ThrottledWarning } from '../common/warnings';
import { ClusterConfig, ConfigError, metricsPortOf, metricsUrlOf } from '../config/cluster';
import { loadTls, TlsMaterial, validityProblem } from '../config/tls';
import { HybridClock } from '../clock/hlc';
import { Coordinator } from '../coordinator/coordinator';
import { HintDelivery } from '../hints/hint-delivery';
import { HintStore } from '../hints/hint-store';
import { FailureDetector } from '../membership/failure-detector';
import { MetricsServer } from '../metrics/http';
import { NodeMetrics } from '../metrics/registry';
import { Ring } from '../partitioner/ring';
import { RpcConnection } from '../rpc/connection';
import { AntiEntropy } from '../repair/anti-entropy';
import { RangeReplica, RangeScanner } from '../coordinator/range-scan';
import { systemTime } from '../clock/time';
import { RemoteReplica, toMutation } from '../rpc/remote-replica';
import { RpcServer } from '../rpc/server';
import { ProcessorClass, types } from '../rpc/thrift';
import { ReplicaStore } from '../storage/replica-store';
import { openSchema } from '../storage/schema';
import { Sqlite } from '../storage/sqlite';
import { KeyedVersion } from '../storage/version';
import { cutDumpPage } from './dump-page';
import { Handler, HandlerServices } from './handler';
import { LocalReplica } from './local-replica';
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

/** How often expired hints and tombstones are swept. */
const HINT_EXPIRY_INTERVAL_MS = 60_000;
const TOMBSTONE_PURGE_INTERVAL_MS = 3600_000;

/** A file's size; 0 when it does not exist (a WAL between checkpoints may not). */
function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The process's memory, for the inspector's counters. */
function memoryCounters(): Record<string, number> {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external + m.arrayBuffers };
}

export class KvNode {
  readonly counters = {
    peersDown: 0,
    peersUp: 0,
    rehintedAtStart: 0,
    hintExpiryFailures: 0,
    tombstonePurgeFailures: 0,
    peerTlsFailures: 0,
  };
  /** Every part's counters, for the admin dump: see registerCounters. */
  readonly collector = new CounterCollector();
  private readonly hintExpiryFailures: ThrottledWarning;
  private readonly purgeFailures: ThrottledWarning;
  /** TLS refusals need the operator (a certificate to renew or replace), but each peer retries every heartbeat. */
  private readonly tlsRefusals: ThrottledWarning;
  private readonly peerTlsFailures: ThrottledWarning;
  readonly clock: HybridClock;
  readonly coordinator: Coordinator;
  readonly scanner: RangeScanner;
  private readonly detector: FailureDetector;
  private readonly connections = new Map<number, RpcConnection>();
  private readonly remotes: RemoteReplica[] = [];
  private readonly delivery: HintDelivery;
  readonly antiEntropy: AntiEntropy;
  private readonly server: RpcServer;
  readonly metrics: NodeMetrics;
  private readonly metricsServer: MetricsServer;
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
    /** The node's SQLite file (its write-ahead log is beside it, `-wal`). */
    private readonly dataFile: string,
    private readonly log: Logger,
    options: NodeOptions,
    tls: TlsMaterial | undefined,
  ) {
    const s = config.settings;
    const warnings = { onWarning: (message: string) => log(message, 'warn') };
    this.hintExpiryFailures = new ThrottledWarning(
      'hint expiry',
      'old hints wait for the next sweep (counter node.hintExpiryFailures)',
      warnings,
    );
    this.purgeFailures = new ThrottledWarning(
      'tombstone purge',
      'old tombstones wait for the next purge (counter node.tombstonePurgeFailures)',
      warnings,
    );
    this.tlsRefusals = new ThrottledWarning(
      'a TLS handshake with a client',
      'the connection was closed (counter server.tlsHandshakesFailed)',
      warnings,
    );
    this.peerTlsFailures = new ThrottledWarning('TLS with a peer', 'that peer counts as down (counter node.peerTlsFailures)', warnings);
    const frameMax = frameBytesMax(s.maxValueBytes);
    this.clockOffsetUs = (options.clockOffsetMs ?? 0) * 1000;
    this.clock = new HybridClock(() => Date.now() * 1000 + this.clockOffsetUs);
    const peers = config.nodes.filter((n) => n.id !== id);
    this.detector = new FailureDetector(
      id,
      peers.map((n) => n.id),
      s.failureTimeoutMs,
    );
    const replicas = new Map<number, RangeReplica>([[id, new LocalReplica(id, store)]]);
    for (const peer of peers) {
      const at = options.peerEndpoints?.get(peer.id) ?? peer;
      const conn = new RpcConnection({ host: at.host, port: at.port, frameBytesMax: frameMax, ...(tls ? { tls } : {}) });
      conn.onDisconnect = () => this.markLost(peer.id);
      conn.onConnectFailure = (err) => this.connectFailed(peer.id, err);
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
    this.scanner = new RangeScanner({
      selfId: id,
      ring,
      replicas,
      isUp,
      hints,
      observe: (ts) => this.clock.observe(ts),
      time: systemTime,
      timeoutMs: s.requestTimeoutMs,
    });
    this.delivery = new HintDelivery(hints, replicas, isUp, s.hintWindowSeconds * 1000, Date.now, warnings);
    this.antiEntropy = new AntiEntropy(id, ring, store, new Map(this.remotes.map((r) => [r.id, r])), isUp, (items) =>
      this.applyReplicated(items),
    );
    this.metrics = new NodeMetrics({
      counters: () => this.collector.snapshot(),
      hintsPending: () => hints.countsByTarget(),
      hintOutcomes: () => hints.outcomesByTarget(),
      peers: peers.map((n) => n.id),
      isUp,
    });
    this.metricsServer = new MetricsServer(this.metrics);
    const self = config.nodes[id]!;
    const handler = new Handler(this.handlerServices());
    this.server = new RpcServer(new ProcessorClass(handler), {
      host: self.host,
      port: self.port,
      frameBytesMax: frameMax,
      ...(tls ? { tls, onTlsError: (reason, remote) => this.tlsRefusals.failed(`${remote}: ${reason}`) } : {}),
    });
    this.registerCounters(handler);
  }

  /** The narrow services the Thrift handler calls, and nothing else of the node. */
  private handlerServices(): HandlerServices {
    const { config, id } = this;
    return {
      secret: config.secret,
      maxValueBytes: config.settings.maxValueBytes,
      isPeer: (n) => n !== id && config.nodes[n] !== undefined,
      coordinator: this.coordinator,
      scanner: this.scanner,
      local: this.store,
      nowUs: () => systemTime.nowMs() * 1000,
      clock: this.clock,
      antiEntropy: this.antiEntropy,
      applyReplicated: (items) => this.applyReplicated(items),
      heardFrom: (peer, clockReading) => this.heardFrom(peer, clockReading),
      setClockOffset: (offsetMs) => this.setClockOffset(offsetMs),
      dump: (after, limit) => this.dump(after, limit),
      requests: this.metrics.requests,
    };
  }

  /** One namespace per part, so that no part's counter shadows another's. */
  private registerCounters(handler: Handler): void {
    const c = this.collector;
    c.add('node', this.counters);
    c.add('handler', handler.counters);
    c.add('server', this.server.stats);
    c.add('coordinator', this.coordinator.counters);
    c.add('scan', this.scanner.counters);
    c.add('peers', () => this.peerCallCounters());
    c.add('hints', this.hints.counters);
    c.add('delivery', this.delivery.counters);
    c.add('antiEntropy', this.antiEntropy.counters);
    c.add('store', () => ({
      ...this.store.counters,
      keys: this.store.size,
      garbageRows: this.store.garbageRows,
      unsettledRows: this.store.unsettledRows,
      ...this.store.arenaCounters(),
    }));
    c.add('disk', () => ({ dataBytes: fileBytes(this.dataFile) + fileBytes(`${this.dataFile}-wal`) }));
    c.add('memory', memoryCounters);
  }

  /** Internode calls sent and the items in them: their ratio is the coalescing achieved. */
  private peerCallCounters(): Record<string, number> {
    const out = { replicateCalls: 0, replicateItems: 0, readLocalCalls: 0, readLocalItems: 0 };
    for (const r of this.remotes) {
      out.replicateCalls += r.writes.stats.calls;
      out.replicateItems += r.writes.stats.items;
      out.readLocalCalls += r.reads.stats.calls;
      out.readLocalItems += r.reads.stats.items;
    }
    return out;
  }

  static async start(options: NodeOptions): Promise<KvNode> {
    const { config, id } = options;
    if (!config.nodes[id]) throw new ConfigError(`node ${id} is not in the cluster file`);
    // Before anything is opened: a missing or mismatched TLS file stops the start with a ConfigError naming it.
    const tls = loadTls(config, id);
    mkdirSync(options.dataDir, { recursive: true });
    const file = join(options.dataDir, `node-${id}.sqlite`);
    const startedMs = Date.now();
    const db = await Sqlite.open(file);
    await db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${config.settings.sqliteSynchronous};`);
    await openSchema(db, file);
    const log = options.log ?? silentLogger;
    const warn = (message: string): void => log(message, 'warn');
    const store = await ReplicaStore.open(db, { onWarning: warn });
    const hints = await HintStore.open(db, Date.now, { onWarning: warn });
    const node = new KvNode(config, id, store, hints, db, file, log, options, tls);
    await node.rehintUnsettled();
    await node.server.listen();
    const metricsAt = await node.serveMetrics();
    node.startBackgroundWork();
    // After listening: purging compacts the log first, which may take a while
    // (it is the whole garbage list), and an old tombstone served meanwhile does no harm.
    void node.purgeOldTombstones();
    const self = config.nodes[id]!;
    node.log(
      `node ${id} serving ${store.size} keys on ${self.host}:${self.port}${tls ? ' over TLS' : ''}, ${metricsAt} (log replayed and listening ${Date.now() - startedMs} ms after start)`,
    );
    const invalid = tls && validityProblem(tls.cert, Date.now());
    if (invalid) node.log(invalid, 'warn');
    return node;
  }

  /**
   * Starts the metrics endpoint, unless the cluster file turns it off;
   * returns where it is, for the start line. A port that is taken stops the
   * node: it would otherwise run unwatched, and the fix is in the cluster file.
   */
  private async serveMetrics(): Promise<string> {
    const self = this.config.nodes[this.id]!;
    const port = metricsPortOf(self);
    if (port === 0) return 'no metrics (metricsPort 0)';
    try {
      await this.metricsServer.listen(self.host, port);
    } catch (err) {
      await this.stop();
      throw new ConfigError(
        `node ${this.id} cannot serve metrics on ${self.host}:${port} (${(err as Error).message}); set nodes[${this.id}].metricsPort in the cluster file to a free port, or 0 for none`,
      );
    }
    return `metrics at ${metricsUrlOf(self)}`;
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
          (err) => isKvError(err, 'ConnectionError') && this.connectFailed(peer, err),
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

  /** A peer's connection failed: down now, and a TLS refusal is logged (once a minute), since it needs the operator. */
  private connectFailed(peer: number, err: KvError): void {
    if (err.details.tls) {
      this.counters.peerTlsFailures++;
      this.peerTlsFailures.failed(err);
    }
    this.markLost(peer);
  }

  private markLost(peer: number): void {
    if (this.detector.lost(peer)) this.noteDown(peer, 'connection lost');
  }

  private noteDown(peer: number, why: string): void {
    this.counters.peersDown++;
    this.log(`node ${peer} is down (${why})`, 'warn');
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
    const { page, more } = cutDumpPage(limit > 0 ? await this.store.scan(after, limit + 1) : [], limit);
    return new types.NodeDump({
      id: this.id,
      entries: page.map(toMutation),
      hints: [...this.hints.countsByTarget()].filter(([, n]) => n > 0).map(([target, count]) => new types.HintCount({ target, count })),
      // map<string, i64>: the generated type says Int64, and the protocol writes plain numbers too.
      counters: this.collector.snapshot() as never,
      downPeers: this.detector.downPeers(),
      more,
    });
  }

  private async expireHints(): Promise<void> {
    let n = 0;
    try {
      n = await this.hints.expire(Date.now() - this.config.settings.hintWindowSeconds * 1000);
    } catch (err) {
      this.counters.hintExpiryFailures++;
      this.hintExpiryFailures.failed(err);
    }
    if (n > 0) this.log(`dropped ${n} hints older than the hint window`);
  }

  private async purgeOldTombstones(): Promise<void> {
    const cutoffUs = (Date.now() - this.config.settings.tombstoneGraceSeconds * 1000) * 1000;
    let n = 0;
    try {
      n = await this.store.purgeTombstones(cutoffUs);
    } catch (err) {
      this.counters.tombstonePurgeFailures++;
      this.purgeFailures.failed(err);
    }
    if (n > 0) this.log(`purged ${n} tombstones older than the grace period`);
  }

  /** Clean shutdown: stop serving, finish queued commits, close the database. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await this.metricsServer.close();
    this.metrics.close();
    await this.server.close();
    for (const conn of this.connections.values()) conn.close();
    await this.store.drain();
    await this.hints.flush();
    await this.db.close();
    this.log(`node ${this.id} stopped`);
  }
}
