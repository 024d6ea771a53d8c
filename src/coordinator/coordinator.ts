/**
 * The coordinator: any node, for any key. It finds the key's replicas in the
 * current epoch's placement (reads and writes may differ while a node joins,
 * leaves or moves), checks the failure detector, and runs the request against them.
 *
 * Write: refuse with Unavailable (writing nothing) if fewer replicas are up
 * than the level needs; otherwise stamp the version with the hybrid clock,
 * send it to every live replica at once and answer when the level's count has
 * acknowledged and every replica not reached yet is covered by a hint or a
 * mark (write-round.ts). A write that misses its level is reported as TimedOut and
 * is NOT rolled back: replicas that applied it keep it, and it may still win
 * later (undoing it would need a second write that can itself fail half-way,
 * and would erase a version a concurrent reader may already have returned).
 *
 * Read: ask as many live replicas as the level needs (this node first when it
 * is one, then clockwise from it), asking the next live one when one fails;
 * return the newest version.
 * When more than one replica answered, those that returned something older
 * are repaired with the newest version before the read answers (blocking
 * read repair), so a later QUORUM read cannot return anything older than
 * this one did.
 *
 * While a membership operation runs, a range may have pending replicas (on
 * one of its two rings and not the other; membership/placement.ts). A read
 * is placed as a write is: the level's count plus the pending ones, among
 * the write replicas, all of them repaired. What it returned is then held
 * by the level's count of replicas on either ring, as an acknowledged
 * write is, and no read after the reads-switch can miss it. A read of the
 * read replicas alone could: the new ring keeps only some of the replicas
 * it read, and the new replica may have had the value only as a hint, which
 * the reads-switch does not wait for (docs/ARCHITECTURE.md; Cassandra's
 * CASSANDRA-14740).
 */
import { assert } from '../common/assert';
import { isKvError, KvError, timedOut } from '../common/errors';
import { HybridClock } from '../clock/hlc';
import { systemTime, Time, Timer } from '../clock/time';
import type { KnownBugs } from '../common/known-bugs';
import { EPOCH_RETRIES_MAX } from '../common/limits';
import type { Placement } from '../membership/placement';
import { parseSpeculativeRetry, SPECULATIVE_RETRY_DEFAULT, SpeculativeRetry } from '../config/speculative-retry';
import { KeyedVersion, Version } from '../storage/version';
import { Replica } from './replica';
import { LevelName, requiredReplicas, unreachableLevel, writeAcksNeeded, WriteLevelName } from './levels';
import { ReadAgain, ReadRound, ReadRoundDeps, Refusal } from './read-round';
import { SpeculationDelay } from './speculation';
import { describeVersion, nodeList, Trace } from './trace';
import { MarkedLog, WriteRound, WriteRoundDeps } from './write-round';

export interface HintSink {
  /**
   * Stores hints; resolves once they are durable, with true, or with false
   * when they were dropped (a full queue, a failed commit), which the store
   * counts. Only an ANY write needs to know (write-round.ts): for the other
   * levels a hint is best effort. `acknowledged`: whether a replica already
   * holds the items (a write's), when known; where a hint for a node that
   * left the ring goes instead (hints/hint-router.ts).
   */
  add(target: number, items: readonly KeyedVersion[], acknowledged?: (id: number) => boolean): Promise<boolean>;
}

export interface CoordinatorDeps {
  readonly selfId: number;
  /** The current epoch's placement (membership/placement.ts): read per request, so a new epoch takes effect at once. */
  readonly placement: () => Placement;
  readonly replicas: ReadonlyMap<number, Replica>;
  readonly isUp: (id: number) => boolean;
  readonly hints: HintSink;
  readonly clock: HybridClock;
  readonly timeoutMs: number;
  /** This node's own replica, read directly (it cannot fail or time out). */
  readonly readLocal: (key: string) => Version | undefined;
  /** This node's own replica for the writes it coordinates; without it a write waits for every replica or its hint (see WriteRound). */
  readonly marked?: MarkedLog;
  /** Clocks and timers (systemTime unless simulated). */
  readonly time?: Time;
  /** Known bugs put back on purpose, for the simulator's own tests only (see common/known-bugs.ts). */
  readonly bugs?: KnownBugs;
  /**
   * Hints are off (hintWindowSeconds 0): they are dropped, never handed
   * over, so none is a copy of a write, and an ANY write needs one replica
   * as ONE does.
   */
  readonly hintsOff?: boolean;
  /** True while this node catches up (repair/repairer.ts): its own copy then counts towards no read. */
  readonly catchingUp?: () => boolean;
  /**
   * Takes up the membership log from a replica that refused a request as
   * placed by a stale epoch, until this node holds `epoch` or a bounded wait
   * passed. Without it a refusal counts as a failed replica, nothing more.
   */
  readonly catchUp?: (peer: number, epoch: number) => Promise<void>;
  /** When a read asks one replica more than its level needs (speculation.ts); the setting's default unless given. */
  readonly speculativeRetry?: SpeculativeRetry;
}

