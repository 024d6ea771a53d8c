/**
 * The composition root: one node, both coordinator and replica. It wires the
 * pure parts (ring, clock, failure detector, coordinator) to the I/O parts
 * (SQLite, Thrift server and peer connections) and runs the periodic work:
 * heartbeats, hint delivery, anti-entropy steps, hint expiry and tombstone purging.
 * What has state of its own lives in its own module, given the node's pieces
 * through a narrow interface: the membership log's syncing with peers
 * (node/epoch-sync.ts), this node's own membership operations
 * (operations/node-operations.ts), the hand-over of stored hints
 * (hints/handover.ts).
 *
 * Start order matters: the log is replayed into memory before the port opens,
 * so a node never answers from a partial state; then it says hello to every
 * peer, which tells them it is back and starts their hint delivery to it.
 */
import { SlowRequestLog } from '../metrics/slow-requests';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assert } from '../common/assert';
import { CounterCollector } from '../common/counters';
import type { KnownBugs } from '../common/known-bugs';
import { isKvError, KvError } from '../common/errors';
import {
  ALIVE_WRITE_INTERVAL_MS,
  BATCH_REPLAY_INTERVAL_MS,
  DECOMMISSION_HINTS_DRAIN_TIMEOUT_MS,
  EPOCH_BARRIER_POLL_MS,
  EPOCH_START_CATCH_UP_MS,
  frameBytesMax,
  PAXOS_CLEANUP_INTERVAL_MS,
  PAXOS_CLEANUP_ROWS_MAX,
  RECLAIMABLE_MEASURE_INTERVAL_MS,
  RESERVED_KEYS_COUNTED_MAX,
} from '../common/limits';
import { ThrottledWarning } from '../common/warnings';
import { ClusterConfig, ConfigError, metricsPortOf, metricsUrlOf, NodeAddress, sqliteDriverOf } from '../config/cluster';
import { loadTls, TlsMaterial, validityProblem } from '../config/tls';
import { HybridClock } from '../clock/hlc';
import { systemTime, Time, Timer } from '../clock/time';
import { Coordinator } from '../coordinator/coordinator';
import { parseSpeculativeRetry } from '../config/speculative-retry';
import { SpeculationDelay } from '../coordinator/speculation';
import { HintDelivery } from '../hints/hint-delivery';
import { HintStore } from '../hints/hint-store';
import { BatchWriter, copyHolders } from '../coordinator/batch-writer';
import type { HintStorage } from '../hints/hint-storage';
import { HintRouter } from '../hints/hint-router';
import { HintHandover } from '../hints/handover';
import { FailureDetector } from '../membership/failure-detector';
import { MetricsServer } from '../metrics/http';
import { NodeMetrics } from '../metrics/registry';
import { bootstrapEntry, EpochEntry, Membership, ringMembers, runnerOf } from '../membership/changes';
import { leftRingSentence } from '../membership/departure';
import { CleanupReport, ReclaimableMeasure } from '../operations/cleanup';
import { OperationStatus, Operator } from '../operations/operator';
import { NodeOperations } from '../operations/node-operations';
import { hashKey } from '../partitioner/hash';
import { liveValue } from '../paxos/proposer';
import { compareKeyStrings, displayKey, mebibytes } from '../common/bytes';
import { ForegroundPace } from '../streaming/foreground-pace';
import { Pacer } from '../streaming/pacer';
import { MemoryStreamProgress } from '../streaming/memory-progress';
import type { StreamProgress } from '../streaming/range-stream';
import { FileStreamProgress } from './stream-progress-file';
import { Ring } from '../partitioner/ring';
import { EpochLog, epochSlotKey, EpochStorage } from '../membership/epoch-log';
import { CatchUpOutcome, EpochSync } from './epoch-sync';
import { Placement } from '../membership/placement';
import { EPOCH_SLOT_KEY_END, EPOCH_SLOT_KEY_PREFIX, isReservedKey } from '../membership/reserved-keys';
import { PaxosStateStorage, PaxosStore } from '../paxos/paxos-store';
import { SqlitePaxosState } from '../paxos/paxos-sqlite';
import { Acceptor, Proposer } from '../paxos/proposer';
import { AntiEntropy } from '../repair/anti-entropy';
import { RangeTrees } from '../repair/range-trees';
import { Repairer } from '../repair/repairer';
import { RangeReplica, RangeScanner } from '../coordinator/range-scan';
import { toMembershipLog } from '../rpc/membership-wire';
import { toMutation } from '../rpc/remote-replica';
import { ThriftTransport } from '../rpc/thrift-transport';
import type { EpochState, PeerLink, PeerTransport } from '../rpc/transport';
import { RpcServer } from '../rpc/server';
import { ProcessorClass, types } from '../rpc/thrift';
import { ReplicaStore } from '../storage/replica-store';
import type { NodeMeta, ReplicaStorage } from '../storage/replica-storage';
import { SqliteEpochStore } from '../storage/epoch-store';
import { ALIVE_AT, LAST_FULL_REPAIR, SqliteNodeMeta } from '../storage/meta';
import { openSchema } from '../storage/schema';
import { Sqlite } from '../storage/sqlite';
import { BatchLogStorage, SqliteBatchLog } from '../storage/batch-log';
import { SnapshotWriter } from '../storage/snapshot';
import { KeyedVersion } from '../storage/version';
import { cutDumpPage } from './dump-page';
import { collectReplayGarbage, placementOf, StartState, startState } from './start-state';
import { ChangeFeed, type ChangesPage, type ChangesRequest } from '../storage/change-feed';
import { databaseBytes } from '../storage/file-bytes';
import { Handler, HandlerServices } from './handler';
import { type HeapProbe, IdleCollector, processHeapProbe } from './idle-collection';
import { PeerRequests, type PeerRequestServices } from './peer-requests';
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
  /** Where this node listens, when the cluster file does not name it (a node that joins, or joined). */
  readonly self?: Endpoint;
  /** Join the ring at this token once serving (scripts/server.sh --join). */
  readonly join?: { readonly token: string };
  /** Take the place of this dead node once serving (scripts/server.sh --replace N). */
  readonly replace?: { readonly node: number };
  /** Called when the node has left the ring (its decommission is done): the process exits. */
  readonly onLeft?: () => void;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** How often expired hints and tombstones are swept. */
const HINT_EXPIRY_INTERVAL_MS = 60_000;
const TOMBSTONE_PURGE_INTERVAL_MS = 3600_000;

/** The process's memory, for the inspector's counters. */
/** restore.sh's mark beside a node's data file (scripts/restore.sh writes it with the file it puts back). */
function restoreMark(path: string): { present: boolean; clear(): void } {
  return { present: existsSync(path), clear: () => rmSync(path, { force: true }) };
}

