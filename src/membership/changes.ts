/**
 * The ring as versioned state: an ordered log of membership changes, each
 * with an epoch (1, 2, 3, ...), and the pure reducer that folds it into the
 * membership of an epoch. Epoch 1 is always the bootstrap of the initial
 * ring (from the cluster file); every later change is one step of one
 * operation. Placement per epoch is derived from this in placement.ts.
 *
 * An operation (join, leave, move, replace) takes three epochs:
 *   1. `*-begin`: the new replicas take writes (they are pending); reads stay
 *      on the old ones, which hold the data.
 *   2. `reads-switch`: reads move to the new replicas (once they hold the
 *      data: streaming, a later step); the old ones still take writes.
 *   3. `*-complete`: the old replicas stop taking writes.
 * Two steps (begin, complete) would not do: a coordinator that has already
 * seen `complete` writes a QUORUM to the new replicas only, while one still
 * at `begin` reads a QUORUM from the old ones only, and with three replicas
 * those two quorums can miss each other. With the middle step every pair of
 * adjacent epochs keeps QUORUM writes and reads intersecting (the property
 * test in test/unit/placement-property.test.ts checks all four pairings).
 *
 * An operation that has not completed can be aborted, back to the placement
 * before it (see `abort` below): `reads-back` first when its reads had
 * moved, then `abort`.
 *
 * A removal (`leave-begin` with `by`) is a leave of a node that is down for
 * good: the same three epochs and placements, run by another node (`by`),
 * which copies each range the dead node gives up from every surviving
 * replica of it (membership/remove-plan.ts). Nodes of a build that predates
 * `by` take it up as the leave it is.
 *
 * One operation at a time: a second one is refused while the first runs.
 * Node ids are never reused; a node that left stays in the membership as LEFT.
 */
import { assert, unreachable } from '../common/assert';
import { compareKeyStrings } from '../common/bytes';
import { KvError } from '../common/errors';

export type NodeState = 'NORMAL' | 'JOINING' | 'LEAVING' | 'MOVING' | 'LEFT';
export const NODE_STATES: readonly NodeState[] = ['NORMAL', 'JOINING', 'LEAVING', 'MOVING', 'LEFT'];

export type OperationKind = 'join' | 'leave' | 'move' | 'replace';

/**
 * Where a node that was not in the bootstrap listens: a joining or replacing
 * node names its address in its begin change, so that every node and client
 * learns it from the log (the bootstrap nodes' addresses are the cluster file's).
 * Optional because logs written before nodes could join have none.
 */
export interface Address {
  readonly host?: string;
  readonly port?: number;
}

/** One change of the membership, as pure data; tokens are latin1 strings (common/bytes.ts). */
export type Change =
  | {
      readonly kind: 'bootstrap';
      readonly nodes: readonly { readonly id: number; readonly token: string }[];
      readonly replicationFactor: number;
    }
  | ({ readonly kind: 'join-begin'; readonly node: number; readonly token: string } & Address)
  | { readonly kind: 'leave-begin'; readonly node: number; readonly by?: number }
  | { readonly kind: 'move-begin'; readonly node: number; readonly token: string }
  | ({ readonly kind: 'replace-begin'; readonly node: number; readonly replaces: number } & Address)
  | { readonly kind: 'reads-switch'; readonly node: number }
  | { readonly kind: 'reads-back' | 'abort'; readonly node: number }
  | { readonly kind: 'join-complete' | 'leave-complete' | 'move-complete' | 'replace-complete'; readonly node: number };

export type ChangeKind = Change['kind'];

export interface EpochEntry {
  readonly epoch: number;
  readonly change: Change;
}

export interface Member extends Address {
  readonly id: number;
  readonly token: string;
  readonly state: NodeState;
}

