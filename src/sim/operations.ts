/**
 * Membership operations in a seed's schedule, run as an operator runs them
 * on a real cluster, through the real code on the simulated nodes:
 *
 * - join: the operator plans it as scripts/server.sh --join does
 *   (client/operations.ts planJoin): the membership from the first node
 *   that gives it, refused at once while it does not allow a join (another
 *   operation in progress); the next node id; the token that splits a
 *   primary range (the busiest one, by the keys its owner holds, or, drawn
 *   from the seed half the time, any one), its median key or its byte
 *   midpoint (membership/tokens.ts splitToken). Then a new node starts with
 *   that join token and runs its join itself (KvNode.operate, the Operator);
 * - decommission: a NORMAL member, drawn from the seed, is asked to leave
 *   (its admin call, KvNode.decommission); the node refuses what the ring
 *   does not allow (another operation, too few nodes left), and once done it
 *   stops and its process exits (SimCluster.departed);
 * - move: a NORMAL member, drawn from the seed, is asked to move to the
 *   byte midpoint between its token and one of its neighbours' (its admin
 *   call, KvNode.move, which refuses a move whose streams' other ends are
 *   down);
 * - abort: the operation in progress is aborted through the real abort
 *   (KvNode.abortOperation, operations/abort.ts), asked of its own node
 *   first and then of the others, as admin.sh abort does; a replacement is
 *   not aborted (the node it replaces is gone for good), and after an
 *   aborted removal the operator asks for the removal again;
 * - cleanup: a NORMAL member, drawn from the seed, deletes what it holds
 *   outside its ranges (KvNode.cleanup; refused while an operation runs);
 * - replace: a NORMAL member is lost for good (its machine is gone) and a
 *   new node takes its token (server.sh --replace, KvNode.operate). Only
 *   while no operation runs or is on its way, and no other operation is
 *   started until the replacement completes: its ranges have one replica
 *   less meanwhile, and an operation that streams with the lost node could
 *   not finish.
 * - remove (only when named): a NORMAL member is lost for good and another
 *   one, drawn from the seed, is asked to remove it (admin.sh remove,
 *   KvNode.removeNode), as a replacement is planned; asked again every
 *   RERUN_INTERVAL_MS while the removal has not begun (a node refuses to
 *   remove a peer it still counts as up, as a real one does until its
 *   failure detector times the peer out).
 *
 * Faults go on meanwhile. A node that crashes runs its operation on from
 * its log when it restarts, as a real node does. An operation that stops
 * with an error (its stream's source down, a barrier not reached, the
 * epoch's slot out of reach) keeps its sentence in the node's report; from
 * the heal on, the operator runs each such one again, as the sentences say
 * to: a joining (or replacing) node is restarted (server.sh's advice), a
 * decommission or a move is asked again, an abort that stopped between its
 * two steps is run again. After settling, the ring must have no operation
 * left under way, every node must hold its last epoch, and with cleanups
 * among the faults, every node cleans up once more and must then hold no
 * key outside its ranges.
 */
import { isKvError } from '../common/errors';
import { ABORT_ANSWER_TIMEOUT_MS, EPOCH_BARRIER_POLL_MS, STREAM_PAGE_BYTES_MAX, STREAM_PAGE_KEYS_MAX } from '../common/limits';
import type { Random } from '../common/random';
import { applyChange, Membership, Operation, replayLog, ringMembers, runnerOf } from '../membership/changes';
import { EPOCH_SLOT_KEY_PREFIX } from '../membership/epoch-log';
import { PlacedRange, Placement } from '../membership/placement';
import { intervalsOf } from '../membership/stream-plan';
import { unreplicatedIntervals } from '../membership/reclaim';
import { midpointToken, splitToken } from '../membership/tokens';
import type { CleanupReport } from '../operations/cleanup';
import { Ring } from '../partitioner/ring';
import { compareKeyStrings } from '../common/bytes';
import type { SimCluster } from './cluster';
import { clientCall, SimNetwork } from './network';

/** How often the operator looks for operations that stopped (and, from the heal on, runs them again), ms. */
const RERUN_INTERVAL_MS = 500;

