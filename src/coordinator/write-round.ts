/**
 * One write at its coordinator, from sending it to its replicas until every
 * one of them is covered: acknowledged, or hinted durably here.
 *
 * The client is answered once the level is reached and this node holds a
 * durable record of every replica the write has not reached yet: a hint for
 * each down replica, and for each live one still silent, the mark on this
 * node's own log row when it is a replica of the key (ReplicaStore's marks),
 * which a restart turns back into hints. Without such a record, a coordinator
 * killed just after answering would take the only trace of a missing
 * replica's write with it, and only anti-entropy would ever find it.
 *
 * With a mark, a live replica is hinted only if its call fails (or times out),
 * and the mark is settled once every other replica is covered. Without one (a
 * coordinator that is not a replica, or whose own copy lost to a newer
 * version), replicas get HINT_GRACE_MS to answer after the level is reached;
 * slower ones get a hint, and the answer waits for those hints.
 *
 * ANY needs no replica's acknowledgement: one durable copy anywhere is its
 * level, a replica's or a hint's. So its round is answered at its first
 * acknowledgement, or at its first hint that reached disk (a hint store that
 * dropped one, its queue full or its commit failed, says so); with every
 * replica failed or down and no hint durable, it fails as TimedOut, since a
 * failed call may still have been applied. With hints off the coordinator
 * places ANY as needing one replica (need 1), and a hint is then no copy.
 */
import { systemTime, Time, Timer } from '../clock/time';
import { isKvError, KvError, timedOut } from '../common/errors';
import type { KnownBugs } from '../common/known-bugs';
import { HINT_GRACE_MS } from '../common/limits';
import { Replica } from './replica';
import { KeyedVersion } from '../storage/version';
import { WriteLevelName } from './levels';
import { nodeList, Trace } from './trace';

/** This node's own replica as the writes it coordinates use it (ReplicaStore's marks). */
export interface MarkedLog {
  /** Applies the version here and marks its log row; resolves with the row's seq once durable (0: no row holds it). */
  applyMarked(item: KeyedVersion): Promise<number>;
  /** Every other replica has acknowledged the write that marked row `seq`, or has a durable hint for it. */
  settle(seq: number): void;
}

export interface WriteRoundDeps {
  readonly selfId: number;
  readonly replica: (id: number) => Replica;
  /** Stores a hint, told which replicas acknowledged the write so far; resolves once it is durable (true) or the hint store gave up on it (false). */
  readonly hint: (target: number, item: KeyedVersion, acknowledged: (id: number) => boolean) => Promise<boolean>;
  readonly timeoutMs: number;
  /** Clocks and timers (systemTime unless simulated). */
  readonly time?: Time;
  /** Known bugs put back on purpose, for the simulator's own tests only. */
  readonly bugs?: KnownBugs | undefined;
}

export interface WritePlan {
  readonly item: KeyedVersion;
  readonly level: WriteLevelName;
  readonly up: readonly number[];
  readonly down: readonly number[];
  readonly need: number;
  /** This node's own replica, when it is one of the key's live replicas. */
  readonly marked: MarkedLog | undefined;
  /**
   * Called once when no send of the round can land any more: every live
   * replica answered, or the round failed. A membership operation waits for
   * the rounds of an older epoch to get here (Coordinator.settledEpoch).
   */
  readonly landed?: () => void;
  /** Given when the request is traced: each step is noted in it, and it is told when every live replica answered. */
  readonly trace?: Trace | undefined;
}

export class WriteRound {
  /** Resolves with the write's timestamp when the client may be answered; rejects with TimedOut. */
  readonly answer: Promise<number>;
  private resolve!: (ts: number) => void;
  private reject!: (err: KvError) => void;
  private readonly answered = new Set<number>();
  /** The replicas whose call failed (made at the first failure: most rounds have none). */
  private failedIds: Set<number> | undefined;
  /** The other replicas, until each has acknowledged or has a durable hint. */
  private readonly open: Set<number>;
  private readonly hinted: Promise<void>[];
  private downHinted: boolean;
  /** Hints settled so far, and how many of them are durable (what an ANY write can count). */
  private hintsSettled = 0;
  private hintsDurable = 0;
  private acked = 0;
  private failed = 0;
  /** The first replica whose disk was full, if any failed so. */
  private diskFullAt: number | undefined;
  private firstFailure = '';
  private finished = false;
  private completing = false;
  private hasLanded = false;
  private failedRound = false;
  /** The seq of this node's marked log row (0: none, or settled already). */
  private mark = 0;
  private grace: Timer | undefined;
  private readonly timer: Timer;
  /** The first replica that refused the write as placed by a stale epoch, and its epoch (the coordinator then places it again). */
  refusedAsStale: { readonly id: number; readonly epoch: number } | undefined;
  private readonly time: Time;
  /** ANY placed as needing no replica: a durable hint is a copy of the write. */
  private readonly hintIsCopy: boolean;