/** The operation under way: which node, what it does, and whether reads have moved yet. */
export interface Operation {
  readonly kind: OperationKind;
  readonly node: number;
  /** Where a moving node goes. */
  readonly token?: string;
  /** The node a replacement takes over from. */
  readonly replaces?: number;
  /** A removal: the node that runs this leave, since the leaving node is down for good. */
  readonly by?: number;
  readonly readsSwitched: boolean;
  /** Set by `reads-back`: the operation is being undone, and only `abort` may follow. */
  readonly aborting?: boolean;
}

export interface Membership {
  readonly epoch: number;
  readonly replicationFactor: number;
  /** Every node ever in the ring, by id. */
  readonly members: readonly Member[];
  readonly operation?: Operation;
}

function invalid(message: string): KvError {
  return new KvError('InvalidRequest', message);
}

function memberOf(m: Membership, id: number): Member {
  const member = m.members.find((n) => n.id === id);
  if (member === undefined) throw invalid(`node ${id} is not a member of the ring`);
  return member;
}

/** The members that hold a token on the ring now (all but LEFT). */
export function ringMembers(m: Membership): Member[] {
  return m.members.filter((n) => n.state !== 'LEFT');
}

function withMember(m: Membership, member: Member): Member[] {
  const rest = m.members.filter((n) => n.id !== member.id);
  return [...rest, member].sort((a, b) => a.id - b.id);
}

function checkNewNode(m: Membership, id: number): void {
  if (!Number.isInteger(id) || id < 0) throw invalid(`node id ${id} must be a non-negative integer`);
  if (m.members.some((n) => n.id === id)) throw invalid(`node ${id} is already a member of the ring (ids are never reused)`);
}

function checkTokenFree(m: Membership, token: string): void {
  const holder = ringMembers(m).find((n) => n.token === token);
  if (holder !== undefined) throw invalid(`token ${JSON.stringify(token)} is already taken by node ${holder.id}`);
}

function checkNoOperation(m: Membership): void {
  const op = m.operation;
  if (op !== undefined) {
    const what = op.by === undefined ? `${op.kind} of node ${op.node}` : `removal of node ${op.node} by node ${op.by}`;
    throw invalid(`another operation (${what}) is in progress`);
  }
}

function requireNormal(member: Member, what: string): void {
  if (member.state !== 'NORMAL') throw invalid(`node ${member.id} is ${member.state}; only a NORMAL node can ${what}`);
}

/** The node that runs a removal must be another member, NORMAL, on the ring. */
function checkRemover(m: Membership, node: number, by: number): void {
  if (by === node) throw invalid(`node ${node} cannot remove itself; decommission it instead`);
  requireNormal(memberOf(m, by), 'run a removal');
}

/** The node that runs an operation: its own node, or for a removal the node named by `by`. */
export function runnerOf(op: Operation): number {
  return op.by ?? op.node;
}

function bootstrap(change: Extract<Change, { kind: 'bootstrap' }>): Membership {
  const { nodes, replicationFactor } = change;
  if (nodes.length === 0) throw invalid('the initial ring needs at least one node');
  if (!(replicationFactor >= 1 && replicationFactor <= nodes.length))
    throw invalid(`replication factor ${replicationFactor} must be between 1 and ${nodes.length}`);
  const tokens = nodes.map((n) => n.token).sort(compareKeyStrings);
  for (let i = 1; i < tokens.length; i++) if (tokens[i] === tokens[i - 1]) throw invalid('the initial ring has two nodes with one token');
  const ids = new Set(nodes.map((n) => n.id));
  if (ids.size !== nodes.length) throw invalid('the initial ring has two nodes with one id');
  const members = nodes.map((n) => ({ id: n.id, token: n.token, state: 'NORMAL' as const })).sort((a, b) => a.id - b.id);
  return { epoch: 1, replicationFactor, members };
}

/** A change's address fields, only those it has (so that members compare equal whether or not they were sent). */
function addressOf(a: Address): Address {
  return { ...(a.host !== undefined && { host: a.host }), ...(a.port !== undefined && { port: a.port }) };
}

