/**
 * A node's cleanup: it deletes the data it holds for ranges it does not
 * replicate under the current ring (what a join, a move or a replacement
 * left behind on the replicas that gave ranges up), in batches of
 * CLEANUP_BATCH_KEYS_MAX keys, each one transaction of row deletes with the
 * queued commits running between them (ReplicaStorage.dropRange: no
 * tombstone, nothing sent to other replicas). Refused while an operation
 * runs; stops, saying so, if the ring moves to another epoch meanwhile, since
 * what is garbage may then have changed.
 */
import { KvError } from '../common/errors';
import { CLEANUP_BATCH_KEYS_MAX } from '../common/limits';
import type { Time } from '../clock/time';
import type { EpochLog } from '../membership/epoch-log';
import { refuseCleanupDuring, unreplicatedIntervals } from '../membership/reclaim';
import type { ReplicaStorage } from '../storage/replica-storage';

export interface CleanupDeps {
  readonly selfId: number;
  readonly log: Pick<EpochLog, 'epoch' | 'membership' | 'placement'>;
  readonly store: Pick<ReplicaStorage, 'dropRange'>;
  readonly time: Time;
  readonly say: (message: string) => void;
}

/** Where a cleanup is: keys and bytes (of keys and values) deleted so far, the epoch it cleans for, done, and why it stopped. */
export interface CleanupReport {
  keys: number;
  bytes: number;
  epoch: number;
  done: boolean;
  error?: string;
}

export class Cleanup {
  readonly report: CleanupReport;

  /** Refuses (InvalidRequest) to start while an operation runs. */
  constructor(private readonly deps: CleanupDeps) {
    refuseCleanupDuring(deps.log.membership);
    this.report = { keys: 0, bytes: 0, epoch: deps.log.epoch, done: false };
  }

  /** Runs the cleanup to its end; its report says how it went (rejects with the same error it records). */
  async run(): Promise<void> {
    try {
      for (const interval of unreplicatedIntervals(this.deps.log.placement, this.deps.selfId)) {
        let cursor: string | undefined = interval.from;
        while (cursor !== undefined) cursor = await this.batch(cursor, interval.to);
      }
      this.report.done = true;
      this.deps.say(
        `cleanup at epoch ${this.report.epoch}: deleted ${this.report.keys} keys (${this.report.bytes} bytes) of ranges node ${this.deps.selfId} does not replicate`,
      );
    } catch (err) {
      this.report.error = (err as Error).message;
      throw err;
    }
  }

  /** One batch from `from`; the key to go on from, undefined once [from, to) is empty. */
  private async batch(from: string, to: string | undefined): Promise<string | undefined> {
    const { log } = this.deps;
    if (log.epoch !== this.report.epoch)
      throw new KvError(
        'Unavailable',
        `the ring moved from epoch ${this.report.epoch} to ${log.epoch} during the cleanup, which stopped after deleting ${this.report.keys} keys; run it again`,
      );
    const dropped = await this.deps.store.dropRange(from, to, CLEANUP_BATCH_KEYS_MAX);
    this.report.keys += dropped.keys;
    this.report.bytes += dropped.bytes;
    // The next batch after the I/O the commits queued meanwhile wait on.
    await new Promise<void>((resolve) => this.deps.time.soon(resolve));
    return dropped.next;
  }
}

/** What a node holds outside the ranges it replicates: what a cleanup would delete. */
export interface Reclaimable {
  readonly reclaimableKeys: number;
  /** Bytes of those keys and values (not of the file: SQLite reuses freed pages rather than shrink). */
  readonly reclaimableBytes: number;
}

/**
 * A node's reclaimable data, measured by walking those keys in memory, at
 * most once per RECLAIMABLE_MEASURE_INTERVAL_MS unless the epoch moved or
 * a cleanup asked for a new measure (`stale`): the counters are read by
 * every status call, metrics scrape and dashboard poll.
 */
export class ReclaimableMeasure {
  private last: { value: Reclaimable; epoch: number; atMs: number } | undefined;

  constructor(
    private readonly deps: Pick<CleanupDeps, 'selfId' | 'log' | 'time'> & {
      readonly store: Pick<ReplicaStorage, 'measureRange'>;
      readonly intervalMs: number;
    },
  ) {}

  current(): Reclaimable {
    const { log, time } = this.deps;
    const last = this.last;
    if (last !== undefined && last.epoch === log.epoch && time.monotonicMs() - last.atMs < this.deps.intervalMs) return last.value;
    let keys = 0;
    let bytes = 0;
    for (const { from, to } of unreplicatedIntervals(log.placement, this.deps.selfId)) {
      const m = this.deps.store.measureRange(from, to);
      keys += m.keys;
      bytes += m.bytes;
    }
    const value = { reclaimableKeys: keys, reclaimableBytes: bytes };
    this.last = { value, epoch: log.epoch, atMs: time.monotonicMs() };
    return value;
  }

  /** The next read measures again (a cleanup deleted some of it). */
  stale(): void {
    this.last = undefined;
  }
}
