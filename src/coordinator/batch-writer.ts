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
 * So once any write of a batch is applied anywhere, all of them will be,
 * unless this node's disk is lost (Cassandra keeps its batch log on two
 * other nodes for that; this one is kept here only), or the batch outlives
 * the tombstone grace before it can be written: a replay then could bring
 * back a value deleted after it, so it is dropped instead, and counted.
 * A batch is not isolated: a reader may see some of its writes before the
 * others.
 */
import type { HybridClock } from '../clock/hlc';
import type { Time } from '../clock/time';
import { KvError, ofKeyAt, timedOut } from '../common/errors';
import {
  BATCH_LOG_BATCHES_MAX,
  BATCH_LOG_BYTES_MAX,
  BATCH_REPLAY_BACKOFF_MAX_MS,
  BATCH_REPLAY_INTERVAL_MS,
  BATCH_REPLAY_PAGE_MAX,
} from '../common/limits';
import type { Logger } from '../common/logger';
import type { BatchLogStorage, LoggedBatch } from '../storage/batch-log';
import type { Version } from '../storage/version';
import type { Coordinator } from './coordinator';
import type { WriteLevelName } from './levels';

/** One write of a batch, checked by the caller: a value, or a tombstone when `deleted`. */
export interface BatchWriteInput {
  readonly key: string;
  readonly value: string;
  readonly deleted: boolean;
  /** A value's time to live (0: none). */
  readonly ttlSeconds: number;
}

export interface BatchWriterDeps {
  readonly selfId: number;
  readonly log: BatchLogStorage;
  readonly coordinator: Pick<Coordinator, 'checkWritable' | 'writeVersion'>;
  readonly clock: Pick<HybridClock, 'now'>;
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
    /** Batches refused because the batch log was full. */
    batchLogFull: 0,
    /** Logged batches written again in full, then removed. */
    batchesReplayed: 0,
    /** Replays that did not write every key, or sent nothing because a key had no replica up (tried again after a backoff). */
    batchReplayFailures: 0,
    /** Logged batches dropped unwritten, older than the tombstone grace. */
    batchesExpired: 0,
  };
  /** Batches in the log: those not yet written everywhere, and those being written now. */
  get logged(): number {
    return this.deps.log.size;
  }

  /** Ids of the logged batches a call or a replay is writing now: a replay leaves them alone. */
  private readonly writing = new Set<number>();
  /** Logged batches whose last replay failed: how long they waited, and until when they wait now (at most one per batch in the log). */
  private readonly backoffs = new Map<number, { waitMs: number; untilMs: number }>();
  private replaying = false;

  constructor(private readonly deps: BatchWriterDeps) {}

  /** Writes the batch (see the header); resolves with its timestamp. The caller checked each write and that the keys differ. */
  async write(writes: readonly BatchWriteInput[], level: WriteLevelName): Promise<number> {
    const { coordinator, log } = this.deps;
    writes.forEach((w, i) => {
      try {
        coordinator.checkWritable(w.key, level);
      } catch (err) {
        throw ofKeyAt(err, i, writes.length);
      }
    });
    this.checkRoom();
    const ts = this.deps.clock.now();
    const items = writes.map((w) => ({ key: w.key, version: stamped(w, ts) }));
    const { id, durable } = log.add(items, this.deps.time.nowMs());
    this.writing.add(id);
    try {
      await durable;
    } catch (err) {
      this.writing.delete(id);
      throw err;
    }
    this.counters.batches++;
    const outcomes = await Promise.allSettled(items.map((item) => coordinator.writeVersion(item, level)));
    this.writing.delete(id);
    const failedAt = outcomes.findIndex((o) => o.status === 'rejected');
    if (failedAt < 0) {
      void this.forget(id);
      return ts;
    }
    this.counters.batchesFailed++;
    throw this.failure((outcomes[failedAt] as PromiseRejectedResult).reason, failedAt, writes.length);
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
   * A logged batch's failure as its client hears it: the key's error, its
   * place named, and that the batch will be written. An Unavailable after
   * the log (a replica went down meanwhile) is a TimedOut: other keys may
   * be written already.
   */
  private failure(err: unknown, i: number, n: number): unknown {
    if (!(err instanceof KvError)) return err;
    const message = `key ${i + 1} of ${n}: ${err.message}; the batch is logged on node ${this.deps.selfId}, which writes it again until every key reaches its replicas`;
    if (err.code === 'Unavailable') return timedOut(message, err.details.alive ?? 0, err.details.required ?? 0);
    return new KvError(err.code, message, err.details);
  }

  private async forget(id: number): Promise<void> {
    try {
      await this.deps.log.remove(id);
    } catch {
      // Still logged: a replay writes it again, which changes nothing, and removes it then.
      this.counters.batchReplayFailures++;
    }
  }

  /**
   * Writes again every logged batch that no call is writing, oldest first,
   * a page of BATCH_REPLAY_PAGE_MAX at a time, the batches of a page all at
   * once (after a long outage the log drains at a page per write round, not
   * a batch); removes each once all its keys are written. One replay runs
   * at a time; once `stopping`, it starts no more batches.
   */
  async replay(stopping: () => boolean): Promise<void> {
    if (this.replaying || this.deps.log.size === 0) return;
    this.replaying = true;
    try {
      let after = 0;
      for (;;) {
        const page = await this.deps.log.list(after, BATCH_REPLAY_PAGE_MAX);
        const started: Promise<void>[] = [];
        for (const batch of page) {
          if (stopping()) break;
          after = batch.id;
          if (!this.writing.has(batch.id)) started.push(this.replayOne(batch));
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

  /** A peer is back: every batch waiting out a backoff may be tried at the next replay. */
  retrySoon(): void {
    this.backoffs.clear();
  }

  /**
   * Writes one logged batch again, unless it waits out a backoff, or a key
   * of it has no replica up (then nothing is sent: a batch stuck on a dead
   * range must not rewrite its other keys every few seconds).
   */
  private async replayOne(batch: LoggedBatch): Promise<void> {
    const nowMs = this.deps.time.nowMs();
    const ageMs = nowMs - batch.createdMs;
    if (ageMs > this.deps.replayAgeMaxMs) return this.expire(batch, ageMs);
    const backoff = this.backoffs.get(batch.id);
    if (backoff !== undefined && nowMs < backoff.untilMs) return;
    if (!this.writableAtOne(batch)) return this.failedReplay(batch.id, nowMs);
    this.writing.add(batch.id);
    try {
      const outcomes = await Promise.allSettled(batch.items.map((item) => this.deps.coordinator.writeVersion(item, 'ONE')));
      if (outcomes.some((o) => o.status === 'rejected')) return this.failedReplay(batch.id, nowMs);
      await this.deps.log.remove(batch.id);
      this.backoffs.delete(batch.id);
      this.counters.batchesReplayed++;
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

  private async expire(batch: LoggedBatch, ageMs: number): Promise<void> {
    this.backoffs.delete(batch.id);
    await this.deps.log.remove(batch.id);
    this.counters.batchesExpired++;
    this.deps.report(
      `node ${this.deps.selfId} dropped a logged batch of ${batch.items.length} writes it could not write for ${Math.round(ageMs / 1000)} s, past the tombstone grace: writing it now could bring back values deleted since (counter batchesExpired)`,
      'warn',
    );
  }
}

function stamped(w: BatchWriteInput, ts: number): Version {
  if (w.ttlSeconds > 0) return { value: w.value, ts, deleted: false, expires: ts + w.ttlSeconds * 1_000_000 };
  return { value: w.value, ts, deleted: w.deleted };
}