/** The node an operation starts with, in its new state, and the operation: checked against the membership. */
function started(m: Membership, change: Extract<Change, { kind: `${OperationKind}-begin` }>): [Member, Operation] {
  switch (change.kind) {
    case 'join-begin':
      checkNewNode(m, change.node);
      checkTokenFree(m, change.token);
      return [
        { id: change.node, token: change.token, state: 'JOINING', ...addressOf(change) },
        { kind: 'join', node: change.node, readsSwitched: false },
      ];
    case 'leave-begin': {
      const member = memberOf(m, change.node);
      requireNormal(member, change.by === undefined ? 'leave' : 'be removed');
      if (change.by !== undefined) checkRemover(m, change.node, change.by);
      const rest = m.members.filter((n) => n.state === 'NORMAL').length - 1;
      if (rest < m.replicationFactor)
        throw invalid(
          `node ${change.node} cannot ${change.by === undefined ? 'leave' : 'be removed'}: the ring would have ${rest} nodes, fewer than the replication factor ${m.replicationFactor}`,
        );
      return [
        { ...member, state: 'LEAVING' },
        { kind: 'leave', node: change.node, readsSwitched: false, ...(change.by !== undefined && { by: change.by }) },
      ];
    }
    case 'move-begin': {
      const member = memberOf(m, change.node);
      requireNormal(member, 'move');
      checkTokenFree(m, change.token);
      return [
        { ...member, state: 'MOVING' },
        { kind: 'move', node: change.node, token: change.token, readsSwitched: false },
      ];
    }
    case 'replace-begin': {
      const old = memberOf(m, change.replaces);
      requireNormal(old, 'be replaced');
      checkNewNode(m, change.node);
      return [
        { id: change.node, token: old.token, state: 'JOINING', ...addressOf(change) },
        { kind: 'replace', node: change.node, replaces: old.id, readsSwitched: false },
      ];
    }
  }
}

function begin(m: Membership, change: Extract<Change, { kind: `${OperationKind}-begin` }>): Membership {
  checkNoOperation(m);
  const [member, operation] = started(m, change);
  return { epoch: m.epoch + 1, replicationFactor: m.replicationFactor, members: withMember(m, member), operation };
}

function operationFor(m: Membership, node: number, kind?: OperationKind): Operation {
  const op = m.operation;
  if (op === undefined || op.node !== node || (kind !== undefined && op.kind !== kind))
    throw invalid(`no ${kind ?? 'operation'} of node ${node} is in progress`);
  return op;
}

/** An operation being aborted goes nowhere but back. */
function goingOn(m: Membership, node: number, kind?: OperationKind): Operation {
  const op = operationFor(m, node, kind);
  if (op.aborting === true) throw invalid(`node ${node}'s ${op.kind} is being aborted; only its abort can follow`);
  return op;
}

function switchReads(m: Membership, node: number): Membership {
  const op = goingOn(m, node);
  if (op.readsSwitched) throw invalid(`reads of node ${node}'s ${op.kind} have already moved`);
  return { ...m, epoch: m.epoch + 1, operation: { ...op, readsSwitched: true } };
}

function complete(m: Membership, kind: OperationKind, node: number): Membership {
  const op = goingOn(m, node, kind);
  if (!op.readsSwitched) throw invalid(`node ${node}'s ${kind} cannot complete before its reads have moved`);
  const self = memberOf(m, node);
  let members: Member[];
  switch (kind) {
    case 'join':
      members = withMember(m, { ...self, state: 'NORMAL' });
      break;
    case 'leave':
      members = withMember(m, { ...self, state: 'LEFT' });
      break;
    case 'move':
      assert(op.token !== undefined, 'a move has a target token');
      members = withMember(m, { ...self, token: op.token, state: 'NORMAL' });
      break;
    case 'replace': {
      assert(op.replaces !== undefined, 'a replace names the node it replaces');
      const old = memberOf(m, op.replaces);
      members = withMember({ ...m, members: withMember(m, { ...self, state: 'NORMAL' }) }, { ...old, state: 'LEFT' });
      break;
    }
  }
  return { epoch: m.epoch + 1, replicationFactor: m.replicationFactor, members };
}

