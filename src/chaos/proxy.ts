/**
 * Userspace TCP proxies, one per directed internode link (the approach of
 * etcd's functional tester): node i reaches peer j through the proxy of link
 * i→j (`--peer j=127.0.0.1:PORT`), so the link can be cut without root. That
 * link carries the TCP connections node i opens to node j, both ways (i's
 * requests and j's replies). Modes:
 *   pass       forward bytes as they come;
 *   drop       reset every connection and every new one (a refused, broken
 *              link: the failure detector sees it at once);
 *   blackhole  accept and hold connections but discard every byte (a silent
 *              partition: the detector sees it after its timeout);
 *   delay(ms)  forward every chunk ms later, in order.
 * Leaving blackhole resets the connections that were held: bytes were thrown
 * away in the middle of Thrift frames, so resuming those streams would hand
 * the node a corrupt frame boundary instead of the clean break a long real
 * partition ends in.
 */
import net from 'node:net';
import { connectedToItself } from '../rpc/connection';

export type LinkMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'delay'; readonly ms: number };

export const PASS: LinkMode = { kind: 'pass' };

/** Bytes a delayed direction may hold; past it the connection is reset (a link that cannot keep up). */
export const DELAY_QUEUE_BYTES_MAX = 64 * 1024 * 1024;

export function describeMode(m: LinkMode): string {
  return m.kind === 'delay' ? `delay ${m.ms}ms` : m.kind;
}

/** One direction of a proxied connection: chunks leave in order, each no earlier than its due time. */
class Conveyor {
  private readonly queue: { at: number; chunk: Buffer | null }[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dst: net.Socket,
    private readonly onOverflow: () => void,
  ) {}

  /** Queues a chunk (null: end of stream) to leave `delayMs` from now, never before an earlier one. */
  push(chunk: Buffer | null, delayMs: number): void {
    if (delayMs <= 0 && this.queue.length === 0) return this.emit(chunk);
    const last = this.queue[this.queue.length - 1]?.at ?? 0;
    this.queue.push({ at: Math.max(performance.now() + delayMs, last), chunk });
    this.bytes += chunk?.length ?? 0;
    if (this.bytes > DELAY_QUEUE_BYTES_MAX) return this.onOverflow();
    this.arm();
  }

  clear(): void {
    this.queue.length = 0;
    this.bytes = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer !== undefined || this.queue.length === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.release();
      },
      Math.max(0, this.queue[0]!.at - performance.now()),
    );
  }

  private release(): void {
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      const { chunk } = this.queue.shift()!;
      this.bytes -= chunk?.length ?? 0;
      this.emit(chunk);
    }
    this.arm();
  }

  private emit(chunk: Buffer | null): void {
    if (this.dst.destroyed) return;
    if (chunk === null) this.dst.end();
    else this.dst.write(chunk);
  }
}

/** Where a proxy forwards to. `localPort` binds the proxy's end; tests use it to make a connection meet itself. */
export interface Target {
  readonly host: string;
  readonly port: number;
  readonly localPort?: number;
}

/** A connection through the proxy: `down` from the node, `up` to its peer (none while held). */
interface Pair {
  readonly down: net.Socket;
  up: net.Socket | null;
  held: boolean;
  toUp?: Conveyor;
  toDown?: Conveyor;
}

export class LinkProxy {
  private readonly pairs = new Set<Pair>();
  private mode: LinkMode = PASS;
  /** Connections accepted since start, for tests and reports. */
  accepted = 0;

  private constructor(
    readonly from: number,
    readonly to: number,
    private readonly server: net.Server,
    private readonly target: Target,
  ) {}

