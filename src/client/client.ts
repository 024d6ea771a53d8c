/**
 * The typed client library: what the console, inspector, benchmark, chaos
 * checker and tests use to talk to a cluster.
 *
 *   const client = await KvClient.connect('data/cluster.json');   // learns the ring from a seed
 *   await client.put('apple', 'red', 'QUORUM');
 *   const r = await client.get('apple', 'QUORUM');   // { found: true, value: <Buffer 72 65 64>, ts }
 *   await client.put('session:1', 'x', 'QUORUM', { ttlSeconds: 60 });
 *   for await (const { key, value } of client.scan('a', 'b', 'QUORUM')) ...
 *   client.close();
 *
 * Any node can coordinate any request, but one that is a replica of the key
 * saves a hop: it reads its own copy and writes its own log, so a ONE read
 * costs no internode call at all. Two ways to pick the node (`routing`):
 *   - 'token' (what fromClusterFile gives, like the token-aware policy of
 *     Cassandra's drivers): each request goes to one of its key's replicas,
 *     taking them in turn so that the load spreads (a read that needs more
 *     than one replica only those whose clockwise neighbours it needs, see
 *     readStarts); calls without a key
 *     (ping) go to every node in turn. Reads go to a range's read replicas,
 *     writes to its write replicas (a node joining the range takes writes
 *     before it takes reads). The ring is the nodes' membership log, learned
 *     from them and kept current (client/learner.ts, client/topology.ts):
 *     the cluster file's nodes are only the seeds, so nodes that joined
 *     later are reached and nodes that left are not.
 *   - 'node': every request goes to one node (`startAt`), as a user who
 *     picked a coordinator would expect; tests use it to choose coordinators.
 * Either way a request that never left (connection refused, or the node is
 * in its reconnect backoff) is retried on the next candidate at once: the
 * key's other replicas, then the other nodes. One whose connection died while
 * it was in flight is reported as ConnectionError (it may or may not have been
 * applied), and in 'node' routing the next request goes elsewhere.
 *
 * A cluster file with "tls" makes every connection mutual TLS (config/tls.ts):
 * fromClusterFile reads the CA and the client pair it names; a client made
 * from endpoints takes the same material as the `tls` option.
 *
 * Errors are KvError with a code: InvalidRequest, Unavailable {required,
 * alive}, TimedOut {acked, required}, Unauthorized, ConnectionError, Internal.
 */
import { randomUUID } from 'node:crypto';
import type { RepairSummary } from '../repair/repairer';
import { fromByteString, toByteString } from '../common/bytes';
import { isKvError, KvError } from '../common/errors';
import {
  batchBytesMax,
  batchTooLarge,
  CAS_CLIENT_ATTEMPTS_MAX,
  frameBytesMax,
  GET_MANY_KEYS_MAX,
  OPERATION_START_ANSWER_TIMEOUT_MS,
  SCAN_PAGE_LIMIT_DEFAULT,
  RING_FETCH_TIMEOUT_MS,
  VALUE_BYTES_MAX_DEFAULT,
} from '../common/limits';
import { ClusterConfig, loadClusterFile } from '../config/cluster';
import { loadTls, TlsMaterial } from '../config/tls';
import {
  LEVEL_CODES,
  LEVEL_LIST,
  LevelName,
  parseLevel,
  parseReadLevel,
  parseWriteLevel,
  READ_LEVEL_LIST,
  ReadLevelName,
  requiredReplicas,
  SERIAL_CODE,
  SERIAL_IS_NOT_FOR_BATCHES,
  serialIsForOneKey,
  unknownLevel,
  WRITE_LEVEL_CODES,
  WRITE_LEVEL_LIST,
  WriteLevelName,
} from '../coordinator/levels';
import { ConnectionOptions, NOT_SENT, RpcConnection } from '../rpc/connection';
import type { EpochEntry } from '../membership/changes';
import type { KeyedVersion } from '../storage/version';
import { toKvError } from '../rpc/errors';
import { ABSENT, Client, int64ToNumber, optionalInt64, types } from '../rpc/thrift';
import { formatSpeculativeRetry, parseSpeculativeRetry, SPECULATIVE_RETRY_DEFAULT, SpeculativeRetry } from '../config/speculative-retry';
import { fetchMembership, RingLearner } from './learner';
import { type FeedPage, type FeedPosition, Watch, type WatchOptions } from './watch';
import type { Placement } from '../membership/placement';
import { raceAgain, ReadSpeculation, ReadSpeculations } from './speculation';
import { fitsSeeds, NodeLocation, Seed, seedTopology, Topology, topologyOf } from './topology';

export type Bytes = Buffer | string;

export interface NodeEndpoint {
  /** The node's id (default: its index in the list given). */
  readonly id?: number;
  readonly host: string;
  readonly port: number;
  /** The node's ring token (latin1); needed for token routing. */
  readonly token?: string;
}

export type Routing = 'token' | 'node';

export interface ClientOptions {
  /** Per-request deadline, a little above the nodes' own request timeout. */
  readonly timeoutMs?: number;
  /** Connections per node; requests are spread over them round robin. */
  readonly connectionsPerNode?: number;
  /** Which node to try first (default 0); useful to spread many clients. */
  readonly startAt?: number;
  /** Frame limit for replies; must fit the largest value. */
  readonly valueBytesMax?: number;
  /** How a request picks its node (see above); default 'node'. */
  readonly routing?: Routing;
  /** The cluster's replication factor, for token routing (default 3, or fewer nodes). */
  readonly replicationFactor?: number;
  /** Connect over mutual TLS with this material (the cluster file's CA and client pair). */
  readonly tls?: TlsMaterial;
  /**
   * Token routing: learn the ring from the nodes and keep it current
   * (client/learner.ts), the endpoints being the seeds. fromClusterFile sets it.
   */
  readonly learnRing?: boolean;
  /**
   * When a read is sent a second time, to the next node, because the first
   * has not answered (client/speculation.ts): the nodes' setting's forms,
   * "99p" (the 99th percentile of this client's own reads of the same kind
   * and level), "20ms", "ALWAYS" or "NONE". Default "99p" in token routing,
   * "NONE" in node routing, where the caller chose the node.
   */
  readonly speculativeRetry?: string;
}

export interface ReadResult {
  readonly found: boolean;
  /** The value when found; an empty buffer otherwise. */
  readonly value: Buffer;
  /** Timestamp (µs) of the version read: of the value, or of the tombstone; 0 if none. */
  readonly ts: number;
}

