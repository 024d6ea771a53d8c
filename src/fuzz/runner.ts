/**
 * The fuzz run: hostile frames from the generator on many connections to every
 * node, then thousands of idle connections to one node, while checking that
 * the nodes stay up, that a legitimate client is still served, and how much
 * memory the nodes take.
 *
 * Each fuzz connection carries a few generated frames, pipelined (written
 * without waiting for answers), split at random points so length prefixes and
 * messages straddle TCP segments. A frame after which nothing can be read
 * (a lying length prefix, a frame the node must refuse) is always the last on
 * its connection. Otherwise a valid ping (the "sentinel") follows the frames:
 * its answer proves the node read everything before it. The node's replies
 * are decoded by an independent reader (thrift-wire.ts) and judged against
 * what each frame expects (oracle.ts); anything else is a "violation":
 * a malformed reply, a wrong answer, a missing answer, a connection closed
 * without cause, or one left open after a frame the node must refuse.
 *
 * Between batches of frames: is every node process still alive (a dead one
 * is a crash), does a legitimate client's put and get at QUORUM work on every
 * node, and what is each node's resident memory (also sampled on a timer, to
 * catch peaks).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KvClient, NodeAdmin } from '../client/client';
import { CONNECTIONS_MAX, frameBytesMax as frameBytesMaxFor } from '../common/limits';
import { loadClusterFile, NodeAddress } from '../config/cluster';
import { LocalCluster } from '../harness/local-cluster';
import { FrameGenerator, FuzzFrame, pingFrame } from './frames';
import { judgeReply } from './oracle';
import { Random as FuzzRandom } from '../common/random';
import { nodePidFromFile, openFilesLimit, processRunning, rssMb } from '../common/procfs';
import { DecodedMessage, decodeMessage, FrameSplitter, MessageType } from './thrift-wire';

/** Fuzz connections open at once. */
export const PARALLEL_CONNECTIONS = 64;
/** Generated frames on one connection, at most. */
export const FRAMES_PER_CONNECTION_MAX = 16;
/** Frames between two rounds of checks (liveness, legitimate client, memory). */
export const FRAMES_PER_BATCH = 5000;
/** Memory of every node is sampled this often, besides at each check. */
const RSS_SAMPLE_INTERVAL_MS = 250;
/**
 * How long the node may take to answer everything on a connection, or to
 * close it when it must. A liveness bound, not a performance expectation:
 * ten times the nodes' own 2 s request timeout, for a loaded small machine.
 */
const REPLY_WAIT_MS = 20_000;
const CLOSE_WAIT_MS = 20_000;
/** A reply larger than this is malformed (the node's frame limit is 8 MiB). */
const REPLY_FRAME_BYTES_MAX = 64 * 1024 * 1024;
/** The sentinel ping's sequence id: generated frames only use non-negative ones. */
const SENTINEL_SEQID = -1;
/** Distinguishes the runner's PRNG stream (connection sizes, targets, splits) from the generator's. */
const PLAN_SEED_SALT = 0x5eed_f00d;
/** Share of connections that carry only frames the node must answer (see nextPlan). */
const CLEAN_CONNECTION_SHARE = 0.4;
/** Frames set aside for mixed connections; past this the next connection is a mixed one. */
const WAITING_FRAMES_MAX = 256;
/** Cut points when a connection's bytes are written in random pieces. */
const WRITE_SPLITS_MAX = 8;

/** Deadline of each legitimate request; a little above the nodes' 2 s request timeout. */
const LEGIT_TIMEOUT_MS = 5000;
/** Examples of failures and violations kept for the report. */
const EXAMPLES_MAX = 20;
/** Bytes of a frame shown (as hex) in an example. */
const EXAMPLE_FRAME_BYTES_MAX = 256;
/** Connections per node remembered, to write a reproducer when a node dies. */
const RECENT_CONNECTIONS_PER_NODE = 64;
/** Bytes of each frame written (as hex) into a crash reproducer; the seed and index regenerate the rest. */
const CRASH_FRAME_HEX_BYTES_MAX = 64 * 1024;

