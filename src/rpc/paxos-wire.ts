/**
 * Compare-and-set's internode messages: between the IDL's Paxos structs and
 * the acceptor's plain objects (both ways, with the checks a replica applies
 * to what a peer sends), and a peer as an `Acceptor` for the proposer.
 * Paxos messages are few and each waits on a durable write, so they go one
 * call each, not through the batching queues of replicate and readLocal.
 */
import { fromByteString, toByteString } from '../common/bytes';
import { KvError } from '../common/errors';
import { PAXOS_RECENT_REQUESTS_MAX, REQUEST_ID_BYTES_MAX } from '../common/limits';
import { TIMESTAMP_MAX } from '../clock/hlc';
import type { AcceptorState, PrepareReply, Proposal, ProposeReply, RecentRequest } from '../paxos/acceptor';
import type { Ballot } from '../paxos/ballot';
import type { KeyedPaxosState, PaxosRowsPage } from '../paxos/paxos-store';
import type { Acceptor, Promised } from '../paxos/proposer';
import type { Version } from '../storage/version';
import type { RpcConnection } from './connection';
import { toKvError } from './errors';
import { fromLocalRead, type Sender } from './remote-replica';
import { Int64, int64ToNumber, types, UNKNOWN_METHOD } from './thrift';

function invalid(message: string): KvError {
  return new KvError('InvalidRequest', message);
}

export function ballotToWire(b: Ballot): types.Ballot {
  return new types.Ballot({ ts: b.ts as never, node: b.node });
}

export function ballotFromWire(b: types.Ballot | null | undefined): Ballot {
  if (b === null || typeof b !== 'object') throw invalid('the ballot is missing');
  const ts = int64ToNumber(b.ts as Int64 | null);
  if (!Number.isSafeInteger(ts) || ts < 0 || ts > TIMESTAMP_MAX) throw invalid('the ballot has no valid timestamp');
  if (!Number.isInteger(b.node) || b.node < 0) throw invalid('the ballot has no valid node id');
  return { ts, node: b.node };
}

/** A request id as a node accepts it: a string of at most REQUEST_ID_BYTES_MAX bytes ('' for none, as a SERIAL read sends). */
export function checkRequestId(id: string | null | undefined): string {
  if (typeof id !== 'string') throw invalid('the request id is missing');
  const bytes = Buffer.byteLength(id);
  if (bytes > REQUEST_ID_BYTES_MAX) throw invalid(`the request id is ${bytes} bytes; the limit is ${REQUEST_ID_BYTES_MAX}`);
  return id;
}

export function proposalToWire(p: Proposal): types.Proposal {
  return new types.Proposal({ ballot: ballotToWire(p.ballot), value: fromByteString(p.value), requestId: p.requestId });
}

/** A peer's proposal, checked; `checkValue` applies the node's value limit. */
export function proposalFromWire(p: types.Proposal | null | undefined, checkValue: (v: Buffer) => string): Proposal {
  if (p === null || typeof p !== 'object') throw invalid('the proposal is missing');
  return { ballot: ballotFromWire(p.ballot), value: checkValue(p.value), requestId: checkRequestId(p.requestId) };
}

function optional<T, W>(v: T | undefined, to: (v: T) => W): W | undefined {
  return v === undefined ? undefined : to(v);
}

export function promiseToWire(p: Promised, current: types.LocalRead): types.PaxosPromise {
  const r = p.reply;
  return new types.PaxosPromise({
    promised: r.promised,
    refusedBy: optional(r.refusedBy, ballotToWire),
    accepted: optional(r.accepted, proposalToWire),
    committed: optional(r.committed, proposalToWire),
    requestCommitted: r.requestCommitted,
    current,
  });
}

/** A proposal as the proposer reads it from a peer: trusted (the peer checked it), only converted. */
function proposalFromPeer(p: types.Proposal | null | undefined): Proposal | undefined {
  if (p === null || p === undefined) return undefined;
  return { ballot: ballotFromWire(p.ballot), value: toByteString(p.value), requestId: p.requestId };
}

function promiseFromWire(p: types.PaxosPromise): Promised {
  const reply: PrepareReply = {
    promised: p.promised,
    requestCommitted: p.requestCommitted,
    ...(p.refusedBy ? { refusedBy: ballotFromWire(p.refusedBy) } : {}),
    ...(p.accepted ? { accepted: proposalFromPeer(p.accepted)! } : {}),
    ...(p.committed ? { committed: proposalFromPeer(p.committed)! } : {}),
  };
  const current: Version | undefined = fromLocalRead(p.current);
  return { reply, current };
}

export function acceptToWire(r: ProposeReply): types.PaxosAccept {
  return new types.PaxosAccept({ accepted: r.accepted, refusedBy: optional(r.refusedBy, ballotToWire) });
}

