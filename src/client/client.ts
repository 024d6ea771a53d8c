/**
 * The typed client library: what the console, inspector, benchmark, chaos
 * checker and tests use to talk to a cluster.
 *
 *   const client = KvClient.fromClusterFile('data/cluster.json');
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
 *     (ping) go to every node in turn. It needs every node's token.
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
import { toByteString } from '../common/bytes';
import { isKvError, KvError } from '../common/errors';
import { CAS_CLIENT_ATTEMPTS_MAX, frameBytesMax, VALUE_BYTES_MAX_DEFAULT } from '../common/limits';
import { ClusterConfig, loadClusterFile } from '../config/cluster';
import { loadTls, TlsMaterial } from '../config/tls';
import { LEVEL_CODES, LevelName, parseLevel, parseReadLevel, ReadLevelName, requiredReplicas, SERIAL_CODE } from '../coordinator/levels';
import { RpcConnection } from '../rpc/connection';
import type { EpochEntry } from '../membership/changes';
import { toKvError } from '../rpc/errors';
import { fromMembershipLog } from '../rpc/membership-wire';
import { Client, int64ToNumber, types } from '../rpc/thrift';
import { Ring } from '../partitioner/ring';

export type Bytes = Buffer | string;

export interface NodeEndpoint {
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
}

export interface ReadResult {
  readonly found: boolean;
  /** The value when found; an empty buffer otherwise. */
  readonly value: Buffer;
  /** Timestamp (µs) of the version read: of the value, or of the tombstone; 0 if none. */
  readonly ts: number;
}

/** What a cas answers. */
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
}

export interface ScanPage {
  readonly entries: ScanEntry[];
  /** Pass it to the next scanPage to go on; undefined when the scan is done. */
  readonly cursor: Buffer | undefined;
}

/** Keys per scan call when the caller does not say. */
export const SCAN_PAGE_SIZE_DEFAULT = 1000;

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

function levelName(level: LevelName | string): LevelName {
  // Every request passes here: an exact name skips parsing.
  if (level === 'ONE' || level === 'QUORUM' || level === 'ALL') return level;
  const name = parseLevel(level);
  if (name === undefined) throw new KvError('InvalidRequest', `unknown consistency level "${level}"; use ONE, QUORUM or ALL`);
  return name;
}

/** A read's level: a write level or SERIAL (every read passes here: exact names skip parsing). */
function readLevelName(level: ReadLevelName | string): ReadLevelName {
  if (level === 'ONE' || level === 'QUORUM' || level === 'ALL' || level === 'SERIAL') return level;
  const name = parseReadLevel(level);
  if (name === undefined) throw new KvError('InvalidRequest', `unknown consistency level "${level}"; use ONE, QUORUM, ALL or SERIAL`);
  return name;
}

/** Where token routing sends a key, given the nodes' tokens. Pure; node ids are endpoint indexes. */
function tokenRing(endpoints: readonly NodeEndpoint[], replicationFactor: number | undefined): Ring {
  if (endpoints.some((e) => e.token === undefined)) {
    throw new KvError('InvalidRequest', "token routing needs every node's token; give a cluster file, or use node routing");
  }
  const rf = replicationFactor ?? Math.min(3, endpoints.length);
  if (!Number.isInteger(rf) || rf < 1 || rf > endpoints.length) {
    throw new KvError('InvalidRequest', `the replication factor must be a whole number from 1 to ${endpoints.length}`);
  }
  return new Ring(
    endpoints.map((e, id) => ({ id, token: e.token! })),
    rf,
  );
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
  return replicationFactor - requiredReplicas(level, replicationFactor) + 1;
}

/**
 * The order in which to try nodes: the key's replicas first, starting at the
 * one whose turn it is, then every other node in id order; without replicas
 * (a ping, or node routing) every node, starting at `turn`. Pure.
 */
export function nodeOrder(replicas: readonly number[] | undefined, nodeCount: number, turn: number): number[] {
  if (replicas === undefined) return Array.from({ length: nodeCount }, (_, i) => (turn + i) % nodeCount);
  const first = turn % replicas.length;
  const order = [...replicas.slice(first), ...replicas.slice(0, first)];
  for (let id = 0; id < nodeCount; id++) if (!replicas.includes(id)) order.push(id);
  return order;
}

/** The connection option for `tls`, absent when it is. */
function tlsOption(tls: TlsMaterial | undefined): { tls?: TlsMaterial } {
  return tls === undefined ? {} : { tls };
}

export class KvClient {
  private readonly pools: RpcConnection[][];
  private current: number;
  private roundRobin = 0;
  /** Token routing's turn: which of a key's replicas, or which node for a ping, goes first. */
  private turn = 0;
  private readonly ring: Ring | undefined;
  readonly timeoutMs: number;
  readonly routing: Routing;
  /** Whether the connections run over TLS. */
  readonly tls: boolean;