/** What a cas answers. */
/** What `trace` ran and what its coordinator did (Cassandra's TRACING ON). */
export interface TraceResult {
  /** The node that coordinated it. */
  readonly coordinator: number;
  /** Its steps, each with the µs since it began. */
  readonly events: ReadonlyArray<{ readonly elapsedUs: number; readonly activity: string }>;
  /** A get's answer, when it succeeded; a cas's: the key's value after it (the new one when applied). */
  readonly read?: ReadResult;
  /** A cas that ran: whether it applied. */
  readonly applied?: boolean;
  /** A scan page: how many keys it answered with (the trace is about the steps, not the rows); a getMany: how many were found. */
  readonly rows?: number;
  /** A getMany's answer, when it succeeded: one result a key, in the order asked. */
  readonly results?: readonly ReadResult[];
  /** A put's or a delete's timestamp, when it succeeded. */
  readonly ts?: number;
  /** How it failed (Unavailable, TimedOut, StorageFull), in one sentence; the steps show why. */
  readonly error?: { readonly code: string; readonly message: string };
  /** Steps past the ones a trace keeps. */
  readonly dropped: number;
}

export type TracedOp =
  | { op: 'get'; level: ReadLevelName | string }
  | { op: 'put'; value: Bytes; level: WriteLevelName | string }
  | { op: 'delete'; level: WriteLevelName | string }
  /** expected null: the key must be absent; level: the commit's, QUORUM (default) or ALL. */
  | { op: 'cas'; expected: Bytes | null; value: Bytes; level?: 'QUORUM' | 'ALL' | string }
  /** One page of a scan from the key given (empty: the first key) up to `stop` (empty: the last). */
  | { op: 'scan'; stop: Bytes; level: LevelName | string; limit?: number };

export interface CasResult {
  readonly applied: boolean;
  /** The key's value now (the new one when applied, else the one that failed the expectation); null when absent. */
  readonly current: Buffer | null;
}

export interface CasOptions {
  /** The commit's level: QUORUM (default) or ALL. */
  readonly level?: 'QUORUM' | 'ALL';
  /** The request's id, the same on every retry (default: a fresh random one, kept across this call's own retries). */
  readonly requestId?: string;
}

export interface PutOptions {
  /** Seconds the value lives (1 to ten years); none: it never expires. */
  readonly ttlSeconds?: number;
}

export interface ScanOptions {
  /** Keys per call to the cluster (1 to 10,000). */
  readonly pageSize?: number;
}

export interface ScanEntry {
  readonly key: Buffer;
  readonly value: Buffer;
  /** The value's write timestamp (µs since 1970), which last-write-wins compares (nodes of an older build do not say). */
  readonly ts?: number;
  /** When the value expires (µs since 1970), if it was written with a TTL (nodes of an older build do not say). */
  readonly expiresUs?: number;
}

export interface ScanPage {
  readonly entries: ScanEntry[];
  /** Pass it to the next scanPage to go on; undefined when the scan is done. */
  readonly cursor: Buffer | undefined;
}

/** Keys per scan call when the caller does not say. */
export const SCAN_PAGE_SIZE_DEFAULT = SCAN_PAGE_LIMIT_DEFAULT;

const DEFAULT_TIMEOUT_MS = 5000;