  /** Listens on a free port of `host` and forwards to `target`. */
  static async start(from: number, to: number, target: Target, host = '127.0.0.1'): Promise<LinkProxy> {
    const server = net.createServer({ allowHalfOpen: true });
    const proxy = new LinkProxy(from, to, server, target);
    server.on('connection', (s) => proxy.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get current(): LinkMode {
    return this.mode;
  }

  get connections(): number {
    return this.pairs.size;
  }

  setMode(mode: LinkMode): void {
    this.mode = mode;
    for (const p of [...this.pairs]) {
      if (mode.kind === 'drop' || (p.held && mode.kind !== 'blackhole')) this.reset(p);
      else if (mode.kind === 'blackhole') this.hold(p);
    }
  }

  private accept(down: net.Socket): void {
    this.accepted++;
    down.on('error', () => undefined);
    if (this.mode.kind === 'drop') {
      down.resetAndDestroy();
      return;
    }
    const pair: Pair = { down, up: null, held: false };
    this.pairs.add(pair);
    down.on('close', () => this.closed(pair, 'down'));
    if (this.mode.kind === 'blackhole') {
      this.hold(pair);
      return;
    }
    this.connectUp(pair);
  }

  private connectUp(pair: Pair): void {
    const { host, port, localPort } = this.target;
    const up = net.connect(
      localPort === undefined ? { host, port, allowHalfOpen: true } : { host, port, allowHalfOpen: true, localAddress: host, localPort },
    );
    // A node that is down must be able to listen on its port again when it restarts.
    up.once('connect', () => {
      if (connectedToItself(up)) up.destroy();
    });
    up.setNoDelay(true);
    pair.down.setNoDelay(true);
    up.on('error', () => undefined);
    pair.up = up;
    pair.toUp = new Conveyor(up, () => this.reset(pair));
    pair.toDown = new Conveyor(pair.down, () => this.reset(pair));
    pair.down.on('data', (chunk: Buffer) => this.forward(pair, pair.toUp!, chunk));
    up.on('data', (chunk: Buffer) => this.forward(pair, pair.toDown!, chunk));
    pair.down.on('end', () => this.forward(pair, pair.toUp!, null));
    up.on('end', () => this.forward(pair, pair.toDown!, null));
    up.on('close', () => this.closed(pair, 'up'));
  }

  private forward(pair: Pair, conveyor: Conveyor, chunk: Buffer | null): void {
    if (pair.held) return;
    conveyor.push(chunk, this.mode.kind === 'delay' ? this.mode.ms : 0);
  }

  /** Blackhole an existing connection: keep both sockets open, discard everything. */
  private hold(pair: Pair): void {
    pair.held = true;
    pair.toUp?.clear();
    pair.toDown?.clear();
    pair.down.on('data', () => undefined); // keeps reading, so the sender never sees back-pressure
    pair.up?.on('data', () => undefined);
  }

  /** One side closed: the other follows once what is queued for it has left. */
  private closed(pair: Pair, side: 'up' | 'down'): void {
    const other = side === 'up' ? pair.down : pair.up;
    if (pair.held || other === null) this.reset(pair);
    else (side === 'up' ? pair.toDown : pair.toUp)?.push(null, this.mode.kind === 'delay' ? this.mode.ms : 0);
    if (pair.down.destroyed && (pair.up === null || pair.up.destroyed)) this.pairs.delete(pair);
  }

  private reset(pair: Pair): void {
    this.pairs.delete(pair);
    pair.toUp?.clear();
    pair.toDown?.clear();
    if (!pair.down.destroyed) pair.down.resetAndDestroy();
    if (pair.up && !pair.up.destroyed) pair.up.resetAndDestroy();
  }

  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.reset(p);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Every directed link of an n-node cluster through its own proxy. */
export class ProxyMesh {
  private constructor(private readonly links: Map<string, LinkProxy>) {}

  static async start(targets: readonly { host: string; port: number }[]): Promise<ProxyMesh> {
    const links = new Map<string, LinkProxy>();
    const mesh = new ProxyMesh(links);
    try {
      for (let i = 0; i < targets.length; i++) {
        for (let j = 0; j < targets.length; j++) {
          if (i !== j) links.set(`${i}>${j}`, await LinkProxy.start(i, j, targets[j]!));
        }
      }
    } catch (err) {
      await mesh.close();
      throw err;
    }
    return mesh;
  }

  link(from: number, to: number): LinkProxy {
    const l = this.links.get(`${from}>${to}`);
    if (!l) throw new Error(`no proxy for link ${from}->${to}`);
    return l;
  }

  /** The node's `--peer` arguments: every peer through its link's proxy. */
  peerArgs(from: number): string[] {
    const out: string[] = [];
    for (const l of this.links.values()) if (l.from === from) out.push('--peer', `${l.to}=127.0.0.1:${l.port}`);
    return out;
  }

  /** Sets both directions between `node` and every other node. */
  isolate(node: number, mode: LinkMode): void {
    for (const l of this.links.values()) if (l.from === node || l.to === node) l.setMode(mode);
  }

  healAll(): void {
    for (const l of this.links.values()) l.setMode(PASS);
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}
