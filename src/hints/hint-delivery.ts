/**
 * Hinted handoff, the sending side. When a target with stored hints is up
 * (it answered a heartbeat, or said hello after a restart), its hints are
 * replayed oldest first in batches of HINT_REPLAY_BATCH_MAX, with up to
 * HINT_REPLAY_IN_FLIGHT_MAX batches in flight; each batch is deleted only
 * after the target acknowledged it as durable. Hints older than the window
 * are dropped and counted instead of delivered. A failed batch stops the
 * replay; the next `kick` starts again from the oldest hint left.
 */
import { systemTime } from '../clock/time';
import { HINT_REPLAY_BATCH_MAX, HINT_REPLAY_IN_FLIGHT_MAX } from '../common/limits';
import { errorText, ThrottledWarning, WarningOptions } from '../common/warnings';
import { Replica } from '../coordinator/replica';
import type { StoredHint } from './hint-store';
import type { HintStorage } from './hint-storage';

export class HintDelivery {
  private readonly running = new Set<number>();
  readonly counters = { hintReplayFailures: 0 };
  private readonly failures: ThrottledWarning;

  constructor(
    private readonly store: HintStorage,
    private readonly replicas: ReadonlyMap<number, Replica>,
    private readonly isUp: (id: number) => boolean,
    private readonly windowMs: number,
    private readonly nowMs: () => number = systemTime.nowMs,
    /** Where failed replays are told, and how often. */
    warnings: WarningOptions = {},
    /**
     * Called with each batch the target acknowledged, before the batch's hints
     * are deleted: the node hands them on to replicas a membership operation
     * adds meanwhile (HintHandover.handOnDelivered); resolves once that is durable.
     */
    private readonly delivered?: (target: number, hints: readonly StoredHint[]) => Promise<void>,
  ) {
    this.failures = new ThrottledWarning('hint replay', 'the hints stay for the next try (counter hintReplayFailures)', {
      nowMs,
      ...warnings,
    });
  }

  /** Starts replaying to every up target that has hints (no-op if already running). */
  kickAll(): void {
    for (const [target, n] of this.store.countsByTarget()) if (n > 0) this.kick(target);
  }

  kick(target: number): void {
    if (this.running.has(target) || !this.isUp(target) || this.store.count(target) === 0) return;
    this.running.add(target);
    this.replay(target)
      .catch((err) => this.replayFailed(target, err))
      .finally(() => this.running.delete(target));
  }

  /** The target failed again (or this node's disk did): the hints left stay for the next kick. */
  private replayFailed(target: number, err: unknown): void {
    this.counters.hintReplayFailures++;
    this.failures.failed(`to node ${target}: ${errorText(err)}`);
  }

  private async replay(target: number): Promise<void> {
    const replica = this.replicas.get(target);
    if (replica === undefined) return;
    let afterId = 0;
    // The first batch that failed. Noted by the batch itself: one that fails
    // while the next is being read has nothing awaiting it yet, and would
    // otherwise be an unhandled rejection (which ends the process), or be
    // gone from inFlight, and forgotten, by the time Promise.all looks.
    let failure: { err: unknown } | undefined;
    const inFlight = new Set<Promise<void>>();
    while (this.isUp(target) && failure === undefined) {
      const hints = await this.store.next(target, afterId, HINT_REPLAY_BATCH_MAX);
      if (hints.length === 0) break;
      afterId = hints[hints.length - 1]!.id;
      const p: Promise<void> = this.deliver(target, replica, hints).then(
        () => void inFlight.delete(p),
        (err: unknown) => {
          inFlight.delete(p);
          failure ??= { err };
        },
      );
      inFlight.add(p);
      if (inFlight.size >= HINT_REPLAY_IN_FLIGHT_MAX) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure.err;
  }

  private async deliver(target: number, replica: Replica, hints: StoredHint[]): Promise<void> {
    const cutoff = this.nowMs() - this.windowMs;
    const expired = hints.filter((h) => h.createdMs < cutoff);
    const live = hints.filter((h) => h.createdMs >= cutoff);
    if (expired.length > 0)
      await this.store.remove(
        target,
        expired.map((h) => h.id),
        false,
      );
    if (live.length === 0) return;
    await replica.apply(live);
    await this.delivered?.(target, live);
    await this.store.remove(
      target,
      live.map((h) => h.id),
      true,
    );
  }
}
