/**
 * Logged batches at their coordinator: several keys written at one level,
 * all or (in the end) nothing, as Cassandra's logged BATCH.
 *
 * 1. Every key's replicas are checked against the level first: a batch that
 *    cannot reach it is refused with Unavailable, and nothing is written.
 * 2. The writes are stamped with one timestamp and made durable in this
 *    node's batch log (storage/batch-log.ts) before any is sent.
 * 3. Each key is written as a put is (Coordinator.writeVersion), all at once.
 *    When every key reached its level, the batch leaves the log and the
 *    client gets the timestamp. Otherwise the client gets the first failed
 *    key's error, and the batch stays logged.
 * 4. What stays in the log, because a write failed or the node crashed
 *    between steps 2 and 3, is written again (`replay`, every
 *    BATCH_REPLAY_INTERVAL_MS, at start, and when a peer is back) at ONE, until every key is
 *    written. A write round that succeeds leaves every other replica of its
 *    key acknowledged or hinted (write-round.ts), so ONE is enough, and it
 *    gets through while replicas are down. Writing a version again changes
 *    nothing where it landed already.
 *
 * 5. Between steps 2 and 3, copies of the batch are stored in the logs of
 *    up to BATCH_LOG_COPIES other live nodes (`storeCopies` there), as
 *    Cassandra keeps its batch log on two other nodes: a coordinator that
 *    dies for good, or loses its disk, does not take the batch along. Once
 *    the batch leaves this log, its holders are told to forget their copies
 *    (`forgetCopies`). Once a copy is older than `copyWaitMs`, its holder
 *    asks the coordinator whether its log still holds the batch
 *    (`heldBatches`). If it does, the coordinator writes it itself, and the
 *    holder asks again after another wait: a batch that fails while its
 *    replicas are down is written again by one node, not three. If not (the
 *    word to forget was lost, or the coordinator lost its disk), or if the
 *    coordinator cannot be asked (it is down, or gone for good), the holder
 *    writes the copy as its own batch: writing a batch twice changes
 *    nothing. A holder that does not answer does not stop the batch; the
 *    log here is durable already.
 *
 * So once any write of a batch is applied anywhere, all of them will be,
 * unless this node's disk and those of all its batch's holders are lost,
 * or the batch outlives the tombstone grace before it can be written: a
 * replay then could bring back a value deleted after it, so it is dropped
 * instead, and counted. A batch is not isolated: a reader may see some of
 * its writes before the others.
 */
import { CLOCK_AHEAD_MS_MAX, type HybridClock } from '../clock/hlc';
import type { Time } from '../clock/time';
import { KvError, ofKeyAt, timedOut } from '../common/errors';
import {
  BATCH_LOG_BATCHES_MAX,
  BATCH_LOG_COPIES,
  BATCH_LOG_BYTES_MAX,
  BATCH_REPLAY_BACKOFF_MAX_MS,
  BATCH_REPLAY_INTERVAL_MS,
  BATCH_REPLAY_PAGE_MAX,
} from '../common/limits';
import type { Logger } from '../common/logger';
import { counted } from '../common/words';
import { type BatchLogStorage, copyName, type LoggedBatch } from '../storage/batch-log';
import type { KeyedVersion, Version } from '../storage/version';
import type { Coordinator } from './coordinator';
import type { WriteLevelName } from './levels';
import { nodeList, partOf, type Trace } from './trace';

/** One write of a batch, checked by the caller: a value, or a tombstone when `deleted`. */
export interface BatchWriteInput {
  readonly key: string;
  readonly value: string;
  readonly deleted: boolean;
  /** A value's time to live (0: none), from its timestamp. */
  readonly ttlSeconds: number;
  /** The client's timestamp for it (CQL's USING TIMESTAMP), µs; undefined: the batch's own. */
  readonly ts?: number;
}

/** A batch as its coordinator hands a copy to a holder: its id in the coordinator's log, when it was logged, its writes. */
export interface BatchCopy {
  readonly ownerBatch: number;
  readonly createdMs: number;
  readonly items: readonly KeyedVersion[];
}

/** Which copy a coordinator means, when it tells a holder to forget one. */
export type BatchCopyRef = Omit<BatchCopy, 'items'>;

