/**
 * The coordinator: any node, for any key. It finds the key's replicas on the
 * ring, checks the failure detector, and runs the request against them.
 *
 * Write: refuse with Unavailable (writing nothing) if fewer replicas are up
 * than the level needs; otherwise stamp the version with the hybrid clock,
 * send it to every live replica at once and answer when the level's count has
 * acknowledged. Down replicas, and live ones that fail or do not answer in
 * time, get a hint. A write that misses its level is reported as TimedOut and
 * is NOT rolled back: replicas that applied it keep it, and it may still win
 * later (undoing it would need a second write that can itself fail half-way,
 * and would erase a version a concurrent reader may already have returned).
 *
 * Read: ask as many live replicas as the level needs (this node first when it
 * is one, then clockwise from it), asking the next live one when one fails;
 * return the newest version.
 * At QUORUM and ALL, responders that returned something older are repaired
 * with the newest version before the read answers (blocking read repair), so
 * a later QUORUM read cannot return anything older than this one did.
 */
import { KvError } from '../common/errors';
import { HybridClock } from '../clock/hlc';
import { Ring } from '../partitioner/ring';
import { KeyedVersion } from '../storage/replica-store';
import { compareVersions, newest, Version } from '../storage/version';
import { Replica } from '../rpc/remote-replica';
import { HINT_GRACE_MS } from '../common/limits';
import { LevelName, requiredReplicas } from './levels';

export interface HintSink {
  add(target: number, items: readonly KeyedVersion[]): Promise<void>;
}

/** This node's own replica as the writes it coordinates use it (ReplicaStore's marks). */
export interface MarkedLog {
  /** Applies the version here and marks its log row; resolves with the row's seq once durable (0: no row holds it). */
  applyMarked(item: KeyedVersion): Promise<number>;
  /** Every other replica has acknowledged the write that marked row `seq`, or has a durable hint for it. */
  settle(seq: number): void;
}

export interface CoordinatorDeps {
  readonly selfId: number;
  readonly ring: Ring;
  readonly replicas: ReadonlyMap<number, Replica>;
  readonly isUp: (id: number) => boolean;
  readonly hints: HintSink;
  readonly clock: HybridClock;
  readonly timeoutMs: number;
  /** This node's own replica, read directly (it cannot fail or time out). */
  readonly readLocal: (key: string) => Version | undefined;
  /** This node's own replica for the writes it coordinates; without it a write waits for every replica (see write). */
  readonly marked?: MarkedLog;
}

export interface CoordinatorCounters {
  writes: number;
  reads: number;
  unavailable: number;
  timeouts: number;
  readRepairs: number;
  hintsQueued: number;
}

export class Coordinator {
  readonly counters: CoordinatorCounters = { writes: 0, reads: 0, unavailable: 0, timeouts: 0, readRepairs: 0, hintsQueued: 0 };

  constructor(private readonly deps: CoordinatorDeps) {}

  /**
   * The key's replicas split by the failure detector. When this node is one,
   * the list starts at it and goes on clockwise round the ring (the replicas
   * after it, then those before): a read asks this node, then the next
   * replica clockwise. With three replicas, a node's QUORUM reads then go to
   * two peers (the next node for the ranges it owns or follows, the owner
   * two places back for the third range; with four nodes, the two nodes
   * after it) instead of three, so each event-loop turn sends two internode
   * batches instead of three, each larger.
   */
  private placement(key: string, level: LevelName): { up: number[]; down: number[]; need: number } {
    let all = this.deps.ring.replicas(key);
    const need = requiredReplicas(level, this.deps.ring.replicationFactor);
    const self = all.indexOf(this.deps.selfId);
    if (self > 0) all = [...all.slice(self), ...all.slice(0, self)];
    const up = all.filter((id) => this.deps.isUp(id));
    const down = all.filter((id) => !this.deps.isUp(id));
    if (up.length < need) {
      this.counters.unavailable++;
      throw new KvError(
        'Unavailable',
        `${level} needs ${need} of the key's ${all.length} replicas but only ${up.length} ${up.length === 1 ? 'is' : 'are'} up`,
        { required: need, alive: up.length },
      );
    }
    return { up, down, need };
  }