/** Idle sockets being connected at once (the listen backlog is bounded). */
const IDLE_CONNECT_PARALLEL = 256;
const IDLE_CONNECT_TIMEOUT_MS = 10_000;
/** Connections a node keeps free for everyone else (peers, the legit client, the admin). */
const NODE_CONNECTIONS_HEADROOM = 64;
/** Descriptors a node needs besides client sockets: SQLite files, peers, the listener, stdio. */
const NODE_FD_RESERVE = 128;
/** Descriptors this process needs besides idle sockets: clients, admin connections, files. */
const OWN_FD_RESERVE = 256;
/** How long a node may take to accept the idle sockets and, later, to see them closed. */
const IDLE_SETTLE_WAIT_MS = 30_000;
/** Connections besides the idle ones a node may still count as open once they are gone. */
const IDLE_RELEASE_SLACK = 8;
const POLL_MS = 50;

export interface FuzzRunOptions {
  readonly frames: number;
  readonly idleConnections: number;
  readonly seed: number;
  /** Attack the cluster in this file instead of starting one. */
  readonly clusterFile?: string;
  /** Send some internode calls with the real secret (when it is known). */
  readonly useSecret: boolean;
  /** Where a crash reproducer goes (default: the current directory). */
  readonly crashDir?: string;
  readonly status?: (line: string) => void;
  /** Polled between connections: true stops the run early (Ctrl-C). */
  readonly stopRequested?: () => boolean;
}

export interface Violation {
  readonly what: string;
  readonly frame?: string;
  readonly expect?: string;
  readonly hex?: string;
  /** Position of the frame in the generator's sequence for the seed: regenerate it with generateFrames(seed, index + 1). */
  readonly index?: number;
}

export interface FuzzSummary {
  /** Generated frames written completely to a node's socket. */
  frames: number;
  /** Connections opened: fuzz connections plus idle ones. */
  connections: number;
  /** Node processes that died. */
  crashes: number;
  /** Largest resident memory of any node at any sample, MB (null when no pid is known). */
  peak_rss_mb: number | null;
  legit_failures: number;
  seed: number;
  violations: number;
  target: string;
  seconds: number;
  frames_generated: number;
  frames_by_category: Record<string, number>;
  frames_by_expect: Record<string, number>;
  fuzz_connections: number;
  connect_errors: number;
  closed_by_node: number;
  sentinels_answered: number;
  replies: number;
  replies_by_kind: Record<string, number>;
  baseline_rss_mb: Record<string, number | null>;
  peak_rss_mb_by_node: Record<string, number | null>;
  final_rss_mb: Record<string, number | null>;
  idle_requested: number;
  idle_opened: number;
  idle_held: number;
  idle_by_node: Record<string, number>;
  idle_capped_by: string | null;
  idle_accepted_by_node: boolean | null;
  idle_released_by_node: boolean | null;
  legit_checks: number;
  crashed_nodes: number[];
  crash_reports: string[];
  legit_failure_examples: string[];
  violation_examples: Violation[];
}

/** What the run attacks: its own LocalCluster or a running cluster. */
interface Target {
  readonly description: string;
  readonly nodes: readonly NodeAddress[];
  readonly secret: string | undefined;
  readonly maxValueBytes: number;
  pid(id: number): number | undefined;
  /** False once the node's process is known to be gone. */
  alive(id: number): Promise<boolean>;
  logTail(id: number): string;
  close(): Promise<void>;
}

async function spawnedTarget(): Promise<Target> {
  const cluster = await LocalCluster.start({});
  return {
    description: 'spawned 4-node LocalCluster',
    nodes: cluster.config.nodes,
    secret: cluster.config.secret,
    maxValueBytes: cluster.config.settings.maxValueBytes,
    pid: (id) => cluster.pid(id),
    alive: async (id) => cluster.isRunning(id),
    logTail: (id) => cluster.log(id).slice(-4000),
    close: () => cluster.destroy(),
  };
}