function memoryCounters(): Record<string, number> {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external + m.arrayBuffers };
}

/**
 * The parts a node is built from, made outside it: real ones by `KvNode.start`
 * (SQLite, Thrift over TCP, the system clock), simulated ones by the
 * deterministic simulator (sim/).
 */
export interface NodeParts {
  readonly time: Time;
  /** Random draws for the node's own choices (anti-entropy's phase); Math.random unless simulated. */
  readonly random: () => number;
  readonly transport: PeerTransport;
  readonly store: ReplicaStorage;
  readonly hints: HintStorage;
  /** The logged batches this node coordinates that are not yet written everywhere (coordinator/batch-writer.ts). */
  readonly batchLog: BatchLogStorage;
  /** Where this node, as a Paxos acceptor, keeps its promises and proposals. */
  readonly paxosState: PaxosStateStorage;
  /** The node's named numbers that outlive a restart (when it was last alive, its last full repair). */
  readonly meta: NodeMeta;
  /** The repair trees, kept current by the store (made before it, so that its replay fills them). */
  readonly trees: RangeTrees;
  /** Where the membership's epoch log is kept. */
  readonly epochs: EpochStorage;
  readonly log: Logger;
  /** Closes what the stores keep their data in (the SQLite connection), after they drained. */
  readonly closeStorage: () => Promise<void>;
  /** Bytes the node's data takes on disk, for the inspector's counters. */
  readonly diskBytes: () => number;
  /** Initial offset of the physical clock source, to test clock skew. */
  readonly clockOffsetMs?: number;
  /** Known bugs put back on purpose: only the simulator's own tests set these (common/known-bugs.ts). */
  readonly bugs?: KnownBugs;
  /** Where joined nodes listen: the node fills it from its epoch log, the transport reads it. */
  readonly addresses?: Map<number, Endpoint>;
  /** Where this node's streams keep their progress (memory unless given). */
  readonly streamProgress?: StreamProgress;
  /** The process's heap, for collecting once the node is quiet (node/idle-collection.ts); none in the simulator. */
  readonly heap?: HeapProbe;
  /** Writes snapshots of the node's data file (admin snapshot); none in the simulator, which keeps no files. */
  readonly snapshots?: Pick<SnapshotWriter, 'write' | 'list' | 'clear'>;
  /** restore.sh's mark that the data file was put back from a snapshot: the node catches up, then clears it. */
  readonly restored?: { readonly present: boolean; clear(): void };
  /** The change feed of the node's log (storage/change-feed.ts); none in the simulator, which keeps no SQLite log. */
  readonly changes?: Pick<ChangeFeed, 'page' | 'close' | 'counters'>;
}

export class KvNode {
  readonly counters = {
    peersDown: 0,
    peersUp: 0,
    rehintedAtStart: 0,
    hintExpiryFailures: 0,
    tombstonePurgeFailures: 0,
    peerTlsFailures: 0,
    paxosSweepFailures: 0,
    epochFetchFailures: 0,
    /** Peers' requests refused as placed by an epoch older than this node's (see checkPeerEpoch). */
    staleEpochRefusals: 0,
    /** Peers' requests that named a newer epoch than this node's, which it then fetched. */
    newerEpochsSeen: 0,
    /** Versions of delivered hints handed on to the replicas an operation adds (HintHandover.handOnDelivered). */
    hintsHandedOn: 0,
    /** 1 while the node, just started, answers its peers but not clients (EpochSync.decideRingLearning), else 0. */
    ringLearning: 0,
    /** Pushes of this node's log to a peer whose hello named an older epoch (EpochSync.tellBehind). */
    epochsPushedToLagging: 0,
  };
  /** Every part's counters, for the admin dump: see registerCounters. */
  readonly collector = new CounterCollector();
  private readonly hintExpiryFailures: ThrottledWarning;
  private readonly purgeFailures: ThrottledWarning;
  private readonly peerTlsFailures: ThrottledWarning;
  readonly clock: HybridClock;
  readonly coordinator: Coordinator;
  /** Compare-and-set and SERIAL reads: this node as proposer, and as acceptor for its keys. */
  readonly proposer: Proposer;
  readonly paxos: PaxosStore;
  private readonly paxosSweepFailures: ThrottledWarning;
  readonly scanner: RangeScanner;
  /** Logged batches coordinated here, and their replays. */
  readonly batches: BatchWriter;
  private readonly detector: FailureDetector;
  private readonly links = new Map<number, PeerLink>();
  /** Every replica and acceptor by node id: this node's own, and the links (peersOf keeps them). */
  private readonly replicas = new Map<number, RangeReplica>();
  private readonly acceptors = new Map<number, Acceptor>();
  /** What a cleanup would delete here, for the counters (store.reclaimableKeys, store.reclaimableBytes). */
  private readonly reclaimable: ReclaimableMeasure;
  /** Set once this node is on its way out of the ring (an aborted join). */
  private leaving = false;
  /** Set once the node is reachable and runs its background work. */
  private serving = false;
  private readonly delivery: HintDelivery;
  /** Where the request paths put their hints: a node that left has its versions sent on to the current replicas. */
  private readonly hintRouter: HintRouter;
  /** Stored hints that change hands as the ring moves, and unsettled writes hinted again at start. */
  private readonly handover: HintHandover;
  readonly antiEntropy: AntiEntropy;
  readonly repairer: Repairer;
  /** Peers' requests past the wire, with their epoch checks: what the simulator's network delivers to (the Thrift handler makes its own of the same services). */
  readonly peerRequests: PeerRequests;
  /** The Thrift server and the metrics, on the real path only (see serve). */
  private server: RpcServer | undefined;
  private metricsServer: MetricsServer | undefined;
  private nodeMetrics: NodeMetrics | undefined;
  /** The slow request log of a serving node (metrics/slow-requests.ts). */
  private slowRequests: SlowRequestLog | undefined;
  private readonly timers: Timer[] = [];
  private readonly idleCollector: IdleCollector | undefined;
  private readonly time: Time;
  private readonly random: () => number;
  readonly store: ReplicaStorage;
  readonly hints: HintStorage;
  private readonly log: Logger;
  private stopping = false;
  /** Why the node started catching up, for the log (empty when it did not). */
  private readonly catchUpReason: string;
  private clockOffsetUs = 0;
  private selfAddress: NodeAddress | undefined;
  private onLeft: (() => void) | undefined;
  /** Why clients are refused once the node has found it left the ring (stopIfLeft); while it learns the ring, EpochSync says why. */
  private clientRefusal: string | undefined;
  /** The membership log kept in step with the peers', and the wait for the ring's logs at start. */
  private readonly sync: EpochSync;
  /** This node's own membership operations, aborts and cleanups. */
  private readonly ops: NodeOperations;

