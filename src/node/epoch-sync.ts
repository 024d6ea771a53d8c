/**
 * How a node keeps its membership log in step with its peers'. Every
 * internode message names the sender's epoch, so a node learns that it is
 * behind from any hello or request, and fetches the log from whoever is
 * ahead (one fetch at a time); a peer that is behind is told the epochs it
 * lacks. A request placed by an older epoch whose key has moved since is
 * refused (StaleEpoch), so that a coordinator that missed a step cannot land
 * a write on the old replicas alone.
 *
 * A node that starts after an outage may hold an old ring, or one it has
 * left: it answers its peers at once but clients only once it has heard
 * enough of its ring (membership/ring-heard.ts), or after
 * EPOCH_START_MAJORITY_WAIT_MS. A node that never ran holds nothing old and
 * serves at once.
 */
import { staleEpoch } from '../common/errors';
import { EPOCH_CATCH_UP_WAIT_MS, EPOCH_PUSH_ENTRIES_MAX, EPOCH_START_CATCH_UP_MS, EPOCH_START_MAJORITY_WAIT_MS } from '../common/limits';
import type { Time, Timer } from '../clock/time';
import type { Logger } from './log';
import type { PeerLink, PeerTransport } from '../rpc/transport';
import { ringMembers } from '../membership/changes';
import type { EpochLog } from '../membership/epoch-log';
import { placedDifferently } from '../membership/placement';
import { heardEnough, peersToHear } from '../membership/ring-heard';

/** The node's counters these keep (under `node.` in its counter dump). */
export interface EpochSyncCounters {
  epochFetchFailures: number;
  /** Peers' requests refused as placed by an epoch older than this node's (see checkPeerEpoch). */
  staleEpochRefusals: number;
  /** Peers' requests that named a newer epoch than this node's, which it then fetched. */
  newerEpochsSeen: number;
  /** 1 while the node, just started, answers its peers but not clients (decideRingLearning), else 0. */
  ringLearning: number;
  /** Pushes of this node's log to a peer whose hello named an older epoch (tellBehind). */
  epochsPushedToLagging: number;
}

export interface EpochSyncDeps {
  readonly selfId: number;
  readonly epochs: EpochLog;
  /** The node's links to the ring's other nodes, kept by the node as epochs take effect. */
  readonly links: ReadonlyMap<number, PeerLink>;
  /** For a one-call link to a node the node keeps none to (one that left the ring). */
  readonly transport: PeerTransport;
  /** Where joined nodes listen, when the transport reads it (the real one does). */
  readonly addresses: Map<number, { readonly host: string; readonly port: number }> | undefined;
  readonly time: Time;
  readonly counters: EpochSyncCounters;
  readonly log: Logger;
  /** It started with an empty data directory (StartState.neverRan): nothing old to serve. */
  readonly neverRan: boolean;
  readonly stopping: () => boolean;
  /** Set once the node is on its way out of the ring: it does not open to clients again. */
  readonly leaving: () => boolean;
}

export type CatchUpOutcome = 'answered' | 'none' | 'late';

export class EpochSync {
  /** A fetch of the log from a peer that said it is ahead, one at a time (others wait for it). */
  private fetching: Promise<void> | undefined;
  /** Nodes whose membership log this node has heard since it started: answers to its asks, and hellos at no newer epoch. */
  private readonly ringHeard = new Set<number>();
  /** Whether decideRingLearning has decided if clients wait (once per run). */
  private ringLearningDecided = false;
  /** Since when (monotonic ms) the node has waited for its ring's logs before it answers clients; undefined once it does. */
  private learningSinceMs: number | undefined;
  /** Why clients are refused while the node learns its ring; undefined when they are not. */
  private learningRefusal: string | undefined;
  /** Peers asked for their log, and peers being told this node's: one call to each at a time. */
  private readonly asking = new Set<number>();
  private readonly telling = new Set<number>();

