/**
 * The real partition, for root: each node in its own network namespace, all
 * behind one router namespace, and the checker in the root namespace reaching
 * the nodes through a veth of its own into the router. Cutting node i off
 * adds `ip rule … blackhole` rules in the router for every pair (i, j) both
 * ways: the kernel then drops the packets silently, exactly what a partition
 * looks like to TCP (no reset, no refusal; the detector notices the silence).
 * Client traffic from the root namespace is never cut, so the checker can
 * still reach every node.
 *
 * Addresses: 10.B.i.2 for node i and 10.B.254.1 for the checker, with B
 * picked so that 10.B.0.0/16 appears nowhere in the machine's own routes or
 * addresses; they exist only on the veths created here, and the one route
 * added to the root namespace (10.B.0.0/16) leads only into the router
 * namespace. Everything is deleted on destroy(), and on a failed setup.
 */
import { fromByteString } from '../common/bytes';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NodeAdmin } from '../client/client';
import { ClusterConfig, loadClusterFile, Settings } from '../config/cluster';
import { DEFAULT_TOKENS } from '../config/layout';
import { waitFor } from '../harness/local-cluster';
import { NODE_ENV, NODE_V8_FLAGS } from '../node/v8-flags';
import { planReplace } from '../client/replacement';
import { ChaosCluster, MemberSet, MEMBERSHIP_CALL_TIMEOUT_MS, NODE_START_TIMEOUT_MS, PartitionKind } from './cluster';
import { awaitNormal, decommissionNode, moveNode, removeDeadNode } from './membership';

const NODE_MAIN = resolve(__dirname, '../node/main.js');
/** Every node listens on this port, each on its own address. */
const NODE_PORT = 7100;
/** Second octets tried for the private /16 (10.B.0.0/16). */
const SUBNET_OCTETS = Array.from({ length: 50 }, (_, i) => 200 + i);
/** Third octet of the checker's link into the router. */
const HOST_LINK_OCTET = 254;
/** Grace after SIGTERM before SIGKILL when stopping nodes. */
const STOP_GRACE_MS = 10_000;

function ip(args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolveRun(stdout);
    });
  });
}

/** Why real partitions are not possible here, or null when they are. */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `rkv-probe-${randomBytes(3).toString('hex')}`;
  try {
    await ip(['netns', 'add', probe]);
  } catch (err) {
    return `cannot create a network namespace (${(err as Error).message})`;
  }
  await ip(['netns', 'del', probe]).catch(() => undefined);
  return null;
}

/** Namespaces, veths and rules for n nodes; tracks what it made so destroy() removes exactly that. */
export class NetnsNetwork {
  private readonly namespaces: string[] = [];
  private readonly rules = new Set<string>();

  private constructor(
    readonly tag: string,
    readonly octet: number,
    readonly nodes: number,
  ) {}