  private constructor(
    readonly config: ClusterConfig,
    readonly id: number,
    private readonly parts: NodeParts,
    start: StartState,
    /** The membership's epoch log: the ring as this node knows it. */
    readonly epochs: EpochLog,
  ) {
    const s = config.settings;
    const { store, hints, log } = parts;
    this.store = store;
    this.hints = hints;
    this.log = log;
    this.time = parts.time;
    this.random = parts.random;
    this.idleCollector = parts.heap === undefined ? undefined : new IdleCollector(parts.time, parts.heap);
    const warnings = { onWarning: (message: string) => log(message, 'warn'), nowMs: this.time.nowMs };
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
    this.paxosSweepFailures = new ThrottledWarning(
      'Paxos state cleanup',
      'old compare-and-set state waits for the next sweep (counter node.paxosSweepFailures)',
      warnings,
    );
    this.peerTlsFailures = new ThrottledWarning('TLS with a peer', 'that peer counts as down (counter node.peerTlsFailures)', warnings);
    this.clockOffsetUs = (parts.clockOffsetMs ?? 0) * 1000;
    this.clock = new HybridClock(() => this.time.nowMs() * 1000 + this.clockOffsetUs);
    this.detector = new FailureDetector(id, [], s.failureTimeoutMs);
    const replicas = this.replicas;
    replicas.set(id, new LocalReplica(id, store));
    this.paxos = new PaxosStore(parts.paxosState, store, this.time, parts.bugs);
    const acceptors = this.acceptors;
    acceptors.set(id, this.paxos);
    const isUp = (n: number): boolean => this.detector.isUp(n);
    const hasLeft = (n: number): boolean => this.epochs.membership.members.find((m) => m.id === n)?.state === 'LEFT';
    this.hintRouter = new HintRouter({
      selfId: id,
      store: hints,
      hasLeft,
      writeReplicas: (key) => this.epochs.placement.rangeOf(key).writes,
      applyLocal: (items) => this.applyReplicated(items),
    });
    const routed = this.hintRouter;
    this.handover = new HintHandover({
      selfId: id,
      hints,
      router: routed,
      store,
      placement: () => this.epochs.placement,
      hasLeft,
      applyLocal: (items) => this.applyReplicated(items),
      counters: this.counters,
      log,
    });
    this.coordinator = new Coordinator({
      selfId: id,
      placement: () => this.epochs.placement,
      replicas,
      isUp,
      hints: routed,
      clock: this.clock,
      timeoutMs: s.requestTimeoutMs,
      readLocal: (key) => store.get(key),
      marked: store,
      time: this.time,
      hintsOff: s.hintWindowSeconds === 0,
      ...(parts.bugs ? { bugs: parts.bugs } : {}),
      catchingUp: () => this.repairer.catchingUp,
      catchUp: (peer, epoch) => this.catchUpTo(peer, epoch),
      // parseSettings checked it.
      speculativeRetry: parseSpeculativeRetry(s.speculativeRetry)!,
    });
    this.batches = new BatchWriter({
      selfId: id,
      log: parts.batchLog,
      peers: {
        holders: () => copyHolders(id, this.links.keys(), isUp),
        store: async (peer, copies) => this.linkTo(peer).storeBatchCopies(copies),
        forget: async (peer, refs) => this.linkTo(peer).forgetBatchCopies(refs),
        // A coordinator seen down is not asked: its copies are written without waiting out a timeout.
        held: async (peer, refs) => {
          if (!isUp(peer)) throw new KvError('Unavailable', `node ${peer} is down`);
          return this.linkTo(peer).heldBatches(refs);
        },
      },
      // Twice the longest a coordinator takes to write a batch once its copies are stored, as Cassandra waits.
      copyWaitMs: 2 * s.requestTimeoutMs,
      coordinator: this.coordinator,
      clock: this.clock,
      time: this.time,
      replayAgeMaxMs: s.tombstoneGraceSeconds * 1000,
      report: log,
    });
    const placement = (): Placement => this.epochs.placement;
    this.proposer = new Proposer({
      selfId: id,
      placement,
      acceptors,
      isUp,
      hints: routed,
      clock: this.clock,
      time: this.time,
      timeoutMs: s.requestTimeoutMs,
      random: this.random,
    });
    this.scanner = new RangeScanner({
      selfId: id,
      placement,
      replicas,
      isUp,
      hints: routed,
      observe: (ts) => this.clock.observe(ts),
      time: this.time,
      timeoutMs: s.requestTimeoutMs,
      catchingUp: () => this.repairer.catchingUp,
      // Its own measure: a replica's page takes longer than a point read.
      speculation: new SpeculationDelay(parseSpeculativeRetry(s.speculativeRetry)!, s.requestTimeoutMs, () => this.time.monotonicMs()),
    });
    this.delivery = new HintDelivery(hints, replicas, isUp, s.hintWindowSeconds * 1000, this.time.nowMs, warnings, (target, delivered) =>
      this.handover.handOnDelivered(target, delivered),
    );
    // The older `sync` exchange is only answered (for an older build during an upgrade), by the bootstrap ring it knows.
    this.antiEntropy = new AntiEntropy(id, new Ring(config.nodes, config.replicationFactor), store, this.links, isUp, (items) =>
      this.applyReplicated(items),
    );
    this.repairer = new Repairer({
      trees: start.trees,
      store,
      peers: this.links,
      isUp,
      lostForGood: (n) => this.sync.lostForGood(n),
      applyLocal: (items) => this.applyReplicated(items),
      time: this.time,
      catchingUp: start.catchingUp,
      lastFullRepairMs: start.lastFullRepairMs,
      fullRepairDone: (atMs) => void this.storeMeta(LAST_FULL_REPAIR, atMs),
      // Only once caught up: a node restarted before then still has to catch up.
      caughtUp: () => parts.restored?.clear(),
      log: (message) => log(message),
      stepIntervalMs: this.config.settings.antiEntropyIntervalMs,
    });
    this.catchUpReason = start.why;
    this.sync = new EpochSync({
      selfId: id,
      epochs,
      links: this.links,
      transport: parts.transport,
      addresses: parts.addresses,
      time: this.time,
      counters: this.counters,
      log,
      neverRan: start.neverRan,
      stopping: () => this.stopping,
      leaving: () => this.leaving,
    });
    this.peerRequests = new PeerRequests(this.peerRequestServices());
    this.ops = new NodeOperations({
      selfId: id,
      epochs,
      time: this.time,
      log,
      store,
      links: this.links,
      clock: this.clock,
      isUp,
      heartbeatIntervalMs: s.heartbeatIntervalMs,
      failureTimeoutMs: s.failureTimeoutMs,
      address: () => this.address,
      newOperator: () => this.newOperator(),
      catchUpEpochs: () => this.catchUpEpochs(),
      reclaimableStale: () => this.reclaimable.stale(),
      startLeaving: () => this.startLeaving(),
      leave: () => this.leave(),
    });
    this.reclaimable = new ReclaimableMeasure({
      selfId: id,
      log: epochs,
      time: this.time,
      store,
      intervalMs: RECLAIMABLE_MEASURE_INTERVAL_MS,
    });
    this.registerCounters();
    this.peersOf(epochs.membership);
    start.trees.follow(epochs.placement, store, this.time);
    let previous = epochs.membership.operation;
    epochs.onChange((m) => {
      this.peersOf(m);
      start.trees.follow(epochs.placement, store, this.time);
      if (previous !== undefined && m.operation === undefined) void this.handover.handOver();
      if (previous !== undefined && runnerOf(previous) === this.id) this.ops.noteOwnOperation(previous, m);
      previous = m.operation;
      this.stopIfLeft();
    });
  }

