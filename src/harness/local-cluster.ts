/**
 * Runs a real cluster of node processes on this machine, for the tests, the
 * benchmark's --spawn and the chaos checker: free ports, a temporary data
 * directory, one child process per node. It only ever signals the pids it
 * started itself, and `stop()` reaps them all.
 */
import { fromByteString } from '../common/bytes';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KvClient, NodeAdmin } from '../client/client';
import { ephemeralPortRange } from '../common/procfs';
import { ClusterConfig, loadClusterFile, METRICS_PORT_OFFSET, metricsUrlOf, Settings } from '../config/cluster';
import { DEFAULT_TOKENS } from '../config/layout';
import { loadTls, TlsMaterial } from '../config/tls';
import { NODE_ENV, NODE_V8_FLAGS } from '../node/v8-flags';
import { claimPort, releasePort } from './port-claims';

const NODE_MAIN = resolve(__dirname, '../node/main.js');
const MAKE_CERTS = resolve(__dirname, '../../../scripts/make-certs.sh');
const POLL_MS = 50;
/**
 * How long a node gets to answer once spawned, and a cluster's nodes to see
 * each other and catch up. Generous on purpose: on a loaded two-core machine
 * (CI, where ava runs two test files at once, each starting four node
 * processes) a start that takes a second alone took over 20 s, the old
 * deadline. A node that exits still fails its start at once (startNode).
 */
export const NODE_START_TIMEOUT_MS = 60_000;

export interface LocalClusterOptions {
  /** Defaults to the four-node default layout's tokens. */
  readonly tokens?: readonly string[];
  readonly replicationFactor?: number;
  readonly settings?: Partial<Settings>;
  /** Parent of the temporary data directory. */
  readonly baseDir?: string;
  /** Extra arguments per node id (e.g. --clock-offset-ms). */
  readonly nodeArgs?: (id: number) => string[];
  /** Options for the node processes' `node` itself (e.g. --cpu-prof). */
  readonly execArgv?: readonly string[];
  /**
   * Every connection over mutual TLS. `true`: certificates are made in the
   * cluster's folder (certs/) by scripts/make-certs.sh; `{ dir }`: taken from
   * a folder that script wrote (ca.pem, node-I.pem, client.pem and keys).
   */
  readonly tls?: true | { readonly dir: string };
}

/** The cluster file's "tls" fields for certificates in `certs` (make-certs.sh's names). */
function tlsLayout(certs: string): { tls: object; nodeTls: (id: number) => object } {
  return {
    tls: { ca: join(certs, 'ca.pem'), cert: join(certs, 'client.pem'), key: join(certs, 'client-key.pem') },
    nodeTls: (id) => ({ cert: join(certs, `node-${id}.pem`), key: join(certs, `node-${id}-key.pem`) }),
  };
}

/** The certificate folder of a TLS cluster in `dir`: made there, or the one given. */
async function certificates(tls: true | { readonly dir: string }, dir: string, nodeCount: number): Promise<string> {
  if (tls !== true) return resolve(tls.dir);
  const certs = join(dir, 'certs');
  await promisify(execFile)('bash', [MAKE_CERTS, certs, '--nodes', String(nodeCount)]);
  return certs;
}

/** The lowest port a test cluster's node gets, when ports below the ephemeral range are used. */
const NODE_PORT_MIN = 10_000;
/** Random ports tried below the ephemeral range before taking one from the kernel. */
const FREE_PORT_TRIES = 50;
/** Ports there must be between NODE_PORT_MIN and the ephemeral range for them to be used. */
const NODE_PORTS_BELOW_EPHEMERAL_MIN = 1000;

/** Listens on `port` (0: any) and closes again: resolves with the port it got, or 0 if it was taken. */
function tryListen(port: number): Promise<number> {
  return new Promise((resolvePort) => {
    const srv = net.createServer();
    srv.once('error', () => resolvePort(0));
    srv.listen(port, '127.0.0.1', () => {
      const { port: got } = srv.address() as net.AddressInfo;
      srv.close(() => resolvePort(got));
    });
  });
}

/**
 * A port that was free a moment ago, for a node, and claimed for this
 * process (port-claims.ts) so that no other test process hands it out while
 * its node is down between a kill and a restart. Taken below the kernel's
 * range of ephemeral ports where /proc tells it: a port from that range can
 * be handed to some outgoing connection while its node is down (tests and
 * the chaos checker restart nodes), and the node then cannot listen again
 * until that connection closes. The chaos checker met exactly that.
 */
