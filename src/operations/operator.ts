/**
 * Runs one membership operation from the node it is about: a joining node
 * runs its join, a leaving node its decommission; a removal (the leave of a
 * dead node) runs on the node its begin names. Each step is one epoch:
 *
 *   sequence   the change is proposed for the next epoch's slot by a Paxos
 *              compare-and-set at a majority (EpochSlots): of two operators
 *              racing for one epoch, one wins and the other takes up the
 *              winner's change, which the reducer then refuses its own
 *              beside ("another operation (join of node 4) is in
 *              progress");
 *   publish    the node's last epochs go to every node of the ring (learnEpochs;
 *              a node further behind fetches the rest from the sender);
 *   barrier    the step is done once a majority of the ring's nodes, and
 *              every one of them that is up, have taken the epoch up and
 *              have no write left in flight under an older one (their
 *              settled epoch); polled with a deadline;
 *   stream     (after begin) each range the operation moves is copied from
 *              the replica that gives it up (streaming/range-stream.ts);
 *              for a removal, run by another node since the leaving one
 *              is dead, from every surviving replica, this node relaying
 *              pages between two peers when it is neither end;
 *   then reads-switch and complete, each sequenced, published and waited
 *   for in the same way.
 *
 * Every step can run again: a node that stopped (or whose operator's
 * command was interrupted) goes on from the step its log is at, and a
 * stream from its stored progress. An abort (operations/abort.ts) stops a
 * run at its next page or poll (`stop`).
 */
import { assert, unreachable } from '../common/assert';
import { isKvError, KvError } from '../common/errors';
import type { KnownBugs } from '../common/known-bugs';
import {
  EPOCH_BARRIER_POLL_MS,
  EPOCH_BARRIER_TIMEOUT_MS,
  EPOCH_PUSH_ENTRIES_MAX,
  EPOCH_SLOT_ATTEMPTS_MAX,
  EPOCH_SLOT_TIMEOUTS_MAX,
  STREAM_RANGES_IN_PARALLEL_MAX,
} from '../common/limits';
import type { Time } from '../clock/time';
import type { ReplicaPage } from '../coordinator/scan-merge';
import type { KeyedVersion } from '../storage/version';
import type { PaxosRowsPeer } from '../paxos/paxos-store';
import type { Pacer } from '../streaming/pacer';
import { sourceDown, StreamEnds, StreamProgress, streamRange, StreamTotals } from '../streaming/range-stream';
import { applyChange, Change, EpochEntry, Membership, Operation, ringMembers, runnerOf } from '../membership/changes';
import { decodeChange, encodeChange, EpochLog } from '../membership/epoch-log';
import { removeStreamsOf } from '../membership/remove-plan';
import { replaceStreamsOf } from '../membership/replace-plan';
import { RangeStream, streamsOf } from '../membership/stream-plan';

/** A peer, as an operation asks it: to take up epochs, and to read or take a range's versions and Paxos rows. */
export interface OperatorPeer extends PaxosRowsPeer {
  learnEpochs(entries: readonly EpochEntry[]): Promise<{ epoch: number; settled: number }>;
  readRange(from: string, to: string | undefined, limit: number, bytesMax: number): Promise<ReplicaPage>;
  apply(items: readonly KeyedVersion[]): Promise<void>;
}

/** This node's own replica, as the streams read and write it. */
export interface LocalData extends PaxosRowsPeer {
  range(from: string, to: string | undefined, limit: number, bytesMax: number): ReplicaPage;
  apply(items: readonly KeyedVersion[]): Promise<void>;
}

