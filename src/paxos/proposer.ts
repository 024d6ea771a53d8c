/**
 * The proposer: one cas or SERIAL read, coordinated by this node over the
 * key's replicas (Cassandra's lightweight transactions). Each round:
 *
 *   prepare   a fresh ballot (hybrid clock + node id) to every live replica;
 *             a quorum must promise. Each promise carries the replica's
 *             Paxos state and its current version of the key.
 *   decide    (promises.ts) a retry whose request already committed answers
 *             "applied"; an unfinished proposal is finished first; acceptors
 *             missing the most recent commit are sent it.
 *   read      the newest version among the promises is the current value.
 *   propose   a cas whose expectation holds proposes its value under the
 *             ballot; a quorum must accept.
 *   commit    every live replica writes the value with the ballot's timestamp
 *             (an ordinary last-write-wins version) and notes the commit; the
 *             level's count must acknowledge. Down replicas are hinted.
 *
 * A refusal means another proposer holds a newer ballot: back off at random
 * and start again, at most PAXOS_ROUNDS_MAX rounds; then TimedOut, whose
 * outcome is unknown, as for writes. A retry with the same request id
 * settles it (exactly once, see acceptor.ts).
 */
import { isKvError, KvError, timedOut } from '../common/errors';
import { PAXOS_BACKOFF_MS_MAX, PAXOS_BACKOFF_MS_MIN, PAXOS_ROUNDS_MAX } from '../common/limits';
import type { HybridClock } from '../clock/hlc';
import type { Time } from '../clock/time';
import { LevelName, writeAcksNeeded } from '../coordinator/levels';
import type { HintSink } from '../coordinator/coordinator';
import type { Placement } from '../membership/placement';
import { newest, Version } from '../storage/version';
import { describeVersion, nodeList, Trace } from '../coordinator/trace';
import type { PrepareReply, Proposal, ProposeReply } from './acceptor';
import { Ballot, newerBallot } from './ballot';
import { afterPromises } from './promises';
import { gather } from './quorum';

/** A replica as the proposer sees it: this node's own or a peer's, through the same contract. */
export interface Acceptor {
  prepare(key: string, ballot: Ballot, requestId: string): Promise<Promised>;
  propose(key: string, proposal: Proposal): Promise<ProposeReply>;
  /** Resolves once the value and the commit are durable on the replica. */
  commit(key: string, proposal: Proposal): Promise<void>;
}

/** A promise (or refusal) with the replica's current version of the key. */
export interface Promised {
  readonly reply: PrepareReply;
  readonly current: Version | undefined;
}

export interface ProposerDeps {
  readonly selfId: number;
  /**
   * The current epoch's placement: a key's acceptors are the replicas that
   * take its writes, pending ones included, and each of those adds one to
   * every quorum (as a write's level does), so that a quorum before a step
   * of a move and one after it still meet.
   */
  readonly placement: () => Placement;
  readonly acceptors: ReadonlyMap<number, Acceptor>;
  readonly isUp: (id: number) => boolean;
  readonly hints: HintSink;
  readonly clock: HybridClock;
  readonly time: Time;
  readonly timeoutMs: number;
  /** In [0, 1): the back-off's randomness (seeded in tests). */
  readonly random: () => number;
}

export interface CasRequest {
  readonly key: string;
  /** The value the key must hold for the cas to apply; null: the key must be absent. */
  readonly expected: string | null;
  readonly value: string;
  /** The client's id for this request, the same on every retry of it. */
  readonly requestId: string;
  /** The commit's level: QUORUM or ALL. */
  readonly level: LevelName;
}

export interface CasAnswer {
  readonly applied: boolean;
  /** The key's value after the cas (undefined: absent): the new value when applied, else the one that failed the expectation. */
  readonly current: Version | undefined;
}

export interface ProposerCounters {
  casApplied: number;
  casNotApplied: number;
  serialReads: number;
  rounds: number;
  contended: number;
  completedOthers: number;
  commitRepairs: number;
  retriesFoundCommitted: number;
  timeouts: number;
}

/** One round's result: ready to read or propose, already applied, or start again. */
type Step =
  | { readonly kind: 'ready'; readonly ballot: Ballot; readonly current: Version | undefined }
  | { readonly kind: 'applied'; readonly current: Version | undefined }
  | { readonly kind: 'again'; readonly backOff: boolean };

/** A version as a value: undefined for absent or deleted. */
export function liveValue(v: Version | undefined): string | undefined {
  return v === undefined || v.deleted ? undefined : v.value;
}