/**
 * Claims `port` for this process and probes it: true if it is now this
 * process's and free; false, with no claim kept, if another process holds a
 * claim on it or something listens there. Claimed before it is probed, so
 * that the probe never takes a port another process's node is between lives on.
 */
export async function claimIfFree(port: number): Promise<boolean> {
  if (!claimPort(port)) return false;
  if ((await tryListen(port)) !== 0) return true;
  releasePort(port);
  return false;
}

export async function freePort(): Promise<number> {
  const range = ephemeralPortRange();
  if (range !== undefined && range[0] - NODE_PORT_MIN >= NODE_PORTS_BELOW_EPHEMERAL_MIN) {
    for (let i = 0; i < FREE_PORT_TRIES; i++) {
      const port = NODE_PORT_MIN + Math.floor(Math.random() * (range[0] - NODE_PORT_MIN));
      if (await claimIfFree(port)) return port;
    }
  }
  for (let i = 0; i < FREE_PORT_TRIES; i++) {
    const port = await tryListen(0);
    if (port === 0) break;
    if (claimPort(port)) return port;
  }
  throw new Error('no free port to listen on');
}

/**
 * A port for a node outside the cluster file (one that joins, or replaces
 * another, with --port), claimed and free as freePort's are, with its
 * metrics port: such a node serves metrics on port + METRICS_PORT_OFFSET,
 * which nobody claimed otherwise, and which could then be taken by another
 * test process's node (its start fails), or be a port another process's
 * node is between lives on (that node's restart fails).
 */
export async function freeNodePort(): Promise<number> {
  const range = ephemeralPortRange();
  const lowPorts = range !== undefined && range[0] - NODE_PORT_MIN >= NODE_PORTS_BELOW_EPHEMERAL_MIN;
  for (let i = 0; i < FREE_PORT_TRIES; i++) {
    const port = await freePort();
    const metrics = port + METRICS_PORT_OFFSET;
    // Kept below the ephemeral range too, when the node's port is: an outgoing connection may hold a port in it.
    const fits = metrics <= 65535 && !(lowPorts && metrics >= range[0]);
    if (fits && (await claimIfFree(metrics))) return port;
    releasePort(port);
  }
  throw new Error('no free port, with a free metrics port beside it, to listen on');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The deadline of a wait that names none. What the tests wait for (a peer
 * seen down or up, hints delivered, a page redrawn) takes a second alone and
 * may take many on a loaded two-core machine running two test files at
 * once; the deadline only bounds how long a real failure takes to report.
 */
export const WAIT_DEADLINE_MS = 60_000;

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes. An
 * error `check` throws is retried, unless `final` says it ends the wait.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = WAIT_DEADLINE_MS,
  final: (err: unknown) => boolean = () => false,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      if (final(err)) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(POLL_MS);
  }
}

/** Node processes this process started and that have not exited yet, every cluster's. */
const liveNodes = new Set<ChildProcess>();
let killNodesOnExit = false;

/**
 * Notes a node process, to be killed if this process (or worker thread: ava
 * runs each test file in one) exits while it runs: a test file that exits
 * half-way (an uncaught error: ava's worker calls process.exit) before its
 * cluster's destroy would otherwise leave its nodes running, holding their
 * ports and the CPU the remaining tests need. Not when it is killed by a
 * signal or its thread terminated: a SIGTERM handler here would take SIGTERM
 * from the tools that stop their own way. Those nodes stop themselves within
 * a second or so of the process that started them (each is started with
 * --parent-pid; for a test file in a worker thread, ava's process). Tests
 * still destroy their clusters.
 */
function adopt(child: ChildProcess): void {
  liveNodes.add(child);
  child.once('exit', () => liveNodes.delete(child));
  if (killNodesOnExit) return;
  killNodesOnExit = true;
  process.once('exit', () => {
    for (const node of liveNodes) node.kill('SIGKILL');
  });
}

export class LocalCluster {
  private readonly children = new Map<number, ChildProcess>();
  /** Where the nodes that joined listen (the cluster file names only the bootstrap nodes). */
  private readonly joined = new Map<number, { host: string; port: number }>();
  readonly config: ClusterConfig;
  /** What clients present and trust, when the cluster runs TLS. */
  readonly tls: TlsMaterial | undefined;

  private constructor(
    readonly dir: string,
    readonly clusterFile: string,
    private readonly nodeArgs: (id: number) => string[],
    private readonly execArgv: readonly string[],
  ) {
    this.config = loadClusterFile(clusterFile, {});
    this.tls = loadTls(this.config);
  }

