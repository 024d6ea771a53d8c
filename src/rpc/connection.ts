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
 * With TLS (`tls` set) the connection is ready once its handshake succeeded,
 * within the same connect timeout; a failed handshake is a ConnectionError
 * that says so ("TLS handshake with HOST:PORT failed: certificate has expired").
 */
import net from 'node:net';
import tls from 'node:tls';
import { KvError } from '../common/errors';
import type { TlsMaterial } from '../config/tls';
import { connectOptions, describeTlsFailure, isTlsError } from './tls';
import { CONNECT_TIMEOUT_MS, RECONNECT_BACKOFF_MAX_MS, RECONNECT_BACKOFF_MIN_MS } from '../common/limits';
import {
  Client,
  ClientClass,
  ClientInternals,
  corkedWriter,
  frameReader,
  frameWriter,
  InputProtocol,
  isRefusal,
  OutputProtocol,
  refusalReason,
} from './thrift';

/** Marks errors raised before a request left this process: safe to retry elsewhere. */
export const NOT_SENT = { notSent: 1 };
/** Marks a ConnectionError that TLS caused (a refused certificate, plain bytes), not the network. */
export const TLS_FAILED = { tls: 1 };

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

/** A node's refusal of this side's TLS certificate, with its reason. */
class NodeRefusal extends Error {}

/** seqids are i32 on the wire; start again well before they overflow. */
const SEQID_WRAP = 1 << 30;

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly frameBytesMax: number;
  readonly connectTimeoutMs?: number;
  /** Binds this end of the connection to a port; tests use it to make a connection meet itself. */
  readonly localPort?: number;
  /** Connect over mutual TLS with this material instead of plain TCP. */
  readonly tls?: TlsMaterial;
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
  /** Called when a connect attempt fails (refused, unreachable, timed out, TLS handshake failed). */
  onConnectFailure: ((err: KvError) => void) | null = null;

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
    let client = this.client;
    let waitMs = timeoutMs;
    if (client === null) {
      // connect() is bounded by its own connect timeout; what it took comes off the call's.
      const deadline = Date.now() + timeoutMs;
      client = await this.connect();
      waitMs = deadline - Date.now();
    }
    const internals = client as unknown as ClientInternals;
    if (internals._seqid > SEQID_WRAP) internals._seqid = 0;
    const reply = invoke(client);
    const seqid = internals._seqid;
    // On an open connection the wait is the whole timeout, not the timeout less what `invoke` took to encode:
    // a coordinator sets its own deadline of the same length just before it calls its replicas, and a timer of
    // the same length set later never fires before it, so that deadline always ends the request. A call timer a
    // millisecond shorter could end first, and a QUORUM read then asked a third replica at its deadline.
    return this.withTimeout(reply, waitMs, 'waiting for', () => {
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
      const socket = this.open();
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
      let tcpConnected = false;
      socket.once('connect', () => {
        tcpConnected = true;
        if (connectedToItself(socket)) socket.destroy(new Error('nothing listens there (the connection reached itself)'));
      });
      socket.once(this.options.tls === undefined ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        if (socket.destroyed) return;
        this.backoffMs = 0;
        resolve(this.attach(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        if (this.socket === socket) return; // errors after connect are handled by attach()
        this.backoffMs = Math.min(RECONNECT_BACKOFF_MAX_MS, Math.max(RECONNECT_BACKOFF_MIN_MS, this.backoffMs * 2));
        this.retryAtMs = Date.now() + this.backoffMs;
        const failure =
          tcpConnected && this.options.tls !== undefined
            ? new KvError('ConnectionError', `TLS handshake with ${this.address} failed: ${describeTlsFailure(err, 'the node')}`, {
                ...NOT_SENT,
                ...TLS_FAILED,
              })
            : new KvError('ConnectionError', `cannot reach ${this.address}: ${err.message}`, NOT_SENT);
        this.onConnectFailure?.(failure);
        reject(failure);
      });
    }).finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private open(): net.Socket {
    const { host, port, localPort, tls: material } = this.options;
    const local = localPort === undefined ? {} : { localAddress: host, localPort };
    if (material === undefined) return net.connect({ host, port, ...local });
    return tls.connect({ ...connectOptions(material, host, port), ...local });
  }

  private attach(socket: net.Socket): Client {
    const client = new ClientClass(frameWriter(corkedWriter(socket)), OutputProtocol);
    const decode = frameReader((frame) => {
      const input = new InputProtocol(frame);
      const header = input.readMessageBegin();
      if (isRefusal(header)) throw new NodeRefusal(refusalReason(input));
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
    let failure: Error | undefined;
    socket.on('error', (err) => {
      failure = err; // 'close' follows and does the work
    });
    socket.on('close', () => this.detach(socket, client, failure));
    this.socket = socket;
    this.client = client;
    if (this.closed) socket.destroy();
    return client;
  }

  private detach(socket: net.Socket, client: Client, failure: Error | undefined): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.client = null;
    const internals = client as unknown as ClientInternals;
    const pending = internals._reqs;
    internals._reqs = {};
    // With TLS 1.3 a node that refuses our certificate says so after our side of the handshake: on the first read.
    const err =
      failure instanceof NodeRefusal
        ? new KvError('ConnectionError', `TLS with ${this.address} failed: ${failure.message}`, TLS_FAILED)
        : failure !== undefined && isTlsError(failure)
          ? new KvError('ConnectionError', `TLS with ${this.address} failed: ${describeTlsFailure(failure, 'the node')}`, TLS_FAILED)
          : new KvError('ConnectionError', `connection to ${this.address} was lost`);
    for (const cb of Object.values(pending)) cb(err);
    this.onDisconnect?.();
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }
}
