/**
 * One placement of a read at its coordinator: asks as many live replicas as
 * the level needs (the list starts at this node when it is one), asks the
 * next live one when one fails or is slow (speculation.ts), and once enough
 * have answered takes the newest version; responders that returned
 * something older are repaired with it first (when more than one
 * answered), or the read is placed again after a replica refused it as
 * placed by a stale epoch (both the coordinator's, through ReadRoundDeps).
 *
 * One object per read, with its answers in two short arrays: every QUORUM
 * read comes here, and a read built from a dozen closures, a Map and a
 * promise per step made garbage enough that the collector took about a
 * tenth of a node's main thread under QUORUM reads (docs/benchmarks.md).
 */
import type { HybridClock } from '../clock/hlc';
import type { Time, Timer } from '../clock/time';
import { isKvError, timedOut } from '../common/errors';
import type { KnownBugs } from '../common/known-bugs';
import { compareVersions, newest, Version } from '../storage/version';
import type { LevelName } from './levels';
import type { Replica } from './replica';
import type { SpeculationDelay } from './speculation';
import { describeVersion, nodeList, Trace } from './trace';

/** A replica's refusal of a request placed by a stale epoch: who, and the epoch it is at. */
export interface Refusal {
  readonly id: number;
  readonly epoch: number;
}

/** What every read round needs from its coordinator; made once per coordinator. */
export interface ReadRoundDeps {
  readonly selfId: number;
  readonly readLocal: (key: string) => Version | undefined;
  readonly replica: (id: number) => Replica;
  readonly time: Time;
  readonly timeoutMs: number;
  readonly clock: HybridClock;
  readonly bugs: KnownBugs | undefined;
  /** `timeouts` counted when a round gives up, `speculativeReads` when it asks one replica more than the level needs. */
  readonly counters: { timeouts: number; speculativeReads: number };
  /** How long a read waits for its replicas before it asks one more (speculation.ts). */
  readonly speculation: SpeculationDelay;
  /** Brings the stale responders up to `winner`, or rejects (Coordinator.repair). */
  readonly repair: (key: string, winner: Version, stale: number[], deadline: number, level: LevelName, need: number) => Promise<void>;
  /** After a refusal: the read placed again, or `asItStood` (Coordinator.readAgain). */
  readonly readAgain: ReadAgain;
}

/** Places a read again after `refusal` once the coordinator took up a newer epoch than `placedAt`; else answers `asItStood`. */
export type ReadAgain = (
  refusal: Refusal,
  key: string,
  level: LevelName,
  placedAt: number,
  attempt: number,
  asItStood: () => Version | undefined,
  trace: Trace | undefined,
) => Promise<Version | undefined>;

export interface ReadPlan {
  readonly key: string;
  readonly level: LevelName;
  /** The live read replicas, this node first when it is one. */
  readonly up: readonly number[];
  readonly need: number;
  /** The epoch the read was placed at, and how many times it was placed before. */
  readonly epoch: number;
  readonly attempt: number;
  /** Given when the request is traced: each step is noted in it. */
  readonly trace?: Trace | undefined;
}