/** The other nodes that keep copies of this node's batches, and how to reach them. */
export interface BatchCopyPeers {
  /** Up to BATCH_LOG_COPIES live members of the ring other than this node: the holders of a new batch's copies. */
  holders(): readonly number[];
  store(peer: number, copies: readonly BatchCopy[]): Promise<void>;
  forget(peer: number, refs: readonly BatchCopyRef[]): Promise<void>;
  /** Which of these batches `peer`, their coordinator, still holds in its log; rejects when `peer` is down, gone, or does not answer. */
  held(peer: number, refs: readonly BatchCopyRef[]): Promise<readonly BatchCopyRef[]>;
}

export interface BatchWriterDeps {
  readonly selfId: number;
  readonly log: BatchLogStorage;
  readonly peers: BatchCopyPeers;
  /** How old a copy of another coordinator's batch must be before this node writes it itself (ms). */
  readonly copyWaitMs: number;
  readonly coordinator: Pick<Coordinator, 'checkWritable' | 'writeVersion'>;
  readonly clock: Pick<HybridClock, 'now' | 'plausible' | 'observe'>;
  readonly time: Pick<Time, 'nowMs'>;
  /** How old a logged batch may be and still be written again (ms): the tombstone grace (see the header). */
  readonly replayAgeMaxMs: number;
  readonly report: Logger;
}

export class BatchWriter {
  readonly counters = {
    /** Batches logged and sent. */
    batches: 0,
    /** Logged batches whose client got an error: they stay in the log and are written again. */
    batchesFailed: 0,
    /** Unlogged batches sent (no log, no copies), and those whose client got an error: they may stay applied in part. */
    unloggedBatches: 0,
    unloggedBatchesFailed: 0,
    /** Batches refused because the batch log was full. */
    batchLogFull: 0,
    /** Logged batches written again in full, then removed. */
    batchesReplayed: 0,
    /** Replays that did not write every key, or sent nothing because a key had no replica up (tried again after a backoff). */
    batchReplayFailures: 0,
    /** Logged batches dropped unwritten, older than the tombstone grace. */
    batchesExpired: 0,
    /** Copies of this node's batches that a holder acknowledged. */
    batchCopiesStored: 0,
    /** Batches logged with fewer than BATCH_LOG_COPIES acknowledged copies (too few other nodes up, or a holder did not answer). */
    batchesShortOfCopies: 0,
    /** Copies of other coordinators' batches taken into this node's log. */
    batchCopiesHeld: 0,
    /** Copies forgotten when their coordinator said the batch was done. */
    batchCopiesForgotten: 0,
    /** Copies this node wrote itself, past copyWaitMs and not held by their coordinator (also counted in batchesReplayed). */
    batchCopiesReplayed: 0,
    /** Copies past copyWaitMs left unwritten because their coordinator still holds the batch and writes it itself (once per ask). */
    batchCopiesDeferred: 0,
  };
  /** Batches in the log: those not yet written everywhere, those being written now, and copies of other coordinators' batches. */
  get logged(): number {
    return this.deps.log.size;
  }

  /** Of `logged`, the copies of other coordinators' batches. */
  get copiesHeld(): number {
    return this.deps.log.copyCount;
  }

  /** Ids of the logged batches a call or a replay is writing now: a replay leaves them alone. */
  private readonly writing = new Set<number>();
  /** Logged batches whose last replay failed: how long they waited, and until when they wait now (at most one per batch in the log). */
  private readonly backoffs = new Map<number, { waitMs: number; untilMs: number }>();
  /** The holders that acknowledged a copy of each batch this process logged, to be told when it leaves. */
  private readonly holdersOf = new Map<number, readonly number[]>();
  /** Ids of the batches this process logged (the others came from the log at start, their holders unknown): to be settled. */
  private readonly loggedHere = new Set<number>();
  /** Copies whose coordinator said it still holds their batch: when to ask it again (ms). */
  private readonly askOwnerAt = new Map<number, number>();
  private replaying = false;

  constructor(private readonly deps: BatchWriterDeps) {}