  private replica(id: number): Replica {
    const r = this.deps.replicas.get(id);
    if (r === undefined) throw new Error(`no replica client for node ${id}`);
    return r;
  }

  /** Stores a hint; resolves once it is durable (or the hint store gave up on it). */
  private hint(target: number, item: KeyedVersion): Promise<void> {
    this.counters.hintsQueued++;
    return this.deps.hints.add(target, [item]);
  }

  /** hint(), then `covered(target)` once it is durable. */
  private hintCovering(target: number, item: KeyedVersion, covered: (id: number) => void): Promise<void> {
    return this.hint(target, item).then(() => covered(target));
  }

  /**
   * Writes a value (or a tombstone when `deleted`); resolves with its timestamp.
   *
   * The client is answered once the level is reached and this node holds a
   * durable record of every replica the write has not reached yet: a hint for
   * each down replica, and for the live ones either their acknowledgement, a
   * hint, or, when this node is a replica, the mark on its own log row (see
   * ReplicaStore's marks), which a restart turns back into hints. Without
   * such a record, a coordinator killed just after answering would take the
   * only trace of a missing replica's write with it, and only anti-entropy
   * would ever find it. With a mark, a live replica is hinted only if its
   * call fails (or times out), and the mark is settled once every other
   * replica has acknowledged or been hinted. Without one, replicas get
   * HINT_GRACE_MS to answer after the level is reached, and slower ones get
   * a hint before the answer.
   */
  write(key: string, value: string, deleted: boolean, level: LevelName): Promise<number> {
    this.counters.writes++;
    const { up, down, need } = this.placement(key, level);
    const item: KeyedVersion = { key, version: { value, ts: this.deps.clock.now(), deleted } };
    const self = this.deps.selfId;
    const marked = up.includes(self) ? this.deps.marked : undefined;
    return new Promise<number>((resolve, reject) => {
      const answered = new Set<number>();
      let acked = 0;
      let failed = 0;
      let firstFailure = '';
      let settled = false;
      let completing = false;
      let grace: NodeJS.Timeout | undefined;
      /** The seq of this node's marked log row (0: none, or settled already). */
      let mark = 0;
      /** The other replicas, until each has acknowledged or has a durable hint. */
      const open = new Set([...up, ...down].filter((id) => id !== self));
      const settleMark = (): void => {
        if (mark === 0 || open.size > 0) return;
        marked!.settle(mark);
        mark = 0;
      };
      const covered = (id: number): void => {
        open.delete(id);
        settleMark();
      };
      const finish = (err?: KvError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(grace);
        if (err) {
          this.counters.timeouts++;
          reject(err);
        } else resolve(item.version.ts);
      };
      const hinted = down.map((id) => this.hintCovering(id, item, covered));
      let downHinted = hinted.length === 0;
      if (!downHinted) {
        void Promise.all(hinted).then(() => {
          downHinted = true;
          progress();
        });
      }
      const timer = setTimeout(
        () => finish(timedOut(`${level} write was acknowledged by ${acked} of ${need} replicas within ${this.deps.timeoutMs} ms`, acked, need)),
        this.deps.timeoutMs,
      );
      // The level is reached: hint whoever has not answered, then answer once the hints are on disk.
      const complete = (): void => {
        if (completing) return;
        completing = true;
        clearTimeout(grace);
        for (const id of up) if (!answered.has(id)) hinted.push(this.hintCovering(id, item, covered));
        void Promise.all(hinted).then(() => finish());
      };
      const progress = (): void => {
        if (acked < need) return;
        // Marked: answer once the down replicas' hints are durable; the live ones
        // answer or fail in their own time, and only a failure costs a hint.
        if (mark !== 0) {
          if (downHinted) finish();
          return;
        }
        if (completing) return;
        if (answered.size === up.length) complete();
        else grace ??= setTimeout(complete, HINT_GRACE_MS);
      };
      const acknowledged = (id: number): void => {
        answered.add(id);
        acked++;
        covered(id);
        progress();
      };
      const failedAt = (id: number, err: Error): void => {
        answered.add(id);
        failed++;
        firstFailure ||= `node ${id}: ${err.message}`;
        hinted.push(this.hintCovering(id, item, covered));
        if (up.length - failed < need) {
          finish(timedOut(`${level} write reached ${acked} of ${need} replicas; ${failed} failed (${firstFailure})`, acked, need));
        } else progress();
      };
      for (const id of up) {
        if (id === self && marked !== undefined) {
          marked.applyMarked(item).then((seq) => {
            mark = seq;
            settleMark();
            acknowledged(id);
          }, (err: Error) => failedAt(id, err));
        } else {
          this.replica(id).apply([item]).then(() => acknowledged(id), (err: Error) => failedAt(id, err));
        }
      }
    });
  }

