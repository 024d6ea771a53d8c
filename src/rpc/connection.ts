/**
 * One long-lived, pipelined client connection to a node. The Thrift runtime's
 * connection has no call deadlines, leaves calls pending forever when its
 * socket closes, and replays queued calls after reconnecting (stale writes).
 * This one:
 *   - gives every call a deadline, and forgets its reply slot when it expires;
 *   - fails every pending call at once when the socket closes;
 *   - connects lazily, never queues calls while disconnected, and after a
 *     failed connect waits a growing backoff before trying again (calls in
 *     that window fail fast with ConnectionError).
 */
import net from 'node:net';
import { KvError } from '../common/errors';
import { CONNECT_TIMEOUT_MS, RECONNECT_BACKOFF_MAX_MS, RECONNECT_BACKOFF_MIN_MS } from '../common/limits';
import { Client, ClientClass, ClientInternals, corkedWriter, frameReader, frameWriter, InputProtocol, OutputProtocol } from './thrift';

/** Marks errors raised before a request left this process: safe to retry elsewhere. */
export const NOT_SENT = { notSent: 1 };

/**
 * Whether a socket is connected to itself. Connecting to a local port that
 * nothing listens on can pick that same port as its own source port, and TCP
 * then joins the socket to itself (a "simultaneous open"). The connection
 * looks up, answers nothing, and holds the port, so the node that should
 * listen there cannot start until it closes. Such a socket must be dropped.
 */
export function connectedToItself(socket: net.Socket): boolean {
  return socket.localPort === socket.remotePort && socket.localAddress === socket.remoteAddress;
}

/** seqids are i32 on the wire; start again well before they overflow. */
const SEQID_WRAP = 1 << 30;

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly frameBytesMax: number;
  readonly connectTimeoutMs?: number;
  /** Binds this end of the connection to a port; tests use it to make a connection meet itself. */
  readonly localPort?: number;
}

export class RpcConnection {
  private socket: net.Socket | null = null;
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private backoffMs = 0;
  private retryAtMs = 0;
  private closed = false;
  /** Called whenever an open connection is lost. */
  onDisconnect: (() => void) | null = null;
  /** Called when a connect attempt fails (refused, unreachable, timed out). */
  onConnectFailure: (() => void) | null = null;

  constructor(readonly options: ConnectionOptions) {}

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  get isConnected(): boolean {
    return this.client !== null;
  }

  /** The peer just proved it is reachable: try at once instead of after the backoff. */
  resetBackoff(): void {
    this.backoffMs = 0;
    this.retryAtMs = 0;
  }

  /**
   * Runs one generated-client method with a deadline. `invoke` must call
   * exactly one method of the client, synchronously.
   */
  async call<T>(invoke: (client: Client) => Promise<T>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    // connect() is bounded by its own connect timeout.
    const client = this.client ?? (await this.connect());
    const internals = client as unknown as ClientInternals;
    if (internals._seqid > SEQID_WRAP) internals._seqid = 0;
    const reply = invoke(client);
    const seqid = internals._seqid;
    return this.withTimeout(reply, deadline - Date.now(), 'waiting for', () => {
      delete internals._reqs[seqid];
    });
  }

  private withTimeout<T>(p: Promise<T>, ms: number, doing: string, onTimeout?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          onTimeout?.();
          reject(new KvError('TimedOut', `no answer from ${this.address} within ${Math.max(0, Math.round(ms))} ms (${doing} it)`));
        },
        Math.max(0, ms),
      );
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private connect(): Promise<Client> {
    if (this.closed) return Promise.reject(new KvError('ConnectionError', `connection to ${this.address} is closed`, NOT_SENT));
    if (this.connecting) return this.connecting;
    const waitMs = this.retryAtMs - Date.now();
    if (waitMs > 0) {
      return Promise.reject(new KvError('ConnectionError', `cannot reach ${this.address} (next try in ${waitMs} ms)`, NOT_SENT));
    }
    this.connecting = new Promise<Client>((resolve, reject) => {
      const { host, port, localPort } = this.options;
      const socket = net.connect(localPort === undefined ? { host, port } : { host, port, localAddress: host, localPort });
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        if (connectedToItself(socket)) {
          socket.destroy(new Error('nothing listens there (the connection reached itself)'));
          return;
        }
        this.backoffMs = 0;
        resolve(this.attach(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        if (this.socket === socket) return; // errors after connect are handled by attach()
        this.backoffMs = Math.min(RECONNECT_BACKOFF_MAX_MS, Math.max(RECONNECT_BACKOFF_MIN_MS, this.backoffMs * 2));
        this.retryAtMs = Date.now() + this.backoffMs;
        this.onConnectFailure?.();
        reject(new KvError('ConnectionError', `cannot reach ${this.address}: ${err.message}`, NOT_SENT));
      });
    }).finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private attach(socket: net.Socket): Client {
    const client = new ClientClass(frameWriter(corkedWriter(socket)), OutputProtocol);
    const decode = frameReader((frame) => {
      const input = new InputProtocol(frame);
      const header = input.readMessageBegin();
      const recv = (client as unknown as Record<string, unknown>)[`recv_${header.fname}`];
      if (typeof recv !== 'function') throw new Error(`reply for unknown method ${header.fname}`);
      recv.call(client, input, header.mtype, header.rseqid);
    }, this.options.frameBytesMax);
    socket.on('data', (data: Buffer) => {
      try {
        decode.push(data);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', () => undefined); // 'close' follows and does the work
    socket.on('close', () => this.detach(socket, client));
    this.socket = socket;
    this.client = client;
    if (this.closed) socket.destroy();
    return client;
  }

  private detach(socket: net.Socket, client: Client): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.client = null;
    const internals = client as unknown as ClientInternals;
    const pending = internals._reqs;
    internals._reqs = {};
    const err = new KvError('ConnectionError', `connection to ${this.address} was lost`);
    for (const cb of Object.values(pending)) cb(err);
    this.onDisconnect?.();
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }
}