export class Proposer {
  readonly counters: ProposerCounters = {
    casApplied: 0,
    casNotApplied: 0,
    serialReads: 0,
    rounds: 0,
    contended: 0,
    completedOthers: 0,
    commitRepairs: 0,
    retriesFoundCommitted: 0,
    timeouts: 0,
  };

  constructor(private readonly deps: ProposerDeps) {}

  /** `trace`: the steps of a traced cas (the `trace` call), noted as the rounds take them. */
  async cas(req: CasRequest, trace?: Trace): Promise<CasAnswer> {
    // Before anything is sent: Unavailable means nothing was proposed.
    this.live(req.key, req.level, trace);
    let proposed = false;
    const answer = await this.rounds(req.key, `cas`, req.requestId, req.level, trace, async (step) => {
      const current = liveValue(step.current);
      if (current !== (req.expected ?? undefined)) {
        trace?.note(
          `expects ${req.expected === null ? 'no value' : `${req.expected.length} bytes`}, holds ${describeVersion(step.current)}: not applied`,
        );
        return { applied: false, current: step.current };
      }
      const proposal = { ballot: step.ballot, value: req.value, requestId: req.requestId };
      proposed = true;
      trace?.note(`the expectation holds: proposes the new value (${req.value.length} bytes) under ${ballotText(step.ballot)}`);
      if (!(await this.proposeAndCommit(req.key, proposal, req.level, step.deadlineMs, trace))) return undefined;
      return { applied: true, current: { value: req.value, ts: step.ballot.ts, deleted: false } };
    }).catch((err: unknown) => {
      // Once a proposal of ours is out, a quorum lost later cannot say "nothing written": it may yet be.
      if (proposed && isKvError(err, 'Unavailable'))
        throw timedOut(`cas lost its quorum after proposing: ${err.message}; the outcome is unknown`, 0, this.quorum(req.key));
      throw err;
    });
    if (answer.applied) this.counters.casApplied++;
    else this.counters.casNotApplied++;
    return answer;
  }

  /** The key's latest linearizable value: a Paxos round that finishes anything in progress, then the quorum's newest version. */
  async serialRead(key: string, trace?: Trace): Promise<Version | undefined> {
    this.counters.serialReads++;
    const answer = await this.rounds(key, 'SERIAL read', '', 'QUORUM', trace, async (step) => {
      trace?.note(`nothing left unfinished: reads the promises' newest, ${describeVersion(step.current)}`);
      return { applied: false, current: step.current };
    });
    return answer.current;
  }

  /**
   * Runs rounds until `onReady` answers (undefined: its proposal was refused,
   * go again) or a retry finds its request committed.
   */
  private async rounds(
    key: string,
    what: string,
    requestId: string,
    level: LevelName,
    trace: Trace | undefined,
    onReady: (step: { ballot: Ballot; current: Version | undefined; deadlineMs: number }) => Promise<CasAnswer | undefined>,
  ): Promise<CasAnswer> {
    const deadlineMs = this.deps.time.monotonicMs() + this.deps.timeoutMs;
    let backOff = false;
    let roundMs = 0;
    for (let round = 0; round < PAXOS_ROUNDS_MAX; round++) {
      if (backOff) await this.backOff(round, roundMs, trace);
      this.counters.rounds++;
      const roundStartMs = this.deps.time.monotonicMs();
      const step = await this.prepare(key, what, requestId, level, deadlineMs, round, trace);
      if (step.kind === 'applied') {
        this.counters.retriesFoundCommitted++;
        trace?.note('applied (by an earlier attempt with this request id)');
        return { applied: true, current: step.current };
      }
      if (step.kind === 'again') {
        backOff = step.backOff;
        roundMs = this.deps.time.monotonicMs() - roundStartMs;
        continue;
      }
      const answer = await onReady({ ballot: step.ballot, current: step.current, deadlineMs });
      if (answer !== undefined) return answer;
      trace?.note('the proposal was refused: another round');
      this.counters.contended++;
      backOff = true;
      roundMs = this.deps.time.monotonicMs() - roundStartMs;
    }
    this.counters.timeouts++;
    trace?.note(`gives up after ${PAXOS_ROUNDS_MAX} rounds`);
    const outcome = requestId === '' ? '' : '; it may or may not have been applied (retry with the same request id to find out)';
    throw timedOut(`${what} gave up after ${PAXOS_ROUNDS_MAX} contended Paxos rounds${outcome}`, 0, this.quorum(key));
  }

