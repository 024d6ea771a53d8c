/**
 * The simulated network: calls between nodes (and from clients to nodes) as
 * messages on virtual time. Each message takes a random latency, so messages
 * overtake each other; faults add loss, duplication, extra delay and
 * partitions. A message to a node that is down is refused (ConnectionError,
 * as a refused TCP connect); one lost or cut by a partition is silence, and
 * the caller's deadline ends the call (TimedOut), as on a real network where
 * a partitioned connection stays open. When a node dies, its peers hear of
 * it one latency later: their pending calls to it fail, and it counts as
 * lost (what a reset connection does to rpc/connection.ts).
 *
 * Calls are delivered at the level of rpc/transport.ts's PeerLink: the
 * Thrift encoding is not simulated (the fuzzer and the integration tests
 * cover it). The calls a coordinator places by the ring carry its id and
 * epoch as on the wire, and the receiving node takes them through the same
 * checks as its Thrift handler (node/peer-requests.ts): a replica refuses a
 * coordinator whose ring is stale, which takes up the log and places the
 * request again.
 */
import type { KeyedPaxosState, PaxosRowsPage } from '../paxos/paxos-store';
import type { EpochEntry } from '../membership/changes';
import { AssertionError } from 'node:assert';
import { isKvError, KvError, timedOut } from '../common/errors';
import type { Random } from '../common/random';
import type { Proposal, ProposeReply } from '../paxos/acceptor';
import type { Ballot } from '../paxos/ballot';
import type { Promised } from '../paxos/proposer';
import type { BatchCopy, BatchCopyRef } from '../coordinator/batch-writer';
import type { ReplicaPage } from '../coordinator/scan-merge';
import type { KeyDigest } from '../repair/compare';
import type { Level } from '../repair/hash-tree';
import type { TreeRange } from '../repair/range-trees';
import { rangeName } from '../repair/repairer';
import type { SyncAnswer } from '../repair/anti-entropy';
import {
  type EpochState,
  type PeerCallStats,
  type PeerEvents,
  type PeerLink,
  type PeerTransport,
  watchedForStaleEpoch,
} from '../rpc/transport';
import type { Placed } from '../node/peer-requests';
import type { KvNode } from '../node/node';
import type { KeyedVersion, Version } from '../storage/version';
import type { Owner, Scheduler } from './scheduler';
import type { Trace } from './trace';

/** One-way latency of a message, ms: uniform in [min, max], plus a link's extra delay. */
const LATENCY_MS_MIN = 0.1;
const LATENCY_MS_MAX = 1.5;
/** Client ids in traces: below every node id. */
export const CLIENT_ID = -1;

/** The faults the network is under now; set by the fault schedule. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message is delivered twice. */
  duplication: number;
  /** Extra one-way delay, ms: uniform in [0, delayMs]. */
  delayMs: number;
}

interface Running {
  readonly node: KvNode;
  readonly owner: Owner;
}

export class SimNetwork {
  private readonly running = new Map<number, Running>();
  /** Node pairs that cannot talk ("a-b" with a < b). */
  private readonly cut = new Set<string>();
  /** Links of live nodes, by (owner node, peer): told when the peer dies. */
  private readonly links = new Set<SimLink>();
  readonly faults: NetworkFaults = { loss: 0, duplication: 0, delayMs: 0 };
  messages = 0;
  /** Calls a replica refused as placed by a stale epoch (StaleEpoch): the coordinator took up the log. */
  staleRefusals = 0;
  /** Numbers every call, for the trace. */
  nextCallId = 0;

  constructor(
    readonly sched: Scheduler,
    private readonly random: Random,
    readonly trace: Trace,
    /** The deadline of every internode call but hello (settings.requestTimeoutMs). */
    readonly requestTimeoutMs: number,
  ) {}

  /** The transport of one incarnation of node `self`. */
  transportFor(self: number, owner: Owner): PeerTransport {
    return { link: (peer, events) => this.addLink(new SimLink(this, self, peer, owner, events)) };
  }

  private addLink(link: SimLink): SimLink {
    this.links.add(link);
    return link;
  }

  forget(link: SimLink): void {
    this.links.delete(link);
  }

