/**
 * A watch: the changes of a key range as they reach the cluster, followed
 * through the nodes' change feeds (storage/change-feed.ts).
 *
 * The range is cut where the ring's ranges end, and each piece is followed
 * on one of its read replicas, page after page, each call waiting on the
 * node for the next change. A replica sees every write of its keys in the
 * end (directly, by a hint or by repair), so following one is enough; a
 * write that reaches it late is told late.
 *
 * A position belongs to one node's log. When the node followed fails, or
 * restarts, or the ring moves the piece elsewhere, the watch cannot say
 * where it was in another log: it reads the piece again from the beginning
 * of a replica's log, between a `resync` event and a `synced` one. What
 * comes between is every version that log holds of the piece, each key's
 * newest among them; a reader that keeps a copy of the range drops the keys
 * of the piece it did not see again, and keeps, of two versions of a key,
 * the one with the later timestamp (as the replicas do). So a watch is
 * at-least-once: after a resync some changes come again.
 */
import { compareKeyStrings, fromByteString } from '../common/bytes';
import { KvError } from '../common/errors';
import {
  CHANGES_PAGE_LIMIT_DEFAULT,
  CHANGES_WAIT_MS_DEFAULT,
  WATCH_BUFFERED_CHANGES_MAX,
  WATCH_RETRY_DELAY_MAX_MS,
  WATCH_RETRY_DELAY_MS,
} from '../common/limits';
import type { Placement } from '../membership/placement';
import { toKvError } from '../rpc/errors';

/** Where a reader of a node's change feed is: a position of one incarnation of its log (0, 0: its beginning; afterSeq -1: its end now). */
export interface FeedPosition {
  readonly incarnation: number;
  readonly afterSeq: number;
}

/** A change as a node's feed gave it (expiresUs 0: none). */
export interface FeedChange {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly ts: number;
  readonly deleted: boolean;
  readonly expiresUs: number;
  readonly seq: number;
}

/** A page of a node's change feed (see the IDL's ChangesPage). */
export interface FeedPage {
  readonly changes: FeedChange[];
  readonly incarnation: number;
  readonly position: number;
  readonly restarted: boolean;
  readonly caughtUp: boolean;
  readonly epoch: number;
}

/** What a watch tells its reader. */
export type WatchEvent =
  | {
      readonly type: 'change';
      readonly key: Buffer;
      /** Empty for a deletion. */
      readonly value: Buffer;
      readonly deleted: boolean;
      /** The version's timestamp (µs): of two versions of a key, the later one wins. */
      readonly ts: number;
      /** When the value expires (µs since 1970), 0 for never. */
      readonly expiresUs: number;
      /** The node whose log told it. */
      readonly node: number;
    }
  | {
      /** What follows, up to `synced`, is every version node `node`'s log holds of [start, end): the piece is read again. */
      readonly type: 'resync';
      readonly start: Buffer;
      /** Undefined: to the end of the key space. */
      readonly end: Buffer | undefined;
      readonly node: number;
      readonly reason: string;
    }
  | { readonly type: 'synced'; readonly start: Buffer; readonly end: Buffer | undefined; readonly node: number };

export interface WatchOptions {
  /** 'now' (the default): changes from now on; 'start': every key's newest version first (a resync), then changes. */
  readonly from?: 'now' | 'start';
  /** Changes asked of a node per call (1 to 1000; CHANGES_PAGE_LIMIT_DEFAULT). */
  readonly pageSize?: number;
  /** How long each call waits on its node for a change (0 to 10000 ms; CHANGES_WAIT_MS_DEFAULT). */
  readonly waitMs?: number;
}

/** What a watch needs of the client (KvClient). */
export interface WatchClient {
  /** The placement routed by; undefined in node routing. */
  readonly placement: Placement | undefined;
  /** Whether the client was closed: its watches end. */
  readonly isClosed: boolean;
  refreshRing(): Promise<number>;
  changesPage(node: number, start: Buffer, end: Buffer, position: FeedPosition, limit: number, waitMs: number): Promise<FeedPage>;
}