/** What the operations of one seed came to. */
export interface OperationCounts {
  /** Joins and decommissions started (a node added to join, a decommission the node accepted). */
  started: number;
  /** Asked for and refused by the membership (another operation, too few nodes left). */
  refused: number;
  /** Times an operation stopped with an error (each sentence is in `stops`). */
  stopped: number;
  /** Operations run again after they stopped. */
  rerun: number;
  /** Of those started: moves, replacements and removals of a node lost for good. */
  moves: number;
  replaces: number;
  removes: number;
  /** Aborts that answered: the operation in progress was undone. */
  aborted: number;
  /** Cleanups begun by the schedule (the final ones not counted). */
  cleanups: number;
}

/** Whether `op` is what a node lost for good waits for: its replacement, or its removal. */
function handlesLoss(op: Operation): boolean {
  return op.kind === 'replace' || op.by !== undefined;
}

export class SimOperations {
  readonly counts: OperationCounts = {
    started: 0,
    refused: 0,
    stopped: 0,
    rerun: 0,
    moves: 0,
    replaces: 0,
    removes: 0,
    aborted: 0,
    cleanups: 0,
  };
  /** Every sentence an operation stopped with, in order. */
  readonly stops: string[] = [];
  /** The nodes whose operation the operator started, by id. */
  private readonly started = new Set<number>();
  /** The nodes asked to leave, whether or not they began. */
  private readonly askedToLeave = new Set<number>();
  /** Each node's last stop sentence seen, so that one stop is counted once. */
  private readonly seenStops = new Map<number, string>();
  /**
   * Admin calls whose answer did not come (TimedOut: the node may have
   * begun, or its epoch may be decided without the node knowing): asked
   * again from the heal on, as an operator runs the command again.
   */
  private readonly unanswered = new Map<number, () => Promise<void>>();
  /** An abort asked and not answered yet: one at a time, as an operator runs them. */
  private aborting = false;
  /** A node lost for good whose removal has not begun yet, and the draw that picks the node asked to run it. */
  private removal: { readonly dead: number; readonly draw: number } | undefined;
  /** The runner draw of each lost node's removal, kept for a removal asked again after an abort. */
  private readonly removalDraws = new Map<number, number>();
  private nextRequest = 0;

  constructor(
    private readonly net: SimNetwork,
    private readonly cluster: SimCluster,
    private readonly random: Random,
    private readonly timeoutMs: number,
  ) {}

  private note(what: string, node: number, text: string): void {
    this.net.trace.note(what, node, 0, () => text);
  }

  /** The membership of the first node (in id order) that gives its log; undefined when none answers. */
  private async membership(): Promise<Membership | undefined> {
    for (const id of this.cluster.present()) {
      try {
        const entries = await clientCall(this.net, id, 'membership', this.nextRequest++, (n) => n.epochs.after(0), this.timeoutMs);
        return replayLog(entries);
      } catch {
        // Down or silent: the next one.
      }
    }
    return undefined;
  }

  /** The keys `owner` holds in the range, in byte order, the epoch slots left out (as planJoin counts them). */
  private async keysIn(owner: number, range: PlacedRange): Promise<string[]> {
    const keys: string[] = [];
    for (const { from, to } of intervalsOf(range.start, range.end)) {
      let cursor = from;
      for (;;) {
        const page = await clientCall(
          this.net,
          owner,
          'readRange',
          this.nextRequest++,
          (n) => n.store.range(cursor, to, STREAM_PAGE_KEYS_MAX, STREAM_PAGE_BYTES_MAX),
          this.timeoutMs,
        );
        keys.push(...page.entries.map((e) => e.key).filter((k) => !k.startsWith(EPOCH_SLOT_KEY_PREFIX)));
        if (!page.more || page.entries.length === 0) break;
        cursor = `${page.entries[page.entries.length - 1]!.key}\u0000`;
      }
    }
    return keys;
  }