  /** The node is reachable from now on. */
  up(id: number, node: KvNode, owner: Owner): void {
    this.running.set(id, { node, owner });
  }

  /** The node died: peers holding calls to it hear of it one latency later. */
  down(id: number): void {
    this.running.delete(id);
    for (const link of [...this.links]) {
      if (link.self === id) this.links.delete(link);
      else if (link.id === id) this.sched.at(this.latency(), () => link.peerDied(), link.owner);
    }
  }

  isRunning(id: number): boolean {
    return this.running.has(id);
  }

  partition(a: number, b: number): void {
    this.cut.add(a < b ? `${a}-${b}` : `${b}-${a}`);
  }

  unpartition(a: number, b: number): void {
    this.cut.delete(a < b ? `${a}-${b}` : `${b}-${a}`);
  }

  heal(): void {
    this.cut.clear();
    this.faults.loss = 0;
    this.faults.duplication = 0;
    this.faults.delayMs = 0;
  }

  private blocked(a: number, b: number): boolean {
    if (a === CLIENT_ID || b === CLIENT_ID) return false;
    return this.cut.has(a < b ? `${a}-${b}` : `${b}-${a}`);
  }

  private latency(): number {
    return LATENCY_MS_MIN + this.random.float() * (LATENCY_MS_MAX - LATENCY_MS_MIN) + this.random.float() * this.faults.delayMs;
  }

  /** Whether one message from `from` to `to` gets through now (clients are never cut off, nor their messages lost). */
  private passes(from: number, to: number, kind: string, id: number): boolean {
    this.messages++;
    const lost = this.blocked(from, to) || (from !== CLIENT_ID && to !== CLIENT_ID && this.random.chance(this.faults.loss));
    if (lost) this.trace.note(`drop ${kind}`, from, to, () => `#${id}`);
    return !lost;
  }

  /**
   * Sends one call: `run` on the receiving node, its answer back to `reply`.
   * `callerOwner` is the caller's incarnation (undefined for a client): a
   * reply to a dead incarnation is never delivered.
   */
  send<T>(
    from: number,
    to: number,
    kind: string,
    id: number,
    callerOwner: Owner | undefined,
    run: (node: KvNode) => Promise<T> | T,
    reply: (ok: boolean, value: T | Error) => void,
  ): void {
    if (!this.passes(from, to, kind, id)) return;
    const target = this.running.get(to);
    if (target === undefined) {
      const refused = new KvError('ConnectionError', `node ${to} refused the connection (it is down)`);
      this.sched.at(this.latency(), () => reply(false, refused), callerOwner);
      return;
    }
    // A client's request is never sent twice: it would be a second write, with its own timestamp.
    const copies = from !== CLIENT_ID && this.random.chance(this.faults.duplication) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      this.sched.at(this.latency(), () => this.deliver(from, to, kind, id, target, callerOwner, run, reply), target.owner);
    }
  }

  private deliver<T>(
    from: number,
    to: number,
    kind: string,
    id: number,
    target: Running,
    callerOwner: Owner | undefined,
    run: (node: KvNode) => Promise<T> | T,
    reply: (ok: boolean, value: T | Error) => void,
  ): void {
    this.trace.note(kind, from, to, () => `#${id}`);
    const answer = (ok: boolean, value: T | Error): void => {
      if (!target.owner.alive || !this.passes(to, from, `${kind} reply`, id)) return;
      this.sched.at(this.latency(), () => reply(ok, value), callerOwner);
    };
    let result: Promise<T>;
    try {
      result = Promise.resolve(run(target.node));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (v) => answer(true, v),
      (err: unknown) => {
        // A node's invariant failed while serving: the run fails, and the caller sees what a real one would.
        if (err instanceof AssertionError) this.sched.failures.push({ atMs: this.sched.nowMs, owner: `node ${to}`, error: err });
        answer(false, isKvError(err) ? err : new KvError('Internal', (err as Error).message));
      },
    );
  }
}

/** One simulated node's link to a peer: every call a message with a deadline. */
class SimLink implements PeerLink {
  private readonly pending = new Map<number, (err: Error) => void>();
  private closed = false;
  private calls = { replicateCalls: 0, replicateItems: 0, readLocalCalls: 0, readLocalItems: 0 };