  /**
   * Links to every node of the ring, made when the log first names a node
   * (a joining node names its address in its begin change), and closed when
   * a node has left. Runs as an epoch takes effect, before any request is
   * placed by it, so the coordinator finds a link for every replica.
   */
  private peersOf(m: Membership): void {
    for (const member of m.members) {
      if (member.id === this.id) continue;
      if (member.state === 'LEFT') {
        this.dropPeer(member.id);
        continue;
      }
      if (this.links.has(member.id)) continue;
      if (member.host !== undefined && member.port !== undefined)
        this.parts.addresses?.set(member.id, { host: member.host, port: member.port });
      const link = this.parts.transport.link(member.id, {
        lost: () => this.markLost(member.id),
        connectFailed: (err) => this.connectFailed(member.id, err),
        epoch: () => this.epochs.epoch,
        refusedAsStale: (epoch) => void this.catchUpTo(member.id, epoch),
      });
      this.links.set(member.id, link);
      this.replicas.set(member.id, link);
      this.acceptors.set(member.id, link);
      this.detector.addPeer(member.id);
    }
  }

  /** The link to a peer, or ConnectionError for one no longer a member. */
  private linkTo(peer: number): PeerLink {
    const link = this.links.get(peer);
    if (link === undefined) throw new KvError('ConnectionError', `node ${peer} is no longer a member of the ring`);
    return link;
  }

  private dropPeer(peer: number): void {
    const link = this.links.get(peer);
    if (link === undefined) return;
    link.close();
    this.links.delete(peer);
    this.replicas.delete(peer);
    this.acceptors.delete(peer);
    this.detector.removePeer(peer);
  }

  /** Where this node listens (the cluster file's address, or the one it joined with). */
  get address(): NodeAddress {
    assert(this.selfAddress !== undefined, 'a serving node knows its address');
    return this.selfAddress;
  }

  /** This node's address: the cluster file's, the one given, or the one its join named in the log. */
  private addressOf(options: Pick<NodeOptions, 'self' | 'join' | 'replace'>): NodeAddress {
    const known = this.config.nodes[this.id];
    if (known !== undefined) return known;
    const member = this.epochs.membership.members.find((n) => n.id === this.id);
    const at =
      options.self ?? (member?.host !== undefined && member.port !== undefined ? { host: member.host, port: member.port } : undefined);
    if (at === undefined)
      throw new ConfigError(
        `node ${this.id} is not in the cluster file and has not joined the ring: start it with --join (scripts/server.sh --join or --replace)`,
      );
    const replaced = options.replace && this.epochs.membership.members.find((n) => n.id === options.replace!.node);
    return { id: this.id, host: at.host, port: at.port, token: member?.token ?? options.join?.token ?? replaced?.token ?? '' };
  }

  /**
   * A node that starts takes up the epochs it missed while it was down before
   * it opens its port: serving by an old ring, it would coordinate writes to
   * replicas that gave their ranges up. Bounded (EPOCH_START_CATCH_UP_MS):
   * when too few peers answered (none is serving yet, as when a whole
   * cluster starts), it listens and goes on asking, answering peers but not
   * clients (EpochSync.decideRingLearning).
   */
  private async catchUpBeforeServing(): Promise<void> {
    const { from, to, outcome } = await this.catchUpEpochs();
    if (to > from) this.log(`node ${this.id} took up epochs ${from + 1} to ${to} from its peers before serving`);
    await this.refuseIfLeft();
    if (outcome === 'late')
      this.log(`node ${this.id}: some peers did not give their membership logs within ${EPOCH_START_CATCH_UP_MS / 1000} s`, 'warn');
  }

  /**
   * A node started again after it left the ring (decommissioned, replaced,
   * its join aborted), its data directory kept: it must not serve. Its id is
   * never reused and its token may be another node's now, so it would take
   * requests for ranges it does not hold and hint its old writes to the ring.
   * It stops before it listens, and its process exits with the sentence.
   */
  private async refuseIfLeft(): Promise<void> {
    const departure = this.epochs.departureOf(this.id);
    if (departure === undefined) return;
    await this.stop();
    throw new ConfigError(leftRingSentence(this.id, departure));
  }

  /**
   * A node that finds, while it serves, that it has left the ring (replaced
   * while it was down, and started again before or while its replacement
   * ran; or it heard no peer that knew at its start): it stops answering
   * clients at once, says so in one sentence, and leaves as a decommissioned
   * node does (its hints go out first). A node that leaves by its own
   * operation, or by an abort of it, leaves through that path instead.
   */
  private stopIfLeft(): void {
    if (this.ops.running) return;
    const departure = this.epochs.departureOf(this.id);
    if (departure === undefined || !this.startLeaving()) return;
    this.clientRefusal = leftRingSentence(this.id, departure);
    this.log(this.clientRefusal, 'error');
    void this.leave();
  }

  /** Marks the node as on its way out of the ring, unless it does not serve, stops, or already leaves; true when this call marked it. */
  private startLeaving(): boolean {
    if (!this.serving || this.stopping || this.leaving) return false;
    this.leaving = true;
    return true;
  }

  /** The Prometheus metrics of a serving node (KvNode.start). */
  get metrics(): NodeMetrics {
    assert(this.nodeMetrics !== undefined, 'a node has metrics once it serves');
    return this.nodeMetrics;
  }