  constructor(private readonly deps: EpochSyncDeps) {}

  /** Why clients wait, while the node learns its ring (decideRingLearning). */
  get refusal(): string | undefined {
    return this.learningRefusal;
  }

  private get epochs(): EpochLog {
    return this.deps.epochs;
  }

  /** The ids of the ring, as this node's log has it now. */
  private ringIds(): number[] {
    return ringMembers(this.epochs.membership).map((n) => n.id);
  }

  /**
   * Decides, once per run, whether clients wait until this node has heard
   * enough of its ring: one that was down may hold an old ring, or one it
   * has left, and its start's catch-up may have found too few peers serving
   * (a whole cluster starting at once). Peers' calls are answered
   * meanwhile, so nodes starting together hear each other; the heartbeat
   * asks the peers not heard yet (askRing). Called before the port opens
   * (KvNode.start), or as the background work starts (the simulator's nodes).
   */
  decideRingLearning(): void {
    if (this.ringLearningDecided) return;
    this.ringLearningDecided = true;
    const self = this.deps.selfId;
    if (this.deps.neverRan || heardEnough(this.ringIds(), self, this.ringHeard)) return;
    this.learningSinceMs = this.deps.time.monotonicMs();
    this.deps.counters.ringLearning = 1;
    this.learningRefusal = `node ${self} is still learning the ring from its peers`;
    const ring = this.ringIds();
    this.deps.log(
      `node ${self} answers its peers but not clients until it has the membership logs of ${peersToHear(ring, self)} of the ring's other ${ring.filter((id) => id !== self).length} nodes (it has ${this.heardCount()}; it waits at most ${EPOCH_START_MAJORITY_WAIT_MS / 1000} s)`,
    );
  }

  private heardCount(): number {
    return this.ringIds().filter((id) => id !== this.deps.selfId && this.ringHeard.has(id)).length;
  }

  /** A ring node's log was heard: the node answers clients once it has heard enough of them. */
  private noteRingHeard(peer: number): void {
    this.ringHeard.add(peer);
    this.learntRing();
  }

  /**
   * Ends the wait for the ring's logs once enough were heard, or once
   * EPOCH_START_MAJORITY_WAIT_MS passed: a majority that never answers
   * leaves the node serving with the epochs it has, saying so (see
   * docs/ARCHITECTURE.md, The epoch log). True when it no longer waits.
   */
  private learntRing(): boolean {
    const since = this.learningSinceMs;
    if (since === undefined) return true;
    const self = this.deps.selfId;
    const enough = heardEnough(this.ringIds(), self, this.ringHeard);
    if (!enough && this.deps.time.monotonicMs() - since < EPOCH_START_MAJORITY_WAIT_MS) return false;
    this.learningSinceMs = undefined;
    this.deps.counters.ringLearning = 0;
    // One that found it left says so and stops (KvNode.stopIfLeft); clients stay refused.
    if (this.deps.leaving()) return true;
    this.learningRefusal = undefined;
    const need = peersToHear(this.ringIds(), self);
    if (enough)
      this.deps.log(
        `node ${self} has the membership logs of ${this.heardCount()} of the ring's other nodes and answers clients at epoch ${this.epochs.epoch}`,
      );
    else
      this.deps.log(
        `node ${self} answers clients at epoch ${this.epochs.epoch} with the membership logs of only ${this.heardCount()} of the ${need} nodes it waited for ${EPOCH_START_MAJORITY_WAIT_MS / 1000} s: a newer epoch reaches it with the next hello to a peer that holds it`,
        'warn',
      );
    return true;
  }

  /** While learning the ring: asks each ring node not heard yet for its log (one call each at a time). */
  askRing(): void {
    if (this.learntRing()) return;
    for (const [peer, link] of this.deps.links) {
      if (this.ringHeard.has(peer) || this.asking.has(peer)) continue;
      this.asking.add(peer);
      void this.takeUpLogOf(peer, link)
        .then((answered) => answered && this.noteRingHeard(peer))
        .finally(() => this.asking.delete(peer));
    }
  }

