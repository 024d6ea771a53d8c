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
 *   stops and its process exits (SimCluster.departed).
 *
 * Faults go on meanwhile. A node that crashes runs its operation on from
 * its log when it restarts, as a real node does. An operation that stops
 * with an error (its stream's source down, a barrier not reached, the
 * epoch's slot out of reach) keeps its sentence in the node's report; from
 * the heal on, the operator runs each such one again, as the sentences say
 * to: a joining node is restarted (server.sh's advice), a decommission is
 * asked again. After settling, the ring must have no operation left under
 * way, and every node must hold its last epoch.
 */
import { isKvError } from '../common/errors';
import type { Random } from '../common/random';
import { applyChange, Membership, replayLog, ringMembers } from '../membership/changes';
import { EPOCH_SLOT_KEY_PREFIX } from '../membership/epoch-log';
import { PlacedRange, Placement } from '../membership/placement';
import { intervalsOf } from '../membership/stream-plan';
import { splitToken } from '../membership/tokens';
import { Ring } from '../partitioner/ring';
import { STREAM_PAGE_BYTES_MAX, STREAM_PAGE_KEYS_MAX } from '../common/limits';
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
}

export class SimOperations {
  readonly counts: OperationCounts = { started: 0, refused: 0, stopped: 0, rerun: 0 };
  /** Every sentence an operation stopped with, in order. */
  readonly stops: string[] = [];
  /** The nodes whose operation the operator started, by id. */
  private readonly started = new Set<number>();
  /** The nodes asked to leave, whether or not they began. */
  private readonly askedToLeave = new Set<number>();
  /** Each node's last stop sentence seen, so that one stop is counted once. */
  private readonly seenStops = new Map<number, string>();
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
    const normal = ringMembers(m)
      .filter((n) => n.state === 'NORMAL')
      .map((n) => n.id);
    const id = normal[draw % normal.length]!;
    if (!this.acceptorsStay(m, id)) return this.note('decommission not asked', id, 'it would take a majority of some bootstrap range');
    await this.ask(id);
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
      else if (isKvError(err, 'TimedOut')) this.started.add(id);
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

  /** Counts the stops not seen yet, and with `rerun` runs each stopped operation again. */
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
      if (!rerun) continue;
      const op = node.epochs.membership.operation;
      this.counts.rerun++;
      this.seenStops.delete(id);
      if (op?.node === id && op.kind === 'leave') void this.ask(id);
      else if (this.cluster.joins(id)) this.restart(id);
    }
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
      const report = this.cluster.nodes[op.node]?.operationProgress();
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
    }
    return out;
  }
}