  /** Writes the batch (see the header); resolves with its timestamp. The caller checked each write and that the keys differ. */
  async write(writes: readonly BatchWriteInput[], level: WriteLevelName, trace?: Trace): Promise<number> {
    const { coordinator, log } = this.deps;
    this.takeTimestamps(writes);
    this.checkWritable(writes, level);
    this.checkRoom();
    const ts = this.deps.clock.now();
    const items = writes.map((w) => ({ key: w.key, version: stamped(w, ts) }));
    const createdMs = this.deps.time.nowMs();
    const { id, durable } = log.add(items, createdMs);
    this.writing.add(id);
    this.loggedHere.add(id);
    try {
      await durable;
    } catch (err) {
      this.writing.delete(id);
      this.loggedHere.delete(id);
      trace?.note(`logging the batch failed: ${(err as Error).message}`);
      throw err;
    }
    trace?.note(`logged as batch ${id} of ${counted(items.length, 'write')}, ts=${ts}: durable here`);
    // Only once durable here: a batch refused for a failed commit must have no copy elsewhere to be written from.
    await this.copy({ ownerBatch: id, createdMs, items }, trace);
    this.counters.batches++;
    const outcomes = await Promise.allSettled(
      items.map((item, i) => coordinator.writeVersion(item, level, partOf(trace, i, items.length))),
    );
    this.writing.delete(id);
    const failedAt = outcomes.findIndex((o) => o.status === 'rejected');
    if (failedAt < 0) {
      void this.forget(id, createdMs);
      return ts;
    }
    this.counters.batchesFailed++;
    throw this.failure((outcomes[failedAt] as PromiseRejectedResult).reason, failedAt, writes.length);
  }

  /**
   * An unlogged batch, Cassandra's UNLOGGED BATCH: the same check of every
   * key first and one timestamp, then the writes at once, but no log and no
   * copies. It costs what its writes cost; a write that fails may leave it
   * applied in part for good, and its client is told so.
   */
  async writeUnlogged(writes: readonly BatchWriteInput[], level: WriteLevelName, trace?: Trace): Promise<number> {
    this.takeTimestamps(writes);
    this.checkWritable(writes, level);
    const ts = this.deps.clock.now();
    this.counters.unloggedBatches++;
    trace?.note(`an unlogged batch of ${counted(writes.length, 'write')}, ts=${ts}`);
    const outcomes = await Promise.allSettled(
      writes.map((w, i) =>
        this.deps.coordinator.writeVersion({ key: w.key, version: stamped(w, ts) }, level, partOf(trace, i, writes.length)),
      ),
    );
    const failedAt = outcomes.findIndex((o) => o.status === 'rejected');
    if (failedAt < 0) return ts;
    this.counters.unloggedBatchesFailed++;
    const reason = (outcomes[failedAt] as PromiseRejectedResult).reason;
    throw this.failure(
      reason,
      failedAt,
      writes.length,
      'the batch was not logged: the keys written stay written, and the others may never be',
    );
  }

  /** Every key's replicas against the level: Unavailable, naming the first key that cannot reach it, before anything is written. */
  private checkWritable(writes: readonly BatchWriteInput[], level: WriteLevelName): void {
    writes.forEach((w, i) => {
      try {
        this.deps.coordinator.checkWritable(w.key, level);
      } catch (err) {
        throw ofKeyAt(err, i, writes.length);
      }
    });
  }

  /**
   * The client's own timestamps (CQL's USING TIMESTAMP), before anything
   * else is checked: each refused when further ahead of this node's clock
   * than the clock accepts from a peer (one far in the future would win
   * over every later write), then taken into the clock, so that this
   * node's next writes are later than them.
   */
  private takeTimestamps(writes: readonly BatchWriteInput[]): void {
    const { clock } = this.deps;
    writes.forEach((w, i) => {
      if (w.ts !== undefined && !clock.plausible(w.ts))
        throw new KvError(
          'InvalidRequest',
          `key ${i + 1} of ${writes.length}: its timestamp ${w.ts} is more than ${CLOCK_AHEAD_MS_MAX / 60_000} minutes ahead of node ${this.deps.selfId}'s clock`,
        );
    });
    for (const w of writes) if (w.ts !== undefined) clock.observe(w.ts);
  }