  constructor(
    private readonly deps: WriteRoundDeps,
    private readonly plan: WritePlan,
  ) {
    this.answer = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.hintIsCopy = plan.level === 'ANY' && plan.need === 0;
    this.open = new Set([...plan.up, ...plan.down].filter((id) => id !== deps.selfId));
    this.hinted = plan.down.map((id) => this.hintCovering(id));
    this.downHinted = this.hinted.length === 0;
    if (!this.downHinted) {
      void Promise.all(this.hinted).then(() => {
        this.downHinted = true;
        this.progress();
      });
    }
    this.time = deps.time ?? systemTime;
    this.timer = this.time.after(deps.timeoutMs, () =>
      this.timedOut(
        this.hintIsCopy && !this.levelReached()
          ? `reached no replica and stored no hint within ${deps.timeoutMs} ms`
          : `was acknowledged by ${this.acked} of ${plan.need} replicas within ${deps.timeoutMs} ms`,
      ),
    );
    if (plan.trace !== undefined) {
      plan.trace.note(`sends ts=${plan.item.version.ts} to ${nodeList(plan.up)}`);
      if (plan.down.length > 0) plan.trace.note(`stores hints for ${nodeList(plan.down)}, seen down`);
    }
    for (const id of plan.up) this.send(id);
  }

  private send(id: number): void {
    const failed = (err: Error): void => this.failedAt(id, err);
    const marked = this.plan.marked;
    if (id === this.deps.selfId && marked !== undefined) {
      if (this.deps.bugs?.ackBeforeMark) return this.ackBeforeMark(marked);
      marked.applyMarked(this.plan.item).then((seq) => {
        this.mark = seq;
        this.settleMark();
        this.acknowledged(id);
      }, failed);
    } else {
      this.deps
        .replica(id)
        .apply([this.plan.item])
        .then(() => this.acknowledged(id), failed);
    }
  }

  /**
   * The known bug `ackBeforeMark`: this node's own copy counts at once, and
   * the answer does not wait for its mark. A crash before the commit leaves
   * the replicas not reached yet without any record of the write.
   */
  private ackBeforeMark(marked: MarkedLog): void {
    this.mark = -1;
    marked.applyMarked(this.plan.item).then(
      (seq) => {
        this.mark = seq;
        this.settleMark();
      },
      () => undefined,
    );
    this.acknowledged(this.deps.selfId);
  }

  private acknowledged(id: number): void {
    this.plan.trace?.note(
      id === this.deps.selfId && this.mark > 0 ? `its own copy (node ${id}) is durable, its log row marked` : `node ${id} acknowledged`,
    );
    this.answered.add(id);
    this.acked++;
    this.covered(id);
    this.progress();
    this.landedIfAnswered();
  }

  private landedIfAnswered(): void {
    if (this.hasLanded || (this.answered.size < this.plan.up.length && !(this.finished && this.failedRound))) return;
    this.hasLanded = true;
    this.plan.landed?.();
    this.plan.trace?.markLanded();
  }

  private failedAt(id: number, err: Error): void {
    this.answered.add(id);
    (this.failedIds ??= new Set()).add(id);
    this.failed++;
    this.firstFailure ||= `node ${id}: ${err.message}`;
    this.plan.trace?.note(`node ${id} failed: ${err.message}; stores a hint for it`);
    if (isKvError(err, 'StorageFull')) this.diskFullAt ??= id;
    else if (isKvError(err, 'StaleEpoch')) this.refusedAsStale ??= { id, epoch: err.details.epoch ?? 0 };
    this.hinted.push(this.hintCovering(id));
    if (this.plan.up.length - this.failed < this.plan.need) this.unreachable();
    else this.progress();
    this.landedIfAnswered();
  }

