/**
 * A Thrift server loop that survives its clients. The runtime's own server
 * emits 'error' on the server object for any bad connection (crashing the
 * process if nobody listens), has no idle timeout, and buffers without limit.
 * Here every connection is handled on its own:
 *   - garbage, an oversize length prefix or a malformed message closes that
 *     connection only (the length is checked before any frame is buffered);
 *   - a connection idle for CONNECTION_IDLE_MS is closed;
 *   - at most CONNECTION_REQUESTS_IN_FLIGHT_MAX requests per connection are
 *     processed at once; past that the socket stops being read (TCP pushes back);
 *   - a client that does not read its replies is cut off once
 *     CONNECTION_WRITE_BUFFER_BYTES_MAX bytes are waiting for it;
 *   - and across all connections, at most NODE_INPUT_BUFFER_BYTES_MAX bytes of
 *     unfinished requests and NODE_OUTPUT_BUFFER_BYTES_MAX bytes of unsent
 *     replies are held: the connection that would go past is closed.
 * With TLS (`tls` set) the same loop runs on each connection once its
 * handshake has succeeded; a failed or slow handshake (a wrong certificate,
 * a plain-text client, silence past TLS_HANDSHAKE_TIMEOUT_MS) closes that
 * connection and is reported through onTlsError.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  CONNECTION_IDLE_MS,
  CONNECTION_REQUESTS_IN_FLIGHT_MAX,
  CONNECTION_WRITE_BUFFER_BYTES_MAX,
  CONNECTIONS_MAX,
  NODE_INPUT_BUFFER_BYTES_MAX,
  NODE_OUTPUT_BUFFER_BYTES_MAX,
  TLS_HANDSHAKE_TIMEOUT_MS,
} from '../common/limits';
import type { TlsMaterial } from '../config/tls';
import { ByteBudget } from './frames';
import { describeTlsFailure, serverOptions, verdictOf } from './tls';
import { corkedWriter, refusalFrame, frameReader, frameWriter, InputProtocol, OutputProtocol, Processor } from './thrift';

export interface RpcServerOptions {
  readonly host: string;
  readonly port: number;
  readonly frameBytesMax: number;
  readonly idleMs?: number;
  readonly onConnectionError?: (reason: string, remote: string) => void;
  /** Serve mutual TLS with this material instead of plain TCP. */
  readonly tls?: TlsMaterial;
  /** A connection whose TLS handshake failed, with why in one phrase. */
  readonly onTlsError?: (reason: string, remote: string) => void;
}

export interface RpcServerStats {
  connectionsOpen: number;
  connectionsAccepted: number;
  connectionsRejected: number;
  badFrames: number;
  slowReadersCut: number;
  tlsHandshakesFailed: number;
}

export class RpcServer {
  readonly stats: RpcServerStats = {
    connectionsOpen: 0,
    connectionsAccepted: 0,
    connectionsRejected: 0,
    badFrames: 0,
    slowReadersCut: 0,
    tlsHandshakesFailed: 0,
  };
  /** Every TCP connection, from accept on (with TLS, also those still in their handshake). */
  private readonly sockets = new Set<net.Socket>();
  /**
   * Each TCP connection's address, noted when it is accepted: by the time a
   * handshake fails the socket may be closed and no longer know it. The TLS
   * socket reaches its TCP one through `_parent` (not public API; a failed
   * lookup only loses the address in the log line).
   */
  private readonly remotes = new WeakMap<net.Socket, string>();
  /** Request bytes buffered by all connections together (partial frames). */
  private readonly inputBudget = new ByteBudget(NODE_INPUT_BUFFER_BYTES_MAX);
  /** Reply bytes written but not yet taken by the kernel, all connections together. */
  private readonly outputBudget = new ByteBudget(NODE_OUTPUT_BUFFER_BYTES_MAX);
  private readonly server: net.Server;