/**
 * `reads-back`, the first step of aborting an operation whose reads had
 * moved: reads return to the old replicas, both still take writes (the
 * placement of the begin epoch). Going from reads on the new replicas
 * straight back to the old ring would let a coordinator at one epoch write
 * a QUORUM to the old replicas only while one at the other reads a QUORUM
 * from the new ones only: the same reason `reads-switch` sits between begin
 * and complete. The old replicas hold every write meanwhile: a write needs
 * its level plus the pending replicas, so at least its level of
 * acknowledgements come from the old set too.
 */
function readsBack(m: Membership, node: number): Membership {
  const op = operationFor(m, node);
  if (!op.readsSwitched) throw invalid(`reads of node ${node}'s ${op.kind} are still on the old replicas; abort it directly`);
  return { ...m, epoch: m.epoch + 1, operation: { ...op, readsSwitched: false, aborting: true } };
}

/**
 * `abort`: the placement before the operation again. A joining (or
 * replacing) node becomes LEFT: it owns nothing, and its id is not reused;
 * a leaving or moving node is NORMAL again, at the token it had (a move
 * only takes its new token at complete). Data already streamed to a new
 * replica stays there, no longer owned: reclaimable, like any range a node
 * stopped replicating.
 */
function abort(m: Membership, node: number): Membership {
  const op = operationFor(m, node);
  if (op.readsSwitched) throw invalid(`node ${node}'s ${op.kind} has its reads on the new replicas; reads-back must come before abort`);
  const self = memberOf(m, node);
  const state: NodeState = op.kind === 'join' || op.kind === 'replace' ? 'LEFT' : 'NORMAL';
  return { epoch: m.epoch + 1, replicationFactor: m.replicationFactor, members: withMember(m, { ...self, state }) };
}

/**
 * The membership after `entry`: the reducer. `m` is undefined before the
 * bootstrap. A change that the membership does not allow is a KvError
 * (InvalidRequest) saying why; an entry out of epoch order is a bug.
 */
export function applyChange(m: Membership | undefined, entry: EpochEntry): Membership {
  const { change } = entry;
  if (m === undefined) {
    assert(entry.epoch === 1 && change.kind === 'bootstrap', 'the epoch log starts with the bootstrap at epoch 1');
    return bootstrap(change);
  }
  assert(entry.epoch === m.epoch + 1, `epoch ${entry.epoch} follows epoch ${m.epoch}`);
  switch (change.kind) {
    case 'bootstrap':
      return unreachable('a bootstrap only at epoch 1');
    case 'join-begin':
    case 'leave-begin':
    case 'move-begin':
    case 'replace-begin':
      return begin(m, change);
    case 'reads-switch':
      return switchReads(m, change.node);
    case 'reads-back':
      return readsBack(m, change.node);
    case 'abort':
      return abort(m, change.node);
    case 'join-complete':
      return complete(m, 'join', change.node);
    case 'leave-complete':
      return complete(m, 'leave', change.node);
    case 'move-complete':
      return complete(m, 'move', change.node);
    case 'replace-complete':
      return complete(m, 'replace', change.node);
  }
}

/** The membership at the log's last epoch; the log must start with the bootstrap. */
export function replayLog(entries: readonly EpochEntry[]): Membership {
  assert(entries.length > 0, 'an epoch log holds at least the bootstrap');
  let m: Membership | undefined;
  for (const e of entries) m = applyChange(m, e);
  return m!;
}

/** The bootstrap entry of a ring given as nodes and tokens (the cluster file's). */
export function bootstrapEntry(nodes: readonly { readonly id: number; readonly token: string }[], replicationFactor: number): EpochEntry {
  return {
    epoch: 1,
    change: { kind: 'bootstrap', nodes: nodes.map((n) => ({ id: n.id, token: n.token })), replicationFactor },
  };
}