  /** Refuses a batch while the log holds as many batches, or bytes, as it may. */
  private checkRoom(): void {
    const { size, bytes } = this.deps.log;
    if (size < BATCH_LOG_BATCHES_MAX && bytes < BATCH_LOG_BYTES_MAX) return;
    this.counters.batchLogFull++;
    throw new KvError(
      'Unavailable',
      `node ${this.deps.selfId}'s batch log is full (${size} batches, ${bytes} bytes, not yet written everywhere; the limits are ${BATCH_LOG_BATCHES_MAX} and ${BATCH_LOG_BYTES_MAX} bytes): send the batch to another node, or retry once its replicas are back`,
    );
  }

  /**
   * A batch's failure as its client hears it: the key's error, its place
   * named, and what becomes of the batch (a logged one will be written). An
   * Unavailable once writes went out (a replica went down meanwhile) is a
   * TimedOut: other keys may be written already.
   */
  private failure(err: unknown, i: number, n: number, fate = this.loggedFate()): unknown {
    if (!(err instanceof KvError)) return err;
    const message = `key ${i + 1} of ${n}: ${err.message}; ${fate}`;
    if (err.code === 'Unavailable') return timedOut(message, err.details.alive ?? 0, err.details.required ?? 0);
    return new KvError(err.code, message, err.details);
  }

  private loggedFate(): string {
    return `the batch is logged on node ${this.deps.selfId}, which writes it again until every key reaches its replicas`;
  }

  /** Stores copies of a batch just logged with the holders up now; waits for each to answer or fail (within the request timeout). */
  private async copy(batch: BatchCopy, trace?: Trace): Promise<void> {
    const holders = this.deps.peers.holders();
    const outcomes = await Promise.allSettled(holders.map((peer) => this.deps.peers.store(peer, [batch])));
    const held = holders.filter((_, i) => outcomes[i]!.status === 'fulfilled');
    trace?.note(`its copy held by ${nodeList(held)} (asked ${nodeList(holders)})`);
    this.counters.batchCopiesStored += held.length;
    if (held.length < BATCH_LOG_COPIES) this.counters.batchesShortOfCopies++;
    if (held.length > 0) this.holdersOf.set(batch.ownerBatch, held);
  }

  /** The batch is written: it leaves the log, and its holders are told to forget their copies. */
  private async forget(id: number, createdMs: number): Promise<void> {
    try {
      await this.deps.log.remove(id);
    } catch {
      // Still logged: a replay writes it again, which changes nothing, and removes it then.
      this.counters.batchReplayFailures++;
      return;
    }
    this.tellHolders(id, createdMs);
  }

  /**
   * Tells the holders of a batch that left this log to forget their copies.
   * Nobody waits for it: a holder that does not hear writes its copy once
   * it is older than copyWaitMs and this log no longer holds it, which
   * changes nothing, and drops it then. The holders of a batch logged
   * before this process started are not known: those holders' choice now
   * (copyHolders) is told, the same nodes unless the ring or their
   * liveness changed (a node told of a copy it does not hold ignores it).
   */
  private tellHolders(id: number, createdMs: number): void {
    const holders = this.loggedHere.has(id) ? this.holdersOf.get(id) : this.deps.peers.holders();
    this.holdersOf.delete(id);
    this.loggedHere.delete(id);
    if (holders === undefined) return;
    for (const peer of holders) this.deps.peers.forget(peer, [{ ownerBatch: id, createdMs }]).catch(() => undefined);
  }

  /**
   * Takes copies of `owner`'s batches into this log (a peer's call; see the
   * header, step 5). A copy held already is acknowledged again. Refused
   * with Unavailable while the log is full: the coordinator goes on with
   * fewer copies.
   */
  async storeCopies(owner: number, copies: readonly BatchCopy[]): Promise<void> {
    const fresh = copies.filter((c) => this.deps.log.copyId(copyName({ owner, ownerBatch: c.ownerBatch }, c.createdMs)) === undefined);
    if (fresh.length === 0) return;
    // Checked once for the call (at most BATCH_COPIES_PER_CALL_MAX past the limits), so that none is added if it is refused.
    this.checkRoom();
    const durable = fresh.map((c) => this.deps.log.add(c.items, c.createdMs, { owner, ownerBatch: c.ownerBatch }).durable);
    await Promise.all(durable);
    this.counters.batchCopiesHeld += durable.length;
  }

