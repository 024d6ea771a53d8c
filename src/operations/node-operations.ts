/**
 * A node's own side of the membership operations: the join, replacement,
 * decommission or move it runs (started here, or gone on with after a
 * restart), an abort asked of it, its cleanup, and its leaving once an
 * operation took it out of the ring. The operation's steps themselves are
 * the Operator's (operator.ts); this keeps one run at a time and answers
 * the admin calls with where it is.
 */
import type { HybridClock } from '../clock/hlc';
import type { Time } from '../clock/time';
import { KvError } from '../common/errors';
import { EPOCH_BARRIER_POLL_MS, OPERATION_PEERS_UP_TIMEOUT_MS } from '../common/limits';
import type { NodeAddress } from '../config/cluster';
import { Change, Membership, Operation, ringMembers, runnerOf } from '../membership/changes';
import type { EpochLog } from '../membership/epoch-log';
import type { Logger } from '../common/logger';
import type { PeerLink } from '../rpc/transport';
import type { ReplicaStorage } from '../storage/replica-storage';
import { abortsOperationOf, operationWords, runAbort } from './abort';
import { Cleanup, CleanupReport } from './cleanup';
import { checkMove } from './move';
import { OperationStatus, Operator } from './operator';

export interface NodeOperationsDeps {
  readonly selfId: number;
  readonly epochs: EpochLog;
  readonly time: Time;
  readonly log: Logger;
  readonly store: ReplicaStorage;
  readonly links: ReadonlyMap<number, PeerLink>;
  readonly clock: HybridClock;
  readonly isUp: (id: number) => boolean;
  readonly heartbeatIntervalMs: number;
  readonly failureTimeoutMs: number;
  /** Where this node listens (asserted known once it serves). */
  readonly address: () => NodeAddress;
  /** An operator wired to the node (its slots, links, stores and pace). */
  readonly newOperator: () => Operator;
  /** Asks every peer for the epochs this node lacks, bounded (EpochSync.catchUpAll). */
  readonly catchUpEpochs: () => Promise<unknown>;
  /** What a cleanup would delete has changed: measure it again. */
  readonly reclaimableStale: () => void;
  /**
   * Marks the node as leaving the ring, unless it is not serving, is
   * stopping, or already leaves; true when this call marked it.
   */
  readonly startLeaving: () => boolean;
  /** Hands this node's hints out, then stops the node (KvNode.leave). */
  readonly leave: () => Promise<void>;
}

export class NodeOperations {
  /** This node's own membership operation, once one was started or resumed here. */
  private operator: Operator | undefined;
  private operatorRun: Promise<void> | undefined;
  /** A decommission or move whose begin is being sequenced, until its run starts (startOperation). */
  private operationStarting: Promise<void> | undefined;
  /** This node's last cleanup, and whether it still runs. */
  private cleanupRun: { readonly cleanup: Cleanup; running: boolean } | undefined;
  /** The abort this node runs, if any (one at a time). */
  private abortRun: Promise<string> | undefined;
  private readonly id: number;
  private readonly epochs: EpochLog;
  private readonly time: Time;
  private readonly log: Logger;

  constructor(private readonly deps: NodeOperationsDeps) {
    this.id = deps.selfId;
    this.epochs = deps.epochs;
    this.time = deps.time;
    this.log = deps.log;
  }

  /** Whether an operation or an abort runs here: the node then leaves, when it does, by that path (KvNode.stopIfLeft). */
  get running(): boolean {
    return this.operatorRun !== undefined || this.abortRun !== undefined;
  }

  /** Where this node's own operation is (and its state in the ring). */
  operationProgress(): OperationStatus {
    const member = this.epochs.membership.members.find((n) => n.id === this.id);
    const report = this.operator?.report ?? { keys: 0, bytes: 0, rangesDone: 0, rangesTotal: 0, fraction: 0, done: false };
    const pace = report.done ? undefined : this.operator?.pace();
    return { state: member?.state ?? 'NONE', ...report, ...(pace !== undefined ? { pace } : {}) };
  }

  /**
   * Starts this node's decommission (or goes on with it after a stop), and
   * answers where it is; the leave-begin is sequenced before this answers,
   * so a refusal (too few nodes left, another operation) comes back here.
   */
  async decommission(): Promise<OperationStatus> {
    // Checked and set with no await between (startOperation): a second call waits for the first's begin here.
    while (this.operationStarting !== undefined) await this.operationStarting.catch(() => undefined);
    const op = this.epochs.membership.operation;
    if (this.operatorRun !== undefined) return this.operationProgress();
    if (op !== undefined && op.node === this.id && op.kind === 'leave' && op.by === undefined) this.runOperation(undefined);
    else await this.startOperation({ kind: 'leave-begin', node: this.id });
    return this.operationProgress();
  }

