/**
 * The typed client library: what the console, inspector, benchmark, chaos
 * checker and tests use to talk to a cluster.
 *
 *   const client = KvClient.fromClusterFile('data/cluster.json');
 *   await client.put('apple', 'red', 'QUORUM');
 *   const r = await client.get('apple', 'QUORUM');   // { found: true, value: <Buffer 72 65 64>, ts }
 *   client.close();
 *
 * Any node can coordinate any request. The client sticks to one node and
 * fails over to the next when that node cannot be reached. A request that
 * never left (connection refused) is retried on the next node at once; one
 * whose connection died while it was in flight is reported as ConnectionError
 * (it may or may not have been applied), and the next request goes elsewhere.
 *
 * Errors are KvError with a code: InvalidRequest, Unavailable {required,
 * alive}, TimedOut {acked, required}, Unauthorized, ConnectionError, Internal.
 */
import { KvError } from '../common/errors';
import { frameBytesMax, VALUE_BYTES_MAX_DEFAULT } from '../common/limits';
import { loadClusterFile } from '../config/cluster';
import { LEVEL_CODES, LevelName, parseLevel } from '../coordinator/levels';
import { RpcConnection } from '../rpc/connection';
import { toKvError } from '../rpc/errors';
import { Client, int64ToNumber, types } from '../rpc/thrift';

export type Bytes = Buffer | string;

export interface NodeEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface ClientOptions {
  /** Per-request deadline, a little above the nodes' own request timeout. */
  readonly timeoutMs?: number;
  /** Connections per node; requests are spread over them round robin. */
  readonly connectionsPerNode?: number;
  /** Which node to try first (default 0); useful to spread many clients. */
  readonly startAt?: number;
  /** Frame limit for replies; must fit the largest value. */
  readonly valueBytesMax?: number;
}

export interface ReadResult {
  readonly found: boolean;
  /** The value when found; an empty buffer otherwise. */
  readonly value: Buffer;
  /** Timestamp (µs) of the version read: of the value, or of the tombstone; 0 if none. */
  readonly ts: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

function toBuffer(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

function levelCode(level: LevelName | string): number {
  const name = parseLevel(level);
  if (name === undefined) throw new KvError('InvalidRequest', `unknown consistency level "${level}"; use ONE, QUORUM or ALL`);
  return LEVEL_CODES[name];
}

export class KvClient {
  private readonly pools: RpcConnection[][];
  private current: number;
  private roundRobin = 0;
  readonly timeoutMs: number;

  constructor(
    readonly endpoints: readonly NodeEndpoint[],
    options: ClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new KvError('InvalidRequest', 'no nodes to connect to');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const frameMax = frameBytesMax(options.valueBytesMax ?? VALUE_BYTES_MAX_DEFAULT);
    const perNode = Math.max(1, options.connectionsPerNode ?? 1);
    this.pools = endpoints.map((e) =>
      Array.from({ length: perNode }, () => new RpcConnection({ host: e.host, port: e.port, frameBytesMax: frameMax })),
    );
    this.current = (options.startAt ?? 0) % endpoints.length;
  }

  /** A client for every node listed in a cluster file. */
  static fromClusterFile(path: string, options: ClientOptions = {}): KvClient {
    const config = loadClusterFile(path, { ...process.env, KV_CLUSTER_SECRET: process.env.KV_CLUSTER_SECRET ?? 'not-needed-by-clients' });
    return new KvClient(config.nodes, { valueBytesMax: config.settings.maxValueBytes, ...options });
  }

  /** host:port of the node requests currently go to. */
  get currentNode(): string {
    const e = this.endpoints[this.current]!;
    return `${e.host}:${e.port}`;
  }

  private connection(node: number): RpcConnection {
    const pool = this.pools[node]!;
    return pool[this.roundRobin++ % pool.length]!;
  }

  /** Runs a call on the current node, failing over while requests cannot be sent. */
  private async run<T>(invoke: (c: Client) => Promise<T>): Promise<T> {
    let lastError: KvError | undefined;
    for (let tries = 0; tries < this.endpoints.length; tries++) {
      const node = this.current;
      try {
        return await this.connection(node).call(invoke, this.timeoutMs);
      } catch (err) {
        const e = toKvError(err);
        if (e.code !== 'ConnectionError') throw e;
        lastError = e;
        this.current = (node + 1) % this.endpoints.length;
        if (!e.details.notSent) throw e; // it may have been applied: let the caller decide
      }
    }
    throw new KvError('ConnectionError', `no node of the cluster could be reached (last: ${lastError?.message})`);
  }

  /** Writes a value; resolves with its timestamp (µs). */
  async put(key: Bytes, value: Bytes, level: LevelName | string): Promise<{ ts: number }> {
    const code = levelCode(level);
    const ts = await this.run((c) => c.put(toBuffer(key), toBuffer(value), code));
    return { ts: int64ToNumber(ts) };
  }

  async get(key: Bytes, level: LevelName | string): Promise<ReadResult> {
    const code = levelCode(level);
    const r: types.ReadResult = await this.run((c) => c.get(toBuffer(key), code));
    return { found: r.found, value: r.found ? r.value : Buffer.alloc(0), ts: int64ToNumber(r.ts) };
  }

  /** Deletes (writes a tombstone); resolves with the tombstone's timestamp. */
  async delete(key: Bytes, level: LevelName | string): Promise<{ ts: number }> {
    const code = levelCode(level);
    const ts = await this.run((c) => c.remove(toBuffer(key), code));
    return { ts: int64ToNumber(ts) };
  }

  /** Round trip through the RPC stack only. */
  async ping(payload: Bytes): Promise<Buffer> {
    return this.run((c) => c.ping(toBuffer(payload)));
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
  ) {
    this.connection = new RpcConnection({ host: endpoint.host, port: endpoint.port, frameBytesMax: frameBytesMax(VALUE_BYTES_MAX_DEFAULT) });
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

  /** Fault switch: offsets the node's physical clock (ms); returns its clock reading. */
  async setClockOffset(offsetMs: number): Promise<number> {
    try {
      return int64ToNumber(await this.connection.call((c) => c.setClockOffset(this.secret, offsetMs), this.timeoutMs));
    } catch (err) {
      throw toKvError(err);
    }
  }

  async hello(): Promise<number> {
    try {
      return int64ToNumber(await this.connection.call((c) => c.hello(this.secret, -1, 0 as never), this.timeoutMs));
    } catch (err) {
      throw toKvError(err);
    }
  }

  close(): void {
    this.connection.close();
  }
}
