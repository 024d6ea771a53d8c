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
import { RING_FETCH_TIMEOUT_MS, RING_REFRESH_AFTER_FAILURE_MS, RING_REFRESH_INTERVAL_MS } from '../common/limits';
import type { EpochEntry } from '../membership/changes';
import type { RpcConnection } from '../rpc/connection';
import { toKvError } from '../rpc/errors';
import { fromMembershipLog } from '../rpc/membership-wire';

/** What the learner needs of the client whose ring it keeps. */
export interface RingHolder {
  knownLog(): readonly EpochEntry[];
  /** The nodes to ask, in id order, each with a connection. */
  askable(): { id: number; connection: RpcConnection }[];
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
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;
  private lastRefreshMs = 0;
  private soonTimer: NodeJS.Timeout | undefined;
  /** The node that answered last: asked first next time. */
  private preferred = -1;

  constructor(private readonly holder: RingHolder) {
    this.timer = setInterval(() => void this.refresh(), RING_REFRESH_INTERVAL_MS);
    this.timer.unref();
    void this.refresh();
  }

  /** Asks the nodes for the ring now (joining a refresh under way). */
  refresh(): Promise<void> {
    if (this.running === undefined) {
      this.lastRefreshMs = Date.now();
      this.running = this.ask().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** A failure hinted that the ring moved: refresh, but not more often than RING_REFRESH_AFTER_FAILURE_MS. */
  soon(): void {
    if (this.soonTimer !== undefined) return;
    const wait = Math.max(0, this.lastRefreshMs + RING_REFRESH_AFTER_FAILURE_MS - Date.now());
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.refresh();
    }, wait);
    this.soonTimer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.soonTimer !== undefined) clearTimeout(this.soonTimer);
  }

  /** One node after another until one answers; the first answer is taken (logs only grow, and any node is as good). */
  private async ask(): Promise<void> {
    const nodes = this.holder.askable();
    const start = Math.max(
      0,
      nodes.findIndex((n) => n.id === this.preferred),
    );
    for (let i = 0; i < nodes.length; i++) {
      const { id, connection } = nodes[(start + i) % nodes.length]!;
      const known = this.holder.knownLog();
      try {
        const { entries } = await fetchMembership(connection, known.length, RING_FETCH_TIMEOUT_MS);
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