  /**
   * Starts the removal of node `dead`, which is down for good, run here (or
   * goes on with it after a stop), and answers where it is. Refused, in one
   * sentence and before anything is sequenced, while node `dead` answers:
   * a live node leaves by its own decommission, which streams its own data.
   */
  async remove(dead: number): Promise<OperationStatus> {
    while (this.operationStarting !== undefined) await this.operationStarting.catch(() => undefined);
    const op = this.epochs.membership.operation;
    const same = op?.kind === 'leave' && op.node === dead && op.by === this.id && op.aborting !== true;
    if (same && this.operatorRun !== undefined) return this.operationProgress();
    if (same) this.runOperation(undefined);
    else {
      await this.startOperation({ kind: 'leave-begin', node: dead, by: this.id }, async () => {
        await this.deps.catchUpEpochs();
        await this.refuseIfUp(dead, 'removed', 'decommission it instead');
      });
    }
    return this.operationProgress();
  }

  /**
   * Sequences `begin` and runs the operation after it. Until the run has
   * started, a second call of the operator's (a retry after its first call
   * timed out, which goes on here) waits for it first: both calls
   * propose the same change, so both would win its slot and start two runs
   * of one operation (simulator seed 681 with --stream-pace 2000).
   */
  private async startOperation(begin: Change, check?: () => Promise<void>): Promise<void> {
    const operator = this.deps.newOperator();
    const starting = (async () => {
      await check?.();
      await operator.sequence(begin);
      this.runOperation(undefined, operator);
    })();
    this.operationStarting = starting;
    try {
      await starting;
    } finally {
      if (this.operationStarting === starting) this.operationStarting = undefined;
    }
  }

  /**
   * Starts a cleanup of the data this node holds outside its ranges (unless
   * one runs: it goes on), or only reports (`start` false); answers where the
   * last one is. Refused, in one sentence, while a membership operation runs.
   */
  cleanup(start: boolean): CleanupReport {
    const last = this.cleanupRun;
    if (!start || last?.running === true) return last?.cleanup.report ?? { keys: 0, bytes: 0, epoch: this.epochs.epoch, done: true };
    const cleanup = new Cleanup({ selfId: this.id, log: this.epochs, store: this.deps.store, time: this.time, say: (m) => this.log(m) });
    const run = { cleanup, running: true };
    this.cleanupRun = run;
    cleanup
      .run()
      .then(
        () => undefined,
        (err: Error) => this.log(`node ${this.id}: the cleanup stopped: ${err.message}`, 'warn'),
      )
      .finally(() => {
        run.running = false;
        this.deps.reclaimableStale();
      });
    return cleanup.report;
  }

  /**
   * Starts this node's move to `token` (or reports it, when it runs), and
   * answers where it is. Checked before anything is sequenced (the reducer's
   * refusals, and the replicas it would stream with up), so a refused move
   * changes nothing.
   */
  async move(token: string): Promise<OperationStatus> {
    while (this.operationStarting !== undefined) await this.operationStarting.catch(() => undefined);
    const op = this.epochs.membership.operation;
    const same = op?.node === this.id && op.kind === 'move' && op.token === token && op.aborting !== true;
    if (same && this.operatorRun !== undefined) return this.operationProgress();
    if (same) this.runOperation(undefined);
    else {
      await this.startOperation({ kind: 'move-begin', node: this.id, token }, async () => {
        await this.deps.catchUpEpochs();
        checkMove(this.epochs.membership, this.id, token, (id) => id === this.id || this.deps.isUp(id));
      });
    }
    return this.operationProgress();
  }

  /**
   * Aborts the operation in progress, whichever node runs it, and answers
   * with what was aborted once the abort's epochs are taken up. When it is
   * this node's own, its run is stopped first, so that no page of it starts
   * after the abort. A node whose join was aborted leaves afterwards.
   */
  abortOperation(): Promise<string> {
    if (this.abortRun !== undefined) return this.abortRun;
    const op = this.epochs.membership.operation;
    // No page starts after this; one in flight may still land, which is harmless (reclaimable data).
    if (op !== undefined && runnerOf(op) === this.id) this.operator?.stop(`the ${operationWords(op)} was aborted`);
    const run = runAbort(this.deps.newOperator(), this.epochs, async () => {
      await this.deps.catchUpEpochs();
    });
    this.abortRun = run;
    const done = (): void => {
      this.abortRun = undefined;
      this.leaveIfAborted();
    };
    run.then(done, done);
    return run;
  }

  /** An abort of the operation this node runs taken up (run here or elsewhere): its run stops, and a node whose join was undone leaves. */
  noteOwnOperation(previous: Operation, m: Membership): void {
    const change = this.epochs.after(m.epoch - 1)[0]?.change;
    if (change === undefined || !abortsOperationOf(change, previous, this.id)) return;
    this.operator?.stop(`the ${operationWords(previous)} was aborted at epoch ${m.epoch}`);
    if (this.abortRun === undefined) this.leaveIfAborted();
  }