  /** Takes up a peer's log, page after page; false when it did not answer. */
  private async takeUpLogOf(peer: number, link: PeerLink): Promise<boolean> {
    const answer = await link.membership(this.epochs.epoch).catch(() => undefined);
    if (answer === undefined) return false;
    await this.epochs.learn(answer.entries);
    // A peer with more than one answer holds: the rest comes page by page.
    if (answer.epoch > this.epochs.epoch) await this.fetch(peer);
    return true;
  }

  /**
   * The epoch a peer's hello named: a newer one is fetched from it; an
   * older one is told the epochs after it (tellBehind). Either way the peer
   * counts as heard once this node holds its epoch.
   */
  heard(peer: number, epoch: number): void {
    if (epoch > this.epochs.epoch) void this.fetch(peer).then(() => this.epochs.epoch >= epoch && this.noteRingHeard(peer));
    else if (epoch > 0) {
      // Its log holds nothing this node lacks.
      if (epoch < this.epochs.epoch) this.tellBehind(peer, epoch);
      this.noteRingHeard(peer);
    }
  }

  /**
   * A peer said hello at an older epoch than this node's: it is told the
   * epochs after its own, so that it learns of them even when no operation
   * pushes to it any more (a node that left the ring and was started again
   * is in no one's ring, so only its own hellos reach anyone). It takes them
   * up as it would an operation's push, and the next hello brings the next
   * EPOCH_PUSH_ENTRIES_MAX.
   */
  private tellBehind(peer: number, theirs: number): void {
    if (this.telling.has(peer) || this.deps.stopping()) return;
    const kept = this.deps.links.get(peer);
    const link = kept ?? this.passingLink(peer);
    if (link === undefined) return;
    this.telling.add(peer);
    this.deps.counters.epochsPushedToLagging++;
    void link
      .learnEpochs(this.epochs.after(theirs).slice(0, EPOCH_PUSH_ENTRIES_MAX))
      .catch(() => undefined)
      .finally(() => {
        this.telling.delete(peer);
        if (kept === undefined) link.close();
      });
  }

  /**
   * A link for one call to a node this node keeps none to (one that left
   * the ring); undefined when its address is not known.
   */
  private passingLink(peer: number): PeerLink | undefined {
    const member = this.epochs.membership.members.find((m) => m.id === peer);
    if (member === undefined) return undefined;
    const addresses = this.deps.addresses;
    if (addresses !== undefined && !addresses.has(peer)) {
      if (member.host === undefined || member.port === undefined) return undefined;
      addresses.set(peer, { host: member.host, port: member.port });
    }
    return this.deps.transport.link(peer, {
      lost: () => undefined,
      connectFailed: () => undefined,
      epoch: () => this.epochs.epoch,
      refusedAsStale: () => undefined,
    });
  }