  /** The token a join takes: splitting the busiest primary range (or, half the time, one drawn at random). */
  private async planToken(m: Membership): Promise<string | undefined> {
    const ranges = Placement.of(m).ranges;
    const anyOne = this.random.chance(0.5) ? this.random.pick(ranges) : undefined;
    let best: { range: PlacedRange; keys: string[] } | undefined;
    for (const range of anyOne !== undefined ? [anyOne] : ranges) {
      try {
        const keys = await this.keysIn(range.reads[0]!, range);
        if (best === undefined || keys.length > best.keys.length) best = { range, keys };
      } catch {
        // Its owner is down: planJoin skips that range too.
      }
    }
    return best === undefined ? undefined : splitToken(best.range.start, best.range.end, best.keys);
  }

  /** A new node joins the ring, if the membership allows one now. */
  async join(): Promise<void> {
    const m = await this.membership();
    if (m === undefined) return this.note('join not planned', -1, 'no node gave its membership');
    if (this.awaitsReplacement(m, 'join')) return;
    const id = this.cluster.size;
    try {
      applyChange(m, { epoch: m.epoch + 1, change: { kind: 'join-begin', node: id, token: '\u0000' } });
    } catch (err) {
      this.counts.refused++;
      return this.note('join refused', id, (err as Error).message);
    }
    const token = await this.planToken(m);
    if (token === undefined) return this.note('join not planned', id, 'no owner gave its keys');
    const { id: added } = this.cluster.addJoiningNode(token);
    this.started.add(added);
    this.counts.started++;
    this.note('join', added, `at token ${JSON.stringify(token)}`);
  }

  /** Asks a NORMAL member (picked by `draw`) to leave the ring. */
  async decommission(draw: number): Promise<void> {
    const m = await this.membership();
    if (m === undefined) return this.note('decommission not asked', -1, 'no node gave its membership');
    if (this.awaitsReplacement(m, 'decommission')) return;
    const normal = ringMembers(m)
      .filter((n) => n.state === 'NORMAL')
      .map((n) => n.id);
    const id = normal[draw % normal.length]!;
    if (!this.acceptorsStay(m, id)) return this.note('decommission not asked', id, 'it would take a majority of some bootstrap range');
    await this.ask(id);
  }

  /**
   * Whether a node lost for good is still in the ring (its replacement not
   * complete): no other operation is started meanwhile (noted as `what` not
   * planned).
   */
  private awaitsReplacement(m: Membership, what: string): boolean {
    const dead = ringMembers(m).find((n) => this.cluster.lost.has(n.id));
    if (dead !== undefined) this.note(`${what} not planned`, dead.id, 'the node is lost and its replacement or removal not complete');
    return dead !== undefined;
  }

  /** Asks a NORMAL member (picked by `draw`) to move to the midpoint between its token and a neighbour's (picked by `side`). */
  async move(draw: number, side: number): Promise<void> {
    const m = await this.membership();
    if (m === undefined) return this.note('move not asked', -1, 'no node gave its membership');
    if (this.awaitsReplacement(m, 'move')) return;
    const ring = ringMembers(m).sort((a, b) => compareKeyStrings(a.token, b.token));
    const normal = ring.filter((n) => n.state === 'NORMAL');
    const node = normal[draw % normal.length]!;
    const at = ring.indexOf(node);
    const token =
      side % 2 === 0
        ? midpointToken(ring[(at - 1 + ring.length) % ring.length]!.token, node.token)
        : midpointToken(node.token, ring[(at + 1) % ring.length]!.token);
    await this.askMove(node.id, token, false);
  }

  /** The move admin call to node `id`: started, refused (by the reducer, or a stream's other end down), or not answered. */
  private async askMove(id: number, token: string, rerun: boolean): Promise<void> {
    try {
      await clientCall(this.net, id, 'move', this.nextRequest++, (n) => n.move(token), this.timeoutMs);
      if (!rerun) {
        this.counts.started++;
        this.counts.moves++;
      }
      this.started.add(id);
      this.note('move', id, `to ${JSON.stringify(token)}`);
    } catch (err) {
      if (isKvError(err, 'InvalidRequest') || isKvError(err, 'Unavailable')) this.counts.refused++;
      else if (isKvError(err, 'TimedOut')) {
        this.started.add(id);
        this.unanswered.set(id, () => this.askMove(id, token, true));
      }
      this.note('move not begun', id, (err as Error).message);
    }
  }