export interface OperatorDeps {
  readonly selfId: number;
  readonly log: EpochLog;
  readonly time: Time;
  /**
   * Proposes `value` for the slot of `epoch` (a compare-and-set that
   * expects it empty); resolves with the value decided there, this one or
   * another operator's.
   */
  readonly decideSlot: (epoch: number, value: string) => Promise<string>;
  /** Fetches the epochs the peers have and this node has not. */
  readonly catchUp: () => Promise<void>;
  readonly link: (id: number) => OperatorPeer | undefined;
  readonly isUp: (id: number) => boolean;
  /** This node's own settled epoch (Coordinator.settledEpoch). */
  readonly settledHere: () => number;
  readonly local: LocalData;
  readonly progress: StreamProgress;
  readonly pacer: Pacer;
  readonly say: (message: string) => void;
  /** Known bugs put back on purpose, for the simulator's own tests only (common/known-bugs.ts). */
  readonly bugs?: KnownBugs;
}

/** Where the node's own operation is, for the operator's progress line. */
export interface OperationReport extends StreamTotals {
  rangesDone: number;
  rangesTotal: number;
  fraction: number;
  done: boolean;
  error?: string;
}

/** A node's own operation as the admin calls report it, with the node's state in the ring (NONE: not a member). */
export interface OperationStatus extends OperationReport {
  readonly state: string;
  /** The pace the streams go at now, bytes a second; undefined before the first page and once done. */
  readonly pace?: number;
}

/** About where `key` lies in [from, to), from the first six bytes of each (the keys are assumed spread evenly). */
function keyFraction(from: string, to: string | undefined, key: string): number {
  const n = (s: string): number => {
    let x = 0;
    for (let i = 0; i < 6; i++) x = x * 256 + (i < s.length ? s.charCodeAt(i) & 0xff : 0);
    return x;
  };
  const lo = n(from);
  const hi = to === undefined ? 256 ** 6 : n(to);
  return hi > lo ? Math.min(1, Math.max(0, (n(key) - lo) / (hi - lo))) : 1;
}

export class Operator {
  readonly report: OperationReport = { keys: 0, bytes: 0, rangesDone: 0, rangesTotal: 0, fraction: 0, done: false };
  /** Why the run was stopped (its operation was aborted); it ends with this as its error at its next page or poll. */
  private stoppedBy: string | undefined;

  constructor(private readonly deps: OperatorDeps) {}

  /** The pace of the streams now (bytes a second), once a page has gone. */
  pace(): number | undefined {
    return this.deps.pacer.lastBytesPerSecond;
  }

  /** Stops the run at its next page, poll or step; the first reason given is the one reported. */
  stop(reason: string): void {
    this.stoppedBy ??= reason;
  }

  private goOn(): void {
    if (this.stoppedBy !== undefined) throw new KvError('InvalidRequest', this.stoppedBy);
  }

  /**
   * Runs this node's operation to the end: from `begin` when given (a new
   * operation), else from wherever the log says the node's operation is.
   */
  async run(begin: Change | undefined): Promise<void> {
    const { log, selfId } = this.deps;
    if (begin !== undefined) await this.sequence(begin);
    const op = log.membership.operation;
    assert(op !== undefined && runnerOf(op) === selfId, 'the operation this node runs is its own or a removal it runs');
    if (op.aborting === true)
      throw new KvError('InvalidRequest', `node ${op.node}'s ${op.kind} is being aborted; run the abort again to finish it`);
    await this.barrier(log.epoch);
    if (!op.readsSwitched) {
      await this.stream(op);
      this.goOn();
      await this.barrier((await this.sequence({ kind: 'reads-switch', node: op.node })).epoch);
    }
    this.goOn();
    const completed = await this.sequence({ kind: `${op.kind}-complete`, node: op.node } as Change);
    await this.barrier(completed.epoch);
    this.report.done = true;
    this.report.fraction = 1;
  }