function canConnect(node: NodeAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(node.port, node.host);
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(IDLE_CONNECT_TIMEOUT_MS, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function fileTarget(path: string): Target {
  // The secret is optional for the fuzzer: without it, internode calls are only sent with wrong secrets.
  let secret: string | undefined;
  let config;
  try {
    config = loadClusterFile(path);
    secret = config.secret;
  } catch {
    config = loadClusterFile(path, { ...process.env, KV_CLUSTER_SECRET: 'unknown-to-the-fuzzer' });
  }
  const pidDir = process.env.KV_DATA_DIR ?? dirname(path);
  const pids = new Map(config.nodes.map((n) => [n.id, nodePidFromFile(pidDir, n.id)] as const));
  return {
    description: `cluster file ${path}`,
    nodes: config.nodes,
    secret,
    maxValueBytes: config.settings.maxValueBytes,
    pid: (id) => pids.get(id),
    // With a pid, the process itself; without one, whether the port still takes connections.
    alive: async (id) => {
      const pid = pids.get(id);
      return pid !== undefined ? processRunning(pid) : canConnect(config.nodes[id]!);
    },
    logTail: () => '',
    close: async () => undefined,
  };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const hexOf = (b: Buffer, max = EXAMPLE_FRAME_BYTES_MAX): string =>
  b.subarray(0, max).toString('hex') + (b.length > max ? `…(${b.length} bytes)` : '');
const bump = (rec: Record<string, number>, key: string, by = 1): void => {
  rec[key] = (rec[key] ?? 0) + by;
};

/** A generated frame and its position in the generator's sequence. */
interface NumberedFrame {
  readonly frame: FuzzFrame;
  readonly index: number;
}

interface ConnectionPlan {
  readonly id: number;
  readonly node: NodeAddress;
  readonly frames: readonly NumberedFrame[];
  /** The bytes to write, in pieces. */
  readonly pieces: readonly Buffer[];
  /** End offset of each frame in the concatenated bytes. */
  readonly frameEnds: readonly number[];
  readonly sentinelPayload: Buffer | null;
  /** How the connection ends: wait for the sentinel, wait for the node to close, or send FIN first. */
  readonly mode: 'sentinel' | 'await-close' | 'half-close';
  /** Only frames the node must answer. */
  readonly clean: boolean;
}

export class FuzzRunner {
  private readonly summary: FuzzSummary;
  private readonly plan: FuzzRandom;
  private readonly recent = new Map<number, ConnectionPlan[]>();
  private readonly dead = new Set<number>();
  /** Generated frames that did not fit a clean connection, for the next mixed one. */
  private readonly waiting: NumberedFrame[] = [];
  private target!: Target;
  private generator!: FrameGenerator;
  private frameIndex = 0;
  private connectionIds = 0;
  private legitClients: KvClient[] = [];
  private rssTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: FuzzRunOptions) {
    this.plan = new FuzzRandom((options.seed ^ PLAN_SEED_SALT) >>> 0);
    this.summary = {
      frames: 0,
      connections: 0,
      crashes: 0,
      peak_rss_mb: null,
      legit_failures: 0,
      seed: options.seed,
      violations: 0,
      target: '',
      seconds: 0,
      frames_generated: 0,
      frames_by_category: {},
      frames_by_expect: {},
      fuzz_connections: 0,
      connect_errors: 0,
      closed_by_node: 0,
      sentinels_answered: 0,
      replies: 0,
      replies_by_kind: {},
      baseline_rss_mb: {},
      peak_rss_mb_by_node: {},
      final_rss_mb: {},
      idle_requested: options.idleConnections,
      idle_opened: 0,
      idle_held: 0,
      idle_by_node: {},
      idle_capped_by: null,
      idle_accepted_by_node: null,
      idle_released_by_node: null,
      legit_checks: 0,
      crashed_nodes: [],
      crash_reports: [],
      legit_failure_examples: [],
      violation_examples: [],
    };
  }

  private status(line: string): void {
    this.options.status?.(line);
  }

  private stopped(): boolean {
    return this.dead.size > 0 || (this.options.stopRequested?.() ?? false);
  }

  async run(): Promise<FuzzSummary> {
    const start = performance.now();
    this.target = this.options.clusterFile ? fileTarget(this.options.clusterFile) : await spawnedTarget();
    const t = this.target;
    this.summary.target = t.description;
    try {
      const secret = this.options.useSecret ? t.secret : undefined;
      this.generator = new FrameGenerator(this.options.seed, {
        maxValueBytes: t.maxValueBytes,
        frameBytesMax: frameBytesMaxFor(t.maxValueBytes),
        ...(secret !== undefined ? { secret } : {}),
      });
      this.status(
        `${t.description}: ${t.nodes.map((n) => `node ${n.id} at ${n.host}:${n.port}`).join(', ')}; internode calls ${secret ? 'sometimes carry the real secret' : 'never carry the secret'}`,
      );
      this.legitClients = t.nodes.map((n) => new KvClient([n], { timeoutMs: LEGIT_TIMEOUT_MS, valueBytesMax: t.maxValueBytes }));
      for (const n of t.nodes) {
        const mb = rssMb(t.pid(n.id));
        this.summary.baseline_rss_mb[n.id] = mb === undefined ? null : round1(mb);
      }
      this.sampleRss();
      this.rssTimer = setInterval(() => this.sampleRss(), RSS_SAMPLE_INTERVAL_MS);
      this.rssTimer.unref();

      await this.checks('start');
      let batch = 0;
      while (this.summary.frames < this.options.frames && !this.stopped()) {
        batch++;
        await this.fuzzBatch(Math.min(FRAMES_PER_BATCH, this.options.frames - this.summary.frames));
        await this.checks(`batch-${batch}`);
        this.status(
          `batch ${batch}: ${this.summary.frames}/${this.options.frames} frames sent on ${this.summary.fuzz_connections} connections; ` +
            `peak RSS ${this.summary.peak_rss_mb ?? 'n/a'} MB; crashes ${this.summary.crashes}; legit failures ${this.summary.legit_failures}; violations ${this.summary.violations}`,
        );
      }
      if (!this.stopped() && this.options.idleConnections > 0) await this.idlePhase();
      if (!this.stopped()) await this.checks('final');
      for (const n of t.nodes) {
        const mb = rssMb(t.pid(n.id));
        this.summary.final_rss_mb[n.id] = mb === undefined ? null : round1(mb);
      }
    } finally {
      if (this.rssTimer) clearInterval(this.rssTimer);
      for (const c of this.legitClients) c.close();
      await t.close();
      this.summary.seconds = round1((performance.now() - start) / 1000);
      this.summary.connections = this.summary.fuzz_connections + this.summary.idle_opened;
    }
    return this.summary;
  }

  // ---- checks ---------------------------------------------------------------

  private sampleRss(): void {
    for (const n of this.target.nodes) {
      const mb = rssMb(this.target.pid(n.id));
      if (mb === undefined) continue;
      const prev = this.summary.peak_rss_mb_by_node[n.id] ?? 0;
      this.summary.peak_rss_mb_by_node[n.id] = round1(Math.max(prev, mb));
      this.summary.peak_rss_mb = round1(Math.max(this.summary.peak_rss_mb ?? 0, mb));
    }
  }

  private async checks(round: string): Promise<void> {
    this.sampleRss();
    await this.checkAlive();
    if (this.dead.size === 0) await this.legitCheck(round);
  }

  private async checkAlive(): Promise<void> {
    for (const n of this.target.nodes) {
      if (this.dead.has(n.id) || (await this.target.alive(n.id))) continue;
      this.dead.add(n.id);
      this.summary.crashes = this.dead.size;
      this.summary.crashed_nodes.push(n.id);
      const report = this.writeCrashReport(n.id);
      this.summary.crash_reports.push(report);
      this.status(`NODE ${n.id} DIED; its last log lines:\n${this.target.logTail(n.id)}\nrecent frames sent to it: ${report}`);
    }
  }

  /** The last connections sent to a dead node, with their frames: the material for a reproducer. */
  private writeCrashReport(id: number): string {
    const dir = this.options.crashDir ?? process.cwd();
    const file = join(dir, `fuzz-crash-node${id}-seed${this.options.seed}.json`);
    const connections = (this.recent.get(id) ?? []).map((p) => ({
      connection: p.id,
      mode: p.mode,
      clean: p.clean,
      frames: p.frames.map(({ frame: f, index }) => ({
        index,
        kind: f.kind,
        expect: f.expect,
        tags: f.tags,
        bytes: f.bytes.length,
        hex: f.bytes.subarray(0, CRASH_FRAME_HEX_BYTES_MAX).toString('hex'),
      })),
    }));
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, JSON.stringify({ seed: this.options.seed, node: id, log: this.target.logTail(id), connections }, null, 2));
      return file;
    } catch (err) {
      return `(could not write ${file}: ${(err as Error).message})`;
    }
  }

  /** A legitimate client's put and get at QUORUM through every node, and a fresh connection's ping. */
  private async legitCheck(round: string): Promise<void> {
    await Promise.all(
      this.target.nodes.map(async (n, i) => {
        const key = `fuzz-legit/${this.options.seed}/${round}/${n.id}`;
        const value = `value of ${key}`;
        const fail = (what: string): void => {
          this.summary.legit_failures++;
          if (this.summary.legit_failure_examples.length < EXAMPLES_MAX)
            this.summary.legit_failure_examples.push(`${round} node ${n.id}: ${what}`);
        };
        this.summary.legit_checks++;
        try {
          const client = this.legitClients[i]!;
          await client.put(key, value, 'QUORUM');
          const got = await client.get(key, 'QUORUM');
          if (!got.found || got.value.toString() !== value)
            fail(`get returned ${got.found ? JSON.stringify(got.value.toString()) : 'not found'}`);
        } catch (err) {
          fail(`put/get: ${(err as Error).message}`);
        }
        const fresh = new KvClient([n], { timeoutMs: LEGIT_TIMEOUT_MS });
        try {
          const echo = await fresh.ping('legit');
          if (echo.toString() !== 'legit') fail('ping echoed other bytes');
        } catch (err) {
          fail(`ping on a new connection: ${(err as Error).message}`);
        } finally {
          fresh.close();
        }
      }),
    );
  }

  // ---- fuzz connections -----------------------------------------------------

  private violation(v: Violation): void {
    this.summary.violations++;
    if (this.summary.violation_examples.length < EXAMPLES_MAX) this.summary.violation_examples.push(v);
  }

  /** A frame the node must answer (not refuse, not of unknown effect). */
  private static wellFormed(f: FuzzFrame): boolean {
    return f.framed && f.expect !== 'close' && f.expect !== 'any';
  }

  private draw(): NumberedFrame {
    return { frame: this.generator.next(), index: this.frameIndex++ };
  }

  /**
   * The next connection. A "clean" one carries only frames the node must
   * answer, so every answer can be checked: a frame that closes the
   * connection would make the node drop the answers still being computed for
   * the frames before it. A "mixed" one carries frames in the order they were
   * generated, hostile ones included, up to one that ends the connection.
   * Frames drawn for a clean connection that do not fit wait for the next
   * mixed one, so every generated frame is sent.
   */
  private nextPlan(budget: { left: number }): ConnectionPlan | null {
    if (budget.left <= 0 || this.stopped()) return null;
    const p = this.plan;
    const want = Math.min(p.range(1, FRAMES_PER_CONNECTION_MAX), budget.left);
    const clean = this.waiting.length < WAITING_FRAMES_MAX && p.chance(CLEAN_CONNECTION_SHARE);
    const frames: NumberedFrame[] = [];
    while (frames.length < want) {
      if (clean) {
        const nf = this.draw();
        if (FuzzRunner.wellFormed(nf.frame)) frames.push(nf);
        else this.waiting.push(nf);
        continue;
      }
      const nf = this.waiting.shift() ?? this.draw();
      frames.push(nf);
      // Nothing after this frame would be read as a frame of its own: it ends the connection.
      if (!nf.frame.framed || nf.frame.expect === 'close') break;
    }
    for (const { frame } of frames) {
      bump(this.summary.frames_by_category, frame.category);
      bump(this.summary.frames_by_expect, frame.expect);
    }
    budget.left -= frames.length;
    this.summary.frames_generated += frames.length;
    const last = frames[frames.length - 1]!.frame;
    const mode = last.expect === 'close' ? 'await-close' : !last.framed ? 'half-close' : 'sentinel';
    const id = ++this.connectionIds;
    const sentinelPayload = mode === 'sentinel' ? Buffer.from(`sentinel ${id}`) : null;
    const parts = frames.map((f) => f.frame.bytes);
    if (sentinelPayload) parts.push(pingFrame(SENTINEL_SEQID, sentinelPayload));
    const frameEnds: number[] = [];
    let end = 0;
    for (const f of frames) frameEnds.push((end += f.frame.bytes.length));
    const node = this.target.nodes[p.int(this.target.nodes.length)]!;
    return { id, node, frames, pieces: this.split(parts), frameEnds, sentinelPayload, mode, clean };
  }

  /** Whole, one write per frame, or cut at random points (inside length prefixes too). */
  private split(parts: Buffer[]): Buffer[] {
    const p = this.plan;
    const how = p.weighted([
      ['whole', 5],
      ['per-frame', 3],
      ['random', 2],
    ] as const);
    if (how === 'per-frame') return parts;
    const all = Buffer.concat(parts);
    if (how === 'whole' || all.length < 2) return [all];
    const cuts = [...new Set(Array.from({ length: p.range(1, WRITE_SPLITS_MAX) }, () => p.range(1, all.length - 1)))].sort((a, b) => a - b);
    const out: Buffer[] = [];
    let from = 0;
    for (const c of [...cuts, all.length]) {
      out.push(all.subarray(from, c));
      from = c;
    }
    return out;
  }

  private async fuzzBatch(frames: number): Promise<void> {
    const budget = { left: frames };
    const worker = async (): Promise<void> => {
      for (let plan = this.nextPlan(budget); plan !== null; plan = this.nextPlan(budget)) {
        const list = this.recent.get(plan.node.id) ?? [];
        list.push(plan);
        if (list.length > RECENT_CONNECTIONS_PER_NODE) list.shift();
        this.recent.set(plan.node.id, list);
        await this.runConnection(plan);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_CONNECTIONS }, worker));
  }

  private runConnection(plan: ConnectionPlan): Promise<void> {
    const s = this.summary;
    s.fuzz_connections++;
    // Frames a reply can be matched to: a known, unique sequence id on this connection.
    const bySeqid = new Map<number, NumberedFrame | null>();
    for (const nf of plan.frames) {
      const q = nf.frame.seqid;
      if (q !== null) bySeqid.set(q, bySeqid.has(q) ? null : nf);
    }
    const answered = new Set<number>();
    const describeFrame = (nf: NumberedFrame): Pick<Violation, 'frame' | 'expect' | 'hex' | 'index'> => ({
      frame: `${nf.frame.kind} [${nf.frame.tags.join(' ')}]`,
      expect: nf.frame.expect,
      hex: hexOf(nf.frame.bytes),
      index: nf.index,
    });

    return new Promise<void>((resolve) => {
      const socket = net.connect(plan.node.port, plan.node.host);
      const splitter = new FrameSplitter(REPLY_FRAME_BYTES_MAX);
      let connected = false;
      let weEnded = false;
      let nodeClosed = false;
      let sentinelAnswered = false;
      let finished = false;
      let bytesWritten = 0;
      let timer: NodeJS.Timeout | null = null;

      const expectedReplies = (): NumberedFrame[] =>
        plan.frames.filter(
          (nf) =>
            nf.frame.seqid !== null &&
            bySeqid.get(nf.frame.seqid) === nf &&
            !answered.has(nf.index) &&
            nf.frame.expect !== 'any' &&
            nf.frame.expect !== 'close',
        );

      const finish = (): void => {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        socket.destroy();
        let n = 0;
        for (const e of plan.frameEnds) if (e <= bytesWritten) n++;
        s.frames += n;
        if (nodeClosed) s.closed_by_node++;
        resolve();
      };

      const deadline = (ms: number, onExpiry: () => void): void => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(onExpiry, ms);
      };

      /** Our side is done: FIN, then wait for the node to close. */
      const endOurSide = (): void => {
        if (weEnded || finished) return;
        weEnded = true;
        socket.end();
        deadline(CLOSE_WAIT_MS, () => {
          this.violation({ what: `node ${plan.node.id} kept the connection open ${CLOSE_WAIT_MS} ms after the client's FIN` });
          finish();
        });
      };

      const maybeDone = (): void => {
        if (plan.mode !== 'sentinel' || !sentinelAnswered || weEnded) return;
        if (expectedReplies().length === 0) endOurSide();
      };

      const onReply = (m: DecodedMessage): void => {
        s.replies++;
        bump(
          s.replies_by_kind,
          m.type === MessageType.EXCEPTION ? 'exception' : m.fields.has(0) || m.fields.size === 0 ? 'result' : 'declared-error',
        );
        if (m.seqid === SENTINEL_SEQID && m.name === 'ping' && plan.sentinelPayload !== null) {
          const echo = m.fields.get(0)?.bytes;
          if (echo?.equals(plan.sentinelPayload)) {
            sentinelAnswered = true;
            s.sentinels_answered++;
            // Everything before the sentinel was read; answers to slow calls (a put at ALL) may still come.
            deadline(REPLY_WAIT_MS, () => {
              for (const nf of expectedReplies())
                this.violation({ what: `no answer within ${REPLY_WAIT_MS} ms although the node read the frame`, ...describeFrame(nf) });
              endOurSide();
            });
            maybeDone();
            return;
          }
        }
        const nf = bySeqid.get(m.seqid);
        if (!nf) return; // an answer to a mutated frame whose sequence id changed
        if (answered.has(nf.index) && nf.frame.expect !== 'any') {
          this.violation({ what: `two answers to one frame (${m.name})`, ...describeFrame(nf) });
        }
        answered.add(nf.index);
        const wrong = judgeReply(nf.frame, m);
        if (wrong !== null) this.violation({ what: wrong, ...describeFrame(nf) });
        maybeDone();
      };

      socket.setNoDelay(true);
      socket.on('connect', () => {
        connected = true;
        for (const piece of plan.pieces) {
          socket.write(piece, (err) => {
            if (!err) bytesWritten += piece.length;
          });
        }
        if (plan.mode === 'half-close') endOurSide();
        else if (plan.mode === 'await-close') {
          deadline(CLOSE_WAIT_MS, () => {
            this.violation({
              what: `node ${plan.node.id} did not close the connection within ${CLOSE_WAIT_MS} ms of a frame it must refuse`,
              ...describeFrame(plan.frames[plan.frames.length - 1]!),
            });
            finish();
          });
        } else {
          deadline(REPLY_WAIT_MS, () => {
            this.violation({
              what: `neither the sentinel's answer nor a close within ${REPLY_WAIT_MS} ms`,
              ...describeFrame(plan.frames[plan.frames.length - 1]!),
            });
            finish();
          });
        }
      });
      socket.on('data', (data: Buffer) => {
        try {
          for (const payload of splitter.push(data)) onReply(decodeMessage(payload));
        } catch (err) {
          this.violation({ what: `malformed reply from node ${plan.node.id}: ${(err as Error).message}`, hex: hexOf(data) });
          finish();
        }
      });
      const nodeGone = (): void => {
        if (finished) return;
        if (!connected) {
          s.connect_errors++;
          finish();
          return;
        }
        if (!weEnded) {
          nodeClosed = true;
          // A close is the right answer to a frame the node must refuse, and allowed after one with unknown effect;
          // on a connection of well-formed calls it is not.
          const excuse = plan.frames.some((nf) => nf.frame.expect === 'close' || nf.frame.expect === 'any');
          if (!excuse)
            this.violation({
              what: `node ${plan.node.id} closed a connection that carried only well-formed calls`,
              ...describeFrame(plan.frames[plan.frames.length - 1]!),
            });
          if (splitter.bufferedBytes > 0)
            this.violation({ what: `node ${plan.node.id} closed in the middle of a reply (${splitter.bufferedBytes} bytes of a frame)` });
        }
        finish();
      };
      socket.on('end', nodeGone);
      socket.on('error', nodeGone);
      socket.on('close', nodeGone);
    });
  }

  // ---- idle connections -----------------------------------------------------

  /** How many idle sockets each node gets: all on node 0 unless descriptors or its connection cap say otherwise. */
  private idleDistribution(): number[] {
    const t = this.target;
    const own = openFilesLimit('self');
    let left = this.options.idleConnections;
    const capped: string[] = [];
    if (own !== undefined && left > own - OWN_FD_RESERVE) {
      left = Math.max(0, own - OWN_FD_RESERVE);
      capped.push(`this process's open-file limit (${own})`);
    }
    const perNode = t.nodes.map(() => 0);
    for (const n of t.nodes) {
      if (left === 0) break;
      const fdLimit = openFilesLimit(t.pid(n.id) ?? -1);
      const cap = Math.min(
        CONNECTIONS_MAX - NODE_CONNECTIONS_HEADROOM,
        fdLimit === undefined ? Infinity : Math.max(0, fdLimit - NODE_FD_RESERVE),
      );
      perNode[n.id] = Math.min(left, cap);
      left -= perNode[n.id]!;
      if (left > 0)
        capped.push(
          `node ${n.id}'s ${fdLimit !== undefined && fdLimit - NODE_FD_RESERVE < CONNECTIONS_MAX - NODE_CONNECTIONS_HEADROOM ? `open-file limit (${fdLimit})` : `connection limit (${CONNECTIONS_MAX})`}`,
        );
    }
    this.summary.idle_capped_by = capped.length > 0 ? capped.join('; ') : null;
    return perNode;
  }

  private async connectionsOpen(admin: NodeAdmin | null): Promise<number | null> {
    if (!admin) return null;
    try {
      const dump = await admin.status();
      const v = (dump.counters as unknown as Record<string, unknown>).connectionsOpen;
      return v === undefined ? null : Number(v);
    } catch {
      return null;
    }
  }

  private async pollUntil(check: () => Promise<boolean>, ms: number): Promise<boolean> {
    const deadlineAt = Date.now() + ms;
    for (;;) {
      if (await check()) return true;
      if (Date.now() > deadlineAt) return false;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private async idlePhase(): Promise<void> {
    const t = this.target;
    const s = this.summary;
    const perNode = this.idleDistribution();
    // The node's own count of open connections tells whether it accepted, and later released, the sockets.
    const admins = t.nodes.map((n) => (t.secret !== undefined && perNode[n.id]! > 0 ? new NodeAdmin(n, t.secret, LEGIT_TIMEOUT_MS) : null));
    const sockets: net.Socket[] = [];
    let closedByNode = 0;
    const before = await Promise.all(admins.map((a) => this.connectionsOpen(a)));
    try {
      const jobs = t.nodes.flatMap((n) => Array.from({ length: perNode[n.id]! }, () => n));
      this.status(
        `idle phase: opening ${jobs.length} idle connections (${perNode
          .map((k, id) => `node ${id}: ${k}`)
          .filter((_, id) => perNode[id]! > 0)
          .join(', ')})` + (s.idle_capped_by ? `; capped by ${s.idle_capped_by}` : ''),
      );
      let next = 0;
      const opener = async (): Promise<void> => {
        while (next < jobs.length) {
          const n = jobs[next++]!;
          const sock = await new Promise<net.Socket | null>((resolve) => {
            const so = net.connect(n.port, n.host);
            so.setTimeout(IDLE_CONNECT_TIMEOUT_MS, () => {
              so.destroy();
              resolve(null);
            });
            so.once('connect', () => {
              so.setTimeout(0);
              resolve(so);
            });
            so.once('error', () => resolve(null));
          });
          if (sock === null) {
            s.connect_errors++;
            continue;
          }
          sock.on('error', () => undefined);
          sock.once('close', () => closedByNode++);
          sockets.push(sock);
          bump(s.idle_by_node, String(n.id));
        }
      };
      await Promise.all(Array.from({ length: IDLE_CONNECT_PARALLEL }, opener));
      s.idle_opened = sockets.length;

      // Has each node accepted its share (not just left it in the listen backlog)?
      const accepted = await Promise.all(
        admins.map((a, id) =>
          a === null || before[id] === null
            ? Promise.resolve(null)
            : this.pollUntil(
                async () => ((await this.connectionsOpen(a)) ?? -1) >= before[id]! + (s.idle_by_node[id] ?? 0),
                IDLE_SETTLE_WAIT_MS,
              ),
        ),
      );
      const known = accepted.filter((x): x is boolean => x !== null);
      s.idle_accepted_by_node = known.length === 0 ? null : known.every(Boolean);
      if (s.idle_accepted_by_node === false) this.violation({ what: 'a node did not accept all idle connections in time' });

      this.sampleRss();
      await this.checkAlive();
      if (this.dead.size === 0) await this.legitCheck('idle');
      s.idle_held = sockets.length - closedByNode;
      this.status(
        `idle phase: ${s.idle_opened} opened, ${s.idle_held} still open during the legitimate client's check; peak RSS ${s.peak_rss_mb ?? 'n/a'} MB`,
      );
    } finally {
      for (const so of sockets) so.destroy();
    }
    // And does each node let them go?
    const released = await Promise.all(
      admins.map((a, id) =>
        a === null || before[id] === null
          ? Promise.resolve(null)
          : this.pollUntil(
              async () => ((await this.connectionsOpen(a)) ?? Infinity) <= before[id]! + IDLE_RELEASE_SLACK,
              IDLE_SETTLE_WAIT_MS,
            ),
      ),
    );
    for (const a of admins) a?.close();
    const known = released.filter((x): x is boolean => x !== null);
    s.idle_released_by_node = known.length === 0 ? null : known.every(Boolean);
    if (s.idle_released_by_node === false)
      this.violation({
        what: `a node still counted ${IDLE_RELEASE_SLACK}+ more open connections than before, ${IDLE_SETTLE_WAIT_MS} ms after the idle ones closed`,
      });
  }
}

export function runFuzz(options: FuzzRunOptions): Promise<FuzzSummary> {
  return new FuzzRunner(options).run();
}

/** The one-line summary: `frames=… connections=… crashes=… peak_rss_mb=… legit_failures=… seed=…`. */
export function summaryLine(s: FuzzSummary): string {
  return `frames=${s.frames} connections=${s.connections} crashes=${s.crashes} peak_rss_mb=${s.peak_rss_mb ?? 'n/a'} legit_failures=${s.legit_failures} seed=${s.seed}`;
}

/** A run failed when a node died, a legitimate request failed, or a node broke the protocol's rules. */
export function runFailed(s: FuzzSummary): boolean {
  return s.crashes > 0 || s.legit_failures > 0 || s.violations > 0;
}