  /**
   * Fetches the log from a peer that said it is ahead (a hello or a request
   * with a newer epoch, or a refusal), page after page until the peer has
   * nothing more. One fetch at a time: a caller that comes while one runs
   * waits for it.
   */
  fetch(peer: number): Promise<void> {
    const link = this.deps.links.get(peer);
    if (link === undefined) return Promise.resolve();
    this.fetching ??= this.fetchFrom(peer, link).finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchFrom(peer: number, link: PeerLink): Promise<void> {
    try {
      for (;;) {
        const before = this.epochs.epoch;
        const { epoch, entries } = await link.membership(before);
        if ((await this.epochs.learn(entries)) === before || epoch <= this.epochs.epoch) return;
      }
    } catch (err) {
      this.deps.counters.epochFetchFailures++;
      this.deps.log(`could not take up the membership log of node ${peer}: ${(err as Error).message}`, 'warn');
    }
  }

  /**
   * Takes up the log from `peer` until this node holds `epoch`, waiting at
   * most EPOCH_CATCH_UP_WAIT_MS: a request that waits on it must still
   * answer in time, and goes on with the log it has.
   */
  catchUpTo(peer: number, epoch: number): Promise<void> {
    if (this.epochs.epoch >= epoch) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.deps.time.after(EPOCH_CATCH_UP_WAIT_MS, resolve);
      void this.fetch(peer).then(() => {
        timer.cancel();
        resolve();
      });
    });
  }

  /**
   * Judges the epoch a peer's request was placed by (0: an older build, or a
   * tool, that placed it by no ring). The same as this node's: nothing to do
   * (every request's path: one comparison). Newer: the log is fetched from
   * the peer first (bounded), so that this node does not go on placing
   * requests by a ring that has moved. Older: refused with StaleEpoch when a
   * key's placement changed since, so that a coordinator that missed a step
   * cannot land a write on the old replicas alone (it takes up the log and
   * places the write again). Undefined when there is nothing to wait for.
   */
  checkPeerEpoch(from: number | undefined, epoch: number, keys: readonly string[], writing: boolean): Promise<void> | undefined {
    const own = this.epochs.epoch;
    if (epoch === own || epoch <= 0) return undefined;
    if (epoch > own) {
      this.deps.counters.newerEpochsSeen++;
      return from === undefined || !this.deps.links.has(from) ? undefined : this.catchUpTo(from, epoch);
    }
    const then = this.epochs.placementAt(epoch);
    const now = this.epochs.placement;
    for (const key of keys) {
      if (!placedDifferently(then, now, key, writing)) continue;
      this.deps.counters.staleEpochRefusals++;
      throw staleEpoch(
        `node ${this.deps.selfId} is at epoch ${own} and the replicas of a key placed at epoch ${epoch} changed since; take up the membership log and try again`,
        own,
      );
    }
    return undefined;
  }

  /**
   * Asks every peer for the epochs this node does not have, and takes them
   * up; waits at most `waitMs` (peers that do not answer in time are
   * skipped), and not for peers that the epochs taken up say are gone for
   * good. Resolves with the epoch before and after.
   */
  async catchUpAll(waitMs = EPOCH_START_CATCH_UP_MS): Promise<{ from: number; to: number; outcome: CatchUpOutcome }> {
    const from = this.epochs.epoch;
    const links = this.deps.links;
    const waiting = new Set(links.keys());
    let answered = waiting.size === 0;
    let timer: Timer | undefined;
    const outcome = await new Promise<CatchUpOutcome>((resolve, reject) => {
      const settle = (): void => {
        // A peer that left (its link closed) or is lost for good never answers, and the epochs after it went were
        // sequenced without it: waiting for it held a restarted node off the network for the whole request timeout
        // (simulator seed 900170: anti-entropy then reached the writes it had missed only after the final reads).
        if ([...waiting].every((peer) => !links.has(peer) || this.lostForGood(peer))) resolve(answered ? 'answered' : 'none');
      };
      for (const [peer, link] of links)
        this.takeUpLogOf(peer, link).then((ok) => {
          waiting.delete(peer);
          if (ok) this.ringHeard.add(peer);
          answered ||= ok;
          settle();
        }, reject); // a log that cannot take up what a peer sent fails the start, as it did before
      settle();
      timer = this.deps.time.after(waitMs, () => resolve('late'));
    });
    timer?.cancel();
    return { from, to: this.epochs.epoch, outcome };
  }

  /** Whether a replacement or a removal under way takes over from `peer`: it is lost for good, and never answers again. */
  lostForGood(peer: number): boolean {
    const op = this.epochs.membership.operation;
    return (op?.kind === 'replace' && op.replaces === peer) || (op?.kind === 'leave' && op.by !== undefined && op.node === peer);
  }
}