  /** How many of the key's acceptors a Paxos phase needs. */
  private quorum(key: string): number {
    const placement = this.deps.placement();
    return writeAcksNeeded('QUORUM', placement.replicationFactor, placement.rangeOf(key).pending);
  }

  /** The key's replicas split by the failure detector, and how many the level needs. */
  private placement(key: string, level: LevelName): { all: number[]; up: number[]; down: number[]; need: number } {
    const placement = this.deps.placement();
    const range = placement.rangeOf(key);
    const all = [...range.writes];
    const need = writeAcksNeeded(level, placement.replicationFactor, range.pending);
    return { all, up: all.filter((id) => this.deps.isUp(id)), down: all.filter((id) => !this.deps.isUp(id)), need };
  }

  /** The key's live replicas; Unavailable when fewer than `need` are up. */
  private live(key: string, level: LevelName, trace?: Trace): { up: number[]; down: number[]; need: number } {
    const p = this.placement(key, level);
    if (p.up.length < p.need) {
      trace?.note(`${level} needs ${p.need} of ${nodeList(p.all)}; up: ${nodeList(p.up)}`);
      throw new KvError(
        'Unavailable',
        `a ${level} Paxos round needs ${p.need} of the key's ${p.all.length} replicas but only ${p.up.length} are up`,
        {
          required: p.need,
          alive: p.up.length,
        },
      );
    }
    return p;
  }

  private acceptor(id: number): Acceptor {
    const a = this.deps.acceptors.get(id);
    if (a === undefined) throw new KvError('Internal', `no acceptor for node ${id}`);
    return a;
  }

  private async prepare(
    key: string,
    what: string,
    requestId: string,
    level: LevelName,
    deadlineMs: number,
    round: number,
    trace: Trace | undefined,
  ): Promise<Step> {
    const { up } = this.live(key, 'QUORUM', trace);
    const ballot: Ballot = { ts: this.deps.clock.now(), node: this.deps.selfId };
    trace?.note(`round ${round + 1}: prepare ${ballotText(ballot)} to ${nodeList(up)} (needs ${this.quorum(key)} promises)`);
    const { good, bad } = await gather({
      ids: up,
      call: (id) => this.acceptor(id).prepare(key, ballot, requestId),
      isGood: (p) => p.reply.promised,
      need: this.quorum(key),
      time: this.deps.time,
      deadlineMs,
      what: `${what} prepare`,
    });
    trace?.note(`promised by ${nodeList([...good.keys()])}${bad.length > 0 ? `; refused by ${bad.length} (a newer ballot)` : ''}`);
    if (good.size < this.quorum(key))
      return this.refused(
        bad.map((p) => p.reply.refusedBy),
        trace,
      );
    let current: Version | undefined;
    for (const p of good.values()) current = newest(current, p.current);
    const promises = new Map([...good].map(([id, p]) => [id, p.reply]));
    const outcome = afterPromises(ballot, requestId, promises, current?.ts ?? 0);
    switch (outcome.kind) {
      case 'alreadyCommitted':
        trace?.note('a promise shows this request id already committed (an earlier attempt)');
        // The first attempt's commit may be on fewer than a quorum: spread it before answering "applied".
        if (!(await this.repairCommit(key, outcome.repair, outcome.newestCommit, trace))) return { kind: 'again', backOff: true };
        return { kind: 'applied', current };
      case 'ballotTooLow':
        trace?.note(`the ballot is not newer than a commit seen (ts=${outcome.seen.ts}): another round, with a newer one`);
        this.deps.clock.observe(outcome.seen.ts);
        return { kind: 'again', backOff: false };
      case 'complete': {
        trace?.note(
          `finishes ${outcome.own ? 'its own earlier' : 'an unfinished'} proposal (${outcome.proposal.value.length} bytes) first, under this ballot`,
        );
        this.counters.completedOthers += outcome.own ? 0 : 1;
        const done = await this.proposeAndCommit(key, outcome.proposal, level, deadlineMs, trace);
        if (done && outcome.own) return { kind: 'applied', current: { value: outcome.proposal.value, ts: ballot.ts, deleted: false } };
        return { kind: 'again', backOff: !done };
      }
      case 'ready':
        if (!(await this.repairCommit(key, outcome.repair, outcome.newestCommit, trace))) return { kind: 'again', backOff: true };
        return { kind: 'ready', ballot, current };
    }
  }

