/**
 * Ordered range scans: the live keys of [start, end) in byte order, across
 * as many ranges and nodes as it takes, a page per call.
 *
 * The ring is byte-ordered, so the keys of a scan lie in consecutive ranges
 * (Ring.rangeOf). One call walks them in order: for the range holding its
 * position it asks as many live replicas as the level needs (this node
 * first when it is one, then clockwise, the next live one when one fails)
 * for their keys from the position on (and, as a point read does, as many
 * more as the range has pending replicas, from its write replicas), merges
 * their pages (scan-merge.ts: newest version wins, tombstones and expired
 * values hidden), repairs the replicas that were behind before it answers
 * (as a point read does), and
 * goes on from where the merge was decided. A call stops at its limit of
 * keys, at SCAN_ROUNDS_MAX rounds of replica pages (a range of tombstones
 * must not hold a node for long), or at SCAN_REPLY_BYTES_MAX, and answers
 * with a cursor: the last key it is done with. The next call goes on after it.
 *
 * A round speculates as a point read does (speculation.ts): a replica slow
 * to send its page does not hold the round until the timeout while another
 * live replica could send it; the wait is measured on replica pages, which
 * take longer than point reads.
 */
import { assert } from '../common/assert';
import { KvError, timedOut } from '../common/errors';
import { SCAN_REPLICA_PAGE_BYTES_MAX, SCAN_REPLICA_PAGE_KEYS_MAX, SCAN_REPLY_BYTES_MAX, SCAN_ROUNDS_MAX } from '../common/limits';
import type { Time } from '../clock/time';
import type { PlacedRange, Placement } from '../membership/placement';
import { compareKeyStrings, displayKey } from '../common/bytes';
import { counted } from '../common/words';
import type { KeyedVersion } from '../storage/version';
import type { HintSink } from './coordinator';
import { LevelName, unreachableLevel, writeAcksNeeded } from './levels';
import type { Replica } from './replica';
import { MergedKey, mergePages, ReplicaPage, type ScanRow, takeLive } from './scan-merge';
import type { SpeculationDelay } from './speculation';
import { nodeList, Trace } from './trace';

/** A replica that can also list its keys of a range. */
export interface RangeReplica extends Replica {
  /** Its versions of the keys in [from, to) (to undefined: no end), in order, tombstones included, at most `limit` or about `bytesMax`. */
  readRange(from: string, to: string | undefined, limit: number, bytesMax: number): Promise<ReplicaPage>;
}

export interface RangeScanDeps {
  readonly selfId: number;
  /** The current epoch's placement: each round reads its range's read replicas as this node knows them then. */
  readonly placement: () => Placement;
  readonly replicas: ReadonlyMap<number, RangeReplica>;
  readonly isUp: (id: number) => boolean;
  readonly hints: HintSink;
  /** Folds a timestamp read into this node's hybrid clock, as point reads do. */
  readonly observe: (ts: number) => void;
  readonly time: Time;
  readonly timeoutMs: number;
  /** True while this node catches up (repair/repairer.ts): its own copy then counts towards no scan. */
  readonly catchingUp?: () => boolean;
  /** How long a round waits for a replica's page before it asks one replica more; none: until the timeout. */
  readonly speculation?: SpeculationDelay;
}

export interface ScanRequest {
  readonly start: string;
  /** Exclusive; undefined: to the last key. */
  readonly end: string | undefined;
  readonly level: LevelName;
  readonly limit: number;
  /** The cursor of the previous page: go on after this key. */
  readonly cursor: string | undefined;
}

export interface ScanPage {
  readonly rows: ScanRow[];
  /** Where the next call goes on (after this key), when there may be more. */
  readonly cursor: string | undefined;
}

export interface ScanCounters {
  scans: number;
  scanRounds: number;
  scanKeysReturned: number;
  scanRepairs: number;
  /** Rounds that asked one replica more than the level needs, because one asked was slow. */
  scanSpeculations: number;
}

/** "1 key", "2 keys": a count as a trace line says it. */

/** The least key greater than `key`. */
const after = (key: string): string => `${key}\u0000`;

/** The earlier of two exclusive ends (undefined: none). */
function earlierEnd(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareKeyStrings(a, b) <= 0 ? a : b;
}

export class RangeScanner {
  readonly counters: ScanCounters = { scans: 0, scanRounds: 0, scanKeysReturned: 0, scanRepairs: 0, scanSpeculations: 0 };

  constructor(private readonly deps: RangeScanDeps) {}