  constructor(
    private readonly processor: Processor,
    private readonly options: RpcServerOptions,
  ) {
    const material = options.tls;
    if (material === undefined) {
      this.server = net.createServer((socket) => this.accept(socket));
    } else {
      const server = tls.createServer(serverOptions(material), (socket) => this.accept(socket));
      server.on('tlsClientError', (err, socket) => {
        const remote = this.remotes.get((socket as unknown as { _parent?: net.Socket })._parent as net.Socket) ?? 'a client';
        // A listener here keeps Node from closing the socket (a handshake timeout would leave it open).
        socket.destroy();
        this.stats.tlsHandshakesFailed++;
        this.options.onTlsError?.(describeTlsFailure(err, 'the client'), remote);
      });
      this.server = server;
    }
    this.server.on('connection', (socket: net.Socket) => {
      this.remotes.set(socket, `${socket.remoteAddress}:${socket.remotePort}`);
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.maxConnections = CONNECTIONS_MAX;
    this.server.on('drop', () => this.stats.connectionsRejected++);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        // After start, a server-level error (rare: e.g. EMFILE on accept) is logged, never fatal.
        this.server.on('error', (err) => this.options.onConnectionError?.(err.message, 'server'));
        resolve();
      });
    });
  }

  /** The port listened on (the kernel's choice, when asked for port 0). */
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Stops accepting, closes every connection. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /**
   * A TLS client whose certificate did not verify gets the reason as a
   * refusal message (thrift.ts, refusalFrame) and a closed connection; it
   * never reaches the processor.
   */
  private refused(socket: net.Socket): boolean {
    if (!(socket instanceof tls.TLSSocket)) return false;
    const reason = verdictOf(socket);
    if (reason === undefined) return false;
    this.stats.tlsHandshakesFailed++;
    this.options.onTlsError?.(`its certificate was refused: ${reason}`, `${socket.remoteAddress}:${socket.remotePort}`);
    socket.on('error', () => undefined); // the client may be gone already
    socket.setTimeout(TLS_HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
    socket.end(refusalFrame(`the node refused our certificate: ${reason}`));
    return true;
  }

  private accept(socket: net.Socket): void {
    if (this.refused(socket)) return;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.stats.connectionsOpen++;
    this.stats.connectionsAccepted++;
    socket.setNoDelay(true);
    socket.setTimeout(this.options.idleMs ?? CONNECTION_IDLE_MS, () => socket.destroy());
    const fail = (reason: string): void => {
      this.options.onConnectionError?.(reason, remote);
      socket.destroy();
    };
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => {
      this.stats.connectionsOpen--;
    });

    let inFlight = 0;
    const write = corkedWriter(socket);
    const reply = (frame: Buffer): void => {
      inFlight--;
      if (socket.isPaused() && inFlight < CONNECTION_REQUESTS_IN_FLIGHT_MAX / 2) socket.resume();
      if (socket.destroyed) return;
      this.outputBudget.used += frame.length;
      write(frame, () => {
        this.outputBudget.used -= frame.length;
      });
      if (socket.writableLength > CONNECTION_WRITE_BUFFER_BYTES_MAX || this.outputBudget.used > this.outputBudget.max) {
        this.stats.slowReadersCut++;
        fail('client does not read its replies');
      }
    };
    // One output buffer per connection is enough: the generated processor
    // writes each reply from its first byte to flush() without yielding.
    const output = new OutputProtocol(frameWriter(reply));
    const frames = frameReader(
      (frame) => {
        inFlight++;
        if (inFlight >= CONNECTION_REQUESTS_IN_FLIGHT_MAX) socket.pause();
        this.processor.process(new InputProtocol(frame), output);
      },
      this.options.frameBytesMax,
      this.inputBudget,
    );
    socket.on('close', () => frames.dispose());
    socket.on('data', (data: Buffer) => {
      try {
        frames.push(data);
      } catch (err) {
        // Any decoding failure means we can no longer find frame boundaries.
        this.stats.badFrames++;
        fail(`bad request: ${(err as Error).message}`);
      }
    });
  }
}