  constructor(
    readonly endpoints: readonly NodeEndpoint[],
    options: ClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new KvError('InvalidRequest', 'no nodes to connect to');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.tls = options.tls !== undefined;
    const frameMax = frameBytesMax(options.valueBytesMax ?? VALUE_BYTES_MAX_DEFAULT);
    const perNode = Math.max(1, options.connectionsPerNode ?? 1);
    this.pools = endpoints.map((e) =>
      Array.from(
        { length: perNode },
        () => new RpcConnection({ host: e.host, port: e.port, frameBytesMax: frameMax, ...tlsOption(options.tls) }),
      ),
    );
    this.current = (options.startAt ?? 0) % endpoints.length;
    this.routing = options.routing ?? 'node';
    this.ring = this.routing === 'token' ? tokenRing(endpoints, options.replicationFactor) : undefined;
  }

  /** A client for every node listed in a cluster file. */
  static fromClusterFile(path: string, options: ClientOptions = {}): KvClient {
    const config = loadClusterFile(path, { ...process.env, KV_CLUSTER_SECRET: process.env.KV_CLUSTER_SECRET ?? 'not-needed-by-clients' });
    const tls = loadTls(config);
    return new KvClient(config.nodes, {
      ...(tls ? { tls } : {}),
      valueBytesMax: config.settings.maxValueBytes,
      routing: 'token',
      replicationFactor: config.replicationFactor,
      ...options,
    });
  }

  /** host:port of the node requests currently go to (node routing). */
  get currentNode(): string {
    const e = this.endpoints[this.current]!;
    return `${e.host}:${e.port}`;
  }

  private connection(node: number): RpcConnection {
    const pool = this.pools[node]!;
    return pool[this.roundRobin++ % pool.length]!;
  }

  /**
   * Runs a call on the first node in order (see nodeOrder), failing over while
   * requests cannot be sent. The whole order is only built after a failure:
   * this is every request's path.
   */
  private async run<T>(key: string | undefined, invoke: (c: Client) => Promise<T>, firstReplicas = Number.POSITIVE_INFINITY): Promise<T> {
    const n = this.endpoints.length;
    const ring = this.ring;
    let turn = this.current;
    if (ring !== undefined) {
      turn = this.turn;
      this.turn = (turn + 1) & 0x3fffffff;
    }
    const first =
      ring === undefined || key === undefined ? turn % n : ring.replicaAt(key, turn % Math.min(firstReplicas, ring.replicationFactor));
    let order: readonly number[] = [first];
    let lastError: KvError | undefined;
    for (let i = 0; i < order.length; i++) {
      try {
        return await this.connection(order[i]!).call(invoke, this.timeoutMs);
      } catch (err) {
        lastError = this.unsent(err, order[i]!);
      }
      if (i === 0) {
        const replicas = key === undefined ? undefined : ring?.replicas(key);
        order = [first, ...nodeOrder(replicas, n, turn).filter((id) => id !== first)];
      }
    }
    throw new KvError('ConnectionError', `no node of the cluster could be reached (last: ${lastError?.message})`);
  }

  /** What token routing places by (undefined in node routing, which ignores keys). */
  private routingKey(key: Buffer | string): string | undefined {
    return this.ring === undefined ? undefined : keyText(key);
  }

  /** The error of a request that never left `node`, to try elsewhere; any other error is thrown. */
  private unsent(err: unknown, node: number): KvError {
    const e = toKvError(err);
    if (e.code !== 'ConnectionError') throw e;
    if (this.ring === undefined) this.current = (node + 1) % this.endpoints.length;
    if (!e.details.notSent) throw e; // it may have been applied: let the caller decide
    return e;
  }