  /**
   * Builds the Thrift server and the metrics for the real path. Not in the
   * constructor: a simulated node has neither.
   */
  private serve(tls: TlsMaterial | undefined): void {
    const { config, id } = this;
    const peers = config.nodes.filter((n) => n.id !== id);
    const hints = this.hints;
    // TLS refusals need the operator (a certificate to renew or replace), but each client retries.
    const tlsRefusals = new ThrottledWarning(
      'a TLS handshake with a client',
      'the connection was closed (counter server.tlsHandshakesFailed)',
      {
        onWarning: (message: string) => this.log(message, 'warn'),
      },
    );
    this.slowRequests = new SlowRequestLog({
      thresholdMs: config.settings.slowRequestMs,
      onReport: (line) => this.log(line, 'warn'),
    });
    this.collector.add('client', this.slowRequests.counters);
    this.nodeMetrics = new NodeMetrics(
      {
        counters: () => this.collector.snapshot(),
        hintsPending: () => hints.countsByTarget(),
        hintOutcomes: () => hints.outcomesByTarget(),
        peers: peers.map((n) => n.id),
        isUp: (n) => this.detector.isUp(n),
      },
      { processMetrics: true, slowRequests: this.slowRequests },
    );
    this.metricsServer = new MetricsServer(this.nodeMetrics);
    const self = this.address;
    const handler = new Handler(this.handlerServices(this.nodeMetrics));
    const server = new RpcServer(new ProcessorClass(handler), {
      host: self.host,
      port: self.port,
      frameBytesMax: frameBytesMax(config.settings.maxValueBytes),
      ...(tls ? { tls, onTlsError: (reason, remote) => tlsRefusals.failed(`${remote}: ${reason}`) } : {}),
    });
    this.server = server;
    this.collector.add('handler', handler.counters);
    this.collector.add('server', server.stats);
  }

  /** What peers' requests need of the node, once decoded (the Thrift handler's and the simulator's alike). */
  private peerRequestServices(): PeerRequestServices {
    return {
      checkEpoch: (from, epoch, keys, writing) =>
        epoch === this.epochs.epoch ? undefined : this.checkPeerEpoch(from, epoch, keys(), writing),
      applyReplicated: (items) => this.applyReplicated(items),
      local: this.store,
      repair: this.repairer,
      acceptor: this.paxos,
    };
  }

  /** The narrow services the Thrift handler calls, and nothing else of the node. */
  private handlerServices(metrics: NodeMetrics): HandlerServices {
    const { config, id } = this;
    return {
      ...this.peerRequestServices(),
      peerRequests: this.peerRequests,
      secret: config.secret,
      maxValueBytes: config.settings.maxValueBytes,
      isPeer: (n) => n !== id && this.links.has(n),
      refusesClients: () => this.clientRefusal ?? this.sync.refusal,
      coordinator: this.coordinator,
      scanner: this.scanner,
      batches: this.batches,
      local: this.store,
      nowUs: () => systemTime.nowMs() * 1000,
      clock: this.clock,
      antiEntropy: this.antiEntropy,
      repair: this.repairer,
      heardFrom: (peer, clockReading, epoch) => this.heardFrom(peer, clockReading, epoch),
      setClockOffset: (offsetMs) => this.setClockOffset(offsetMs),
      dump: (after, limit) => this.dump(after, limit),
      paxos: this.proposer,
      requests: metrics.requests,
      membership: (after) => toMembershipLog(this.epochs.epoch, this.epochs.after(after), this.coordinator.settledEpoch()),
      learnEpochs: (from, entries) => this.learnEpochs(from, entries),
      decommission: () => this.decommission(),
      removeNode: (node) => this.removeNode(node),
      operationProgress: () => this.operationProgress(),
      cleanup: (start) => this.cleanup(start),
      move: (token) => this.move(token),
      abortOperation: () => this.abortOperation(),
      snapshot: async (name) => this.snapshots().write(name),
      listSnapshots: () => this.snapshots().list(),
      clearSnapshot: (name) => this.snapshots().clear(name),
      changes: (req) => this.changes(req),
      tracing: { selfId: id, time: this.time, timeoutMs: config.settings.requestTimeoutMs },
    };
  }

  /**
   * A page of the change feed of a range this node takes reads of, with the
   * node's epoch. Unavailable otherwise (the ring moved since the caller
   * placed the range, or the node is catching up and its log lacks writes):
   * the caller asks another replica.
   */
  private async changes(req: ChangesRequest): Promise<ChangesPage & { epoch: number }> {
    const feed = this.parts.changes;
    if (feed === undefined) throw new KvError('InvalidRequest', 'this node keeps no log to follow');
    this.repairer.refuseReadsWhileCatchingUp();
    const epoch = this.epochs.epoch;
    const walk = this.epochs.placement.walkFrom(req.from);
    if (!walk.range.reads.includes(this.id)) {
      throw new KvError(
        'Unavailable',
        `node ${this.id} does not take reads of ${displayKey(req.from)} at epoch ${epoch}; nodes ${walk.range.reads.join(', ')} do`,
      );
    }
    if (walk.end !== undefined && (req.to === undefined || compareKeyStrings(req.to, walk.end) > 0)) {
      throw new KvError(
        'Unavailable',
        `at epoch ${epoch} a range from ${displayKey(req.from)} must end by ${displayKey(walk.end)}, where the next range of the ring starts`,
      );
    }
    return { ...(await feed.page(req)), epoch };
  }

  /** The node's snapshots of its data file; a simulated node, which keeps no files, has none. */
  private snapshots(): Pick<SnapshotWriter, 'write' | 'list' | 'clear'> {
    if (this.parts.snapshots === undefined) throw new KvError('InvalidRequest', 'this node keeps no data file to snapshot');
    return this.parts.snapshots;
  }

  /** One namespace per part, so that no part's counter shadows another's (the server's come with it, see serve). */
  private registerCounters(): void {
    const c = this.collector;
    c.add('node', this.counters);
    if (this.parts.changes !== undefined) c.add('changes', this.parts.changes.counters);
    c.add('coordinator', this.coordinator.counters);
    c.add('paxos', this.proposer.counters);
    c.add('acceptor', this.paxos.counters);
    c.add('scan', this.scanner.counters);
    c.add('batches', () => ({
      ...this.batches.counters,
      batchLogBatches: this.batches.logged,
      batchLogCopies: this.batches.copiesHeld,
      batchLogBytes: this.parts.batchLog.bytes,
    }));
    c.add('peers', () => this.peerCallCounters());
    c.add('hints', this.hints.counters);
    c.add('delivery', this.delivery.counters);
    c.add('hintRouter', this.hintRouter.counters);
    c.add('antiEntropy', this.antiEntropy.counters);
    c.add('repair', this.repairer.counters);
    c.add('trees', this.parts.trees.counters);
    c.add('store', () => ({
      ...this.store.counters,
      // Keys as users count them: the ring's own are left out, and shown apart.
      keys: this.store.size - this.reservedKeys(),
      reservedKeys: this.reservedKeys(),
      garbageRows: this.store.garbageRows,
      unsettledRows: this.store.unsettledRows,
      ...this.store.arenaCounters(),
      ...this.reclaimable.current(),
    }));
    c.add('disk', () => ({ dataBytes: this.parts.diskBytes() }));
    c.add('memory', () => ({ ...memoryCounters(), ...this.idleCollector?.counters }));
  }