/** One key's state as a membership stream sends it. */
export function paxosRowToWire(row: KeyedPaxosState): types.PaxosRow {
  const { state } = row;
  return new types.PaxosRow({
    key: fromByteString(row.key),
    promised: optional(state.promised, ballotToWire),
    accepted: optional(state.accepted, proposalToWire),
    committed: optional(state.committed, proposalToWire),
    recent: state.recent.map((r) => new types.RecentRequest({ requestId: r.requestId, ts: r.ts as never })),
  });
}

/**
 * A peer's row, checked as its Paxos messages are: `checkKey` and
 * `checkValue` apply the node's limits; at most PAXOS_RECENT_REQUESTS_MAX
 * request ids, each with a valid timestamp.
 */
export function paxosRowFromWire(
  row: types.PaxosRow | null | undefined,
  checkKey: (k: Buffer) => string,
  checkValue: (v: Buffer) => string,
): KeyedPaxosState {
  if (row === null || typeof row !== 'object') throw invalid('a Paxos row is missing');
  if (!Array.isArray(row.recent)) throw invalid("a Paxos row's recent request ids are missing");
  if (row.recent.length > PAXOS_RECENT_REQUESTS_MAX)
    throw invalid(`a Paxos row holds at most ${PAXOS_RECENT_REQUESTS_MAX} recent request ids`);
  const recent = row.recent.map((r): RecentRequest => {
    if (r === null || typeof r !== 'object') throw invalid('a recent request id is missing');
    const ts = int64ToNumber(r.ts as Int64 | null);
    if (!Number.isSafeInteger(ts) || ts < 0 || ts > TIMESTAMP_MAX) throw invalid('a recent request id has no valid timestamp');
    return { requestId: checkRequestId(r.requestId), ts };
  });
  const state: AcceptorState = {
    promised: row.promised === null || row.promised === undefined ? undefined : ballotFromWire(row.promised),
    accepted: row.accepted === null || row.accepted === undefined ? undefined : proposalFromWire(row.accepted, checkValue),
    committed: row.committed === null || row.committed === undefined ? undefined : proposalFromWire(row.committed, checkValue),
    recent,
  };
  return { key: checkKey(row.key), state };
}

/** A peer as one of a key's acceptors. */
export class RemoteAcceptor implements Acceptor {
  constructor(
    private readonly connection: RpcConnection,
    private readonly secret: string,
    private readonly timeoutMs: number,
    private readonly sender: Sender,
  ) {}

  prepare(key: string, ballot: Ballot, requestId: string): Promise<Promised> {
    return this.connection
      .call(
        (c) =>
          c.paxosPrepare(this.secret, fromByteString(key), ballotToWire(ballot), requestId, this.sender.epoch() as never, this.sender.id),
        this.timeoutMs,
      )
      .then(promiseFromWire, rethrow);
  }

  propose(key: string, proposal: Proposal): Promise<ProposeReply> {
    return this.connection
      .call(
        (c) => c.paxosPropose(this.secret, fromByteString(key), proposalToWire(proposal), this.sender.epoch() as never, this.sender.id),
        this.timeoutMs,
      )
      .then((r) => ({ accepted: r.accepted, ...(r.refusedBy ? { refusedBy: ballotFromWire(r.refusedBy) } : {}) }), rethrow);
  }

  commit(key: string, proposal: Proposal): Promise<void> {
    return this.connection
      .call(
        (c) => c.paxosCommit(this.secret, fromByteString(key), proposalToWire(proposal), this.sender.epoch() as never, this.sender.id),
        this.timeoutMs,
      )
      .then(() => undefined, rethrow);
  }

  /** The peer's Paxos rows of [from, to): trusted as the peer's own state, only converted. */
  paxosRows(from: string, to: string | undefined, limit: number): Promise<PaxosRowsPage> {
    return this.connection
      .call(
        (c) =>
          c.paxosRows(this.secret, fromByteString(from), fromByteString(to ?? ''), limit, this.sender.epoch() as never, this.sender.id),
        this.timeoutMs,
      )
      .then(
        (page) => ({ rows: page.rows.map((r) => paxosRowFromWire(r, toByteString, toByteString)), more: page.more }),
        (err: unknown): PaxosRowsPage => {
          if (isUnknownMethod(err)) return { rows: [], more: false, olderBuild: true };
          return rethrow(err);
        },
      );
  }

  paxosMerge(rows: readonly KeyedPaxosState[]): Promise<boolean> {
    return this.connection
      .call((c) => c.paxosMerge(this.secret, rows.map(paxosRowToWire), this.sender.epoch() as never, this.sender.id), this.timeoutMs)
      .then(
        () => true,
        (err: unknown) => (isUnknownMethod(err) ? false : rethrow(err)),
      );
  }
}

/**
 * A peer's answer that it has no such method: an older build, from before
 * paxosRows and paxosMerge. This build's processor types the answer
 * UNKNOWN_METHOD; older builds of it sent only the runtime's message.
 */
function isUnknownMethod(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (err as { type?: unknown }).type === UNKNOWN_METHOD || err.message.startsWith('Unknown function ');
}

function rethrow(err: unknown): never {
  throw toKvError(err);
}