  /**
   * Aborts the operation in progress, unless none runs, another abort is
   * under way, or it is a replacement. An aborted removal leaves its lost
   * node NORMAL in the ring: the operator asks for the removal again.
   */
  async abort(): Promise<void> {
    if (this.aborting) return this.note('abort not asked', -1, 'another abort is under way');
    const m = await this.membership();
    const op = m?.operation;
    if (op === undefined) return this.note('abort not asked', -1, 'no operation is in progress');
    if (op.kind === 'replace') return this.note('abort not asked', op.node, 'a replacement of a node gone for good');
    await this.askAbort(m!);
  }

  /**
   * The abort admin call, as admin.sh abort makes it: to the operation's own
   * node first (it stops its streams before the abort is sequenced), then to
   * each other node of the ring that cannot be reached.
   */
  private async askAbort(m: Membership): Promise<void> {
    const op = m.operation!;
    const runner = runnerOf(op);
    const others = ringMembers(m)
      .map((n) => n.id)
      .filter((id) => id !== runner);
    this.aborting = true;
    try {
      for (const id of [runner, ...others]) {
        try {
          const words = await clientCall(this.net, id, 'abort', this.nextRequest++, (n) => n.abortOperation(), ABORT_ANSWER_TIMEOUT_MS);
          this.counts.aborted++;
          this.note('aborted', id, words);
          if (op.by !== undefined) this.removeAgain(op.node);
          return;
        } catch (err) {
          if (!isKvError(err, 'ConnectionError')) return this.note('abort not done', id, (err as Error).message);
        }
      }
      this.note('abort not done', -1, 'no node of the ring took it');
    } finally {
      this.aborting = false;
    }
  }

  /** Asks a NORMAL member (picked by `draw`) to clean up; the node refuses while an operation runs. */
  async cleanup(draw: number): Promise<void> {
    const m = await this.membership();
    if (m === undefined) return this.note('cleanup not asked', -1, 'no node gave its membership');
    const normal = ringMembers(m).filter((n) => n.state === 'NORMAL' && !this.cluster.lost.has(n.id));
    const id = normal[draw % normal.length]!.id;
    try {
      await clientCall(this.net, id, 'cleanup', this.nextRequest++, (n) => n.cleanup(true), this.timeoutMs);
      this.counts.cleanups++;
      this.note('cleanup', id, 'begun');
    } catch (err) {
      if (isKvError(err, 'InvalidRequest')) this.counts.refused++;
      this.note('cleanup not begun', id, (err as Error).message);
    }
  }

  /**
   * A NORMAL member (picked by `draw`) is lost for good, and a new node
   * (the next id) is started to take its token, as server.sh --replace
   * does once planReplace allowed it: only while no operation runs, and none
   * the operator started is on its way (a join not sequenced yet).
   */
  async replace(draw: number): Promise<void> {
    const dead = await this.loseMember('replace', draw);
    if (dead === undefined) return;
    const { id } = this.cluster.addReplacingNode(dead);
    this.started.add(id);
    this.counts.started++;
    this.counts.replaces++;
    this.note('replace', id, `of node ${dead}`);
  }

  /**
   * A NORMAL member (picked by `draw`) is lost for good, and another NORMAL
   * member (picked by `runnerDraw`) is asked to remove it, as admin.sh
   * remove does; planned as a replacement is, and only while the ring keeps
   * at least the replication factor's nodes without it.
   */
  async remove(draw: number, runnerDraw: number): Promise<void> {
    const dead = await this.loseMember('remove', draw);
    if (dead === undefined) return;
    this.removal = { dead, draw: runnerDraw };
    this.removalDraws.set(dead, runnerDraw);
    this.counts.started++;
    this.counts.removes++;
    this.note('lost, to be removed', dead, '');
  }