  /** Sends the most recent commit to the promisers that lack it; false when one cannot take it now. */
  private async repairCommit(
    key: string,
    repair: readonly number[],
    newestCommit: Proposal | undefined,
    trace: Trace | undefined,
  ): Promise<boolean> {
    if (newestCommit === undefined || repair.length === 0) return true;
    trace?.note(`sends the newest commit to ${nodeList(repair)}, which lacked it`);
    this.counters.commitRepairs += repair.length;
    const repairs = repair.map((id) => this.acceptor(id).commit(key, newestCommit));
    // A replica that cannot take the commit now: another round, perhaps with other replicas.
    return Promise.all(repairs).then(
      () => true,
      () => false,
    );
  }

  /** Someone holds a newer ballot: let the clock pass it, and back off. */
  private refused(refusedBy: readonly (Ballot | undefined)[], trace: Trace | undefined): Step {
    let seen: Ballot | undefined;
    for (const b of refusedBy) seen = newerBallot(seen, b);
    trace?.note(`too few promises${seen !== undefined ? `: ${ballotText(seen)} is newer` : ''}`);
    if (seen !== undefined) this.deps.clock.observe(seen.ts);
    this.counters.contended++;
    return { kind: 'again', backOff: true };
  }

  /** Propose, and commit once a quorum accepted; false when refused. */
  private async proposeAndCommit(
    key: string,
    proposal: Proposal,
    level: LevelName,
    deadlineMs: number,
    trace: Trace | undefined,
  ): Promise<boolean> {
    const { up } = this.live(key, 'QUORUM', trace);
    trace?.note(`propose to ${nodeList(up)} (needs ${this.quorum(key)} accepts)`);
    const accepts = await gather({
      ids: up,
      call: (id) => this.acceptor(id).propose(key, proposal),
      isGood: (r) => r.accepted,
      need: this.quorum(key),
      time: this.deps.time,
      deadlineMs,
      what: 'cas propose',
    });
    trace?.note(`accepted by ${nodeList([...accepts.good.keys()])}${accepts.bad.length > 0 ? `; refused by ${accepts.bad.length}` : ''}`);
    if (accepts.good.size < this.quorum(key)) {
      this.refused(
        accepts.bad.map((r) => r.refusedBy),
        trace,
      );
      return false;
    }
    await this.commit(key, proposal, level, deadlineMs, trace);
    return true;
  }

  /** Commits to every live replica, hints the down ones, and waits for the level's count. */
  private async commit(key: string, proposal: Proposal, level: LevelName, deadlineMs: number, trace: Trace | undefined): Promise<void> {
    // Not `live`: the value is chosen, so too few replicas now is a TimedOut (it will be applied), not Unavailable.
    const { up, down, need } = this.placement(key, level);
    const item = { key, version: { value: proposal.value, ts: proposal.ballot.ts, deleted: false } };
    trace?.note(
      `commit ts=${proposal.ballot.ts} to ${nodeList(up)} at ${level} (needs ${need})${down.length > 0 ? `; hints for ${nodeList(down)}, down` : ''}`,
    );
    for (const id of down) void this.deps.hints.add(id, [item]);
    const acks = await gather({
      ids: up,
      call: (id) =>
        this.acceptor(id)
          .commit(key, proposal)
          .then(
            () => true,
            (err) => {
              void this.deps.hints.add(id, [item]);
              throw err;
            },
          ),
      isGood: (ok) => ok,
      need,
      time: this.deps.time,
      deadlineMs,
      what: `cas commit at ${level} (the value was chosen and will be applied)`,
    });
    trace?.note(`commit acknowledged by ${nodeList([...acks.good.keys()])}`);
    if (acks.good.size < need) {
      throw timedOut(
        `cas commit at ${level} reached ${acks.good.size} of ${need} replicas; the value was chosen and will be applied`,
        acks.good.size,
        need,
      );
    }
  }

  /**
   * Random back-off before round `round`: uniform below min(MAX, unit *
   * 2^round) ms, where the unit is the last round's duration (at least MIN).
   * On a loaded machine a round takes longer, and competing proposers that
   * back off for less than a round run into each other again.
   */
  private backOff(round: number, lastRoundMs: number, trace: Trace | undefined): Promise<void> {
    const ceiling = Math.min(PAXOS_BACKOFF_MS_MAX, Math.max(PAXOS_BACKOFF_MS_MIN, lastRoundMs) * 2 ** round);
    const ms = Math.floor(this.deps.random() * ceiling);
    trace?.note(`backs off ${ms} ms (at most ${ceiling}) before round ${round + 1}`);
    return new Promise((resolve) => this.deps.time.after(ms, resolve));
  }
}

/** A ballot as a trace line names it. */
function ballotText(b: Ballot): string {
  return `ballot ${b.ts}.${b.node}`;
}