function toBuffer(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * A key as it goes on the wire. An ASCII string goes as it is: the protocol
 * writer puts a string given for a binary field one byte per char, which for
 * ASCII are its UTF-8 bytes, so no Buffer is made for it. Anything else is
 * sent as its UTF-8 bytes.
 */
export function wireKey(key: Bytes): Buffer | string {
  return typeof key === 'string' && ASCII.test(key) ? key : toBuffer(key);
}

/** A wire key as one char per byte, what the ring places keys by. */
export function keyText(key: Buffer | string): string {
  return typeof key === 'string' ? key : toByteString(key);
}

/** A scan's or a getMany's level: SERIAL, a Paxos read of one key, is told apart from a level that does not exist. */
function plainReadLevel(level: LevelName | string, op: string): LevelName {
  if (typeof level === 'string' && level.toUpperCase() === 'SERIAL') throw new KvError('InvalidRequest', serialIsForOneKey(op));
  return levelName(level);
}

/** A scan's or a cas's level (every request passes here: an exact name skips parsing). */
function levelName(level: LevelName | string): LevelName {
  if (level === 'ONE' || level === 'QUORUM' || level === 'ALL') return level;
  const name = parseLevel(level);
  if (name === undefined) throw new KvError('InvalidRequest', unknownLevel(level, LEVEL_LIST));
  return name;
}

/** A put's or a delete's level: a LevelName or ANY. */
function writeLevelName(level: WriteLevelName | string): WriteLevelName {
  if (level === 'ONE' || level === 'QUORUM' || level === 'ALL') return level;
  const name = parseWriteLevel(level);
  if (name === undefined) throw new KvError('InvalidRequest', unknownLevel(level, WRITE_LEVEL_LIST));
  return name;
}

/** A read's level: a LevelName or SERIAL. */
function readLevelName(level: ReadLevelName | string): ReadLevelName {
  if (level === 'ONE' || level === 'QUORUM' || level === 'ALL' || level === 'SERIAL') return level;
  const name = parseReadLevel(level);
  if (name === undefined) throw new KvError('InvalidRequest', unknownLevel(level, READ_LEVEL_LIST));
  return name;
}

/** The seeds a client starts from: the endpoints, by their id or their index. Token routing needs every token. */
function seedsOf(endpoints: readonly NodeEndpoint[]): (Seed & { token: string })[] {
  if (endpoints.some((e) => e.token === undefined)) {
    throw new KvError('InvalidRequest', "token routing needs every node's token; give a cluster file, or use node routing");
  }
  return endpoints.map((e, i) => ({ id: e.id ?? i, host: e.host, port: e.port, token: e.token! }));
}

/** The ring the seeds alone give (epoch 1), checked: what token routing starts with. Pure. */
function startingTopology(seeds: readonly (Seed & { token: string })[], replicationFactor: number | undefined): Topology {
  const endpoints = seeds;
  const rf = replicationFactor ?? Math.min(3, endpoints.length);
  if (!Number.isInteger(rf) || rf < 1 || rf > endpoints.length) {
    throw new KvError('InvalidRequest', `the replication factor must be a whole number from 1 to ${endpoints.length}`);
  }
  return seedTopology(seeds, rf);
}

/**
 * How many of a key's replicas, from its owner on, token routing starts a
 * read at `level` at. A coordinator that is a replica asks itself, then the
 * key's next replicas clockwise from it (Coordinator.placement), so a read
 * started at one of the first rf - need + 1 replicas finds the others it
 * needs right after it. With three replicas a QUORUM read then starts at the
 * owner or the next node, and each node's QUORUM reads go to one peer, the
 * node after it: one internode batch a turn instead of two. The load stays
 * even, since each node owns one range and is second in another. ONE reads
 * start at any replica; ALL reads at the owner. Pure.
 */
export function readStarts(replicationFactor: number, level: LevelName): number {
  // At least the owner: a level above the factor (THREE of two replicas) is refused there, in its own words.
  return Math.max(1, replicationFactor - requiredReplicas(level, replicationFactor) + 1);
}

/**
 * The order in which to try nodes: the key's replicas first, starting at the
 * one whose turn it is, then every other node of `ids` in their order;
 * without replicas (a ping, or node routing) every node, starting at `turn`. Pure.
 */
export function nodeOrder(replicas: readonly number[] | undefined, ids: readonly number[], turn: number): number[] {
  if (replicas === undefined) return ids.map((_, i) => ids[(turn + i) % ids.length]!);
  const first = turn % replicas.length;
  const order = [...replicas.slice(first), ...replicas.slice(0, first)];
  for (const id of ids) if (!replicas.includes(id)) order.push(id);
  return order;
}

/** The client's speculativeRetry option, checked; its default depends on the routing (see ClientOptions). */
function speculativeRetryOf(text: string | undefined, routing: Routing): SpeculativeRetry {
  const parsed = parseSpeculativeRetry(text ?? (routing === 'token' ? SPECULATIVE_RETRY_DEFAULT : 'NONE'));
  if (parsed === undefined) {
    throw new KvError(
      'InvalidRequest',
      `speculativeRetry must be a percentile ("99p", above 0 and below 100), a wait ("20ms"), "ALWAYS" or "NONE", not ${JSON.stringify(text)}`,
    );
  }
  return parsed;
}

/** The connection option for `tls`, absent when it is. */
function tlsOption(tls: TlsMaterial | undefined): { tls?: TlsMaterial } {
  return tls === undefined ? {} : { tls };
}

/** What a request needs of its replicas: reads go to a range's read replicas, writes to its write replicas. */
type Want = 'read' | 'write';

/** One write of a batch: `value`, or `remove: true` for a tombstone; `ttlSeconds` as put's. */
export interface BatchOp {
  readonly key: Bytes;
  readonly value?: Bytes;
  readonly remove?: boolean;
  readonly ttlSeconds?: number;
  /** The write's timestamp, µs since 1970, instead of the coordinator's clock (CQL's USING TIMESTAMP; not with remove; nodes of an older build ignore it). */
  readonly timestamp?: number;
}

/** A batch's level on the wire: a write level; SERIAL gets its own sentence. */
function batchLevelCode(level: WriteLevelName | string): number {
  if (level.toUpperCase() === 'SERIAL') throw new KvError('InvalidRequest', SERIAL_IS_NOT_FOR_BATCHES);
  return WRITE_LEVEL_CODES[writeLevelName(level)];
}

/** A wire result as the library gives it: the value empty when not found. */
function readResultOf(r: types.ReadResult): ReadResult {
  return { found: r.found, value: r.found ? r.value : Buffer.alloc(0), ts: int64ToNumber(r.ts) };
}

/** A trace's report as the library gives it. */
function traceResult(r: types.TraceReport): TraceResult {
  return {
    coordinator: r.coordinator,
    events: (r.events ?? []).map((e) => ({ elapsedUs: int64ToNumber(e.elapsedMicros), activity: e.activity })),
    ...(r.found ? { read: readResultOf(r.found) } : {}),
    ...(r.results ? { results: r.results.map(readResultOf) } : {}),
    ...(r.ts !== null && r.ts !== undefined ? { ts: int64ToNumber(r.ts) } : {}),
    ...(r.applied !== null && r.applied !== undefined ? { applied: r.applied } : {}),
    ...(r.rows !== null && r.rows !== undefined ? { rows: r.rows } : {}),
    ...(r.errorCode ? { error: { code: r.errorCode, message: r.error ?? '' } } : {}),
    dropped: r.dropped ?? 0,
  };
}

export class KvClient {
  /** Connections by node id (undefined: a node requests are not sent to). */
  private pools: (RpcConnection[] | undefined)[] = [];
  /** The ids requests may go to, in id order (node routing: the endpoints' indexes). */
  private ids: readonly number[];
  private current: number;
  private roundRobin = 0;
  /** Token routing's turn: which of a key's replicas, or which node for a ping, goes first. */
  private turn = 0;
  /** The ring token routing places keys by, learned from the nodes (undefined in node routing). */
  private topo: Topology | undefined;
  /** The membership log the ring was folded from (empty until a node gave it). */
  private log: readonly EpochEntry[] = [];
  /** The endpoints given, as seeds (token routing). */
  private readonly seeds: readonly (Seed & { token: string })[] = [];
  private readonly learner: RingLearner | undefined;
  private readonly connectionOptions: Omit<ConnectionOptions, 'host' | 'port'>;
  /** The most bytes of keys and values one batch may carry (batchBytesMax of the value limit). */
  private readonly batchBytesMax: number;
  private readonly perNode: number;
  private closed = false;
  /** Reads sent a second time (see client/speculation.ts), and how long each kind waits first. */
  private speculated = 0;
  private readonly speculations: ReadSpeculations;
  /** Connections to nodes no longer routed to, until their requests' deadline. */
  private readonly retiring = new Set<RpcConnection[]>();
  readonly timeoutMs: number;
  readonly routing: Routing;
  /** Whether the connections run over TLS. */
  readonly tls: boolean;

  constructor(endpoints: readonly NodeEndpoint[], options: ClientOptions = {}) {
    if (endpoints.length === 0) throw new KvError('InvalidRequest', 'no nodes to connect to');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.tls = options.tls !== undefined;
    this.connectionOptions = { frameBytesMax: frameBytesMax(options.valueBytesMax ?? VALUE_BYTES_MAX_DEFAULT), ...tlsOption(options.tls) };
    this.batchBytesMax = batchBytesMax(options.valueBytesMax ?? VALUE_BYTES_MAX_DEFAULT);
    this.perNode = Math.max(1, options.connectionsPerNode ?? 1);
    this.current = (options.startAt ?? 0) % endpoints.length;
    this.routing = options.routing ?? 'node';
    if (this.routing === 'token') {
      this.seeds = seedsOf(endpoints);
      this.topo = startingTopology(this.seeds, options.replicationFactor);
      this.ids = this.topo.routable;
      this.topo.routable.forEach((id) => this.openPool(id, this.topo!.locations[id]!));
    } else {
      this.ids = endpoints.map((_, i) => i);
      endpoints.forEach((e, i) => this.openPool(i, e));
    }
    this.learner = options.learnRing === true && this.routing === 'token' ? new RingLearner(this) : undefined;
    this.speculations = new ReadSpeculations(speculativeRetryOf(options.speculativeRetry, this.routing), this.timeoutMs);
  }

  /** The speculativeRetry in force, as the option is written ("99p", "NONE", ...). */
  get speculativeRetry(): string {
    return formatSpeculativeRetry(this.speculations.policy);
  }

  /** Reads this client sent a second time because the node first asked was slow to answer. */
  get speculativeReads(): number {
    return this.speculated;
  }

  /**
   * A client of the cluster of a cluster file, with token routing. The file's
   * nodes are the seeds: the client routes by their ring at first, and
   * learns the current one from the nodes in the background (see
   * RingLearner); `connect` waits for that first.
   */
  static fromClusterFile(path: string, options: ClientOptions = {}): KvClient {
    const config = loadClusterFile(path, { ...process.env, KV_CLUSTER_SECRET: process.env.KV_CLUSTER_SECRET ?? 'not-needed-by-clients' });
    return KvClient.fromConfig(config, options);
  }

  /** A client of a cluster file's cluster (see fromClusterFile). */
  static fromConfig(config: ClusterConfig, options: ClientOptions = {}): KvClient {
    const tls = loadTls(config);
    return new KvClient(config.nodes, {
      ...(tls ? { tls } : {}),
      valueBytesMax: config.settings.maxValueBytes,
      routing: 'token',
      replicationFactor: config.replicationFactor,
      learnRing: true,
      ...options,
    });
  }

  /**
   * fromClusterFile, resolved once the ring was learned from a node (or no
   * seed answered: the client then routes by the file's ring and keeps asking).
   */
  static async connect(path: string, options: ClientOptions = {}): Promise<KvClient> {
    const client = KvClient.fromClusterFile(path, options);
    await client.refreshRing();
    return client;
  }

  /** The nodes requests may go to now, with their ids. */
  get endpoints(): NodeEndpoint[] {
    return this.ids.map((id) => {
      const pool = this.pools[id]!;
      const { host, port } = pool[0]!.options;
      const token = this.topo?.members.find((m) => m.id === id)?.token;
      return { id, host, port, ...(token !== undefined && { token }) };
    });
  }

  /** The ring token routing uses now (undefined in node routing). */
  get topology(): Topology | undefined {
    return this.topo;
  }

  /** Whether close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The placement token routing uses now (undefined in node routing). */
  get placement(): Placement | undefined {
    return this.topo?.placement;
  }

  /** The epoch of the ring the client routes by (1 until a node gave a newer one; 0 in node routing). */
  get epoch(): number {
    return this.topo?.epoch ?? 0;
  }

  /** host:port of the node requests currently go to (node routing). */
  get currentNode(): string {
    const { host, port } = this.pools[this.ids[this.current % this.ids.length]!]![0]!.options;
    return `${host}:${port}`;
  }

  /**
   * Asks the nodes for the ring now, and routes by it if it is newer; resolves
   * with the epoch routed by. Nothing happens in node routing.
   */
  async refreshRing(): Promise<number> {
    await this.learner?.refresh();
    return this.epoch;
  }

  /** Someone (a status call, an error) named epoch `epoch`: if it is newer than the client's, learn the ring soon. */
  noteEpoch(epoch: number): void {
    if (epoch > this.epoch) this.learner?.soon();
  }

  /** The log the ring was folded from, for RingLearner. */
  knownLog(): readonly EpochEntry[] {
    return this.log;
  }

  /** Node ids to ask for the ring, in order, each asked over its first connection (RingLearner). */
  askable(): { id: number; fetch(after: number): Promise<{ epoch: number; entries: EpochEntry[] }> }[] {
    return this.ids.map((id) => ({ id, fetch: (after: number) => fetchMembership(this.pools[id]![0]!, after, RING_FETCH_TIMEOUT_MS) }));
  }

  /** Routes by a newer log from now on (RingLearner): connections to new nodes open, those to nodes gone close. */
  adopt(log: readonly EpochEntry[]): void {
    const old = this.topo;
    if (this.closed || old === undefined || log.length <= this.log.length) return;
    if (this.log.length === 0 && !fitsSeeds(log, this.seeds)) return;
    const next = topologyOf(log, this.seeds);
    for (const id of next.routable) {
      const was = old.locations[id];
      const now = next.locations[id]!;
      if (was === undefined || was.host !== now.host || was.port !== now.port) {
        this.retirePool(id);
        this.openPool(id, now);
      }
    }
    for (const id of old.routable) if (next.locations[id] === undefined) this.retirePool(id);
    this.log = log;
    this.topo = next;
    this.ids = next.routable;
  }

  private openPool(id: number, at: NodeLocation): void {
    this.pools[id] = Array.from(
      { length: this.perNode },
      () => new RpcConnection({ host: at.host, port: at.port, ...this.connectionOptions }),
    );
  }

  /** Closes a node's connections once requests already on them had their deadline (a left node's process exits anyway). */
  private retirePool(id: number): void {
    const pool = this.pools[id];
    if (pool === undefined) return;
    this.pools[id] = undefined;
    this.retiring.add(pool);
    setTimeout(() => {
      this.retiring.delete(pool);
      for (const c of pool) c.close();
    }, this.timeoutMs).unref();
  }

  private connection(node: number): RpcConnection | undefined {
    const pool = this.pools[node];
    return pool === undefined ? undefined : pool[this.roundRobin++ % pool.length];
  }

  /**
   * Runs a call on the first node in order (see nodeOrder), failing over while
   * requests cannot be sent. The whole order is only built after a failure:
   * this is every request's path, and it costs what the fixed ring's did (one
   * binary search over the range ends, nothing allocated).
   */
  private async run<T>(
    key: string | undefined,
    want: Want,
    invoke: (c: Client) => Promise<T>,
    firstReplicas = Number.POSITIVE_INFINITY,
    speculation?: ReadSpeculation,
  ): Promise<T> {
    const ids = this.ids;
    const placement = this.topo?.placement;
    let turn = this.current;
    if (placement !== undefined) {
      turn = this.turn;
      this.turn = (turn + 1) & 0x3fffffff;
    }
    let replicas: readonly number[] | undefined;
    let first: number;
    if (placement === undefined || key === undefined) first = ids[turn % ids.length]!;
    else {
      const range = placement.rangeOf(key);
      replicas = want === 'read' ? range.reads : range.writes;
      first = replicas[turn % Math.min(firstReplicas, replicas.length)]!;
    }
    let order: readonly number[] = [first];
    let lastError: KvError | undefined;
    let refused: KvError | undefined;
    for (let i = 0; i < order.length; i++) {
      const connection = this.connection(order[i]!);
      // A replica whose address nobody gave (a cluster file listing only some nodes) is passed over, as unsent.
      if (connection === undefined) lastError = new KvError('ConnectionError', `node ${order[i]}'s address is unknown`);
      else
        try {
          const call = connection.call(invoke, this.timeoutMs);
          if (i > 0 || speculation === undefined) return await call;
          const deadline = Date.now() + this.timeoutMs;
          const again = (): Promise<T> | undefined => this.sendAgain(invoke, first, replicas, turn, deadline - Date.now());
          return await raceAgain(call, speculation, again, () => this.speculated++);
        } catch (err) {
          lastError = this.unsent(err, order[i]!);
          if (lastError.code === 'Unavailable') refused ??= lastError;
        }
      if (i === 0) order = [first, ...nodeOrder(replicas, ids, turn).filter((id) => id !== first)];
    }
    // Every node that answered refused: say why the first did, rather than that some could not be reached.
    if (refused !== undefined) throw refused;
    // Every try failed before its request left (unsent() threw anything else): nothing was sent, so nothing applied.
    throw new KvError('ConnectionError', `no node of the cluster could be reached (last: ${lastError?.message})`, NOT_SENT);
  }

  /**
   * A read's second ask (see client/speculation.ts): the node after `first`
   * in the order a failover would take, with the rest of the timeout.
   * Undefined when there is no other node to ask.
   */
  private sendAgain<T>(
    invoke: (c: Client) => Promise<T>,
    first: number,
    replicas: readonly number[] | undefined,
    turn: number,
    timeoutMs: number,
  ): Promise<T> | undefined {
    if (this.closed || timeoutMs <= 0) return undefined;
    for (const id of nodeOrder(replicas, this.ids, turn)) {
      if (id === first) continue;
      const connection = this.connection(id);
      if (connection !== undefined) return connection.call(invoke, timeoutMs);
    }
    return undefined;
  }

  /** What token routing places by (undefined in node routing, which ignores keys). */
  private routingKey(key: Buffer | string): string | undefined {
    return this.topo === undefined ? undefined : keyText(key);
  }

  /**
   * The error of a request that `node` did not apply, to try elsewhere; any
   * other error is thrown. That is a request that never left (ConnectionError
   * with notSent), or one the node refused as Unavailable: it wrote nothing,
   * because it saw too few replicas up or because it has just started and
   * is still learning the ring from its peers, and another node may serve it
   * (as Cassandra's drivers try the next host once on Unavailable). A node
   * that cannot be reached, or too few live replicas, may mean the ring
   * moved on (a node left or joined): the learner asks for it soon.
   */
  private unsent(err: unknown, node: number): KvError {
    const e = toKvError(err);
    if (e.code === 'ConnectionError' || e.code === 'Unavailable') this.learner?.soon();
    if (e.code === 'Unavailable') return e;
    if (e.code !== 'ConnectionError') throw e;
    if (this.topo === undefined) this.current = (this.ids.indexOf(node) + 1) % this.ids.length;
    if (!e.details.notSent) throw e; // it may have been applied: let the caller decide
    return e;
  }

  /**
   * Writes a value; resolves with its timestamp (µs). With `ttlSeconds` the
   * value expires that long after the write: it then reads as not found,
   * scans skip it, and it is purged like a tombstone. At ANY it succeeds
   * while every replica of the key is down, kept as a hint by the node that
   * took it, and no read is sure to see it until that node hands it over.
   */
  async put(key: Bytes, value: Bytes, level: WriteLevelName | string, options: PutOptions = {}): Promise<{ ts: number }> {
    const code = WRITE_LEVEL_CODES[writeLevelName(level)];
    const k = wireKey(key) as Buffer; // or an ASCII string, which the writer sends the same way
    const ttl = options.ttlSeconds;
    const ts = await this.run(this.routingKey(k), 'write', (c) =>
      ttl === undefined ? c.put(k, toBuffer(value), code) : c.putWithTtl(k, toBuffer(value), code, ttl),
    );
    return { ts: int64ToNumber(ts) };
  }

  /**
   * The live keys of [start, end) in unsigned byte order, with their values,
   * read at `level` a page at a time (`pageSize` keys per call, default
   * SCAN_PAGE_SIZE_DEFAULT). An empty start is the first key, an empty end
   * the last.
   *
   *   for await (const { key, value } of client.scan('user:', 'user;', 'QUORUM', { pageSize: 500 })) ...
   */
  async *scan(start: Bytes, end: Bytes, level: LevelName | string, options: ScanOptions = {}): AsyncGenerator<ScanEntry> {
    let cursor: Buffer | undefined;
    for (;;) {
      const page = await this.scanPage(start, end, level, options.pageSize ?? SCAN_PAGE_SIZE_DEFAULT, cursor);
      yield* page.entries;
      if (page.cursor === undefined) return;
      cursor = page.cursor;
    }
  }

  /** One call of a scan: at most `limit` keys after `cursor` (the previous page's; none for the first). */
  async scanPage(start: Bytes, end: Bytes, level: LevelName | string, limit: number, cursor?: Buffer): Promise<ScanPage> {
    const name = plainReadLevel(level, 'scan');
    const from = toBuffer(start);
    // Token routing sends the call to a replica of the range it starts in.
    const at = cursor === undefined ? from : Buffer.concat([cursor, Buffer.from([0])]);
    const starts = this.startsOf(name);
    const r: types.ScanResult = await this.run(
      this.routingKey(at),
      'read',
      (c) => c.scan(from, toBuffer(end), LEVEL_CODES[name], limit, cursor ?? Buffer.alloc(0)),
      starts,
      this.speculations.of('scan', name),
    );
    const entries = r.entries.map((e): ScanEntry => {
      const ts = optionalInt64(e.ts);
      const expiresUs = optionalInt64(e.expiresMicros);
      return { key: e.key, value: e.value, ...(ts !== undefined ? { ts } : {}), ...(expiresUs !== undefined ? { expiresUs } : {}) };
    });
    return { entries, cursor: r.more && r.cursor ? r.cursor : undefined };
  }

  /**
   * One page of node `node`'s change feed of [start, end) after `afterSeq`
   * of log `incarnation` (see the IDL's `changes`; client/watch.ts follows a
   * range with it). Never sent to another node: a position belongs to one
   * node's log. The deadline is the client's timeout on top of the wait.
   */
  async changesPage(node: number, start: Buffer, end: Buffer, position: FeedPosition, limit: number, waitMs: number): Promise<FeedPage> {
    const connection = this.connection(node);
    if (connection === undefined) throw new KvError('ConnectionError', `node ${node}'s address is unknown`, NOT_SENT);
    try {
      const p = await connection.call(
        (c) => c.changes(start, end, position.incarnation as never, position.afterSeq as never, limit, waitMs),
        this.timeoutMs + waitMs,
      );
      return {
        changes: p.changes.map((c) => ({
          key: c.key,
          value: c.value,
          ts: int64ToNumber(c.ts),
          deleted: c.deleted,
          expiresUs: c.expires === null || c.expires === undefined ? 0 : int64ToNumber(c.expires),
          seq: int64ToNumber(c.seq),
        })),
        incarnation: int64ToNumber(p.incarnation),
        position: int64ToNumber(p.position),
        restarted: p.restarted,
        caughtUp: p.caughtUp,
        epoch: int64ToNumber(p.epoch),
      };
    } catch (err) {
      throw toKvError(err);
    }
  }

  /**
   * The changes of the keys in [start, end) (an empty end: no end) as they
   * reach the cluster, from now on, or (`from: 'start'`) every key's newest
   * version first. See client/watch.ts for what a reader gets, resyncs
   * included. Needs token routing. Close it to stop.
   *
   *   const w = client.watch('user:', 'user;');
   *   for await (const e of w) if (e.type === 'change') console.log(e.key.toString(), e.deleted ? '(deleted)' : e.value.toString());
   */
  watch(start: Bytes, end: Bytes, options: WatchOptions = {}): Watch {
    const to = toBuffer(end);
    return new Watch(this, toByteString(toBuffer(start)), to.length === 0 ? undefined : toByteString(to), options);
  }

  /** A read's readStarts on the ring the client knows; none (every replica may start it) without a ring, or for SERIAL. */
  private startsOf(level: ReadLevelName): number {
    return this.topo === undefined || level === 'SERIAL'
      ? Number.POSITIVE_INFINITY
      : readStarts(this.topo.placement.replicationFactor, level);
  }

  /** Reads a key at ONE, TWO, THREE, QUORUM, ALL or SERIAL (the latest linearizable value, through a Paxos round: see cas). */
  async get(key: Bytes, level: ReadLevelName | string): Promise<ReadResult> {
    const name = readLevelName(level);
    const code = name === 'SERIAL' ? SERIAL_CODE : LEVEL_CODES[name];
    const k = wireKey(key) as Buffer; // see put
    const starts = this.startsOf(name);
    const speculation = name === 'SERIAL' ? undefined : this.speculations.of('get', name);
    const r: types.ReadResult = await this.run(this.routingKey(k), 'read', (c) => c.get(k, code), starts, speculation);
    return { found: r.found, value: r.found ? r.value : Buffer.alloc(0), ts: int64ToNumber(r.ts) };
  }

  /**
   * Reads several keys at ONE, TWO, THREE, QUORUM or ALL: one result per
   * key, in the order given. A list longer than GET_MANY_KEYS_MAX goes as
   * several calls, one after another; an empty list reads nothing. Any key
   * that cannot be read at the level fails the whole call, naming the key's
   * place in its call (and the call's keys, when there are several calls).
   *
   *   const [a, b] = await client.getMany(['user:1', 'user:2'], 'QUORUM');
   */
  async getMany(keys: readonly Bytes[], level: LevelName | string): Promise<ReadResult[]> {
    const name = plainReadLevel(level, 'getMany');
    const code = LEVEL_CODES[name];
    const starts = this.startsOf(name);
    const out: ReadResult[] = [];
    for (let at = 0; at < keys.length; at += GET_MANY_KEYS_MAX) {
      const part = keys.slice(at, at + GET_MANY_KEYS_MAX).map((k) => wireKey(k) as Buffer); // see put
      // Sent to a replica of the part's first key: that key, at least, is read without a hop.
      const speculation = this.speculations.of('getMany', name);
      const rs: types.ReadResult[] = await this.run(
        this.routingKey(part[0]!),
        'read',
        (c) => c.getMany(part, code),
        starts,
        speculation,
      ).catch((err: unknown) => {
        if (keys.length <= GET_MANY_KEYS_MAX || !(err instanceof KvError)) throw err;
        throw new KvError(err.code, `keys ${at + 1} to ${at + part.length} of ${keys.length}, ${err.message}`, err.details);
      });
      for (const r of rs) out.push(readResultOf(r));
    }
    return out;
  }

  /**
   * A logged batch: writes each of `writes` (a value, or with `remove` a
   * tombstone) at one level, with one timestamp, which it resolves with. The
   * node that takes it logs it first, so once any write of it is applied,
   * all of them will be; a reader may see some before the others. At most
   * BATCH_WRITES_MAX writes, each to a different key: a longer batch is
   * refused, not split, since two calls would be two batches. Unavailable
   * means nothing was written; TimedOut names the first key that missed
   * the level, and the node writes the batch again until every key has it.
   * `{ unlogged: true }`: Cassandra's UNLOGGED BATCH, no log and no copies,
   * so it costs what its writes cost; after a TimedOut it may stay applied
   * in part.
   *
   *   await client.batch([{ key: 'user:1', value: 'ann' }, { key: 'user:2', remove: true }], 'QUORUM');
   */
  async batch(
    writes: readonly BatchOp[],
    level: WriteLevelName | string,
    options: { readonly unlogged?: boolean } = {},
  ): Promise<{ ts: number }> {
    const code = batchLevelCode(level);
    const wire = this.batchWire(writes);
    // A logged batch leaves the flag out: the frame an older node has always had.
    const unlogged = options.unlogged === true ? true : (null as unknown as boolean);
    // Sent to a replica of the first key: that write, at least, needs no hop.
    const ts = await this.run(wire.length > 0 ? this.routingKey(wire[0]!.key) : undefined, 'write', (c) => c.batch(wire, code, unlogged));
    return { ts: int64ToNumber(ts) };
  }

  /** A batch's writes as the wire carries them; refused here in the node's words when too large (a frame past the node's limit would only get the connection closed). */
  private batchWire(writes: readonly BatchOp[]): types.BatchWrite[] {
    const wire = writes.map(
      (w) =>
        new types.BatchWrite({
          key: wireKey(w.key) as Buffer, // see put
          ...(w.remove === true ? { remove: true } : { value: toBuffer(w.value ?? '') }),
          ...(w.ttlSeconds !== undefined ? { ttlSeconds: w.ttlSeconds } : {}),
          ...(w.timestamp !== undefined ? { timestamp: w.timestamp as never } : {}),
        }),
    );
    let bytes = 0;
    for (const w of wire) bytes += w.key.length + (w.value?.length ?? 0);
    if (bytes > this.batchBytesMax) throw new KvError('InvalidRequest', batchTooLarge(bytes, this.batchBytesMax));
    return wire;
  }

  /** Deletes (writes a tombstone); resolves with the tombstone's timestamp. */
  async delete(key: Bytes, level: WriteLevelName | string): Promise<{ ts: number }> {
    const code = WRITE_LEVEL_CODES[writeLevelName(level)];
    const k = wireKey(key) as Buffer; // see put
    const ts = await this.run(this.routingKey(k), 'write', (c) => c.remove(k, code));
    return { ts: int64ToNumber(ts) };
  }

  /**
   * Compare-and-set, linearizable per key: writes `value` only if the key
   * holds `expected` now (null: holds nothing).
   *
   *   const { applied, current } = await client.cas('counter', '41', '42');
   *
   * Every attempt carries the same request id, so when a reply is lost (the
   * connection died, or TimedOut) this retries, up to CAS_CLIENT_ATTEMPTS_MAX
   * attempts, and a cas that was applied the first time answers applied:
   * true instead of applying twice or answering a false "not applied".
   */
  /**
   * Runs one get, put, delete, cas or scan page as usual and returns what
   * its coordinator did, step by step: whom it asked, who answered what and
   * when, a speculative ask, a read repair, hints, and for a write each
   * replica's acknowledgement (the report waits for the last live one); for
   * a cas or a SERIAL get, each Paxos round's ballot, promises, proposal and
   * commit; for a scan page (`key` its start), each round and the page's
   * number of keys in `rows`. A failure (Unavailable, TimedOut) comes back in `error` with the
   * steps that led to it; a bad request is thrown as InvalidRequest. A traced
   * cas is one attempt with a request id of its own: it is not retried.
   *
   *   const t = await client.trace('user:1', { op: 'get', level: 'QUORUM' });
   *   const c = await client.trace('lock', { op: 'cas', expected: null, value: 'me' });
   */
  async trace(key: Bytes, request: TracedOp): Promise<TraceResult> {
    const k = wireKey(key) as Buffer; // see put
    const req = new types.TraceRequest({ op: request.op === 'delete' ? 'remove' : request.op, key: k, level: 0 as never });
    let starts = Number.POSITIVE_INFINITY;
    if (request.op === 'get') {
      const name = readLevelName(request.level);
      req.level = name === 'SERIAL' ? SERIAL_CODE : LEVEL_CODES[name];
      starts = this.startsOf(name);
    } else if (request.op === 'scan') {
      const name = plainReadLevel(request.level, 'scan');
      req.level = LEVEL_CODES[name];
      req.key = toBuffer(key);
      req.stop = toBuffer(request.stop);
      if (request.limit !== undefined) req.limit = request.limit;
      starts = this.startsOf(name);
    } else if (request.op === 'cas') {
      req.level = LEVEL_CODES[levelName(request.level ?? 'QUORUM')];
      req.value = toBuffer(request.value);
      if (request.expected === null) req.expectAbsent = true;
      else req.expected = toBuffer(request.expected);
    } else {
      req.level = WRITE_LEVEL_CODES[writeLevelName(request.level)];
      if (request.op === 'put') req.value = wireKey(request.value) as Buffer;
    }
    // Sent as a put or a get would be, so that the coordinator is the node an untraced request would have.
    const reads = request.op === 'get' || request.op === 'scan';
    return traceResult(await this.run(this.routingKey(k), reads ? 'read' : 'write', (c) => c.trace(req), starts));
  }

  /**
   * One getMany call traced, as `trace` traces a get: each key's steps led
   * by its place ("key 2 of 5: "), and `results`, one a key. One call, so at
   * most GET_MANY_KEYS_MAX keys (a traced list is not split as getMany
   * splits a longer one).
   *
   *   const t = await client.traceGetMany(['user:1', 'user:2'], 'QUORUM');
   */
  async traceGetMany(keys: readonly Bytes[], level: LevelName | string): Promise<TraceResult> {
    const name = plainReadLevel(level, 'getMany');
    if (keys.length > GET_MANY_KEYS_MAX)
      throw new KvError('InvalidRequest', `a traced getMany is one call of at most ${GET_MANY_KEYS_MAX} keys, not ${keys.length}`);
    const wire = keys.map((k) => wireKey(k) as Buffer); // see put
    const req = new types.TraceRequest({ op: 'getMany', key: wire[0] ?? Buffer.alloc(0), keys: wire, level: LEVEL_CODES[name] });
    const starts = this.startsOf(name);
    // Sent as getMany sends it: to a replica of the first key.
    const first = wire[0];
    return traceResult(await this.run(first === undefined ? undefined : this.routingKey(first), 'read', (c) => c.trace(req), starts));
  }

  /**
   * One batch traced, as `trace` traces a put: its logging and copies, then
   * each write's steps led by its place ("key 2 of 5: "); `ts` its one
   * timestamp. The report waits for every write's last live replica, at
   * most the request timeout.
   *
   *   const t = await client.traceBatch([{ key: 'a', value: '1' }, { key: 'b', remove: true }], 'QUORUM');
   */
  async traceBatch(
    writes: readonly BatchOp[],
    level: WriteLevelName | string,
    options: { readonly unlogged?: boolean } = {},
  ): Promise<TraceResult> {
    const code = batchLevelCode(level);
    const wire = this.batchWire(writes);
    const first = wire[0]?.key;
    const req = new types.TraceRequest({
      op: 'batch',
      key: first ?? Buffer.alloc(0),
      writes: wire,
      level: code,
      ...(options.unlogged === true ? { unlogged: true } : {}),
    });
    return traceResult(await this.run(first === undefined ? undefined : this.routingKey(first), 'write', (c) => c.trace(req)));
  }

  async cas(key: Bytes, expected: Bytes | null, value: Bytes, options: CasOptions = {}): Promise<CasResult> {
    const level = options.level ?? 'QUORUM';
    const code = LEVEL_CODES[levelName(level)];
    const requestId = options.requestId ?? randomUUID();
    const k = wireKey(key) as Buffer; // see put
    const exp = expected === null ? Buffer.alloc(0) : toBuffer(expected);
    // Whether an attempt so far may have reached a node (its outcome unknown), rather than never left or been refused.
    let maybeApplied = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.run(this.routingKey(k), 'write', (c) => c.cas(k, expected === null, exp, toBuffer(value), requestId, code));
        return { applied: r.applied, current: r.current.found ? r.current.value : null };
      } catch (err) {
        const nothingDone = isKvError(err, 'Unavailable') || (isKvError(err, 'ConnectionError') && err.details.notSent !== undefined);
        // A retry refused, or not sent, says nothing of an earlier attempt, whose outcome stays unknown.
        if (nothingDone && maybeApplied) {
          throw new KvError(
            'TimedOut',
            `a retry of this cas was refused or not sent (${(err as Error).message}); whether an earlier attempt applied is unknown`,
          );
        }
        const unknown = isKvError(err, 'TimedOut') || isKvError(err, 'ConnectionError');
        if (!unknown) throw err;
        maybeApplied ||= !nothingDone;
        // Past the last attempt: unknown, or (every attempt unsent) the error that says nothing was sent.
        if (attempt >= CAS_CLIENT_ATTEMPTS_MAX) throw err;
      }
    }
  }

  /** Writes `value` only if the key holds nothing: a cas expecting absence. */
  putIfAbsent(key: Bytes, value: Bytes, options: CasOptions = {}): Promise<CasResult> {
    return this.cas(key, null, value, options);
  }

  /** Round trip through the RPC stack only. */
  async ping(payload: Bytes): Promise<Buffer> {
    return this.run(undefined, 'read', (c) => c.ping(toBuffer(payload)));
  }

  close(): void {
    this.closed = true;
    this.learner?.stop();
    this.speculations.close();
    for (const pool of [...this.pools, ...this.retiring]) for (const c of pool ?? []) c.close();
  }
}