  /**
   * The planning a replacement and a removal share: a NORMAL member (picked
   * by `draw`) is lost for good, only while no operation runs and none the
   * operator started is on its way, and while every bootstrap range keeps a
   * majority (a removal: and the ring the replication factor's nodes).
   * Resolves with the lost node, or undefined with the reason noted.
   */
  private async loseMember(what: 'replace' | 'remove', draw: number): Promise<number | undefined> {
    const m = await this.membership();
    if (m === undefined) return void this.note(`${what} not planned`, -1, 'no node gave its membership');
    if (this.awaitsReplacement(m, what)) return undefined;
    const onItsWay = [...this.started].some((id) => !this.cluster.departed.has(id) && !m.members.some((n) => n.id === id));
    if (m.operation !== undefined || onItsWay) {
      this.counts.refused++;
      return void this.note(`${what} not planned`, -1, 'an operation is in progress');
    }
    const normal = ringMembers(m).filter((n) => n.state === 'NORMAL');
    const dead = normal[draw % normal.length]!.id;
    if (what === 'remove' && normal.length - 1 < m.replicationFactor)
      return void this.note(`${what} not planned`, dead, 'the ring would keep fewer nodes than the replication factor');
    if (!this.acceptorsStay(m, dead))
      return void this.note(`${what} not planned`, dead, 'it would take a majority of some bootstrap range');
    this.askedToLeave.add(dead);
    this.cluster.lose(dead);
    return dead;
  }

  /** After an abort undid the removal of lost node `dead`: it is asked for again, of the node its first draw picks. */
  private removeAgain(dead: number): void {
    this.removal = { dead, draw: this.removalDraws.get(dead) ?? 0 };
    this.note('lost, to be removed again', dead, 'its removal was aborted');
  }

  /**
   * The removal of a lost node that has not begun, asked of a live NORMAL
   * member; once the ring shows it under way (begun by this call, or by an
   * earlier one whose answer was lost), its runner is watched as any
   * operation's node is, and the removal is not asked again.
   */
  private async askRemoval(): Promise<void> {
    const pending = this.removal;
    if (pending === undefined) return;
    const m = this.ringView();
    if (m === undefined) return; // no node runs now: asked again at the next look
    const op = m.operation;
    if (op?.kind === 'leave' && op.node === pending.dead && op.by !== undefined) {
      this.removal = undefined;
      this.started.add(op.by);
      return;
    }
    const runners = ringMembers(m)
      .filter((n) => n.state === 'NORMAL' && n.id !== pending.dead && this.cluster.nodes[n.id] !== undefined)
      .map((n) => n.id);
    if (runners.length === 0) return;
    const runner = runners[pending.draw % runners.length]!;
    try {
      await clientCall(this.net, runner, 'removeNode', this.nextRequest++, (n) => n.removeNode(pending.dead), this.timeoutMs);
      if (this.removal === pending) this.removal = undefined;
      this.started.add(runner);
      this.note('remove', runner, `of node ${pending.dead}`);
    } catch (err) {
      // Refused (the runner still counts the node up, or its log is behind), unreachable or not answered: asked again.
      this.note('remove not begun', runner, (err as Error).message);
    }
  }

  /**
   * Whether every range of the bootstrap ring keeps a majority of its
   * replicas in the ring once `leaving` has left. Compare-and-set, and the
   * epoch slots that sequence operations, still place keys by the bootstrap
   * ring (docs/ARCHITECTURE.md): past that, a range's cas and any further
   * operation would be unavailable for good, so the operator here does not
   * ask for it (the nodes would not refuse it).
   */
  private acceptorsStay(m: Membership, leaving: number): boolean {
    const { nodes, replicationFactor } = this.cluster.config;
    const bootstrap = new Ring(nodes, replicationFactor);
    // Every node asked to leave counts as gone: the membership read may be older than the ask, which may begin late.
    const staying = new Set(ringMembers(m).map((n) => n.id));
    for (const id of [leaving, ...this.askedToLeave]) staying.delete(id);
    return nodes.every((n) => bootstrap.replicas(n.token).filter((id) => staying.has(id)).length > replicationFactor / 2);
  }