  /** One page of a scan; `trace`: a traced scan's steps (trace.ts), noted round by round. */
  async scan(req: ScanRequest, trace?: Trace): Promise<ScanPage> {
    if (trace === undefined) return this.page(req, undefined);
    trace.note(
      `${req.level} scan from ${displayKey(req.cursor ?? req.start)}${req.end === undefined ? '' : ` to ${displayKey(req.end)}`}, at most ${req.limit} keys`,
    );
    const page = await this.page(req, trace);
    trace.note(
      `answers with ${counted(page.rows.length, 'key')}${page.cursor === undefined ? ', the scan done' : `, more after ${displayKey(page.cursor)}`}`,
    );
    return page;
  }

  private async page(req: ScanRequest, trace: Trace | undefined): Promise<ScanPage> {
    this.counters.scans++;
    const unreachable = unreachableLevel(req.level, this.deps.placement().replicationFactor);
    if (unreachable !== undefined) throw new KvError('InvalidRequest', unreachable);
    const deadline = this.deps.time.monotonicMs() + this.deps.timeoutMs;
    const rows: ScanRow[] = [];
    let bytes = 0;
    let from = req.cursor === undefined ? req.start : after(req.cursor);
    for (let round = 0; ; round++) {
      if (req.end !== undefined && compareKeyStrings(from, req.end) >= 0) return { rows, cursor: undefined };
      const placement = this.deps.placement();
      const walk = placement.walkFrom(from);
      const to = earlierEnd(walk.end, req.end);
      const want = Math.min(SCAN_REPLICA_PAGE_KEYS_MAX, req.limit - rows.length);
      const merged = await this.readRange(walk.range, placement.replicationFactor, from, to, want, req.level, deadline, round, trace);
      const taken = takeLive(merged.keys, req.limit - rows.length, this.deps.time.nowMs() * 1000);
      trace?.note(`${counted(merged.keys.length, 'key')} merged, ${taken.rows.length} of them live and taken`);
      for (const row of taken.rows) {
        rows.push(row);
        bytes += row.key.length + row.value.length;
      }
      this.counters.scanKeysReturned += taken.rows.length;
      if (taken.cut) return { rows, cursor: taken.last };
      const lastRange = to === undefined || to === req.end;
      // A full page says "more" unless this round read the scan's last range to its end (no replica stopped early).
      if (rows.length === req.limit) return { rows, cursor: lastRange && merged.frontier === undefined ? undefined : taken.last };
      // Done up to the frontier, or with the whole range.
      let doneThrough: string | undefined;
      if (merged.frontier !== undefined) {
        doneThrough = merged.frontier;
      } else {
        if (lastRange) return { rows, cursor: undefined };
        // A range ends at token + NUL: done through the token.
        assert(to.endsWith('\u0000'), "a range's end is its token + NUL");
        doneThrough = to.slice(0, -1);
      }
      if (round + 1 >= SCAN_ROUNDS_MAX || bytes >= SCAN_REPLY_BYTES_MAX) return { rows, cursor: doneThrough };
      from = after(doneThrough);
    }
  }

  /**
   * One round: the pages of `need` live replicas of one range, merged, and
   * the replicas that were behind repaired. A range with pending replicas is
   * read as a point read reads it (Coordinator.placement): the level's count
   * plus the pending ones, from its write replicas.
   */
  private async readRange(
    range: PlacedRange,
    replicationFactor: number,
    from: string,
    to: string | undefined,
    limit: number,
    level: LevelName,
    deadline: number,
    round: number,
    trace: Trace | undefined,
  ): Promise<{ keys: MergedKey[]; frontier: string | undefined }> {
    this.counters.scanRounds++;
    const replicas = range.writes;
    const need = writeAcksNeeded(level, replicationFactor, range.pending);
    const self = replicas.indexOf(this.deps.selfId);
    const ordered = self > 0 ? [...replicas.slice(self), ...replicas.slice(0, self)] : [...replicas];
    const selfCatchingUp = this.deps.catchingUp?.() === true;
    const up = ordered.filter((id) => this.deps.isUp(id) && !(selfCatchingUp && id === this.deps.selfId));
    trace?.note(
      `round ${round + 1}: from ${displayKey(from)}${to === undefined ? '' : ` up to ${displayKey(to)}`}: ${need} of ${nodeList(ordered)} needed, up: ${nodeList(up)}`,
    );
    if (up.length < need) {
      throw new KvError(
        'Unavailable',
        `${level} needs ${need} of the ${replicas.length} replicas of the range from ${JSON.stringify(from)}${range.pending > 0 ? ` (${range.pending} of them pending)` : ''} but only ${up.length} ${up.length === 1 ? 'is' : 'are'} up`,
        { required: need, alive: up.length },
      );
    }
    const pages = await this.askPages(
      up,
      need,
      (id) => this.replica(id).readRange(from, to, limit, SCAN_REPLICA_PAGE_BYTES_MAX),
      level,
      deadline,
      trace,
    );
    const merged = mergePages(pages.map((p) => p.page));
    for (const k of merged.keys) this.deps.observe(k.version.ts);
    await this.repair(
      merged.keys,
      pages.map((p) => p.id),
      level,
      deadline,
      trace,
    );
    return merged;
  }