  /** The node's events, with each stale-epoch refusal counted and traced on its way to the node. */
  private readonly staleWatch: PeerEvents;

  constructor(
    private readonly net: SimNetwork,
    readonly self: number,
    readonly id: number,
    readonly owner: Owner,
    private readonly events: PeerEvents,
  ) {
    this.staleWatch = {
      ...events,
      refusedAsStale: (epoch) => {
        net.staleRefusals++;
        net.trace.note('refused as stale', id, self, () => `epoch ${epoch}`);
        events.refusedAsStale(epoch);
      },
    };
  }

  private call<T>(kind: string, run: (node: KvNode) => Promise<T> | T, timeoutMs: number): Promise<T> {
    if (this.closed) return Promise.reject(new KvError('ConnectionError', 'the link is closed'));
    const id = this.net.nextCallId++;
    const time = this.net.sched.timeFor(this.owner);
    return new Promise<T>((resolve, reject) => {
      const settle = (f: () => void): void => {
        if (!this.pending.delete(id)) return;
        timer.cancel();
        f();
      };
      const timer = time.after(timeoutMs, () =>
        settle(() => reject(timedOut(`node ${this.id} did not answer ${kind} within ${timeoutMs} ms`, 0, 1))),
      );
      this.pending.set(id, (err) => settle(() => reject(err)));
      this.net.send(this.self, this.id, kind, id, this.owner, run, (ok, value) => {
        if (!ok && isKvError(value, 'ConnectionError') && this.pending.has(id)) this.events.connectFailed(value as KvError);
        settle(() => (ok ? resolve(value as T) : reject(value)));
      });
    });
  }

  /** Who sends now and the epoch its call is placed by, as the wire carries them. */
  private placed(): Placed {
    return { from: this.self, epoch: this.events.epoch() };
  }

  /** A call placed by the ring: the peer may refuse it as stale, which the node hears of. */
  private placedCall<T>(kind: string, run: (node: KvNode, by: Placed) => Promise<T> | T): Promise<T> {
    const by = this.placed();
    return watchedForStaleEpoch(
      this.staleWatch,
      this.call(kind, (node) => run(node, by), this.net.requestTimeoutMs),
    );
  }

  /** The peer died: calls waiting on it fail now, and the node counts it lost. */
  peerDied(): void {
    const lost = new KvError('ConnectionError', `the connection to node ${this.id} was lost`);
    for (const fail of [...this.pending.values()]) fail(lost);
    this.events.lost();
  }

  apply(items: readonly KeyedVersion[]): Promise<void> {
    this.calls.replicateCalls++;
    this.calls.replicateItems += items.length;
    const copy = [...items];
    return this.placedCall('replicate', (node, by) => node.peerRequests.replicate(by, copy));
  }

  read(key: string): Promise<Version | undefined> {
    this.calls.readLocalCalls++;
    this.calls.readLocalItems++;
    return this.placedCall('readLocal', (node, by) => {
      const waiting = node.peerRequests.admitRead(by, 1, () => [key]);
      return waiting === undefined ? node.store.get(key) : waiting.then(() => node.store.get(key));
    });
  }

  readRange(from: string, to: string | undefined, limit: number, bytesMax: number): Promise<ReplicaPage> {
    return this.placedCall('readRange', (node, by) => node.peerRequests.readRange(by, from, to, limit, bytesMax));
  }

  // Rows are copied each way, as the wire would: the two nodes share no objects.
  paxosRows(from: string, to: string | undefined, limit: number): Promise<PaxosRowsPage> {
    return this.placedCall('paxosRows', (node, by) => node.peerRequests.paxosRows(by, from, to, limit)).then(copied);
  }

  paxosMerge(rows: readonly KeyedPaxosState[]): Promise<boolean> {
    const sent = copied(rows);
    return this.placedCall('paxosMerge', (node, by) => node.peerRequests.paxosMerge(by, sent));
  }

  /** From the peer's last tree-hash answer, as RemoteReplica keeps it. */
  catchingUp = false;