  /**
   * Gets `change` into the log at the next epoch, through the epoch's
   * slot. A slot another operator won is taken up (it follows the same
   * epoch, so it applies here too), and the change is checked again
   * against the membership after it: the reducer refuses a second
   * operation while one runs. The winner's change is handed on to the ring
   * first: its operator may have died before publishing it, and until the
   * ring holds it an abort elsewhere would find nothing in progress while
   * this refusal names an operation. Then the log catches up again before
   * the check: the slot may have been decided long before this operator
   * learnt it, and the rival's operation may be over by now.
   */
  async sequence(change: Change): Promise<EpochEntry> {
    const { log } = this.deps;
    await this.deps.catchUp();
    const value = encodeChange(change);
    for (let attempt = 0; attempt < EPOCH_SLOT_ATTEMPTS_MAX; attempt++) {
      const epoch = log.epoch + 1;
      applyChange(log.membership, { epoch, change }); // refuses, with its sentence, what the membership does not allow
      const decided = await this.decide(epoch, value);
      const entry = { epoch, change: decided === value ? change : decodeChange(decided, epoch) };
      await log.learn([entry]);
      if (decided === value) {
        this.deps.say(`epoch ${epoch}: ${change.kind} of node ${(change as { node: number }).node}`);
        return entry;
      }
      await this.publish();
      // The slot may have been decided long before this cas learnt it (a timed-out cas asked again): the ring can
      // be epochs further on, the rival's operation done. Checked against a log stopped at the rival's slot, ours
      // was refused as "another operation ... in progress" when none was (simulator seed 681).
      await this.deps.catchUp();
    }
    throw new KvError(
      'Unavailable',
      `the next epoch's slot kept going to other operators (${EPOCH_SLOT_ATTEMPTS_MAX} attempts); try again`,
    );
  }

