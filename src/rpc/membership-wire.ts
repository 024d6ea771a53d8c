/**
 * The membership log on the wire (the IDL's EpochChange and MembershipLog):
 * a change's fields as optional Thrift fields, tokens as bytes. What comes
 * in is checked field by field, since a change that is wrong here would
 * place keys wrongly everywhere it is applied.
 */
import { fromByteString, toByteString } from '../common/bytes';
import { KvError } from '../common/errors';
import type { Address, Change, EpochEntry } from '../membership/changes';
import { isChangeKind } from '../membership/epoch-log';
import { int64ToNumber, types } from './thrift';

export function toEpochChange({ epoch, change }: EpochEntry): types.EpochChange {
  const wire = new types.EpochChange({ epoch: epoch as never, kind: change.kind });
  if (change.kind === 'bootstrap') {
    wire.replicationFactor = change.replicationFactor;
    wire.members = change.nodes.map((n) => new types.RingMember({ id: n.id, token: fromByteString(n.token) }));
    return wire;
  }
  wire.node = change.node;
  if (change.kind === 'join-begin' || change.kind === 'move-begin') wire.token = fromByteString(change.token);
  if (change.kind === 'replace-begin') wire.replaces = change.replaces;
  if (change.kind === 'leave-begin' && change.by !== undefined) wire.by = change.by;
  if (change.kind === 'join-begin' || change.kind === 'replace-begin') {
    if (change.host !== undefined) wire.host = change.host;
    if (change.port !== undefined) wire.port = change.port;
  }
  return wire;
}

export function toMembershipLog(epoch: number, entries: readonly EpochEntry[], settledEpoch?: number): types.MembershipLog {
  const log = new types.MembershipLog({ epoch: epoch as never, changes: entries.map(toEpochChange) });
  if (settledEpoch !== undefined) log.settledEpoch = settledEpoch as never;
  return log;
}

/** A node's epoch and settled epoch from its answer (an older build's answer has no settled epoch: its epoch stands for it). */
export function epochStateOf(wire: types.MembershipLog): { epoch: number; settled: number } {
  const epoch = int64ToNumber(wire.epoch);
  const settled = wire.settledEpoch === null || wire.settledEpoch === undefined ? epoch : int64ToNumber(wire.settledEpoch);
  if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(settled)) throw malformed('an epoch that is not a number');
  return { epoch, settled };
}

function malformed(what: string): KvError {
  return new KvError('Internal', `a node sent a membership change that cannot be read: ${what}`);
}

function needInt(value: number | null | undefined, field: string, kind: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw malformed(`${kind} without ${field}`);
  return value;
}

function needToken(value: Buffer | null | undefined, kind: string): string {
  if (!Buffer.isBuffer(value)) throw malformed(`${kind} without a token`);
  return toByteString(value);
}

/** A new node's address, when the change names one (logs from before joins have none). */
function addressFrom(wire: types.EpochChange): Address {
  const host = wire.host;
  const port = wire.port;
  if (host !== null && host !== undefined && typeof host !== 'string') throw malformed('a host that is not text');
  if (port !== null && port !== undefined && !(Number.isInteger(port) && port > 0 && port <= 65535)) throw malformed(`port ${port}`);
  return { ...(typeof host === 'string' && { host }), ...(typeof port === 'number' && { port }) };
}

function fromEpochChange(wire: types.EpochChange): EpochEntry {
  const epoch = int64ToNumber(wire.epoch);
  const kind = wire.kind;
  if (!isChangeKind(kind)) throw malformed(`unknown kind ${JSON.stringify(kind)} at epoch ${epoch}`);
  let change: Change;
  if (kind === 'bootstrap') {
    const members = wire.members ?? [];
    change = {
      kind,
      replicationFactor: needInt(wire.replicationFactor, 'a replication factor', kind),
      nodes: members.map((m) => ({ id: needInt(m.id, 'a node id', kind), token: needToken(m.token, kind) })),
    };
  } else {
    const node = needInt(wire.node, 'a node', kind);
    if (kind === 'join-begin') change = { kind, node, token: needToken(wire.token, kind), ...addressFrom(wire) };
    else if (kind === 'move-begin') change = { kind, node, token: needToken(wire.token, kind) };
    else if (kind === 'replace-begin')
      change = { kind, node, replaces: needInt(wire.replaces, 'the node it replaces', kind), ...addressFrom(wire) };
    else if (kind === 'leave-begin' && wire.by !== null && wire.by !== undefined)
      change = { kind, node, by: needInt(wire.by, 'the node that runs the removal', kind) };
    else change = { kind, node };
  }
  return { epoch, change };
}

/** A node's answer to `membership(after)`: its epoch and the entries it sent, checked to follow `after` one by one. */
export function fromMembershipLog(wire: types.MembershipLog, after: number): { epoch: number; entries: EpochEntry[] } {
  const epoch = int64ToNumber(wire.epoch);
  const entries = (wire.changes ?? []).map(fromEpochChange);
  entries.forEach((e, i) => {
    if (e.epoch !== after + 1 + i) throw malformed(`epoch ${e.epoch} where ${after + 1 + i} was due`);
  });
  if (!Number.isSafeInteger(epoch) || epoch < after + entries.length) throw malformed(`its epoch ${epoch} is behind the changes it sent`);
  return { epoch, entries };
}