  static async create(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const tokens = options.tokens ?? DEFAULT_TOKENS;
    const dir = mkdtempSync(join(options.baseDir ?? tmpdir(), 'ringkv-'));
    // Each node's metrics port too: port + 1000, the default, may be taken, and is in the ephemeral range more often.
    const ports: number[] = [];
    while (ports.length < 2 * tokens.length) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const file = join(dir, 'cluster.json');
    const tls = options.tls === undefined ? undefined : tlsLayout(await certificates(options.tls, dir, tokens.length));
    const layout = {
      replicationFactor: options.replicationFactor ?? Math.min(3, tokens.length),
      secret: randomBytes(18).toString('base64url'),
      nodes: tokens.map((token, id) => ({
        id,
        host: '127.0.0.1',
        port: ports[id],
        metricsPort: ports[tokens.length + id],
        tokenHex: fromByteString(token).toString('hex'),
        ...(tls ? { tls: tls.nodeTls(id) } : {}),
      })),
      settings: options.settings ?? {},
      ...(tls ? { tls: tls.tls } : {}),
    };
    writeFileSync(file, JSON.stringify(layout, null, 2), { mode: 0o600 });
    return new LocalCluster(dir, file, options.nodeArgs ?? (() => []), options.execArgv ?? []);
  }