  /** Too many replicas failed for the level: a full disk is named as such, anything else is a timeout. */
  private unreachable(): void {
    const { level, need } = this.plan;
    if (this.diskFullAt === undefined) {
      this.timedOut(`reached ${this.acked} of ${need} replicas; ${this.failed} failed (${this.firstFailure})`);
      return;
    }
    const message = `${level} write reached ${this.acked} of ${need} replicas: node ${this.diskFullAt} refused it, its disk is full; free space there and writes resume by themselves`;
    this.finish(new KvError('StorageFull', message, { acked: this.acked, required: need }));
  }

  /** The level's count acknowledged; for ANY, one copy durable anywhere. */
  private levelReached(): boolean {
    if (!this.hintIsCopy) return this.acked >= this.plan.need;
    return this.acked > 0 || this.hintsDurable > 0;
  }

  private progress(): void {
    if (!this.levelReached()) return;
    // Marked: answer once the down replicas' hints are durable; the live ones
    // answer or fail in their own time, and only a failure costs a hint.
    if (this.mark !== 0) {
      if (this.downHinted) this.finish();
      return;
    }
    if (this.completing) return;
    if (this.answered.size === this.plan.up.length) this.complete();
    else this.grace ??= this.time.after(HINT_GRACE_MS, () => this.complete());
  }

  /** Unmarked, the level reached: hint whoever has not answered, then answer once the hints are on disk. */
  private complete(): void {
    if (this.completing) return;
    this.completing = true;
    this.grace?.cancel();
    for (const id of this.plan.up) {
      if (this.answered.has(id)) continue;
      this.plan.trace?.note(`node ${id} has not answered within ${HINT_GRACE_MS} ms of the level: stores a hint for it`);
      this.hinted.push(this.hintCovering(id));
    }
    void Promise.all(this.hinted).then(() => this.finish());
  }

  private hintCovering(target: number): Promise<void> {
    // Who acknowledged: a hint for a node that left the ring goes on to the key's current replicas that did not (hints/hint-router.ts).
    const acknowledged = (id: number): boolean => this.answered.has(id) && this.failedIds?.has(id) !== true;
    return this.deps.hint(target, this.plan.item, acknowledged).then((durable) => {
      this.plan.trace?.note(durable ? `the hint for node ${target} is durable` : `the hint for node ${target} was dropped`);
      this.hintsSettled++;
      if (durable) this.hintsDurable++;
      this.covered(target);
      if (this.hintIsCopy) this.anyHintSettled();
    });
  }

  /**
   * ANY: a durable hint may be the round's one copy. With every live
   * replica failed and every hint settled but none durable, no copy is left
   * to wait for.
   */
  private anyHintSettled(): void {
    if (this.hintsDurable > 0) return this.progress();
    if (this.acked > 0 || this.failed < this.plan.up.length || this.hintsSettled < this.hinted.length) return;
    const replicas = this.plan.up.length + this.plan.down.length;
    const why = this.failed > 0 ? `; ${this.failed} failed (${this.firstFailure})` : '';
    this.timedOut(`reached none of the key's ${replicas} replicas and could store no hint for them${why}`);
  }

  private covered(id: number): void {
    this.open.delete(id);
    this.settleMark();
  }

  private settleMark(): void {
    if (this.mark <= 0 || this.open.size > 0) return;
    this.plan.trace?.note('every other replica acknowledged or has a durable hint: the mark is settled');
    this.plan.marked!.settle(this.mark);
    this.mark = 0;
  }

  private timedOut(what: string): void {
    // ANY's one copy is what it required.
    this.finish(timedOut(`${this.plan.level} write ${what}`, this.acked, Math.max(1, this.plan.need)));
  }

  private finish(err?: KvError): void {
    if (this.finished) return;
    this.finished = true;
    this.failedRound = err !== undefined;
    this.timer.cancel();
    this.grace?.cancel();
    this.plan.trace?.note(err ? `fails: ${err.message}` : `answers the client: ${this.acked} of ${this.plan.need} needed acknowledged`);
    if (err) this.reject(err);
    else this.resolve(this.plan.item.version.ts);
    this.landedIfAnswered();
  }
}