  treeHashes(range: TreeRange, level: Level, indices: readonly number[]): Promise<Buffer> {
    const asked = [...indices];
    return this.placedCall('treeHashes', (node, by) =>
      node.peerRequests.treeHashes(this.self, by.epoch, rangeName(range), level, asked),
    ).then((answer) => {
      this.catchingUp = answer.catchingUp;
      return answer.hashes;
    });
  }

  segmentKeys(range: TreeRange, segments: readonly number[]): Promise<{ digests: KeyDigest[]; covered: number }> {
    const asked = [...segments];
    return this.placedCall('segmentKeys', (node, by) => node.peerRequests.segmentKeys(this.self, by.epoch, rangeName(range), asked));
  }

  fetch(keys: readonly string[]): Promise<KeyedVersion[]> {
    const asked = [...keys];
    return this.call(
      'fetchVersions',
      (node) =>
        asked.flatMap((key) => {
          const version = node.store.get(key);
          return version === undefined ? [] : [{ key, version }];
        }),
      this.net.requestTimeoutMs,
    );
  }

  sync(from: number, to: number, digests: KeyDigest[]): Promise<SyncAnswer> {
    return this.call('sync', (node) => node.antiEntropy.answer(this.self, from, to, digests), this.net.requestTimeoutMs);
  }

  prepare(key: string, ballot: Ballot, requestId: string): Promise<Promised> {
    return this.placedCall('paxosPrepare', (node, by) => node.peerRequests.paxosPrepare(by, key, ballot, requestId));
  }

  propose(key: string, proposal: Proposal): Promise<ProposeReply> {
    return this.placedCall('paxosPropose', (node, by) => node.peerRequests.paxosPropose(by, key, proposal));
  }

  commit(key: string, proposal: Proposal): Promise<void> {
    return this.placedCall('paxosCommit', (node, by) => node.peerRequests.paxosCommit(by, key, proposal));
  }

  hello(clockReading: number, timeoutMs: number, epoch: number): Promise<number> {
    return this.call(
      'hello',
      (node) => {
        node.heardFrom(this.self, clockReading, epoch);
        return node.clock.peek();
      },
      timeoutMs,
    );
  }

  membership(afterEpoch: number): Promise<{ epoch: number; entries: EpochEntry[] }> {
    return this.call(
      'membership',
      (node) => ({ epoch: node.epochs.epoch, entries: node.epochs.after(afterEpoch) }),
      this.net.requestTimeoutMs,
    );
  }

  storeBatchCopies(copies: readonly BatchCopy[]): Promise<void> {
    const sent = copied(copies);
    return this.call('storeBatchCopies', (node) => node.batches.storeCopies(this.self, sent), this.net.requestTimeoutMs);
  }

  forgetBatchCopies(refs: readonly BatchCopyRef[]): Promise<void> {
    const sent = copied(refs);
    return this.call('forgetBatchCopies', (node) => node.batches.forgetCopies(this.self, sent), this.net.requestTimeoutMs);
  }

  heldBatches(refs: readonly BatchCopyRef[]): Promise<BatchCopyRef[]> {
    const sent = copied(refs);
    return this.call('heldBatches', (node) => node.batches.heldBatches(sent), this.net.requestTimeoutMs);
  }

  learnEpochs(entries: readonly EpochEntry[]): Promise<EpochState> {
    const copy = [...entries];
    return this.call('learnEpochs', (node) => node.learnEpochs(this.self, copy), this.net.requestTimeoutMs);
  }

  resetBackoff(): void {}

  stats(): PeerCallStats {
    return { ...this.calls };
  }

  close(): void {
    this.closed = true;
    this.net.forget(this);
  }
}

/** A client's call to a node: a message there and back, with the client's deadline. */
export function clientCall<T>(
  net: SimNetwork,
  to: number,
  kind: string,
  id: number,
  run: (node: KvNode) => Promise<T> | T,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = net.sched.at(timeoutMs, () => {
      if (done) return;
      done = true;
      reject(timedOut(`node ${to} did not answer the client within ${timeoutMs} ms`, 0, 1));
    });
    net.send(CLIENT_ID, to, kind, id, undefined, run, (ok, value) => {
      if (done) return;
      done = true;
      timer.cancel();
      if (ok) resolve(value as T);
      else reject(value);
    });
  });
}

/** A deep copy of plain data, as a message carries it. */
function copied<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