  /** Creates a cluster and starts every node. */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const c = await LocalCluster.create(options);
    try {
      await c.startAll();
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  get size(): number {
    return this.config.nodes.length;
  }

  logFile(id: number): string {
    return join(this.dir, `node-${id}.log`);
  }

  log(id: number): string {
    try {
      return readFileSync(this.logFile(id), 'utf8');
    } catch {
      return '';
    }
  }

  pid(id: number): number | undefined {
    return this.children.get(id)?.pid;
  }

  isRunning(id: number): boolean {
    const c = this.children.get(id);
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Spawns node `id` and waits until it answers. */
  async startNode(id: number, extraArgs: string[] = []): Promise<void> {
    this.spawnNode(id, extraArgs);
    await waitFor(
      `node ${id} to answer`,
      async () => {
        if (!this.isRunning(id)) throw new Error(`node ${id} exited: ${this.log(id).slice(-500)}`);
        return this.answers(id);
      },
      NODE_START_TIMEOUT_MS,
      // A node that exited will not answer: fail now, with the end of its log, rather than at the deadline.
      () => !this.isRunning(id),
    );
  }

  /** Spawns node `id` without waiting for it: for a node that is not expected to answer (a test's broken node). */
  spawnNode(id: number, extraArgs: string[] = []): void {
    if (this.isRunning(id)) throw new Error(`node ${id} is already running`);
    const fd = openSync(this.logFile(id), 'a');
    const child = spawn(
      process.execPath,
      [
        ...NODE_V8_FLAGS,
        ...this.execArgv,
        NODE_MAIN,
        '--cluster',
        this.clusterFile,
        '--id',
        String(id),
        '--data',
        this.dir,
        // The node stops itself if this process dies without stopping it (killed by a signal or a test runner's timeout).
        '--parent-pid',
        String(process.pid),
        ...this.nodeArgs(id),
        ...extraArgs,
      ],
      { stdio: ['ignore', fd, fd], env: { ...process.env, ...NODE_ENV } },
    );
    closeSync(fd);
    this.children.set(id, child);
    adopt(child);
  }

  /**
   * Spawns node `id`, not in the cluster file, joining the ring at `token`
   * on `port`, as scripts/server.sh --join does; returns at once (follow the
   * join with its admin's operationProgress). Once it has joined, it starts
   * again like any other node (startNode).
   */
  spawnJoining(id: number, port: number, token: string): void {
    this.joined.set(id, { host: '127.0.0.1', port });
    this.spawnNode(id, ['--host', '127.0.0.1', '--port', String(port), '--join-token-hex', fromByteString(token).toString('hex')]);
  }

  /**
   * Spawns node `id`, not in the cluster file, on `port`, to replace dead
   * node `dead`, as scripts/server.sh --replace does; returns at once
   * (follow it with its admin's operationProgress). Afterwards it starts
   * again like any other node.
   */
  spawnReplacing(id: number, port: number, dead: number): void {
    this.joined.set(id, { host: '127.0.0.1', port });
    this.spawnNode(id, ['--host', '127.0.0.1', '--port', String(port), '--replace-node', String(dead)]);
  }

  /** The cluster file's node ids, then those of the nodes that joined. */
  nodeIds(): number[] {
    return [...this.config.nodes.map((n) => n.id), ...this.joined.keys()];
  }

  /** Where node `id` listens: its cluster-file address, or the one it joined at. */
  endpoint(id: number): { host: string; port: number } {
    const at = this.joined.get(id) ?? this.config.nodes[id];
    if (at === undefined) throw new Error(`node ${id} is neither in the cluster file nor joined`);
    return { host: at.host, port: at.port };
  }

  async startAll(): Promise<void> {
    await Promise.all(this.config.nodes.map((n) => this.startNode(n.id)));
    await this.waitAllSeeEachOther();
    // A new cluster's nodes all start catching up (empty logs), and end it together once they have compared trees.
    await this.waitCaughtUp(this.config.nodes.map((n) => n.id));
  }

  /** Waits until none of these nodes is catching up (repair/repairer.ts). */
  async waitCaughtUp(ids: readonly number[], timeoutMs = NODE_START_TIMEOUT_MS): Promise<void> {
    await waitFor(
      `nodes ${ids.join(', ')} to catch up`,
      async () => {
        for (const id of ids) {
          const admin = this.admin(id, 2000);
          try {
            const counters = (await admin.status()).counters as unknown as Record<string, unknown>;
            if (Number(counters['repair.catchingUp']) !== 0) return false;
          } finally {
            admin.close();
          }
        }
        return true;
      },
      timeoutMs,
    );
  }

  private async answers(id: number): Promise<boolean> {
    const admin = this.admin(id, 500);
    try {
      await admin.status();
      return true;
    } catch {
      return false;
    } finally {
      admin.close();
    }
  }

  /** Peers node `id` currently considers down. */
  async downPeers(id: number): Promise<number[]> {
    const admin = this.admin(id, 2000);
    try {
      return (await admin.status()).downPeers;
    } finally {
      admin.close();
    }
  }

  /**
   * Waits until every running node of `ids` (default: the cluster file's)
   * sees the other running ones as up, and answers clients (a node that
   * started while most of its ring was down waits for their logs first).
   */
  async waitAllSeeEachOther(timeoutMs = NODE_START_TIMEOUT_MS, ids = this.config.nodes.map((n) => n.id)): Promise<void> {
    const running = ids.filter((id) => this.isRunning(id));
    await waitFor(
      'the nodes to see each other',
      async () => {
        for (const id of running) {
          const admin = this.admin(id, 2000);
          try {
            const status = await admin.status();
            if (status.downPeers.some((d) => running.includes(d))) return false;
            if (Number((status.counters as unknown as Record<string, unknown>)['node.ringLearning']) !== 0) return false;
          } finally {
            admin.close();
          }
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** Sends a signal to node `id` (only to the process this harness started). */
  signal(id: number, sig: NodeJS.Signals): void {
    const c = this.children.get(id);
    if (c && this.isRunning(id)) c.kill(sig);
  }

  /** kill -9, and waits until the process is gone. */
  async kill(id: number): Promise<void> {
    await this.stopNode(id, 'SIGKILL');
  }

  async stopNode(id: number, sig: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const c = this.children.get(id);
    if (!c || !this.isRunning(id)) return c?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
    c.kill(sig);
    return exited;
  }

  /** Restarts a node that was stopped or killed. */
  async restart(id: number): Promise<void> {
    await this.startNode(id);
  }

  client(options: ConstructorParameters<typeof KvClient>[1] = {}): KvClient {
    const tls = this.tls === undefined ? {} : { tls: this.tls };
    return new KvClient(this.config.nodes, { replicationFactor: this.config.replicationFactor, ...tls, ...options });
  }

  /** Where node `id` serves its metrics. */
  metricsUrl(id: number): string {
    const url = metricsUrlOf(this.config.nodes[id]!);
    if (url === null) throw new Error(`node ${id} serves no metrics`);
    return url;
  }

  admin(id: number, timeoutMs = 3000): NodeAdmin {
    return new NodeAdmin(this.endpoint(id), this.config.secret, timeoutMs, this.tls);
  }

  /** Stops every node: SIGTERM, then SIGKILL for any still alive after a while. */
  async stop(): Promise<void> {
    const ids = [...this.children.keys()].filter((id) => this.isRunning(id));
    await Promise.all(
      ids.map(async (id) => {
        const stopped = this.stopNode(id, 'SIGTERM');
        const timer = setTimeout(() => this.signal(id, 'SIGKILL'), 10_000);
        await stopped;
        clearTimeout(timer);
      }),
    );
  }

  /** Stops every node and deletes the data directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    for (const node of this.config.nodes) {
      releasePort(node.port);
      if (node.metricsPort !== undefined) releasePort(node.metricsPort);
    }
    for (const at of this.joined.values()) {
      releasePort(at.port);
      releasePort(at.port + METRICS_PORT_OFFSET);
    }
  }
}