  static async create(nodes: number): Promise<NetnsNetwork> {
    const net = new NetnsNetwork(randomBytes(2).toString('hex'), await freeOctet(), nodes);
    try {
      await net.build();
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  get router(): string {
    return `rkv-${this.tag}-r`;
  }

  nodeNs(i: number): string {
    return `rkv-${this.tag}-${i}`;
  }

  nodeAddress(i: number): string {
    return `10.${this.octet}.${i}.2`;
  }

  private async addNs(name: string): Promise<void> {
    await ip(['netns', 'add', name]);
    this.namespaces.push(name);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  }

  private async build(): Promise<void> {
    const b = this.octet;
    await this.addNs(this.router);
    await ip(['netns', 'exec', this.router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    for (let i = 0; i < this.nodes; i++) {
      const ns = this.nodeNs(i);
      await this.addNs(ns);
      const inner = `rk${this.tag}n${i}`;
      const outer = `rk${this.tag}r${i}`;
      await ip(['link', 'add', inner, 'netns', ns, 'type', 'veth', 'peer', 'name', outer, 'netns', this.router]);
      await ip(['-n', ns, 'addr', 'add', `10.${b}.${i}.2/24`, 'dev', inner]);
      await ip(['-n', this.router, 'addr', 'add', `10.${b}.${i}.1/24`, 'dev', outer]);
      await ip(['-n', ns, 'link', 'set', inner, 'up']);
      await ip(['-n', this.router, 'link', 'set', outer, 'up']);
      await ip(['-n', ns, 'route', 'add', 'default', 'via', `10.${b}.${i}.1`]);
    }
    await this.linkHost();
  }

  /** The checker's way in: a veth from the root namespace to the router, and a route for 10.B/16 through it. */
  private async linkHost(): Promise<void> {
    const b = this.octet;
    const host = `rk${this.tag}h`;
    const gw = `rk${this.tag}g`;
    await ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', gw, 'netns', this.router]);
    await ip(['addr', 'add', `10.${b}.${HOST_LINK_OCTET}.1/24`, 'dev', host]);
    await ip(['-n', this.router, 'addr', 'add', `10.${b}.${HOST_LINK_OCTET}.2/24`, 'dev', gw]);
    await ip(['link', 'set', host, 'up']);
    await ip(['-n', this.router, 'link', 'set', gw, 'up']);
    await ip(['route', 'add', `10.${b}.0.0/16`, 'via', `10.${b}.${HOST_LINK_OCTET}.2`, 'dev', host]);
  }

  private ruleArgs(from: number, to: number): string[] {
    return ['from', this.nodeAddress(from), 'to', this.nodeAddress(to), 'priority', String(100 + from * 16 + to), 'blackhole'];
  }

  async cut(from: number, to: number): Promise<void> {
    const key = `${from}>${to}`;
    if (this.rules.has(key)) return;
    await ip(['-n', this.router, 'rule', 'add', ...this.ruleArgs(from, to)]);
    this.rules.add(key);
  }

  async isolate(node: number): Promise<void> {
    for (let j = 0; j < this.nodes; j++) {
      if (j === node) continue;
      await this.cut(node, j);
      await this.cut(j, node);
    }
  }

  async healAll(): Promise<void> {
    for (const key of [...this.rules]) {
      const [from, to] = key.split('>').map(Number) as [number, number];
      await ip(['-n', this.router, 'rule', 'del', ...this.ruleArgs(from, to)]);
      this.rules.delete(key);
    }
  }

  /** Deletes the namespaces (their veths, the host veth's peer and so its route go with them). */
  async destroy(): Promise<void> {
    for (const ns of this.namespaces.splice(0).reverse()) {
      await ip(['netns', 'del', ns]).catch(() => undefined);
    }
    await ip(['link', 'del', `rk${this.tag}h`]).catch(() => undefined);
  }
}

/** A second octet B such that nothing on this machine uses 10.B.x.x. */
async function freeOctet(): Promise<number> {
  const used = (await ip(['-4', 'route', 'show', 'table', 'all'])) + (await ip(['-4', 'addr']));
  const free = SUBNET_OCTETS.filter((b) => !used.includes(`10.${b}.`));
  if (free.length === 0) throw new Error('no free 10.B.0.0/16 for the namespaces');
  return free[Math.floor(Math.random() * free.length)]!;
}

/** Node processes inside the namespaces; follows LocalCluster's conventions and only signals its own pids. */
export class NetnsCluster implements ChaosCluster {
  readonly mode = 'netns';
  readonly partitionKinds: readonly PartitionKind[] = ['blackhole'];
  private readonly children = new Map<number, ChildProcess>();
  readonly config: ClusterConfig;
  private readonly set: MemberSet;

  private constructor(
    private readonly net: NetnsNetwork,
    readonly dir: string,
    private readonly clusterFile: string,
  ) {
    this.config = loadClusterFile(clusterFile, {});
    this.set = new MemberSet(this.config.nodes.map((n) => n.id));
  }

  /** The cluster file's nodes, each in its namespace, and `spares` more namespaces for nodes that may join. */
  static async start(settings: Partial<Settings> = {}, spares = 0): Promise<NetnsCluster> {
    const net = await NetnsNetwork.create(DEFAULT_TOKENS.length + spares);
    const dir = mkdtempSync(join(tmpdir(), 'ringkv-chaos-'));
    const file = join(dir, 'cluster.json');
    const layout = {
      replicationFactor: 3,
      secret: randomBytes(18).toString('base64url'),
      nodes: DEFAULT_TOKENS.map((token, id) => ({
        id,
        host: net.nodeAddress(id),
        port: NODE_PORT,
        tokenHex: fromByteString(token).toString('hex'),
      })),
      settings,
    };
    writeFileSync(file, JSON.stringify(layout, null, 2), { mode: 0o600 });
    const c = new NetnsCluster(net, dir, file);
    try {
      await Promise.all(c.config.nodes.map((n) => c.startNode(n.id)));
      await c.waitAllSeeEachOther(NODE_START_TIMEOUT_MS);
    } catch (err) {
      await c.destroy(false);
      throw err;
    }
    return c;
  }

  private logFile(id: number): string {
    return join(this.dir, `node-${id}.log`);
  }

  logTail(id: number, chars: number): string {
    try {
      return readFileSync(this.logFile(id), 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }

  isRunning(id: number): boolean {
    const c = this.children.get(id);
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  async startNode(id: number): Promise<void> {
    this.spawn(id, []);
    await waitFor(
      `node ${id} to answer`,
      async () => {
        if (!this.isRunning(id)) throw new Error(`node ${id} exited: ${this.logTail(id, 500)}`);
        return this.answers(id);
      },
      NODE_START_TIMEOUT_MS,
      // A node that exited will not answer: fail now, with the end of its log, rather than at the deadline.
      () => !this.isRunning(id),
    );
  }

  private spawn(id: number, extraArgs: readonly string[]): void {
    if (this.isRunning(id)) throw new Error(`node ${id} is already running`);
    const fd = openSync(this.logFile(id), 'a');
    // `ip netns exec` enters the namespace and execs node in place: the child's pid is the node's.
    const args = [
      'netns',
      'exec',
      this.net.nodeNs(id),
      process.execPath,
      ...NODE_V8_FLAGS,
      NODE_MAIN,
      '--cluster',
      this.clusterFile,
      '--id',
      String(id),
      '--data',
      this.dir,
      // Its parent is this process (ip execs in place): the node stops itself if this process dies without stopping it.
      '--parent-pid',
      String(process.pid),
      ...extraArgs,
    ];
    const child = spawn('ip', args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...NODE_ENV } });
    closeSync(fd);
    this.children.set(id, child);
  }

  get spareIds(): number[] {
    return Array.from({ length: this.net.nodes - this.config.nodes.length }, (_, i) => this.config.nodes.length + i);
  }

  members(): number[] {
    return this.set.members();
  }

  /** Every node, joined or not, listens on NODE_PORT at its namespace's address. */
  endpoint(id: number): { host: string; port: number } {
    return { host: this.net.nodeAddress(id), port: NODE_PORT };
  }

  async join(id: number, token: string): Promise<void> {
    if (!this.spareIds.includes(id)) throw new Error(`node ${id} has no namespace of its own`);
    const { host, port } = this.endpoint(id);
    this.spawn(id, ['--host', host, '--port', String(port), '--join-token-hex', fromByteString(token).toString('hex')]);
    this.set.noteJoined(id);
    await this.followNew(id, 'join');
  }

  /** The replacement listens at its spare namespace's address, as a joining node does. */
  async replace(id: number, dead: number): Promise<void> {
    if (!this.spareIds.includes(id)) throw new Error(`node ${id} has no namespace of its own`);
    await planReplace(this.config, dead);
    const { host, port } = this.endpoint(id);
    this.spawn(id, ['--host', host, '--port', String(port), '--replace-node', String(dead)]);
    this.set.noteJoined(id);
    await this.followNew(id, 'replacement');
    this.set.noteLeft(dead);
  }

  async remove(dead: number): Promise<void> {
    await removeDeadNode(this.config, dead);
    this.set.noteLeft(dead);
  }

  private async followNew(id: number, what: string): Promise<void> {
    const admin = this.admin(id, 3_000);
    try {
      await awaitNormal(admin, () => this.isRunning(id), what);
    } finally {
      admin.close();
    }
  }

  async move(id: number, token: string): Promise<void> {
    const admin = this.admin(id, MEMBERSHIP_CALL_TIMEOUT_MS);
    try {
      await moveNode(admin, id, token, () => this.isRunning(id));
    } finally {
      admin.close();
    }
  }

  async decommission(id: number): Promise<void> {
    const admin = this.admin(id, MEMBERSHIP_CALL_TIMEOUT_MS);
    try {
      await decommissionNode(admin, () => this.isRunning(id));
      this.set.noteLeft(id);
    } finally {
      admin.close();
    }
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

  async kill(id: number): Promise<void> {
    await this.stopNode(id, 'SIGKILL');
  }

  private async stopNode(id: number, sig: NodeJS.Signals): Promise<void> {
    const c = this.children.get(id);
    if (!c || !this.isRunning(id)) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(sig);
    await exited;
  }

  signal(id: number, sig: 'SIGSTOP' | 'SIGCONT'): void {
    const c = this.children.get(id);
    if (c && this.isRunning(id)) c.kill(sig);
  }

  admin(id: number, timeoutMs: number): NodeAdmin {
    return new NodeAdmin(this.endpoint(id), this.config.secret, timeoutMs);
  }

  async waitAllSeeEachOther(timeoutMs: number): Promise<void> {
    const running = this.members().filter((id) => this.isRunning(id));
    await waitFor(
      'the nodes to see each other',
      async () => {
        for (const id of running) {
          const admin = this.admin(id, 2000);
          try {
            const down = (await admin.status()).downPeers;
            if (down.some((d) => running.includes(d))) return false;
          } finally {
            admin.close();
          }
        }
        return true;
      },
      timeoutMs,
    );
  }

  async isolate(node: number, kind: PartitionKind): Promise<void> {
    if (kind !== 'blackhole') throw new Error(`netns mode makes blackhole partitions only, not ${kind}`);
    await this.net.isolate(node);
  }

  healNetwork(): Promise<void> {
    return this.net.healAll();
  }

  async destroy(keepData: boolean): Promise<void> {
    const ids = [...this.children.keys()].filter((id) => this.isRunning(id));
    await Promise.all(
      ids.map(async (id) => {
        this.signal(id, 'SIGCONT');
        const timer = setTimeout(() => this.children.get(id)?.kill('SIGKILL'), STOP_GRACE_MS);
        await this.stopNode(id, 'SIGTERM');
        clearTimeout(timer);
      }),
    );
    await this.net.destroy();
    if (!keepData) rmSync(this.dir, { recursive: true, force: true });
  }
}