  /**
   * The value decided in `epoch`'s slot. A cas that timed out may still
   * have chosen a value, ours or a rival's, that its commit did not get to
   * enough replicas in time: the same slot is asked again (a cas on a
   * chosen slot finishes that choice and answers it), never the next one.
   * Skipping on would let the log learn our own change behind our back,
   * and the check before the next slot would then refuse it as "another
   * operation".
   */
  private async decide(epoch: number, value: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deps.decideSlot(epoch, value);
      } catch (err) {
        if (!isKvError(err, 'TimedOut') || attempt >= EPOCH_SLOT_TIMEOUTS_MAX) throw err;
        this.deps.say(`epoch ${epoch}: the slot's cas timed out (${(err as Error).message}); asking the slot again`);
      }
    }
  }

  /** The log's last entries, as a push hands them to a peer (one further behind fetches the rest from this node). */
  private lastEntries(): EpochEntry[] {
    const { log } = this.deps;
    return log.after(Math.max(0, log.epoch - EPOCH_PUSH_ENTRIES_MAX));
  }

  /** Pushes the log's last entries once to every other node of the ring that is up; failures are left to their next push. */
  private async publish(): Promise<void> {
    const { log, selfId } = this.deps;
    const entries = this.lastEntries();
    await Promise.all(
      ringMembers(log.membership)
        .filter((n) => n.id !== selfId && this.deps.isUp(n.id))
        .map((n) =>
          this.deps
            .link(n.id)
            ?.learnEpochs(entries)
            .catch(() => undefined),
        ),
    );
  }

  /**
   * Waits until a majority of the ring's nodes (the operation's node
   * included, and `also`: an aborted join's node, no longer on the ring,
   * must still hear of it), and every one of them that is up, have settled
   * at `epoch`; each poll also hands them this node's log.
   */
  async barrier(epoch: number, also?: number): Promise<void> {
    const { log, selfId, time } = this.deps;
    const m = log.membership;
    const nodes = ringMembers(m).map((n) => n.id);
    for (const id of [m.operation?.node, also]) if (id !== undefined && !nodes.includes(id)) nodes.push(id);
    const deadline = time.monotonicMs() + EPOCH_BARRIER_TIMEOUT_MS;
    const settled = new Set<number>();
    for (;;) {
      this.goOn();
      if (this.deps.settledHere() >= epoch) settled.add(selfId);
      const entries = this.lastEntries();
      await Promise.all(
        nodes
          .filter((id) => id !== selfId && !settled.has(id) && this.deps.isUp(id))
          .map((id) =>
            this.deps
              .link(id)
              ?.learnEpochs(entries)
              .then((s) => s.settled >= epoch && settled.add(id))
              .catch(() => undefined),
          ),
      );
      const behind = nodes.filter((id) => !settled.has(id));
      const majority = settled.size > nodes.length / 2;
      if (majority && behind.every((id) => !this.deps.isUp(id))) return;
      if (time.monotonicMs() > deadline)
        throw new KvError(
          'Unavailable',
          `node${behind.length > 1 ? 's' : ''} ${behind.join(', ')} did not take up epoch ${epoch} within ${EPOCH_BARRIER_TIMEOUT_MS / 1000} s${majority ? '' : ', and a majority of the ring is needed'}; the operation stopped there: start the nodes that are down, then run it again to go on`,
        );
      await new Promise<void>((resolve) => time.after(EPOCH_BARRIER_POLL_MS, () => resolve()));
    }
  }

  /** Streams the ranges this node gains (a join) or gives up (a decommission), or every range of a removal it runs. */
  private async stream(op: Operation): Promise<void> {
    const { log, selfId } = this.deps;
    const kind = operationKindWords(op);
    const beganAt = log.operationBeganAt();
    assert(beganAt !== undefined, 'an operation under way has a begin epoch');
    const began = log.membershipAt(beganAt);
    const streams = this.planned(op, began).filter((s) => op.by !== undefined || s.target === selfId || s.source === selfId);
    this.report.rangesTotal = streams.length;
    this.deps.say(`streaming ${streams.length} ranges for the ${kind} that began at epoch ${beganAt}`);
    const deps = {
      progress: this.deps.progress,
      pacer: this.deps.pacer,
      time: this.deps.time,
      totals: this.report,
      say: this.deps.say,
    };
    // How far each range is, 0 to 1; the operation's fraction is their mean.
    const fractions = streams.map(() => 0);
    const note = (i: number, f: number): void => {
      fractions[i] = f;
      this.report.fraction = fractions.reduce((a, b) => a + b, 0) / streams.length;
    };
    // Up to STREAM_RANGES_IN_PARALLEL_MAX ranges at once, each from its own source (a join) or to its own
    // target (a decommission): one range at a time left the target waiting on one source's reads.
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      // After one range failed the operation stops: the others finish the range they are in, and start none.
      while (next < streams.length && !failed) {
        const i = next++;
        const s = streams[i]!;
        const position = (interval: number, key: string): void => {
          const parts = s.start === s.end ? 1 : s.start < s.end ? 1 : 2;
          const within = keyFraction(interval === 0 ? s.start : '', interval === 0 && parts === 2 ? undefined : s.end, key);
          note(i, (interval + within) / parts);
        };
        await streamRange({ ...deps, position }, beganAt, s, this.endsOf(s, kind)).catch((err) => {
          failed = true;
          throw err;
        });
        this.report.rangesDone++;
        note(i, 1);
      }
    };
    await Promise.all(Array.from({ length: Math.min(STREAM_RANGES_IN_PARALLEL_MAX, streams.length) }, worker));
  }

  /** What the operation streams; the known bug removalCopiesOneSurvivor keeps a removal's first survivor of each range only. */
  private planned(op: Operation, began: Membership): RangeStream[] {
    const plan = planOf(op, began);
    if (!this.deps.bugs?.removalCopiesOneSurvivor || op.by === undefined) return plan;
    const seen = new Set<string>();
    return plan.filter((s) => !seen.has(`${s.end}>${s.target}`) && seen.add(`${s.end}>${s.target}`) !== undefined);
  }

  /** The two ends of a stream: a peer and this node's own data. */
  private endsOf(s: RangeStream, kind: string): StreamEnds {
    const ends = this.peerAndLocal(s, kind);
    // The known bug paxosRowsStayBehind: the source seems to hold no Paxos rows.
    if (this.deps.bugs?.paxosRowsStayBehind) return { ...ends, readPaxos: async () => ({ rows: [], more: false }) };
    return ends;
  }

  /**
   * A stream's ends as they are: reads from the source and writes to the
   * target, each a peer or this node (a removal's runner is often neither,
   * and relays each page).
   */
  private peerAndLocal(s: RangeStream, kind: string): StreamEnds {
    const source = this.endAt(s, s.source, kind);
    const target = this.endAt(s, s.target, kind);
    // A lost connection to the end called (`node`) stops the stream with a sentence naming that node.
    const wrapped = <T>(node: number, call: () => Promise<T>): Promise<T> =>
      Promise.resolve()
        .then(() => this.goOn())
        .then(call)
        .catch((err) => {
          throw isKvError(err, 'ConnectionError') ? this.peerDown(s, kind, (err as Error).message, node) : err;
        });
    return {
      read: (from, to, limit, bytes) => wrapped(s.source, () => source().readRange(from, to, limit, bytes)),
      write: (items) => wrapped(s.target, () => target().apply(items)),
      readPaxos: (from, to, limit) => wrapped(s.source, () => source().paxosRows(from, to, limit)),
      writePaxos: (rows) => wrapped(s.target, () => target().paxosMerge(rows)),
    };
  }

  /** One end of a stream, asked for at each call: this node's own data, or the peer's link while the peer is up. */
  private endAt(s: RangeStream, id: number, kind: string): () => OperatorPeer {
    const { local, selfId } = this.deps;
    if (id === selfId) {
      const here: OperatorPeer = {
        readRange: async (from, to, limit, bytes) => local.range(from, to, limit, bytes),
        apply: (items) => local.apply(items),
        paxosRows: (from, to, limit) => local.paxosRows(from, to, limit),
        paxosMerge: (rows) => local.paxosMerge(rows),
        learnEpochs: () => unreachable('a stream end is not asked to learn epochs'),
      };
      return () => here;
    }
    return () => {
      const link = this.deps.link(id);
      if (link === undefined || !this.deps.isUp(id)) throw this.peerDown(s, kind, 'it is down', id);
      return link;
    };
  }

  /** The error that stops a stream whose end `node`, a peer, failed. */
  private peerDown(s: RangeStream, kind: string, cause: string, node: number): KvError {
    if (kind === 'replace') return survivorDown(s, cause);
    if (kind === 'removal') return removalEndDown(s, node, this.deps.log.membership.operation?.node, cause);
    if (s.source !== this.deps.selfId) return sourceDown(s, kind, cause);
    return new KvError(
      'Unavailable',
      `node ${s.target}, which takes over a range from node ${s.source}, cannot be written (${cause}); start node ${s.target} again and run the ${kind} again: it goes on where it stopped`,
    );
  }
}