  /** Internode calls sent and the items in them: their ratio is the coalescing achieved. */
  private peerCallCounters(): Record<string, number> {
    const out = { replicateCalls: 0, replicateItems: 0, readLocalCalls: 0, readLocalItems: 0 };
    for (const link of this.links.values()) {
      const s = link.stats();
      out.replicateCalls += s.replicateCalls;
      out.replicateItems += s.replicateItems;
      out.readLocalCalls += s.readLocalCalls;
      out.readLocalItems += s.readLocalItems;
    }
    return out;
  }

  /**
   * A node from its parts, ready before it is reachable: the writes it
   * coordinated that may not have reached every replica are hinted again
   * first. The caller then opens it to clients (serve, or the simulator's
   * network) and calls `startBackgroundWork`.
   */
  static async assemble(config: ClusterConfig, id: number, parts: NodeParts): Promise<KvNode> {
    const start = await startState(parts, parts.store.size, config.settings.hintWindowSeconds, parts.restored?.present === true);
    const epochs = await EpochLog.open(parts.epochs, bootstrapEntry(config.nodes, config.replicationFactor));
    const node = new KvNode(config, id, parts, start, epochs);
    await node.handover.rehintUnsettled();
    return node;
  }

  static async start(options: NodeOptions): Promise<KvNode> {
    const { config, id } = options;
    // Before anything is opened: a missing or mismatched TLS file stops the start with a ConfigError naming it.
    const tls = loadTls(config, id);
    mkdirSync(options.dataDir, { recursive: true });
    const file = join(options.dataDir, `node-${id}.sqlite`);
    const time = systemTime;
    const startedMs = time.nowMs();
    const db = await Sqlite.open(file, sqliteDriverOf(config.settings));
    await db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${config.settings.sqliteSynchronous};`);
    await openSchema(db, file);
    const log = options.log ?? silentLogger;
    const warn = (message: string): void => log(message, 'warn');
    const epochStore = await SqliteEpochStore.open(db);
    // The trees follow the ring the log says, from the replay on: made before the store, which fills them.
    const trees = new RangeTrees(placementOf(await epochStore.load(), config), id);
    const store = await ReplicaStore.open(db, { onWarning: warn, time, versionObserver: trees });
    const changes = new ChangeFeed(db, store, time, randomInt(1, 2 ** 48));
    store.onPublished = (keys) => changes.published(keys);
    collectReplayGarbage();
    const hints = await HintStore.open(db, time.nowMs, { onWarning: warn }, time);
    const batchLog = await SqliteBatchLog.open(db, time);
    const s = config.settings;
    const addresses = new Map<number, Endpoint>(config.nodes.map((n) => [n.id, n]));
    const transport = new ThriftTransport({
      selfId: id,
      secret: config.secret,
      requestTimeoutMs: s.requestTimeoutMs,
      frameBytesMax: frameBytesMax(s.maxValueBytes),
      endpoint: (peer) => options.peerEndpoints?.get(peer) ?? addresses.get(peer)!,
      tls,
    });
    const node = await KvNode.assemble(config, id, {
      time,
      random: Math.random,
      transport,
      store,
      hints,
      batchLog,
      paxosState: new SqlitePaxosState(db),
      meta: new SqliteNodeMeta(db),
      trees,
      epochs: epochStore,
      log,
      closeStorage: () => db.close(),
      diskBytes: () => databaseBytes(file),
      ...(options.clockOffsetMs !== undefined ? { clockOffsetMs: options.clockOffsetMs } : {}),
      addresses,
      streamProgress: await FileStreamProgress.open(join(options.dataDir, `node-${id}.streams.json`)),
      heap: processHeapProbe(),
      snapshots: new SnapshotWriter(file, join(options.dataDir, 'snapshots'), `node-${id}.sqlite`, db.driver),
      restored: restoreMark(join(options.dataDir, `node-${id}.restored`)),
      changes,
    });
    node.selfAddress = node.addressOf(options);
    // A node that missed epochs while it was down takes them up before it serves.
    await node.catchUpBeforeServing();
    // Before the port opens, so that no client is answered before it is decided whether clients wait.
    node.sync.decideRingLearning();
    node.serve(tls);
    await node.server!.listen();
    const metricsAt = await node.serveMetrics();
    node.startBackgroundWork();
    node.operate(options);
    const self = node.address;
    node.log(
      `node ${id} serving ${store.size} keys on ${self.host}:${self.port}${tls ? ' over TLS' : ''}, ${metricsAt} (SQLite ${db.driver}; log replayed and listening ${time.nowMs() - startedMs} ms after start)`,
    );
    const invalid = tls && validityProblem(tls.cert, time.nowMs());
    if (invalid) node.log(invalid, 'warn');
    return node;
  }

  /**
   * Starts the metrics endpoint, unless the cluster file turns it off;
   * returns where it is, for the start line. A port that is taken stops the
   * node: it would otherwise run unwatched, and the fix is in the cluster file.
   */
  private async serveMetrics(): Promise<string> {
    const self = this.address;
    const port = metricsPortOf(self);
    if (port === 0) return 'no metrics (metricsPort 0)';
    try {
      await this.metricsServer!.listen(self.host, port);
    } catch (err) {
      await this.stop();
      throw new ConfigError(
        `node ${this.id} cannot serve metrics on ${self.host}:${port} (${(err as Error).message}); set nodes[${this.id}].metricsPort in the cluster file to a free port, or 0 for none`,
      );
    }
    return `metrics at ${metricsUrlOf(self)}`;
  }

  /**
   * Heartbeats, hint delivery, anti-entropy, hint expiry and tombstone purges.
   * Purging starts now too: it compacts the log first, which may take a
   * while (it is the whole garbage list), and an old tombstone served
   * meanwhile does no harm, so it waits until the node is reachable.
   */
  startBackgroundWork(): void {
    this.serving = true;
    this.sync.decideRingLearning();
    const s = this.config.settings;
    void this.purgeOldTombstones();
    void this.handover.handOver(true);
    this.heartbeat();
    this.timers.push(this.time.every(s.heartbeatIntervalMs, () => this.heartbeat()));
    if (s.antiEntropyIntervalMs > 0) this.everyFromRandomPhase(s.antiEntropyIntervalMs, () => void this.repairer.step());
    this.timers.push(this.time.every(HINT_EXPIRY_INTERVAL_MS, () => void this.expireHints()));
    this.timers.push(this.time.every(TOMBSTONE_PURGE_INTERVAL_MS, () => void this.purgeOldTombstones()));
    void this.storeMeta(ALIVE_AT, this.time.nowMs());
    this.timers.push(this.time.every(ALIVE_WRITE_INTERVAL_MS, () => void this.storeMeta(ALIVE_AT, this.time.nowMs())));
    this.timers.push(this.time.every(PAXOS_CLEANUP_INTERVAL_MS, () => void this.sweepPaxosState()));
    // What a crash left in the batch log is written again now, and what a failed batch leaves, at the next interval.
    void this.replayBatches();
    this.timers.push(this.time.every(BATCH_REPLAY_INTERVAL_MS, () => void this.replayBatches()));
    if (this.idleCollector !== undefined) this.timers.push(this.idleCollector.start());
    if (this.repairer.catchingUp) {
      this.log(`node ${this.id} is catching up (${this.catchUpReason}): it takes writes, and serves reads once its ranges are repaired`);
      void this.repairer.catchUp(() => this.stopping);
    }
  }

  /** `everyCopy`: the copies of other coordinators' batches too, however young (the node is leaving the ring). */
  private replayBatches(everyCopy = false): Promise<void> {
    return this.batches.replay(() => this.stopping, everyCopy);
  }

  /** Deletes compare-and-set state that nothing needs any more (PaxosStore.sweep). */
  private async sweepPaxosState(): Promise<void> {
    try {
      await this.paxos.sweep(PAXOS_CLEANUP_ROWS_MAX);
    } catch (err) {
      this.counters.paxosSweepFailures++;
      this.paxosSweepFailures.failed(err);
    }
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
    // Like the repeating timers, the first one must not keep a stopping process alive.
    const first = this.time.every(intervalMs * (1 + this.random()), () => {
      first.cancel();
      work();
      this.timers.push(this.time.every(intervalMs, work));
    });
    this.timers.push(first);
  }

  /** One heartbeat round: hello to every peer, then expire the silent ones. */
  private heartbeat(): void {
    if (this.stopping) return;
    this.sync.askRing();
    const timeout = this.config.settings.failureTimeoutMs;
    for (const [peer, link] of this.links) {
      link.hello(this.clock.now(), timeout, this.epochs.epoch).then(
        (theirClock) => this.heardFrom(peer, theirClock),
        // Refused or lost: down now. A timeout is silence, which expire() handles.
        (err) => isKvError(err, 'ConnectionError') && this.connectFailed(peer, err),
      );
    }
    for (const peer of this.detector.expire(this.time.nowMs())) this.noteDown(peer, 'silent');
    this.delivery.kickAll();
  }

  /** Anything heard from a peer: it is up, its clock reading is folded in, and a newer epoch is fetched from it. */
  heardFrom(peer: number, clockReading: number, epoch = 0): void {
    if (Number.isSafeInteger(clockReading)) this.clock.observe(clockReading);
    this.sync.heard(peer, epoch);
    this.links.get(peer)?.resetBackoff();
    if (this.detector.heard(peer, this.time.nowMs())) {
      this.counters.peersUp++;
      this.log(`node ${peer} is up`);
      this.delivery.kick(peer);
      // A logged batch waiting for a replica that is back: written now, not at the next interval.
      if (this.serving) {
        this.batches.retrySoon();
        void this.replayBatches();
      }
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

  /** Takes up the log from `peer` until this node holds `epoch`, waiting a bounded time (EpochSync.catchUpTo). */
  catchUpTo(peer: number, epoch: number): Promise<void> {
    return this.sync.catchUpTo(peer, epoch);
  }

  /** Judges the epoch a peer's request was placed by (EpochSync.checkPeerEpoch). */
  checkPeerEpoch(from: number | undefined, epoch: number, keys: readonly string[], writing: boolean): Promise<void> | undefined {
    return this.sync.checkPeerEpoch(from, epoch, keys, writing);
  }

  /** Asks every peer for the epochs this node does not have, within `waitMs` (EpochSync.catchUpAll). */
  catchUpEpochs(waitMs?: number): Promise<{ from: number; to: number; outcome: CatchUpOutcome }> {
    return this.sync.catchUpAll(waitMs);
  }

  /** A peer's log, pushed by an operation: taken up; answers where this node is now. */
  async learnEpochs(from: number, entries: readonly EpochEntry[]): Promise<EpochState> {
    await this.epochs.learn(entries);
    // The push is word from its sender: up now. A node that joins (or replaces) pushes its own begin epoch, which
    // makes it a peer here; without this it stayed down until the next heartbeat, and every write meanwhile only
    // hinted its pending replica, which the reads-switch did not wait for.
    this.heardFrom(from, Number.NaN);
    // Further behind than the pushed entries reach: the rest comes from the sender.
    const last = entries[entries.length - 1]?.epoch ?? 0;
    if (last > this.epochs.epoch) void this.sync.fetch(from);
    return { epoch: this.epochs.epoch, settled: this.coordinator.settledEpoch() };
  }

  /** Where this node's own operation is (and its state in the ring). */
  operationProgress(): OperationStatus {
    return this.ops.operationProgress();
  }

  /** Starts this node's decommission, or goes on with it (NodeOperations.decommission). */
  decommission(): Promise<OperationStatus> {
    return this.ops.decommission();
  }

  /** Starts a cleanup of the data outside this node's ranges, or reports the last (NodeOperations.cleanup). */
  cleanup(start: boolean): CleanupReport {
    return this.ops.cleanup(start);
  }

  /** Starts the removal of dead node `node`, run here, or reports it (NodeOperations.remove). */
  removeNode(node: number): Promise<OperationStatus> {
    return this.ops.remove(node);
  }

  /** Starts this node's move to `token`, or reports it (NodeOperations.move). */
  move(token: string): Promise<OperationStatus> {
    return this.ops.move(token);
  }

  /** Aborts the operation in progress, whichever node runs it (NodeOperations.abortOperation). */
  abortOperation(): Promise<string> {
    return this.ops.abortOperation();
  }

  /**
   * Once the node is reachable: goes on with its unfinished operation, or
   * joins when asked to (KvNode.start; the simulator calls it for its nodes
   * too), or replaces a dead node when asked to; `onLeft` is called once
   * the node has left the ring and stopped.
   */
  operate(options: Pick<NodeOptions, 'self' | 'join' | 'replace' | 'onLeft'>): void {
    this.selfAddress ??= this.addressOf(options);
    this.onLeft = options.onLeft;
    this.ops.resumeOrJoin(options.join);
    if (options.replace !== undefined) this.ops.replaceIfNew(options.replace.node);
  }

  /**
   * After leaving: the hints this node holds go out first, and its logged
   * batches and the copies it holds are written (within a deadline), then
   * the process exits. Hints for nodes that left the ring too are not
   * waited for: nothing delivers them, and their versions were handed over
   * to the new replicas when the operation completed. A batch left in the
   * log would stay applied in part.
   */
  private async leave(): Promise<void> {
    const deadline = this.time.monotonicMs() + DECOMMISSION_HINTS_DRAIN_TIMEOUT_MS;
    const held = (): number => {
      const inRing = new Set(ringMembers(this.epochs.membership).map((n) => n.id));
      let n = 0;
      for (const [target, count] of this.hints.countsByTarget()) if (inRing.has(target)) n += count;
      return n;
    };
    while ((held() > 0 || this.batches.logged > 0) && this.time.monotonicMs() < deadline) {
      this.delivery.kickAll();
      void this.replayBatches(true);
      await new Promise<void>((resolve) => this.time.after(EPOCH_BARRIER_POLL_MS, () => resolve()));
    }
    if (held() > 0) this.log(`node ${this.id} left the ring with ${held()} hints it could not deliver`, 'warn');
    if (this.batches.logged > 0)
      this.log(`node ${this.id} left the ring with ${this.batches.logged} logged batches it could not write in full`, 'warn');
    this.log(`node ${this.id} has left the ring; it stops`);
    await this.stop();
    this.onLeft?.();
  }

  private newOperator(): Operator {
    return new Operator({
      selfId: this.id,
      log: this.epochs,
      time: this.time,
      decideSlot: (epoch, value) => this.decideSlot(epoch, value),
      catchUp: () => this.catchUpEpochs().then(() => undefined),
      link: (id) => this.links.get(id),
      isUp: (id) => this.detector.isUp(id),
      settledHere: () => this.coordinator.settledEpoch(),
      local: {
        range: (from, to, limit, bytes) => this.store.range(from, to, limit, bytes),
        apply: (items) => this.applyReplicated([...items]),
        paxosRows: (from, to, limit) => this.paxos.paxosRows(from, to, limit),
        paxosMerge: (rows) => this.paxos.paxosMerge(rows),
      },
      progress: this.parts.streamProgress ?? new MemoryStreamProgress(),
      pacer: new Pacer(this.time, this.streamPace()),
      say: (message) => this.log(message),
      ...(this.parts.bugs ? { bugs: this.parts.bugs } : {}),
    });
  }

  /**
   * An operation's stream pace, which follows this node's foreground load
   * (streaming/foreground-pace.ts); each change is logged, so that an
   * operator sees why a stream slowed down or sped up.
   */
  private streamPace(): () => number {
    const { streamBytesPerSecond, streamBytesPerSecondUnderLoad } = this.config.settings;
    const foreground = (): number => {
      const c = this.coordinator.counters;
      const p = this.peerRequests.counters;
      return c.reads + c.writes + p.replicatedItems + p.readKeys;
    };
    const pace = new ForegroundPace(
      this.time,
      foreground,
      { idleBytesPerSecond: streamBytesPerSecond, loadedBytesPerSecond: streamBytesPerSecondUnderLoad },
      (bytesPerSecond, opsPerSecond) =>
        this.log(
          `streams paced at ${mebibytes(bytesPerSecond)}/s: ${opsPerSecond === undefined ? 'foreground load not measured yet' : `${Math.round(opsPerSecond)} foreground operations a second here`}`,
        ),
    );
    return () => pace.bytesPerSecond();
  }

  /**
   * The epoch slot's compare-and-set: a Paxos cas on the slot's own key,
   * expecting it absent, at QUORUM of its replicas in the current ring
   * (docs/ARCHITECTURE.md, Sequencing: why a lagging operator still meets
   * the decided slot). Resolves with the value decided there; a timeout is
   * the caller's to retry on the same slot (Operator.decide).
   */
  private async decideSlot(epoch: number, value: string): Promise<string> {
    const answer = await this.proposer.cas({
      key: epochSlotKey(epoch),
      expected: null,
      value,
      requestId: `epoch-${epoch}-node-${this.id}-${hashKey(value).toString(16)}`,
      level: 'QUORUM',
    });
    const decided = liveValue(answer.current);
    assert(decided !== undefined, 'a slot holds a value once a cas on it answered');
    return decided;
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
    const { page, more } = cutDumpPage(limit > 0 ? this.userEntries(after, limit + 1) : [], limit);
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

  /**
   * Up to `count` of the store's entries after `after`, in key order, the
   * ring's own keys left out (the dump shows data; the ring's log is
   * `membership`). They sit together in key order, so one more read passes them.
   */
  private userEntries(after: string | undefined, count: number): KeyedVersion[] {
    const out: KeyedVersion[] = [];
    let from = after;
    for (;;) {
      const want = count - out.length;
      const page = this.store.scan(from, want);
      for (const entry of page) if (!isReservedKey(entry.key)) out.push(entry);
      if (out.length >= count || page.length < want) return out;
      from = page[page.length - 1]!.key;
    }
  }

  /** How many of the ring's own keys this node holds (left out of its key count; a handful per epoch). */
  private reservedKeys(): number {
    return this.store.range(EPOCH_SLOT_KEY_PREFIX, EPOCH_SLOT_KEY_END, RESERVED_KEYS_COUNTED_MAX, Number.POSITIVE_INFINITY).entries.length;
  }

  private async expireHints(): Promise<void> {
    let n = 0;
    try {
      n = await this.hints.expire(this.time.nowMs() - this.config.settings.hintWindowSeconds * 1000);
    } catch (err) {
      this.counters.hintExpiryFailures++;
      this.hintExpiryFailures.failed(err);
    }
    if (n > 0) this.log(`dropped ${n} hints older than the hint window`);
  }

  private async purgeOldTombstones(): Promise<void> {
    const cutoffUs = (this.time.nowMs() - this.config.settings.tombstoneGraceSeconds * 1000) * 1000;
    let n = 0;
    try {
      n = await this.store.purgeTombstones(cutoffUs);
    } catch (err) {
      this.counters.tombstonePurgeFailures++;
      this.purgeFailures.failed(err);
    }
    if (n > 0) this.log(`purged ${n} tombstones older than the grace period`);
  }

  /** Stores one of the log's named numbers; a failure only costs the number (told to the log). */
  private async storeMeta(name: string, value: number): Promise<void> {
    if (this.stopping) return;
    try {
      await this.parts.meta.write(name, value);
    } catch (err) {
      this.log(`could not store ${name}: ${(err as Error).message}`, 'warn');
    }
  }

  /** Clean shutdown: stop serving, finish queued commits, close the database. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) t.cancel();
    await this.metricsServer?.close();
    this.nodeMetrics?.close();
    // Waiting change feed calls answer now, rather than hold the server's close for their wait.
    this.parts.changes?.close();
    await this.server?.close();
    this.slowRequests?.close();
    for (const link of this.links.values()) link.close();
    await this.store.drain();
    await this.hints.flush();
    await this.parts.batchLog.flush();
    // Alive until now: a quick restart is then not taken for a long outage.
    await this.parts.meta.write(ALIVE_AT, this.time.nowMs()).catch(() => undefined);
    await this.parts.closeStorage();
    this.log(`node ${this.id} stopped`);
  }
}