/** A connection to one node for admin calls (the inspector, tests). */
export class NodeAdmin {
  private readonly connection: RpcConnection;

  constructor(
    readonly endpoint: NodeEndpoint,
    private readonly secret: string,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
    tls?: TlsMaterial,
  ) {
    this.connection = new RpcConnection({
      host: endpoint.host,
      port: endpoint.port,
      frameBytesMax: frameBytesMax(VALUE_BYTES_MAX_DEFAULT),
      ...tlsOption(tls),
    });
  }

  /** An admin connection to node `id` of a cluster file, over TLS when the file says so. */
  static fromConfig(config: ClusterConfig, id: number, timeoutMs = DEFAULT_TIMEOUT_MS): NodeAdmin {
    return new NodeAdmin(config.nodes[id]!, config.secret, timeoutMs, loadTls(config));
  }

  /** The node's hints, counters and down peers, without entries (so without sorting its keys). */
  status(): Promise<types.NodeDump> {
    return this.dumpPage(Buffer.alloc(0), 0);
  }

  /** One page of the node's state; `limit` 0 for none (see status). */
  async dumpPage(startAfter: Buffer, limit: number): Promise<types.NodeDump> {
    try {
      return await this.connection.call((c) => c.dump(this.secret, startAfter, limit), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /**
   * A full repair of the node's ranges with its other replicas (only
   * `peers`, when not empty); resolves when done. It can take long: the
   * deadline is `timeoutMs`, not the connection's.
   */
  async repair(peers: readonly number[], timeoutMs: number): Promise<RepairSummary> {
    try {
      const s = await this.connection.call((c) => c.repair(this.secret, [...peers]), timeoutMs);
      return {
        rangesCompared: s.rangesCompared,
        rangesSkipped: s.rangesSkipped,
        segmentsDiffered: int64ToNumber(s.segmentsDiffered),
        keysDiffered: int64ToNumber(s.keysDiffered),
        keysSent: int64ToNumber(s.keysSent),
        keysFetched: int64ToNumber(s.keysFetched),
        bytesSent: int64ToNumber(s.bytesSent),
        bytesFetched: int64ToNumber(s.bytesFetched),
        compareBytes: int64ToNumber(s.compareBytes),
        elapsedMs: int64ToNumber(s.elapsedMs),
        agreed: s.agreed,
        roundTrips: 0,
      };
    } catch (err) {
      throw toKvError(err);
    }
  }

  /**
   * The root of the node's hash tree of `range` (repair/hash-tree.ts), asked
   * as replica `asNode` of that range would: for checking from outside that
   * replicas agree (the benchmark's repair workload).
   */
  async treeRoot(range: number, asNode: number): Promise<Buffer> {
    try {
      return (await this.connection.call((c) => c.treeHashes(this.secret, asNode, range, 0, [0], ABSENT, ABSENT, ABSENT), this.timeoutMs))
        .hashes;
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Fault switch: offsets the node's physical clock (ms); returns its clock reading. */
  async setClockOffset(offsetMs: number): Promise<number> {
    try {
      return int64ToNumber(await this.connection.call((c) => c.setClockOffset(this.secret, offsetMs), this.timeoutMs));
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Starts node's decommission, or says where it is (see the IDL). Sequences an epoch first: its own deadline. */
  async decommission(): Promise<types.OperationProgress> {
    try {
      return await this.connection.call((c) => c.decommission(this.secret), OPERATION_START_ANSWER_TIMEOUT_MS);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Starts the removal of dead node `node`, run by this node, or says where it is (see the IDL). Sequences an epoch first: its own deadline. */
  async removeNode(node: number): Promise<types.OperationProgress> {
    try {
      return await this.connection.call((c) => c.removeNode(this.secret, node), OPERATION_START_ANSWER_TIMEOUT_MS);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Starts node's move to `token` (bytes), or says where it is (see the IDL). Sequences an epoch first: its own deadline. */
  async move(token: Buffer): Promise<types.OperationProgress> {
    try {
      return await this.connection.call((c) => c.move(this.secret, token), OPERATION_START_ANSWER_TIMEOUT_MS);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Aborts the operation in progress; resolves with what was aborted, in words. Slow (two barriers): its own deadline. */
  async abortOperation(timeoutMs: number): Promise<string> {
    try {
      return await this.connection.call((c) => c.abortOperation(this.secret), timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Where the node's own operation (its join or decommission) is. */
  async operationProgress(): Promise<types.OperationProgress> {
    try {
      return await this.connection.call((c) => c.operationProgress(this.secret), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Writes snapshot `name` of the node's data file (see the IDL); give the connection a deadline long enough for its whole file. */
  async snapshot(name: string): Promise<types.SnapshotInfo> {
    try {
      return await this.connection.call((c) => c.snapshot(this.secret, name), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** The snapshots the node holds a file in. */
  async listSnapshots(): Promise<types.SnapshotEntry[]> {
    try {
      return await this.connection.call((c) => c.listSnapshots(this.secret), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Sets the share of client requests the node traces and keeps (0 to 1); answers the share before. */
  async setTraceProbability(probability: number): Promise<number> {
    try {
      return await this.connection.call((c) => c.setTraceProbability(this.secret, probability), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** The sampled traces the node keeps, newest first, at most `limit`. */
  async recentTraces(limit: number): Promise<types.SampledTrace[]> {
    try {
      return await this.connection.call((c) => c.recentTraces(this.secret, limit), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Deletes the node's file of snapshot `name`. */
  async clearSnapshot(name: string): Promise<void> {
    try {
      await this.connection.call((c) => c.clearSnapshot(this.secret, name), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** Starts the node's cleanup (`start`), or only asks where its last one is (see the IDL). */
  async cleanup(start: boolean): Promise<types.CleanupProgress> {
    try {
      return await this.connection.call((c) => c.cleanup(this.secret, start), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** One page of the node's own versions of the keys in [from, to) (the internode readRange; empty `to`: no end). */
  async readRange(from: Buffer, to: Buffer, limit: number, bytesMax: number): Promise<types.RangePage> {
    try {
      const page = await this.connection.call((c) => c.readRange(this.secret, from, to, limit, bytesMax, ABSENT, ABSENT), this.timeoutMs);
      return new types.RangePage({ entries: page.entries.map(toWireMutation), more: page.more });
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** The node's whole membership log (page by page) and its epoch. */
  membership(): Promise<{ epoch: number; entries: EpochEntry[] }> {
    return fetchMembership(this.connection, 0, this.timeoutMs);
  }

  async hello(): Promise<number> {
    try {
      return int64ToNumber(await this.connection.call((c) => c.hello(this.secret, -1, 0 as never, 0 as never), this.timeoutMs));
    } catch (err) {
      throw toKvError(err);
    }
  }

  close(): void {
    this.connection.close();
  }
}

/** A keyed version as the admin's readRange answers it: a Mutation of Buffers, as the generated reader made it. */
function toWireMutation({ key, version }: KeyedVersion): types.Mutation {
  return new types.Mutation({
    key: fromByteString(key),
    value: fromByteString(version.value),
    ts: version.ts as never,
    deleted: version.deleted,
    ...(version.expires ? { expires: version.expires as never } : {}),
  });
}