  /**
   * Writes a value; resolves with its timestamp (µs). With `ttlSeconds` the
   * value expires that long after the write: it then reads as not found,
   * scans skip it, and it is purged like a tombstone.
   */
  async put(key: Bytes, value: Bytes, level: LevelName | string, options: PutOptions = {}): Promise<{ ts: number }> {
    const code = LEVEL_CODES[levelName(level)];
    const k = wireKey(key) as Buffer; // or an ASCII string, which the writer sends the same way
    const ttl = options.ttlSeconds;
    const ts = await this.run(this.routingKey(k), (c) =>
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
    const name = levelName(level);
    const from = toBuffer(start);
    // Token routing sends the call to a replica of the range it starts in.
    const at = cursor === undefined ? from : Buffer.concat([cursor, Buffer.from([0])]);
    const starts = this.ring === undefined ? Number.POSITIVE_INFINITY : readStarts(this.ring.replicationFactor, name);
    const r: types.ScanResult = await this.run(
      this.routingKey(at),
      (c) => c.scan(from, toBuffer(end), LEVEL_CODES[name], limit, cursor ?? Buffer.alloc(0)),
      starts,
    );
    return { entries: r.entries.map((e) => ({ key: e.key, value: e.value })), cursor: r.more && r.cursor ? r.cursor : undefined };
  }

  /** Reads a key at ONE, QUORUM, ALL or SERIAL (the latest linearizable value, through a Paxos round: see cas). */
  async get(key: Bytes, level: ReadLevelName | string): Promise<ReadResult> {
    const name = readLevelName(level);
    const code = name === 'SERIAL' ? SERIAL_CODE : LEVEL_CODES[name];
    const k = wireKey(key) as Buffer; // see put
    const starts = this.ring === undefined || name === 'SERIAL' ? Number.POSITIVE_INFINITY : readStarts(this.ring.replicationFactor, name);
    const r: types.ReadResult = await this.run(this.routingKey(k), (c) => c.get(k, code), starts);
    return { found: r.found, value: r.found ? r.value : Buffer.alloc(0), ts: int64ToNumber(r.ts) };
  }

  /** Deletes (writes a tombstone); resolves with the tombstone's timestamp. */
  async delete(key: Bytes, level: LevelName | string): Promise<{ ts: number }> {
    const code = LEVEL_CODES[levelName(level)];
    const k = wireKey(key) as Buffer; // see put
    const ts = await this.run(this.routingKey(k), (c) => c.remove(k, code));
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
  async cas(key: Bytes, expected: Bytes | null, value: Bytes, options: CasOptions = {}): Promise<CasResult> {
    const level = options.level ?? 'QUORUM';
    const code = LEVEL_CODES[levelName(level)];
    const requestId = options.requestId ?? randomUUID();
    const k = wireKey(key) as Buffer; // see put
    const exp = expected === null ? Buffer.alloc(0) : toBuffer(expected);
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.run(this.routingKey(k), (c) => c.cas(k, expected === null, exp, toBuffer(value), requestId, code));
        return { applied: r.applied, current: r.current.found ? r.current.value : null };
      } catch (err) {
        // A retry refused as Unavailable says nothing of the first attempt, whose outcome stays unknown.
        if (attempt > 1 && isKvError(err, 'Unavailable')) {
          throw new KvError('TimedOut', `a retry of this cas was refused (${err.message}); whether the first attempt applied is unknown`);
        }
        const unknown = isKvError(err, 'TimedOut') || isKvError(err, 'ConnectionError');
        if (!unknown || attempt >= CAS_CLIENT_ATTEMPTS_MAX) throw err;
      }
    }
  }

  /** Writes `value` only if the key holds nothing: a cas expecting absence. */
  putIfAbsent(key: Bytes, value: Bytes, options: CasOptions = {}): Promise<CasResult> {
    return this.cas(key, null, value, options);
  }

  /** Round trip through the RPC stack only. */
  async ping(payload: Bytes): Promise<Buffer> {
    return this.run(undefined, (c) => c.ping(toBuffer(payload)));
  }

  close(): void {
    for (const pool of this.pools) for (const c of pool) c.close();
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

  /** Fault switch: offsets the node's physical clock (ms); returns its clock reading. */
  async setClockOffset(offsetMs: number): Promise<number> {
    try {
      return int64ToNumber(await this.connection.call((c) => c.setClockOffset(this.secret, offsetMs), this.timeoutMs));
    } catch (err) {
      throw toKvError(err);
    }
  }

  /** The node's whole membership log (page by page) and its epoch. */
  /** Starts node's decommission, or says where it is (see the IDL). */
  async decommission(): Promise<types.OperationProgress> {
    try {
      return await this.connection.call((c) => c.decommission(this.secret), this.timeoutMs);
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

  /** One page of the node's own versions of the keys in [from, to) (the internode readRange; empty `to`: no end). */
  async readRange(from: Buffer, to: Buffer, limit: number, bytesMax: number): Promise<types.RangePage> {
    try {
      return await this.connection.call((c) => c.readRange(this.secret, from, to, limit, bytesMax), this.timeoutMs);
    } catch (err) {
      throw toKvError(err);
    }
  }

  async membership(): Promise<{ epoch: number; entries: EpochEntry[] }> {
    const entries: EpochEntry[] = [];
    for (;;) {
      const after = entries.length;
      let page: { epoch: number; entries: EpochEntry[] };
      try {
        page = fromMembershipLog(await this.connection.call((c) => c.membership(after as never), this.timeoutMs), after);
      } catch (err) {
        throw toKvError(err);
      }
      entries.push(...page.entries);
      // Each page holds at least one entry until the node's epoch is reached, so this ends.
      if (page.entries.length === 0 || entries.length >= page.epoch) return { epoch: page.epoch, entries };
    }
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