type Placed = { up: number[]; down: number[]; need: number; epoch: number };

export interface CoordinatorCounters {
  writes: number;
  reads: number;
  unavailable: number;
  timeouts: number;
  readRepairs: number;
  hintsQueued: number;
  /** Requests placed again after a replica refused them as placed by a stale epoch. */
  staleEpochRetries: number;
  /** Reads that asked one replica more than their level needs, as one asked was slow (or at once, under ALWAYS). */
  speculativeReads: number;
}

export class Coordinator {
  readonly counters: CoordinatorCounters = {
    writes: 0,
    reads: 0,
    unavailable: 0,
    timeouts: 0,
    readRepairs: 0,
    hintsQueued: 0,
    staleEpochRetries: 0,
    speculativeReads: 0,
  };

  /** Write rounds whose sends may still land, by the epoch they were placed at (see settledEpoch). */
  private readonly roundsByEpoch = new Map<number, number>();
  /** What every WriteRound needs from here, made at the first write (reads never need it). */
  private writeDeps: WriteRoundDeps | undefined;
  /** What every ReadRound needs from here, made at the first read that is not local. */
  private readDeps: ReadRoundDeps | undefined;

  constructor(private readonly deps: CoordinatorDeps) {}

  private get time(): Time {
    return this.deps.time ?? systemTime;
  }

