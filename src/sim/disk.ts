/**
 * A simulated node's disk: the transactions its replica store and hint store
 * committed, as SQLite in WAL mode would keep them. It outlives the node's
 * incarnations; a crash is modelled by what the next incarnation finds:
 *
 * - a transaction takes a random few ms to commit, one at a time (the stores
 *   share one connection); one in flight when the node dies is torn, and
 *   rolled back: it is simply never there;
 * - with `synchronous` FULL every commit is synced to the platter; with
 *   NORMAL only every SYNC_EVERY_COMMITS commits (a WAL checkpoint), so a
 *   power loss (not a process crash) loses the committed but unsynced tail.
 */
import type { Time } from '../clock/time';
import { assert } from '../common/assert';
import type { Random } from '../common/random';
import type { EpochEntry } from '../membership/changes';
import type { AcceptorState } from '../paxos/acceptor';
import type { LoggedBatch } from '../storage/batch-log';
import type { Version } from '../storage/version';

/** NORMAL syncs the WAL at checkpoints only: every this many commits, in this model. */
const SYNC_EVERY_COMMITS = 50;
/** A commit's latency, ms: uniform in [min, max]. */
const COMMIT_MS_MIN = 0.05;
const COMMIT_MS_MAX = 2;

export interface LogRow {
  readonly seq: number;
  readonly key: string;
  readonly version: Version;
}

export interface HintRow {
  readonly id: number;
  readonly target: number;
  readonly key: string;
  readonly version: Version;
  readonly createdMs: number;
}

/** One transaction: any of these parts. */
export interface Txn {
  readonly rows?: readonly LogRow[];
  /** Keys whose every row goes (a tombstone purge). */
  readonly purged?: readonly string[];
  /** The settle pointer stored with the rows (marks). */
  readonly settledSeq?: number;
  readonly hintsAdded?: readonly HintRow[];
  readonly hintsRemoved?: readonly number[];
  /** A key's acceptor state as it now is (compare-and-set). */
  readonly paxos?: PaxosRow;
  /** One of the node's named numbers (NodeMeta). */
  readonly meta?: { readonly name: string; readonly value: number };
  /** Keys whose acceptor state the sweep deleted. */
  readonly paxosRemoved?: readonly string[];
  /** Entries appended to the membership's epoch log. */
  readonly epochs?: readonly EpochEntry[];
  /** A logged batch (storage/batch-log.ts). */
  readonly batchAdded?: LoggedBatch;
  /** A logged batch that left the log. */
  readonly batchRemoved?: number;
  /** A membership stream's cursor (the node's streams file). */
  readonly stream?: { readonly id: string; readonly cursor: string };
}

export interface PaxosRow {
  readonly key: string;
  readonly state: AcceptorState;
  readonly newestUs: number;
}

export class SimDisk {
  /** Committed transactions, oldest first. */
  private readonly txns: Txn[] = [];
  /** How many of them are synced: a power loss keeps these. */
  private synced = 0;
  private tail: Promise<void> = Promise.resolve();
  private time: Time | undefined;
  private random: Random | undefined;
  commits = 0;
  /** A stall's extra latency per commit, ms (the slowdisk fault): uniform in [0, stallMs]. */
  stallMs = 0;

  constructor(private readonly fullSync: boolean) {}

  /** A new incarnation of the node starts using the disk (with its own timers). */
  attach(time: Time, random: Random): void {
    this.time = time;
    this.random = random;
    this.tail = Promise.resolve();
  }

  /** Commits one transaction after the disk's latency; transactions run one at a time. */
  commit(txn: Txn): Promise<void> {
    const { time, random } = this;
    assert(time !== undefined && random !== undefined, 'a disk is attached to a node before it commits');
    const ms = COMMIT_MS_MIN + random.float() * (COMMIT_MS_MAX - COMMIT_MS_MIN);
    // A stall slows the commits that run while it lasts, not those queued then: once it ends, the queue drains at the usual pace.
    const stallShare = random.float();
    const done = this.tail.then(
      () =>
        new Promise<void>((resolve) =>
          time.after(ms + stallShare * this.stallMs, () => {
            this.txns.push(txn);
            this.commits++;
            if (this.fullSync || this.txns.length - this.synced >= SYNC_EVERY_COMMITS) this.synced = this.txns.length;
            resolve();
          }),
        ),
    );
    this.tail = done;
    return done;
  }

  /** What is on the disk now, oldest first (for a store opening it). */
  contents(): readonly Txn[] {
    return this.txns;
  }

  /** The power went: what was not synced is gone. */
  powerLoss(): number {
    const lost = this.txns.length - this.synced;
    this.txns.length = this.synced;
    return lost;
  }
}
