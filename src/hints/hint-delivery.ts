/**
 * Hinted handoff, the sending side. When a target with stored hints is up
 * (it answered a heartbeat, or said hello after a restart), its hints are
 * replayed oldest first in batches of HINT_REPLAY_BATCH_MAX, with up to
 * HINT_REPLAY_IN_FLIGHT_MAX batches in flight; each batch is deleted only
 * after the target acknowledged it as durable. Hints older than the window
 * are dropped and counted instead of delivered. A failed batch stops the
 * replay; the next `kick` starts again from the oldest hint left.
 */
import { HINT_REPLAY_BATCH_MAX, HINT_REPLAY_IN_FLIGHT_MAX } from '../common/limits';
import { Replica } from '../rpc/remote-replica';
import { HintStore, StoredHint } from './hint-store';

export class HintDelivery {
  private readonly running = new Set<number>();

  constructor(
    private readonly store: HintStore,
    private readonly replicas: ReadonlyMap<number, Replica>,
    private readonly isUp: (id: number) => boolean,
    private readonly windowMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Starts replaying to every up target that has hints (no-op if already running). */
  kickAll(): void {
    for (const [target, n] of this.store.countsByTarget()) if (n > 0) this.kick(target);
  }

  kick(target: number): void {
    if (this.running.has(target) || !this.isUp(target) || this.store.count(target) === 0) return;
    this.running.add(target);
    this.replay(target)
      .catch(() => undefined) // the target failed again; hints stay for the next kick
      .finally(() => this.running.delete(target));
  }

  private async replay(target: number): Promise<void> {
    const replica = this.replicas.get(target);
    if (replica === undefined) return;
    let afterId = 0;
    const inFlight = new Set<Promise<void>>();
    while (this.isUp(target)) {
      const hints = await this.store.next(target, afterId, HINT_REPLAY_BATCH_MAX);
      if (hints.length === 0) break;
      afterId = hints[hints.length - 1]!.id;
      const p = this.deliver(target, replica, hints).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= HINT_REPLAY_IN_FLIGHT_MAX) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
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
    await this.store.remove(
      target,
      live.map((h) => h.id),
      true,
    );
  }
}
