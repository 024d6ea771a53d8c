/**
 * How a client keeps its ring current (issue 18): the ring is the nodes'
 * membership log, not the cluster file, and it changes while a client runs.
 *
 * The IDL's answers to requests cannot grow an epoch field (their return
 * types are fixed), so no request says "the ring moved". Asking on every
 * request would cost a round trip each. Instead the client asks
 * `membership(after its epoch)`, whose answer is empty when nothing changed:
 *   - every RING_REFRESH_INTERVAL_MS (one small call per client, off the
 *     request path), which bounds how long a client routes by an old ring;
 *   - soon after a request meets a node it cannot reach or too few live
 *     replicas (ConnectionError, Unavailable: what a node that left or a
 *     ring that changed look like from the client), at most once per
 *     RING_REFRESH_AFTER_FAILURE_MS however many requests fail;
 *   - when told of a newer epoch (KvClient.noteEpoch: status, or an error
 *     that names one).
 * A request sent by an old ring is not wrong meanwhile, only a hop longer:
 * the node it reaches coordinates it by its own, current, placement.
 *
 * Nodes are asked in turn (the one that answered last first), so a client
 * whose seeds are partly down still learns the ring from the others.
 */
import { systemTime, Time, Timer } from '../clock/time';
import { RING_REFRESH_AFTER_FAILURE_MS, RING_REFRESH_INTERVAL_MS } from '../common/limits';
import type { EpochEntry } from '../membership/changes';
import type { RpcConnection } from '../rpc/connection';
import { toKvError } from '../rpc/errors';
import { fromMembershipLog } from '../rpc/membership-wire';

/** What the learner needs of the client whose ring it keeps. */
export interface RingHolder {
  knownLog(): readonly EpochEntry[];
  /** The nodes to ask, in id order, each with how to ask it for its log after an epoch (fetchMembership, over a connection). */
  askable(): { id: number; fetch(after: number): Promise<{ epoch: number; entries: EpochEntry[] }> }[];
  /** Routes by `log` from now on, if it is newer than the known one. */
  adopt(log: readonly EpochEntry[]): void;
}

/**
 * A node's membership log after `after` (0: all of it), page by page, and
 * its epoch. Each page holds at least one entry until the node's epoch is
 * reached, so this ends.
 */
export async function fetchMembership(
  connection: RpcConnection,
  after: number,
  timeoutMs: number,
): Promise<{ epoch: number; entries: EpochEntry[] }> {
  const entries: EpochEntry[] = [];
  for (;;) {
    const from = after + entries.length;
    let page: { epoch: number; entries: EpochEntry[] };
    try {
      page = fromMembershipLog(await connection.call((c) => c.membership(from as never), timeoutMs), from);
    } catch (err) {
      throw toKvError(err);
    }
    entries.push(...page.entries);
    if (page.entries.length === 0 || after + entries.length >= page.epoch) return { epoch: page.epoch, entries };
  }
}

export class RingLearner {
  private readonly timer: Timer;
  private running: Promise<void> | undefined;
  private lastRefreshMs = 0;
  private soonTimer: Timer | undefined;
  /** The node that answered last: asked first next time. */
  private preferred = -1;

  /** `time`: the system's, or the simulator's virtual time (sim/ring.ts). */
  constructor(
    private readonly holder: RingHolder,
    private readonly time: Time = systemTime,
  ) {
    this.timer = time.every(RING_REFRESH_INTERVAL_MS, () => void this.refresh());
    void this.refresh();
  }

  /** Asks the nodes for the ring now (joining a refresh under way). */
  refresh(): Promise<void> {
    if (this.running === undefined) {
      this.lastRefreshMs = this.time.monotonicMs();
      this.running = this.ask().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** A failure hinted that the ring moved: refresh, but not more often than RING_REFRESH_AFTER_FAILURE_MS. */
  soon(): void {
    if (this.soonTimer !== undefined) return;
    const wait = Math.max(1, this.lastRefreshMs + RING_REFRESH_AFTER_FAILURE_MS - this.time.monotonicMs());
    // A repeating timer cancelled at its first run: like the interval, it must not keep a client's process alive.
    const timer = this.time.every(wait, () => {
      timer.cancel();
      this.soonTimer = undefined;
      void this.refresh();
    });
    this.soonTimer = timer;
  }

  stop(): void {
    this.timer.cancel();
    this.soonTimer?.cancel();
  }

  /** One node after another until one answers; the first answer is taken (logs only grow, and any node is as good). */
  private async ask(): Promise<void> {
    const nodes = this.holder.askable();
    const start = Math.max(
      0,
      nodes.findIndex((n) => n.id === this.preferred),
    );
    for (let i = 0; i < nodes.length; i++) {
      const { id, fetch } = nodes[(start + i) % nodes.length]!;
      const known = this.holder.knownLog();
      try {
        const { entries } = await fetch(known.length);
        this.preferred = id;
        // A node that was never asked sends the whole log, bootstrap included; one asked before sends what follows.
        if (entries.length > 0) this.holder.adopt(known.length === 0 ? entries : [...known, ...entries]);
        return;
      } catch {
        // Down, slow, of an older build, or its answer unreadable: ask the next (this runs in the background, nobody to throw to).
      }
    }
  }
}