  private replica(id: number): RangeReplica {
    const r = this.deps.replicas.get(id);
    assert(r !== undefined, `a replica client for every node of the ring (node ${id})`);
    return r;
  }

  /**
   * Pages from `need` of `up`, in order, asking the next one when one fails
   * and, once, when they are slower than the speculative wait; TimedOut at
   * the deadline.
   */
  private askPages(
    up: readonly number[],
    need: number,
    ask: (id: number) => Promise<ReplicaPage>,
    level: LevelName,
    deadline: number,
    trace: Trace | undefined,
  ): Promise<Array<{ id: number; page: ReplicaPage }>> {
    const { time, speculation } = this.deps;
    return new Promise((resolve, reject) => {
      const got: Array<{ id: number; page: ReplicaPage }> = [];
      let next = 0;
      let failed = 0;
      let done = false;
      let slowTimer: { cancel(): void } | undefined;
      const finish = (err?: KvError): void => {
        if (done) return;
        done = true;
        timer.cancel();
        slowTimer?.cancel();
        if (err === undefined) resolve(got);
        else reject(err);
      };
      const timer = time.after(Math.max(0, deadline - time.monotonicMs()), () =>
        finish(timedOut(`${level} scan got ${got.length} of ${need} replica pages within ${this.deps.timeoutMs} ms`, got.length, need)),
      );
      const tryNext = (): void => {
        const id = up[next++]!;
        trace?.note(`asks node ${id}`);
        const askedAt = time.monotonicMs();
        ask(id).then(
          (page) => {
            if (speculation?.measures) speculation.record(time.monotonicMs() - askedAt);
            trace?.note(`node ${id} sent ${counted(page.entries.length, 'version')}${page.more ? ', and has more' : ''}`);
            got.push({ id, page });
            if (got.length === need) finish();
          },
          (err: unknown) => {
            failed++;
            trace?.note(`node ${id} failed: ${(err as Error).message ?? String(err)}`);
            if (next < up.length) tryNext();
            else if (up.length - failed < need)
              finish(timedOut(`${level} scan got ${got.length} of ${need} replica pages; ${failed} failed`, got.length, need));
          },
        );
      };
      const askOneMore = (): void => {
        if (done || next >= up.length) return;
        this.counters.scanSpeculations++;
        trace?.note(`${got.length} of ${need} pages so far: asks one replica more (speculative retry)`);
        tryNext();
      };
      const delay = up.length > need && speculation !== undefined ? speculation.delayMs : Number.POSITIVE_INFINITY;
      for (let i = 0; i < need; i++) tryNext();
      if (delay === 0) askOneMore();
      else if (delay < deadline - time.monotonicMs()) {
        const at = time.monotonicMs() + delay;
        // Checked against the monotonic clock, as ReadRound.slow does: a Node timer may end early under load.
        const slow = (): void => {
          const now = time.monotonicMs();
          if (now < at) slowTimer = time.after(at - now, slow);
          else time.soon(askOneMore);
        };
        slowTimer = time.after(delay, slow);
      }
    });
  }

  /** Brings every replica that was behind on a merged key up to its winner, or fails with TimedOut (hinting it). */
  private async repair(
    keys: readonly MergedKey[],
    ids: readonly number[],
    level: LevelName,
    deadline: number,
    trace: Trace | undefined,
  ): Promise<void> {
    const byReplica = new Map<number, KeyedVersion[]>();
    for (const { key, version, stale } of keys) {
      for (const p of stale) {
        const id = ids[p]!;
        let items = byReplica.get(id);
        if (items === undefined) byReplica.set(id, (items = []));
        items.push({ key, version });
      }
    }
    if (byReplica.size === 0) return;
    for (const items of byReplica.values()) this.counters.scanRepairs += items.length;
    for (const [id, items] of byReplica) trace?.note(`repairs node ${id}: ${counted(items.length, 'version')} it was behind on`);
    const repairs = [...byReplica].map(([id, items]) => this.replica(id).apply(items));
    let timer: { cancel(): void } | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = this.deps.time.after(Math.max(0, deadline - this.deps.time.monotonicMs()), () =>
        reject(timedOut(`${level} scan could not repair ${byReplica.size} replica(s) within ${this.deps.timeoutMs} ms`, 0, byReplica.size)),
      );
    });
    try {
      await Promise.race([Promise.all(repairs), expired]);
    } catch (err) {
      for (const [id, items] of byReplica) void this.deps.hints.add(id, items);
      throw err instanceof KvError && err.code === 'TimedOut'
        ? err
        : timedOut(`${level} scan could not repair a replica that was behind`, 0, byReplica.size);
    } finally {
      timer?.cancel();
    }
  }
}