  /**
   * A node that was joining (or replacing) and whose operation was aborted
   * is LEFT: once its run has stopped, it leaves. Only while it serves: one
   * that learns of the abort as it starts again does not serve at all
   * (refuseIfLeft), as a decommissioned node started again does not.
   */
  private leaveIfAborted(): void {
    const self = this.epochs.membership.members.find((n) => n.id === this.id);
    if (self?.state !== 'LEFT' || !this.deps.startLeaving()) return;
    void (async () => {
      await this.operatorRun?.catch(() => undefined);
      // A moment for the answer to the abort, when it ran here, to leave before the server closes.
      await new Promise<void>((resolve) => this.time.after(EPOCH_BARRIER_POLL_MS, () => resolve()));
      await this.deps.leave();
    })();
  }

  /** At start: goes on with this node's unfinished operation, or joins when asked to and not a member yet. */
  resumeOrJoin(join: { readonly token: string } | undefined): void {
    const m = this.epochs.membership;
    const op = m.operation;
    const mine = op !== undefined && runnerOf(op) === this.id;
    if (mine && op.aborting === true) {
      const what = op.by === undefined ? `node ${this.id}'s ${op.kind}` : `the ${operationWords(op)}`;
      this.log(`${what} is being aborted: it does not go on (scripts/admin.sh abort finishes the abort)`, 'warn');
      return;
    }
    if (mine) {
      this.log(`node ${this.id} goes on with ${op.by === undefined ? `its ${op.kind}` : `the ${operationWords(op)}`}`);
      this.runOperation(undefined);
      return;
    }
    if (join === undefined || m.members.some((n) => n.id === this.id)) return;
    const { host, port } = this.deps.address();
    this.runOperation({ kind: 'join-begin', node: this.id, token: join.token, host, port }, undefined, true);
  }

  /**
   * At start, for a node started to replace node `dead`: unless it is a
   * member already (then resumeOrJoin went on with its operation), it takes
   * the dead node's place once a majority of the ring answers, and only if
   * the dead node does not.
   */
  replaceIfNew(dead: number): void {
    if (this.epochs.membership.members.some((n) => n.id === this.id)) return;
    const { host, port } = this.deps.address();
    this.runOperation({ kind: 'replace-begin', node: this.id, replaces: dead, host, port }, undefined, true, () =>
      this.refuseIfUp(dead, 'replaced', 'stop it first, or decommission it instead'),
    );
  }

  /**
   * Refuses to replace or remove a node that answers: a replaced one would
   * share its token with the replacement, and a removed one would keep
   * taking writes it then loses. Asked directly (a hello) rather than from
   * the failure detector, which has not heard from every peer yet on a node
   * that just started.
   */
  private async refuseIfUp(dead: number, done: string, instead: string): Promise<void> {
    const link = this.deps.links.get(dead);
    const answered =
      link !== undefined &&
      (await link.hello(this.deps.clock.now(), this.deps.failureTimeoutMs, this.epochs.epoch).then(
        () => true,
        () => false,
      ));
    if (answered || this.deps.isUp(dead))
      throw new KvError('InvalidRequest', `node ${dead} is up (it answers); only a node that is down for good can be ${done}: ${instead}`);
  }

  /** Runs this node's operation in the background; its report says how it went. */
  private runOperation(
    begin: Change | undefined,
    operator = this.deps.newOperator(),
    waitPeers = false,
    check?: () => Promise<void>,
  ): void {
    this.operator = operator;
    const run = (async () => {
      if (waitPeers) await this.untilPeersUp();
      await check?.();
      await operator.run(begin);
      this.log(`node ${this.id}: the operation is done at epoch ${this.epochs.epoch}`);
      if (this.epochs.membership.members.find((n) => n.id === this.id)?.state === 'LEFT') await this.deps.leave();
    })();
    this.operatorRun = run;
    run.then(
      () => {
        this.operatorRun = undefined;
      },
      (err: Error) => {
        operator.report.error = err.message;
        this.log(`node ${this.id}: the operation stopped: ${err.message}`, 'error');
        this.operatorRun = undefined;
      },
    );
  }

  /** A new node knows no peer up yet: it waits for a majority of the ring's heartbeats before it proposes. */
  private async untilPeersUp(): Promise<void> {
    const deadline = this.time.monotonicMs() + OPERATION_PEERS_UP_TIMEOUT_MS;
    const ring = ringMembers(this.epochs.membership).map((n) => n.id);
    for (;;) {
      const up = ring.filter((id) => this.deps.isUp(id)).length;
      if (up > ring.length / 2) return;
      if (this.time.monotonicMs() > deadline)
        throw new KvError(
          'Unavailable',
          `only ${up} of the ring's ${ring.length} nodes answered within ${OPERATION_PEERS_UP_TIMEOUT_MS / 1000} s; a join needs a majority of them up`,
        );
      await new Promise<void>((resolve) => this.time.after(this.deps.heartbeatIntervalMs, () => resolve()));
    }
  }
}