  /** The decommission admin call to node `id`: started, refused, or not answered (the node may have begun it). */
  private async ask(id: number): Promise<void> {
    this.askedToLeave.add(id);
    try {
      await clientCall(this.net, id, 'decommission', this.nextRequest++, (n) => n.decommission(), this.timeoutMs);
      if (!this.started.has(id)) this.counts.started++;
      this.started.add(id);
      this.note('decommission', id, 'begun');
    } catch (err) {
      if (isKvError(err, 'InvalidRequest')) this.counts.refused++;
      else if (isKvError(err, 'TimedOut')) {
        // It may have begun: its stops are watched, and the call is made again from the heal on.
        this.started.add(id);
        this.unanswered.set(id, () => this.ask(id));
      }
      this.note('decommission not begun', id, (err as Error).message);
    }
  }

  /**
   * Every RERUN_INTERVAL_MS until `untilMs`, notes the operations that
   * stopped with an error; from `healMs` on, runs each again, as its
   * sentence says.
   */
  watch(healMs: number, untilMs: number): void {
    const now = this.net.sched.nowMs;
    this.lookForStops(now >= healMs);
    if (now + RERUN_INTERVAL_MS < untilMs) this.net.sched.at(RERUN_INTERVAL_MS, () => this.watch(healMs, untilMs));
  }

  /**
   * Counts the stops not seen yet, and with `rerun` runs each stopped
   * operation again; and with `rerun`, finishes an abort that stopped
   * between its steps, and aborts an operation that holds up the
   * replacement of a node lost for good.
   */
  lookForStops(rerun: boolean): void {
    for (const id of this.started) {
      const node = this.cluster.nodes[id];
      if (node === undefined) continue;
      const progress = node.operationProgress();
      if (progress.error === undefined || progress.done) continue;
      if (this.seenStops.get(id) !== progress.error) {
        this.seenStops.set(id, progress.error);
        this.counts.stopped++;
        this.stops.push(`node ${id}: ${progress.error}`);
        this.note('operation stopped', id, progress.error);
      }
      if (rerun) this.rerun(id);
    }
    if (rerun) this.askAgain();
    if (this.removal !== undefined) void this.askRemoval();
    const view = this.ringView();
    const op = view?.operation;
    if (!rerun || this.aborting || op === undefined) return;
    const blocksReplacement = !handlesLoss(op) && ringMembers(view!).some((n) => this.cluster.lost.has(n.id));
    if (op.aborting === true || blocksReplacement) void this.askAbort(view!);
  }

  /** The admin calls that were not answered, asked again (each once: one that times out again is noted again). */
  private askAgain(): void {
    for (const [id, again] of [...this.unanswered]) {
      this.unanswered.delete(id);
      this.counts.rerun++;
      void again();
    }
  }

  /** Runs node `id`'s stopped operation again, as its sentence says; nothing when it was aborted (or is being). */
  private rerun(id: number): void {
    const m = this.cluster.nodes[id]!.epochs.membership;
    const op = m.operation;
    if (op?.aborting === true || m.members.find((n) => n.id === id)?.state === 'LEFT') return;
    const own = op !== undefined && runnerOf(op) === id ? op : undefined;
    let again: (() => unknown) | undefined;
    if (own?.kind === 'leave' && own.by !== undefined) again = () => this.askRerunRemoval(id, own.node);
    else if (own?.kind === 'leave') again = () => this.ask(id);
    else if (own?.kind === 'move') again = () => this.askMove(id, own.token!, true);
    else if (this.cluster.joins(id)) again = () => this.restart(id);
    // None: its operation was aborted, and its stop stays seen (counted once).
    if (again === undefined) return;
    this.counts.rerun++;
    this.seenStops.delete(id);
    void again();
  }

  /** A removal that stopped, asked again of the node that runs it (it goes on where it stopped). */
  private async askRerunRemoval(runner: number, dead: number): Promise<void> {
    try {
      await clientCall(this.net, runner, 'removeNode', this.nextRequest++, (n) => n.removeNode(dead), this.timeoutMs);
      this.note('remove', runner, `of node ${dead}, again`);
    } catch (err) {
      this.note('remove not begun', runner, (err as Error).message);
    }
  }