  /** Which of these batches, named by a holder of their copies, this log still holds as its own: this node writes those itself. */
  heldBatches(refs: readonly BatchCopyRef[]): BatchCopyRef[] {
    return refs.filter((r) => this.deps.log.holds(r.ownerBatch, r.createdMs));
  }

  /** Drops the copies of `owner`'s batches that it says are written (a peer's call); one not held is no error. */
  async forgetCopies(owner: number, refs: readonly BatchCopyRef[]): Promise<void> {
    const removals: Promise<void>[] = [];
    for (const ref of refs) {
      const id = this.deps.log.copyId(copyName({ owner, ownerBatch: ref.ownerBatch }, ref.createdMs));
      if (id === undefined) continue;
      this.settled(id);
      removals.push(this.deps.log.remove(id));
    }
    await Promise.all(removals);
    this.counters.batchCopiesForgotten += removals.length;
  }

  /**
   * Writes again every logged batch that no call is writing (and every copy
   * older than copyWaitMs, or every copy at all when `everyCopy`: the node
   * is leaving the ring), oldest first,
   * a page of BATCH_REPLAY_PAGE_MAX at a time, the batches of a page all at
   * once (after a long outage the log drains at a page per write round, not
   * a batch); removes each once all its keys are written. One replay runs
   * at a time; once `stopping`, it starts no more batches.
   */
  async replay(stopping: () => boolean, everyCopy = false): Promise<void> {
    if (this.replaying || this.deps.log.size === 0) return;
    this.replaying = true;
    try {
      let after = 0;
      for (;;) {
        const page = await this.deps.log.list(after, BATCH_REPLAY_PAGE_MAX);
        if (!everyCopy) await this.askOwners(page.filter((b) => this.dueCopy(b)));
        const started: Promise<void>[] = [];
        for (const batch of page) {
          if (stopping()) break;
          after = batch.id;
          if (!this.writing.has(batch.id)) started.push(this.replayOne(batch, everyCopy));
        }
        await Promise.all(started);
        if (page.length < BATCH_REPLAY_PAGE_MAX || stopping()) return;
      }
    } catch (err) {
      this.counters.batchReplayFailures++;
      this.deps.report(`node ${this.deps.selfId} could not read its batch log to replay it: ${(err as Error).message}`, 'warn');
    } finally {
      this.replaying = false;
    }
  }

  /** A copy old enough to be written, unless its coordinator still holds the batch: the coordinator is to be asked first. */
  private dueCopy(batch: LoggedBatch): boolean {
    if (batch.copyOf === undefined || this.writing.has(batch.id)) return false;
    const nowMs = this.deps.time.nowMs();
    const ageMs = nowMs - batch.createdMs;
    const waitsUntilMs = Math.max(this.askOwnerAt.get(batch.id) ?? 0, this.backoffs.get(batch.id)?.untilMs ?? 0);
    return ageMs >= this.deps.copyWaitMs && ageMs <= this.deps.replayAgeMaxMs && nowMs >= waitsUntilMs;
  }

  /**
   * Asks the coordinators of these copies, one call each, which batches
   * their logs still hold. Those copies wait another copyWaitMs before the
   * next ask (replayOne leaves them alone meanwhile). A coordinator that
   * cannot be asked holds nothing as far as this node knows: its copies are
   * written.
   */
  private async askOwners(copies: readonly LoggedBatch[]): Promise<void> {
    const byOwner = new Map<number, BatchCopyRef[]>();
    for (const { copyOf, createdMs } of copies) {
      if (copyOf === undefined) continue;
      const refs = byOwner.get(copyOf.owner) ?? [];
      refs.push({ ownerBatch: copyOf.ownerBatch, createdMs });
      byOwner.set(copyOf.owner, refs);
    }
    await Promise.all(
      [...byOwner].map(async ([owner, refs]) => {
        const kept = await this.deps.peers.held(owner, refs).catch(() => []);
        const askAtMs = this.deps.time.nowMs() + this.deps.copyWaitMs;
        for (const ref of kept) {
          const id = this.deps.log.copyId(copyName({ owner, ownerBatch: ref.ownerBatch }, ref.createdMs));
          if (id === undefined) continue;
          this.askOwnerAt.set(id, askAtMs);
          this.counters.batchCopiesDeferred++;
        }
      }),
    );
  }