  /**
   * The key's replicas split by the failure detector: its write replicas
   * (pending ones included, and each of those adds one to what the level
   * needs) or its read replicas. When this node is one,
   * the list starts at it and goes on clockwise round the ring (the replicas
   * after it, then those before): a read asks this node, then the next
   * replica clockwise. With three replicas, a node's QUORUM reads then go to
   * two peers (the next node for the ranges it owns or follows, the owner
   * two places back for the third range; with four nodes, the two nodes
   * after it) instead of three, so each event-loop turn sends two internode
   * batches instead of three, each larger.
   */
  private placement(key: string, level: WriteLevelName, writing: boolean): Placed {
    const placement = this.deps.placement();
    const range = placement.rangeOf(key);
    const rf = placement.replicationFactor;
    const unreachable = unreachableLevel(level, rf);
    if (unreachable !== undefined) throw new KvError('InvalidRequest', unreachable);
    // Reads are placed as writes are (see the file's header): on the write replicas, the level's count plus the
    // pending ones. Where no operation runs, the write replicas are the read replicas, in the same order.
    const bugs = this.deps.bugs;
    const withPending = !(writing ? bugs?.writesSkipPending : bugs?.readsSkipPending);
    const all = withPending ? range.writes : range.reads;
    const pending = withPending ? range.pending : 0;
    const need = level === 'ANY' && this.deps.hintsOff === true ? 1 : writeAcksNeeded(level, rf, pending);
    const selfId = this.deps.selfId;
    const start = Math.max(0, all.indexOf(selfId));
    const skipSelf = !writing && this.deps.catchingUp?.() === true;
    // One pass, from this node (when it is one) round the list: every request places its key, so no list is made twice.
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < all.length; i++) {
      const id = all[(start + i) % all.length]!;
      if (skipSelf && id === selfId) continue;
      (this.deps.isUp(id) ? up : down).push(id);
    }
    if (up.length < need) {
      this.counters.unavailable++;
      throw new KvError(
        'Unavailable',
        `${level} needs ${need} of the key's ${up.length + down.length} replicas${pending > 0 ? ` (${pending} of them pending)` : ''}${level === 'ANY' ? ' while hints are off (hintWindowSeconds 0)' : ''} but only ${up.length} ${up.length === 1 ? 'is' : 'are'} up`,
        { required: need, alive: up.length },
      );
    }
    return { up, down, need, epoch: placement.epoch };
  }

  /**
   * The newest epoch that no write of this node still runs under an older
   * one than: the current epoch, or the oldest epoch a write round whose
   * sends may still land was placed at. Before a range streams, every
   * coordinator must be past the epoch that did not send the range's writes
   * to its new replica, or a write could land on the old one after the
   * stream passed its key (EpochBarrier).
   */
  settledEpoch(): number {
    let oldest = this.deps.placement().epoch;
    for (const epoch of this.roundsByEpoch.keys()) oldest = Math.min(oldest, epoch);
    return oldest;
  }

  private roundStarted(epoch: number): () => void {
    this.roundsByEpoch.set(epoch, (this.roundsByEpoch.get(epoch) ?? 0) + 1);
    return () => {
      const left = this.roundsByEpoch.get(epoch)! - 1;
      if (left === 0) this.roundsByEpoch.delete(epoch);
      else this.roundsByEpoch.set(epoch, left);
    };
  }

  /**
   * The replica client of node `id`. A request placed before `id` left the
   * ring may still run once the node has dropped its link (KvNode.dropPeer):
   * a read asking the next replica after a failure, a read repair; for it
   * the node that left is one that does not answer.
   */
  private replica(id: number): Replica {
    const r = this.deps.replicas.get(id);
    if (r !== undefined) return r;
    assert(
      !this.deps.placement().ranges.some((range) => range.writes.includes(id)),
      `a replica client for every node of the ring (node ${id})`,
    );
    const left = (): Promise<never> => Promise.reject(new KvError('ConnectionError', `node ${id} has left the ring`));
    return { id, apply: left, read: left };
  }

  /** Stores a hint; resolves once it is durable (true) or the hint store gave up on it (false). */
  private hint(target: number, item: KeyedVersion, acknowledged?: (id: number) => boolean): Promise<boolean> {
    this.counters.hintsQueued++;
    return this.deps.hints.add(target, [item], acknowledged);
  }

  /**
   * Writes a value (or a tombstone when `deleted`); resolves with its
   * timestamp. See WriteRound for when. With `ttlSeconds` the value expires
   * that long after its timestamp.
   */
  write(key: string, value: string, deleted: boolean, level: WriteLevelName, ttlSeconds = 0, trace?: Trace): Promise<number> {
    const placed = this.placeWrite(key, level, deleted, trace);
    const ts = this.deps.clock.now();
    const version: Version = ttlSeconds > 0 ? { value, ts, deleted, expires: ts + ttlSeconds * 1_000_000 } : { value, ts, deleted };
    return this.writeRound({ key, version }, level, placed, 0, trace);
  }

  /**
   * Refuses with Unavailable, as `write` would, when fewer of the key's
   * replicas are up than the level needs; writes nothing. A batch checks
   * every key so before it logs anything (coordinator/batch-writer.ts).
   */
  checkWritable(key: string, level: WriteLevelName): void {
    this.placement(key, level, true);
  }

  /**
   * Writes a version stamped already (a batch's, which shares one
   * timestamp, or one written again from the batch log); as `write` does
   * otherwise. Writing the same version twice changes nothing the second
   * time: a replica that holds it merges it away.
   */
  writeVersion(item: KeyedVersion, level: WriteLevelName, trace?: Trace): Promise<number> {
    let placed: Placed;
    try {
      placed = this.placeWrite(item.key, level, item.version.deleted, trace);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writeRound(item, level, placed, 0, trace);
  }

  /** A write counted and placed, the placement (or why there is none) noted in its trace; throws as placement does. */
  private placeWrite(key: string, level: WriteLevelName, deleted: boolean, trace: Trace | undefined): Placed {
    this.counters.writes++;
    let placed: Placed;
    try {
      placed = this.placement(key, level, true);
    } catch (err) {
      trace?.note(`cannot place the write: ${(err as Error).message}`);
      throw err;
    }
    if (trace !== undefined) tracePlacement(trace, `${level} ${deleted ? 'remove' : 'write'}`, placed);
    return placed;
  }

  /**
   * One round of a write. A replica that refuses it as placed by a stale
   * epoch makes this node take up the log and place the same version again
   * (the same timestamp: a replica that has it already merges it away), at
   * most EPOCH_RETRIES_MAX times; the client waits for that round's answer.
   */
  private writeRound(item: KeyedVersion, level: WriteLevelName, placed: Placed, attempt: number, trace?: Trace): Promise<number> {
    const { up, down, need, epoch } = placed;
    const marked = up.includes(this.deps.selfId) ? this.deps.marked : undefined;
    this.writeDeps ??= {
      selfId: this.deps.selfId,
      replica: (id) => this.replica(id),
      hint: (target, hinted, acknowledged) => this.hint(target, hinted, acknowledged),
      timeoutMs: this.deps.timeoutMs,
      time: this.time,
      bugs: this.deps.bugs,
    };
    const landed = this.roundStarted(epoch);
    const round = new WriteRound(this.writeDeps, { item, level, up, down, need, marked, landed, trace });
    return round.answer.then(
      (ts) => (round.refusedAsStale === undefined ? ts : this.placeAgain(round, item, level, epoch, attempt, () => ts, trace)),
      (err: KvError) => {
        const failed = (): never => {
          this.counters.timeouts++;
          throw err;
        };
        return round.refusedAsStale === undefined ? failed() : this.placeAgain(round, item, level, epoch, attempt, failed, trace);
      },
    );
  }

  /** A round a replica refused as stale: placed again once this node took up a newer epoch, or answered as it stood. */
  private async placeAgain(
    round: WriteRound,
    item: KeyedVersion,
    level: WriteLevelName,
    placedAt: number,
    attempt: number,
    asItStood: () => number,
    trace: Trace | undefined,
  ): Promise<number> {
    const refusal = round.refusedAsStale!;
    trace?.note(`node ${refusal.id} refused the write as placed by an older ring (it is at epoch ${refusal.epoch})`);
    if (!(await this.tookUp(refusal, placedAt, attempt))) return asItStood();
    try {
      return await this.writeRound(item, level, this.placement(item.key, level, true), attempt + 1, trace);
    } catch (err) {
      // Unavailable promises that nothing was written, and the first round may have been: a replica that was
      // not stale took it. Its outcome is unknown, as a timeout's is.
      if (!isKvError(err, 'Unavailable')) throw err;
      const message = `${err.message}, after a replica had refused the write as placed by an older ring: it may have been applied`;
      throw timedOut(message, 0, err.details.required ?? 0);
    }
  }

  /** After a refusal: whether this node took up a newer epoch than the request was placed by, so that placing it again may help. */
  private async tookUp(refusal: Refusal, placedAt: number, attempt: number): Promise<boolean> {
    if (attempt >= EPOCH_RETRIES_MAX || this.deps.catchUp === undefined) return false;
    await this.deps.catchUp(refusal.id, refusal.epoch);
    if (this.deps.placement().epoch <= placedAt) return false;
    this.counters.staleEpochRetries++;
    return true;
  }

  /**
   * Whether this read is answered from this node's own copy alone: a level
   * that needs one replica, on a node that is one (and a node is always up to
   * itself). Counts the read when it is; the caller then reads the store.
   * This is read()'s first case, without the placement lists: the path of
   * every ONE read a token-aware client sends.
   */
  readsLocally(key: string, level: LevelName): boolean {
    const placement = this.deps.placement();
    if (requiredReplicas(level, placement.replicationFactor) !== 1) return false;
    const range = placement.rangeOf(key);
    if (range.pending > 0 || !range.reads.includes(this.deps.selfId)) return false;
    if (this.deps.catchingUp?.()) return false;
    this.counters.reads++;
    return true;
  }

  /**
   * Reads the newest version of a key at the level (undefined: none anywhere
   * asked). A replica that refuses it as placed by a stale epoch makes this
   * node take up the log and read again (at most EPOCH_RETRIES_MAX times).
   * Written with callbacks rather than `await` (ReadRound): a QUORUM read's
   * answer is settled in the callback of the last replica's answer, so the
   * common case (no repair, no refusal) costs no promise hop between them.
   */
  read(key: string, level: LevelName, trace?: Trace): Promise<Version | undefined> {
    this.counters.reads++;
    return this.readAttempt(key, level, 0, trace);
  }

  /** One placement of a read, and what follows its answers (read-round.ts: repair, or a read placed again). */
  private readAttempt(key: string, level: LevelName, attempt: number, trace?: Trace): Promise<Version | undefined> {
    let placed: Placed;
    try {
      placed = this.placement(key, level, false);
    } catch (err) {
      trace?.note(`cannot place the read: ${(err as Error).message}`);
      return Promise.reject(err);
    }
    const { up, need, epoch } = placed;
    if (trace !== undefined) tracePlacement(trace, `${level} read`, placed);
    // ONE on a replica: the answer is here, no need for the machinery below.
    if (need === 1 && up[0] === this.deps.selfId) {
      const v = this.deps.readLocal(key);
      trace?.note(`its own copy (node ${up[0]}) holds ${describeVersion(v)}`);
      return Promise.resolve(v);
    }
    const deps = this.readRoundDeps();
    const plan = { key, level, up, need, epoch, attempt, trace };
    return new Promise((resolve, reject) => new ReadRound(deps, plan, resolve, reject).start());
  }

  /** What every ReadRound needs from here, made at the first read that is not local. */
  private readRoundDeps(): ReadRoundDeps {
    this.readDeps ??= {
      selfId: this.deps.selfId,
      readLocal: this.deps.readLocal,
      replica: (id) => this.replica(id),
      time: this.time,
      timeoutMs: this.deps.timeoutMs,
      clock: this.deps.clock,
      bugs: this.deps.bugs,
      counters: this.counters,
      speculation: new SpeculationDelay(
        this.deps.speculativeRetry ?? parseSpeculativeRetry(SPECULATIVE_RETRY_DEFAULT)!,
        this.deps.timeoutMs,
        () => this.time.monotonicMs(),
      ),
      repair: (key, winner, stale, deadline, level, need) => this.repair(key, winner, stale, deadline, level, need),
      readAgain: this.readAgain,
    };
    return this.readDeps;
  }

  /** After a refusal: the read placed again once this node took up a newer epoch, or its outcome as it stood. */
  private readonly readAgain: ReadAgain = async (refusal, key, level, placedAt, attempt, asItStood, trace) => {
    trace?.note(`node ${refusal.id} refused the read as placed by an older ring (it is at epoch ${refusal.epoch})`);
    if (!(await this.tookUp(refusal, placedAt, attempt))) return asItStood();
    return this.readAttempt(key, level, attempt + 1, trace);
  };

  /** Brings the stale responders up to `winner`, or fails. */
  private async repair(key: string, winner: Version, stale: number[], deadline: number, level: LevelName, need: number): Promise<void> {
    this.counters.readRepairs += stale.length;
    const item: KeyedVersion = { key, version: winner };
    const repairs = stale.map((id) => this.replica(id).apply([item]));
    let timer: Timer | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = this.time.after(Math.max(0, deadline - this.time.monotonicMs()), () =>
        reject(
          timedOut(
            `${level} read could not repair ${stale.length} stale replica(s) within ${this.deps.timeoutMs} ms`,
            need - stale.length,
            need,
          ),
        ),
      );
    });
    try {
      await Promise.race([Promise.all(repairs), expired]);
    } catch (err) {
      stale.forEach((id) => this.hint(id, item));
      if (err instanceof KvError && err.code === 'TimedOut') {
        this.counters.timeouts++;
        throw err;
      }
      throw timedOut(`${level} read could not repair ${stale.length} stale replica(s)`, need - stale.length, need);
    } finally {
      timer?.cancel();
    }
  }
}

/** A trace's first step: where the request was placed, whom it can ask, how many must answer. */
function tracePlacement(trace: Trace, what: string, placed: Placed): void {
  const down = placed.down.length > 0 ? `; down: ${nodeList(placed.down)}` : '';
  trace.note(`${what} placed by epoch ${placed.epoch}: ${placed.need} of ${nodeList(placed.up)} needed${down}`);
}