  /** The membership of the running node furthest along (the simulator's look at the nodes, not an operator's call). */
  private ringView(): Membership | undefined {
    let best: Membership | undefined;
    for (const node of this.cluster.nodes)
      if (node !== undefined && (best === undefined || node.epochs.epoch > best.epoch)) best = node.epochs.membership;
    return best;
  }

  /** A joining node whose join stopped is restarted, and goes on with its join (or begins it again). */
  private restart(id: number): void {
    this.note('restart to rejoin', id, '');
    this.cluster.crash(id);
    void this.cluster.start(id);
  }

  /**
   * After settling: the ring's last membership (the clients' view, asked
   * again just before) has no operation under way, and every node of the
   * ring that runs holds its epoch.
   */
  problems(final: Membership): string[] {
    this.lookForStops(false);
    const out: string[] = [];
    const op = final.operation;
    if (op !== undefined) {
      const report = this.cluster.nodes[runnerOf(op)]?.operationProgress();
      out.push(
        `  membership: the ${op.kind} of node ${op.node} is still under way at epoch ${final.epoch} after settling${report?.error ? ` (it stopped: ${report.error})` : ''}`,
      );
    }
    for (const member of ringMembers(final)) {
      const node = this.cluster.nodes[member.id];
      if (node !== undefined && node.epochs.epoch !== final.epoch)
        out.push(`  membership: node ${member.id} holds epoch ${node.epochs.epoch}, not the ring's last, ${final.epoch}`);
    }
    for (const member of final.members) {
      if (member.state === 'LEFT' && this.cluster.nodes[member.id] !== undefined)
        out.push(`  membership: node ${member.id} left the ring at or before epoch ${final.epoch} but its process still runs`);
      if (member.state !== 'LEFT' && this.cluster.lost.has(member.id))
        out.push(
          `  membership: node ${member.id} was lost for good and is still in the ring at epoch ${final.epoch} (not replaced or removed)`,
        );
    }
    return out;
  }

  /**
   * After settling, when cleanups are among the faults: every node of the
   * final ring cleans up, all at once as admin.sh cleanup runs them;
   * resolves with the problems: a cleanup refused or stopped, and any key
   * a node still holds outside its ranges once its cleanup is done. (A
   * cleanup that deleted a key its node replicates shows in the checker's
   * verdict, which reads the replicas after this.)
   */
  async finalCleanup(final: Membership): Promise<string[]> {
    const out: string[] = [];
    const runs: { id: number; report: CleanupReport }[] = [];
    for (const { id } of ringMembers(final)) {
      const node = this.cluster.nodes[id];
      if (node === undefined) continue;
      try {
        runs.push({ id, report: node.cleanup(true) });
      } catch (err) {
        out.push(`  cleanup: node ${id} refused its final cleanup: ${(err as Error).message}`);
      }
    }
    while (runs.some((r) => !r.report.done && r.report.error === undefined))
      await new Promise<void>((resolve) => this.net.sched.at(EPOCH_BARRIER_POLL_MS, resolve));
    const placement = Placement.of(final);
    for (const { id, report } of runs) {
      if (report.error !== undefined) out.push(`  cleanup: node ${id}'s final cleanup stopped: ${report.error}`);
      else out.push(...this.heldOutside(id, placement));
    }
    return out;
  }

  /** The first key node `id` holds outside its ranges under `placement`, if any. */
  private heldOutside(id: number, placement: Placement): string[] {
    const store = this.cluster.nodes[id]?.store;
    if (store === undefined) return [];
    for (const { from, to } of unreplicatedIntervals(placement, id)) {
      const key = store.range(from, to, 1, STREAM_PAGE_BYTES_MAX).entries[0]?.key;
      if (key !== undefined)
        return [`  cleanup: node ${id} still holds ${JSON.stringify(key)}, outside its ranges, after its final cleanup`];
    }
    return [];
  }
}