  /** A peer is back: every batch waiting out a backoff may be tried at the next replay. */
  retrySoon(): void {
    this.backoffs.clear();
  }

  /**
   * Writes one logged batch again, unless it waits out a backoff, or a key
   * of it has no replica up (then nothing is sent: a batch stuck on a dead
   * range must not rewrite its other keys every few seconds).
   */
  private async replayOne(batch: LoggedBatch, everyCopy: boolean): Promise<void> {
    const nowMs = this.deps.time.nowMs();
    const ageMs = nowMs - batch.createdMs;
    if (batch.copyOf && !everyCopy && (ageMs < this.deps.copyWaitMs || nowMs < (this.askOwnerAt.get(batch.id) ?? 0))) return;
    if (ageMs > this.deps.replayAgeMaxMs) return this.expire(batch, ageMs);
    const backoff = this.backoffs.get(batch.id);
    if (backoff !== undefined && nowMs < backoff.untilMs) return;
    if (!this.writableAtOne(batch)) return this.failedReplay(batch.id, nowMs);
    this.writing.add(batch.id);
    try {
      const outcomes = await Promise.allSettled(batch.items.map((item) => this.deps.coordinator.writeVersion(item, 'ONE')));
      if (outcomes.some((o) => o.status === 'rejected')) return this.failedReplay(batch.id, nowMs);
      await this.deps.log.remove(batch.id);
      this.settled(batch.id);
      this.counters.batchesReplayed++;
      if (batch.copyOf) this.counters.batchCopiesReplayed++;
      else this.tellHolders(batch.id, batch.createdMs);
    } finally {
      this.writing.delete(batch.id);
    }
  }

  private writableAtOne(batch: LoggedBatch): boolean {
    try {
      for (const item of batch.items) this.deps.coordinator.checkWritable(item.key, 'ONE');
      return true;
    } catch {
      return false;
    }
  }

  /** A replay that did not write every key: the batch waits twice as long as last time before the next (BATCH_REPLAY_BACKOFF_MAX_MS at most). */
  private failedReplay(id: number, nowMs: number): void {
    this.counters.batchReplayFailures++;
    const waitMs = Math.min(BATCH_REPLAY_BACKOFF_MAX_MS, 2 * (this.backoffs.get(id)?.waitMs ?? BATCH_REPLAY_INTERVAL_MS / 2));
    this.backoffs.set(id, { waitMs, untilMs: nowMs + waitMs });
  }

  /** A batch leaves the log: nothing is to wait for it any more. */
  private settled(id: number): void {
    this.backoffs.delete(id);
    this.askOwnerAt.delete(id);
  }

  private async expire(batch: LoggedBatch, ageMs: number): Promise<void> {
    this.settled(batch.id);
    await this.deps.log.remove(batch.id);
    if (!batch.copyOf) this.tellHolders(batch.id, batch.createdMs);
    this.counters.batchesExpired++;
    const whose = batch.copyOf ? `a copy of node ${batch.copyOf.owner}'s logged batch` : 'a logged batch';
    this.deps.report(
      `node ${this.deps.selfId} dropped ${whose} of ${counted(batch.items.length, 'write')} it could not write for ${Math.round(ageMs / 1000)} s, past the tombstone grace: writing it now could bring back values deleted since (counter batchesExpired)`,
      'warn',
    );
  }
}

/**
 * The holders of a new batch's copies: the first `count` peers up after
 * `selfId` in id order, wrapping round. Each node's copies go to its
 * neighbours, so the load spreads evenly, and to the same holders while
 * nothing changes.
 */
export function copyHolders(selfId: number, peers: Iterable<number>, isUp: (id: number) => boolean, count = BATCH_LOG_COPIES): number[] {
  const others = [...peers].filter((p) => p !== selfId).sort((a, b) => a - b);
  const after = others.filter((p) => p > selfId);
  const before = others.filter((p) => p < selfId);
  return [...after, ...before].filter(isUp).slice(0, count);
}

function stamped(w: BatchWriteInput, batchTs: number): Version {
  const ts = w.ts ?? batchTs;
  if (w.ttlSeconds > 0) return { value: w.value, ts, deleted: false, expires: ts + w.ttlSeconds * 1_000_000 };
  return { value: w.value, ts, deleted: w.deleted };
}