export class ReadRound {
  /** Who answered, and what, in the order the answers came. */
  private readonly ids: number[] = [];
  private readonly versions: (Version | undefined)[] = [];
  private next = 0;
  private failed = 0;
  private settled = false;
  private readonly deadline: number;
  private timer: Timer | undefined;
  /** The first replica that refused the read as placed by a stale epoch. */
  private refusal: Refusal | undefined;
  /** When the speculative ask is due (monotonic ms), if it is to be made. */
  private speculateAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly deps: ReadRoundDeps,
    private readonly plan: ReadPlan,
    private readonly resolve: (v: Version | undefined | Promise<Version | undefined>) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.deadline = deps.time.monotonicMs() + deps.timeoutMs;
  }

  /**
   * Sends the first `need` asks, and arms one timer: for the speculative ask
   * when a replica is left to ask and the policy waits less than the
   * timeout, else for the timeout. A read answered in time costs one timer,
   * as it did before speculation.
   */
  start(): void {
    const { time, timeoutMs, speculation } = this.deps;
    const delay = this.plan.up.length > this.plan.need ? speculation.delayMs : Number.POSITIVE_INFINITY;
    if (delay === 0) this.deps.counters.speculativeReads++;
    const asks = delay === 0 ? this.plan.need + 1 : this.plan.need;
    if (delay > 0 && delay < timeoutMs) {
      this.speculateAt = this.deadline - timeoutMs + delay;
      this.timer = time.after(delay, () => this.slow());
    } else {
      this.timer = time.after(timeoutMs, () => this.expired());
    }
    for (let i = 0; i < asks && !this.settled; i++) this.ask();
  }

  /**
   * The speculative wait passed: ask one more replica, after this turn's I/O
   * (a coordinator whose event loop stalled fires every such timer at once,
   * while the answers that would settle those reads wait in its sockets),
   * and wait for the rest of the timeout.
   */
  private slow(): void {
    if (this.settled) return;
    const { time } = this.deps;
    const now = time.monotonicMs();
    // Node counts a timer from the event loop's time at the start of the turn that set it, which under load is
    // milliseconds old: a wait of a few ms can end at the next turn. Without this, 14% of QUORUM reads at 2,000 a
    // second speculated where the 99th percentile asks for 1% (docs/benchmarks.md).
    if (now < this.speculateAt) {
      this.timer = time.after(this.speculateAt - now, () => this.slow());
      return;
    }
    this.timer = time.after(Math.max(0, this.deadline - now), () => this.expired());
    time.soon(() => {
      if (this.settled || this.next >= this.plan.up.length) return;
      this.deps.counters.speculativeReads++;
      this.plan.trace?.note(`${this.ids.length} of ${this.plan.need} answers so far: asks one replica more (speculative retry)`);
      this.ask();
    });
  }

  private ask(): void {
    const id = this.plan.up[this.next++]!;
    // This node's own copy is read at once: it cannot fail or be slow.
    if (id === this.deps.selfId) return this.answer(id, this.deps.readLocal(this.plan.key));
    this.plan.trace?.note(`asks node ${id}`);
    const { speculation, time } = this.deps;
    const asked = speculation.measures ? time.monotonicMs() : 0;
    this.deps
      .replica(id)
      .read(this.plan.key)
      .then(
        (v) => {
          if (speculation.measures) speculation.record(time.monotonicMs() - asked);
          this.answer(id, v);
        },
        (err: unknown) => this.askFailed(id, err),
      );
  }

  private answer(id: number, v: Version | undefined): void {
    this.plan.trace?.note(`${id === this.deps.selfId ? `its own copy (node ${id})` : `node ${id}`} holds ${describeVersion(v)}`);
    if (this.settled) return;
    this.ids.push(id);
    this.versions.push(v);
    if (this.ids.length < this.plan.need) return;
    this.settled = true;
    this.timer?.cancel();
    this.answered();
  }

  private askFailed(id: number, err: unknown): void {
    if (isKvError(err, 'StaleEpoch')) this.refusal ??= { id, epoch: err.details.epoch ?? 0 };
    this.plan.trace?.note(`node ${id} failed: ${(err as Error).message}`);
    if (this.settled) return;
    this.failed++;
    const { up, need, level } = this.plan;
    if (this.next < up.length) return this.ask();
    if (up.length - this.failed >= need) return;
    this.settled = true;
    this.timer?.cancel();
    this.deps.counters.timeouts++;
    this.fail(timedOut(`${level} read got ${this.ids.length} of ${need} replica answers; ${this.failed} failed`, this.ids.length, need));
  }

  private expired(): void {
    if (this.settled) return;
    this.settled = true;
    this.deps.counters.timeouts++;
    const { level, need } = this.plan;
    const got = this.ids.length;
    this.plan.trace?.note(`timed out with ${got} of ${need} answers`);
    this.fail(timedOut(`${level} read got ${got} of ${need} replica answers within ${this.deps.timeoutMs} ms`, got, need));
  }

  /** Enough answers: the newest wins; older responders are repaired first (when more than one answered). */
  private answered(): void {
    if (this.deps.bugs?.readSkipsNewest) skipNewest(this.ids, this.versions);
    let winner: Version | undefined;
    for (const v of this.versions) winner = newest(winner, v);
    this.plan.trace?.note(`newest of ${nodeList(this.ids)}: ${describeVersion(winner)}`);
    if (winner === undefined) return this.finish(winner);
    this.deps.clock.observe(winner.ts);
    const { key, level, need } = this.plan;
    // One answer has nothing to repair; a ONE read of a range with pending replicas asks two (Coordinator.placement).
    const stale = need === 1 ? undefined : staleOf(this.ids, this.versions, winner);
    if (stale === undefined) return this.finish(winner);
    this.plan.trace?.note(`read repair: sends it to ${nodeList(stale)}, which answered older or nothing`);
    const won = winner;
    this.deps.repair(key, won, stale, this.deadline, level, need).then(
      () => {
        this.plan.trace?.note('read repair acknowledged');
        this.finish(won);
      },
      (err: unknown) => {
        this.plan.trace?.note(`read repair failed: ${(err as Error).message}`);
        this.fail(err);
      },
    );
  }

  /** A refusal seen on the way: take up the newer epoch and read again, or keep the outcome as it stood. */
  private finish(winner: Version | undefined): void {
    if (this.refusal === undefined) return this.resolve(winner);
    this.resolve(this.again(() => winner));
  }

  private fail(err: unknown): void {
    if (this.refusal === undefined) return this.reject(err);
    this.resolve(
      this.again(() => {
        throw err;
      }),
    );
  }

  private again(asItStood: () => Version | undefined): Promise<Version | undefined> {
    const { key, level, epoch, attempt, trace } = this.plan;
    return this.deps.readAgain(this.refusal!, key, level, epoch, attempt, asItStood, trace);
  }
}

/** The responders that answered with something older than `winner` (or nothing); undefined when none did. */
function staleOf(ids: readonly number[], versions: readonly (Version | undefined)[], winner: Version): number[] | undefined {
  let stale: number[] | undefined;
  for (let i = 0; i < ids.length; i++) {
    const v = versions[i];
    if (v === undefined || compareVersions(v, winner) !== 0) (stale ??= []).push(ids[i]!);
  }
  return stale;
}

/**
 * The known bug `readSkipsNewest`: a replica that alone holds the newest
 * version is left out of the read, as if its answer had been lost.
 */
function skipNewest(ids: number[], versions: (Version | undefined)[]): void {
  let top: Version | undefined;
  for (const v of versions) top = newest(top, v);
  const holders: number[] = [];
  versions.forEach((v, i) => {
    if (v !== undefined && top !== undefined && compareVersions(v, top) === 0) holders.push(i);
  });
  if (holders.length === 1 && ids.length > 1) {
    ids.splice(holders[0]!, 1);
    versions.splice(holders[0]!, 1);
  }
}