/** The operation's kind as its streams' errors name it: a leave run for a dead node is a removal. */
function operationKindWords(op: Operation): string {
  return op.by !== undefined ? 'removal' : op.kind;
}

/** What an operation streams: from its begin epoch's membership, by its kind. */
function planOf(op: Operation, began: Membership): RangeStream[] {
  // A replacement's or a removal's dead node gives nothing: its ranges come from every survivor.
  if (op.kind === 'replace') return replaceStreamsOf(began);
  if (op.by !== undefined) return removeStreamsOf(began);
  return streamsOf(began);
}

/** The error that stops a removal whose survivor cannot be read, or whose gaining replica cannot be written. */
function removalEndDown(s: RangeStream, node: number, dead: number | undefined, cause: string): KvError {
  const role =
    node === s.target
      ? `which takes over a range of removed node ${dead}, cannot be written`
      : `a surviving replica of a range node ${s.target} takes over from removed node ${dead}, cannot be read`;
  return new KvError(
    'Unavailable',
    `node ${node}, ${role} (${cause}); start node ${node} again and run the remove again: it goes on where it stopped (each range is copied from every surviving replica, since one alone may miss a QUORUM write the dead node acknowledged)`,
  );
}

/** The error that stops a replacement whose survivor of a range cannot be read. */
function survivorDown(s: RangeStream, cause: string): KvError {
  return new KvError(
    'Unavailable',
    `node ${s.source}, a surviving replica of a range node ${s.target} takes over, cannot be read (${cause}); start node ${s.source} again and run the replace again: it goes on where it stopped (each range is copied from every surviving replica, since one alone may miss a QUORUM write the dead node acknowledged)`,
  );
}