/** A piece of the watched range that lies in one range of the ring, and the nodes that take its reads. */
export interface Piece {
  readonly from: string;
  /** Undefined: to the end of the key space. */
  readonly to: string | undefined;
  readonly reads: readonly number[];
}

/** [from, to) cut where the placement's ranges end (to undefined: no end). Pure. */
export function piecesOf(placement: Placement, from: string, to: string | undefined): Piece[] {
  const pieces: Piece[] = [];
  let at = from;
  for (;;) {
    const { range, end } = placement.walkFrom(at);
    const last = end === undefined || (to !== undefined && compareKeyStrings(end, to) >= 0);
    const pieceEnd = last ? to : end;
    pieces.push({ from: at, to: pieceEnd, reads: range.reads });
    if (last || pieceEnd === undefined) return pieces;
    at = pieceEnd;
  }
}

/** Where a piece's reader is: the node, and the position in its log. */
interface Follow {
  node: number;
  position: FeedPosition;
  /** Between a resync and its synced. */
  syncing: boolean;
}

const FROM_THE_BEGINNING: FeedPosition = { incarnation: 0, afterSeq: 0 };
const FROM_NOW: FeedPosition = { incarnation: 0, afterSeq: -1 };

export class Watch implements AsyncIterable<WatchEvent> {
  private readonly queue: WatchEvent[] = [];
  /** The reader waiting for an event, and the followers waiting for room. */
  private reader: (() => void) | undefined;
  private readonly room: (() => void)[] = [];
  private failure: KvError | undefined;
  private closed = false;
  /** Bumped at each plan: a follower of an older plan stops. */
  private plan = 0;
  /** The epoch of the placement the pieces were cut by. */
  private planEpoch = 0;
  private readonly limit: number;
  private readonly waitMs: number;

  constructor(
    private readonly client: WatchClient,
    private readonly start: string,
    private readonly end: string | undefined,
    options: WatchOptions = {},
  ) {
    this.limit = options.pageSize ?? CHANGES_PAGE_LIMIT_DEFAULT;
    this.waitMs = options.waitMs ?? CHANGES_WAIT_MS_DEFAULT;
    if (client.placement === undefined) {
      throw new KvError(
        'InvalidRequest',
        'a watch needs token routing (KvClient.connect or fromClusterFile): it follows a replica of each range',
      );
    }
    if (end !== undefined && compareKeyStrings(start, end) >= 0) {
      throw new KvError(
        'InvalidRequest',
        `a watch's range is empty: start ${JSON.stringify(start)} is not before end ${JSON.stringify(end)}`,
      );
    }
    const from = options.from ?? 'now';
    if (from !== 'now' && from !== 'start')
      throw new KvError('InvalidRequest', `a watch starts from 'now' or 'start', not ${JSON.stringify(from)}`);
    this.follow(from === 'now' ? FROM_NOW : FROM_THE_BEGINNING, new Map(), 'the watch starts there');
  }

  /** Stops asking the nodes; the reader's loop ends once it has taken what was already told. */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WatchEvent> {
    try {
      for (;;) {
        const event = this.queue.shift();
        if (event !== undefined) {
          this.room.shift()?.();
          yield event;
          continue;
        }
        if (this.failure !== undefined) throw this.failure;
        if (this.closed) return;
        await new Promise<void>((resolve) => {
          this.reader = resolve;
        });
      }
    } finally {
      this.close();
    }
  }

  /**
   * Plans the pieces by the client's placement and follows each; `kept`:
   * where followers of the last plan were, by piece; `why`: the reason a
   * piece read from the beginning gives.
   */
  private follow(startAt: FeedPosition, kept: Map<string, Follow>, why: string): void {
    const plan = ++this.plan;
    this.planEpoch = this.epochOf();
    const pieces = piecesOf(this.client.placement!, this.start, this.end);
    const now = new Map<string, Follow>();
    for (const piece of pieces) {
      const name = `${piece.from}\u0000${piece.to ?? ''}`;
      const before = kept.get(name);
      // Where the piece and its node are unchanged, the follower goes on where it was; elsewhere it starts over.
      const state: Follow =
        before !== undefined && piece.reads.includes(before.node)
          ? before
          : { node: piece.reads[0]!, position: kept.size === 0 ? startAt : FROM_THE_BEGINNING, syncing: false };
      now.set(name, state);
      void this.followPiece(piece, state, plan, now, why);
    }
  }