  /**
   * Whether this read is answered from this node's own copy alone: a level
   * that needs one replica, on a node that is one (and a node is always up to
   * itself). Counts the read when it is; the caller then reads the store.
   * This is read()'s first case, without the placement lists: the path of
   * every ONE read a token-aware client sends.
   */
  readsLocally(key: string, level: LevelName): boolean {
    if (requiredReplicas(level, this.deps.ring.replicationFactor) !== 1 || !this.deps.ring.isReplica(key, this.deps.selfId)) return false;
    this.counters.reads++;
    return true;
  }

  /** Reads the newest version of a key at the level (undefined: none anywhere asked). */
  async read(key: string, level: LevelName): Promise<Version | undefined> {
    this.counters.reads++;
    const { up, need } = this.placement(key, level);
    // ONE on a replica: the answer is here, no need for the machinery below.
    if (need === 1 && up[0] === this.deps.selfId) return this.deps.readLocal(key);
    const deadline = Date.now() + this.deps.timeoutMs;
    const answers = await this.gather(key, up, need, deadline, level);
    let winner: Version | undefined;
    for (const v of answers.values()) winner = newest(winner, v);
    if (winner !== undefined) this.deps.clock.observe(winner.ts);
    if (level !== 'ONE' && winner !== undefined) await this.repair(key, winner, answers, deadline, level, need);
    return winner;
  }

  /** Collects `need` answers, moving on to the next live replica when one fails. */
  private gather(key: string, up: number[], need: number, deadline: number, level: LevelName): Promise<Map<number, Version | undefined>> {
    return new Promise((resolve, reject) => {
      const answers = new Map<number, Version | undefined>();
      let next = 0;
      let failed = 0;
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.counters.timeouts++;
        reject(timedOut(`${level} read got ${answers.size} of ${need} replica answers within ${this.deps.timeoutMs} ms`, answers.size, need));
      }, Math.max(0, deadline - Date.now()));
      const answer = (id: number, v: Version | undefined): void => {
        if (settled) return;
        answers.set(id, v);
        if (answers.size >= need) {
          settled = true;
          clearTimeout(timer);
          resolve(answers);
        }
      };
      const ask = (): void => {
        const id = up[next++]!;
        // This node's own copy is read at once: it cannot fail or be slow.
        if (id === this.deps.selfId) return answer(id, this.deps.readLocal(key));
        this.replica(id).read(key).then(
          (v) => answer(id, v),
          () => {
            if (settled) return;
            failed++;
            if (next < up.length) ask();
            else if (up.length - failed < need) {
              settled = true;
              clearTimeout(timer);
              this.counters.timeouts++;
              reject(timedOut(`${level} read got ${answers.size} of ${need} replica answers; ${failed} failed`, answers.size, need));
            }
          },
        );
      };
      for (let i = 0; i < need; i++) ask();
    });
  }

  /** Brings every responder that answered with something older up to `winner`, or fails. */
  private async repair(
    key: string,
    winner: Version,
    answers: Map<number, Version | undefined>,
    deadline: number,
    level: LevelName,
    need: number,
  ): Promise<void> {
    const stale: number[] = [];
    for (const [id, v] of answers) if (v === undefined || compareVersions(v, winner) !== 0) stale.push(id);
    if (stale.length === 0) return;
    this.counters.readRepairs += stale.length;
    const item: KeyedVersion = { key, version: winner };
    const repairs = stale.map((id) => this.replica(id).apply([item]));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(timedOut(`${level} read could not repair ${stale.length} stale replica(s) within ${this.deps.timeoutMs} ms`, need - stale.length, need)),
        Math.max(0, deadline - Date.now()),
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
      clearTimeout(timer);
    }
  }
}

function timedOut(message: string, acked: number, required: number): KvError {
  return new KvError('TimedOut', message, { acked, required });
}