  private async followPiece(piece: Piece, state: Follow, plan: number, all: Map<string, Follow>, why: string): Promise<void> {
    const start = fromByteString(piece.from);
    const end = piece.to === undefined ? undefined : fromByteString(piece.to);
    let failures = 0;
    let delay = WATCH_RETRY_DELAY_MS;
    // Why the piece is read from the beginning: told once a node answers, so that an outage is not a stream of resyncs.
    let resync = state.position.afterSeq === 0 && !state.syncing ? why : undefined;
    while (this.live(plan)) {
      let page: FeedPage;
      try {
        page = await this.client.changesPage(state.node, start, end ?? Buffer.alloc(0), state.position, this.limit, this.waitMs);
      } catch (err) {
        const e = toKvError(err);
        if (e.code === 'InvalidRequest') return this.fail(e);
        if (this.client.isClosed) return this.fail(new KvError('ConnectionError', 'the watch ended: its client was closed'));
        if (!this.live(plan)) return;
        // Another replica, from the beginning of its log; after each has failed once, wait before going round again.
        const from = state.node;
        state.node = piece.reads[(piece.reads.indexOf(from) + 1) % piece.reads.length]!;
        state.position = FROM_THE_BEGINNING;
        if (++failures % piece.reads.length === 0) {
          await sleep(delay);
          delay = Math.min(delay * 2, WATCH_RETRY_DELAY_MAX_MS);
        }
        if (await this.replanned(plan, all)) return;
        resync = `node ${from} failed (${e.message})`;
        continue;
      }
      failures = 0;
      delay = WATCH_RETRY_DELAY_MS;
      if (!this.live(plan)) return;
      if (page.restarted) resync = `node ${state.node}'s log started again (a restart, or a purged deletion)`;
      if (resync !== undefined) {
        state.syncing = true;
        await this.tell({ type: 'resync', start, end, node: state.node, reason: resync });
        resync = undefined;
      }
      for (const c of page.changes) {
        await this.tell({
          type: 'change',
          key: c.key,
          value: c.value,
          deleted: c.deleted,
          ts: c.ts,
          expiresUs: c.expiresUs,
          node: state.node,
        });
      }
      state.position = { incarnation: page.incarnation, afterSeq: page.position };
      if (state.syncing && page.caughtUp) {
        state.syncing = false;
        await this.tell({ type: 'synced', start, end, node: state.node });
      }
      if (page.epoch > this.planEpoch && (await this.replanned(plan, all))) return;
    }
  }

  /**
   * Asks the client for the ring now; when it is newer than the one the
   * pieces were cut by (learned now, or already by the client's own
   * learner), plans again, keeping where the followers were. True when this
   * follower's plan is over.
   */
  private async replanned(plan: number, all: Map<string, Follow>): Promise<boolean> {
    await this.client.refreshRing().catch(() => undefined);
    if (!this.live(plan)) return true;
    if (this.epochOf() === this.planEpoch) return false;
    this.follow(FROM_THE_BEGINNING, all, `the ring moved (epoch ${this.planEpoch} to ${this.epochOf()})`);
    return true;
  }

  private epochOf(): number {
    return this.client.placement?.epoch ?? 0;
  }

  private live(plan: number): boolean {
    return !this.closed && this.failure === undefined && plan === this.plan;
  }

  /** Queues an event for the reader, waiting while WATCH_BUFFERED_CHANGES_MAX are queued. */
  private async tell(event: WatchEvent): Promise<void> {
    while (this.queue.length >= WATCH_BUFFERED_CHANGES_MAX && !this.closed) {
      await new Promise<void>((resolve) => this.room.push(resolve));
    }
    if (this.closed) return;
    this.queue.push(event);
    const reader = this.reader;
    this.reader = undefined;
    reader?.();
  }

  private fail(e: KvError): void {
    this.failure ??= e;
    this.wakeAll();
  }

  private wakeAll(): void {
    const reader = this.reader;
    this.reader = undefined;
    reader?.();
    for (const r of this.room.splice(0)) r();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
