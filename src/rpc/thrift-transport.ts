/**
 * The real PeerTransport: one pipelined Thrift connection per peer
 * (connection.ts), with replica calls batched per event-loop turn
 * (remote-replica.ts).
 */
import type { KeyedPaxosState, PaxosRowsPage } from '../paxos/paxos-store';
import type { KvError } from '../common/errors';
import type { TlsMaterial } from '../config/tls';
import type { Proposal, ProposeReply } from '../paxos/acceptor';
import type { Ballot } from '../paxos/ballot';
import type { Promised } from '../paxos/proposer';
import type { SyncAnswer } from '../repair/anti-entropy';
import type { KeyDigest } from '../repair/compare';
import type { Level } from '../repair/hash-tree';
import type { TreeRange } from '../repair/range-trees';
import type { BatchCopy, BatchCopyRef } from '../coordinator/batch-writer';
import type { ReplicaPage } from '../coordinator/scan-merge';
import * as types from '../gen/kv_types';
import { type KeyedVersion, keyedBytes, type Version } from '../storage/version';
import { RpcConnection } from './connection';
import { RemoteAcceptor } from './paxos-wire';
import { BatchQueue, RemoteReplica, toMutation } from './remote-replica';
import { BATCH_BYTES_MAX, BATCH_COPIES_PER_CALL_MAX } from '../common/limits';
import { type EpochState, type PeerCallStats, type PeerEvents, type PeerLink, type PeerTransport, watchedForStaleEpoch } from './transport';
import type { EpochEntry } from '../membership/changes';
import { toKvError } from './errors';
import { epochStateOf, fromMembershipLog, toMembershipLog } from './membership-wire';

function rethrow(err: unknown): never {
  throw toKvError(err);
}

export interface ThriftTransportOptions {
  readonly selfId: number;
  readonly secret: string;
  readonly requestTimeoutMs: number;
  readonly frameBytesMax: number;
  /** Where each peer listens. */
  readonly endpoint: (peer: number) => { host: string; port: number };
  readonly tls?: TlsMaterial | undefined;
}

function toCopyRef(r: BatchCopyRef): types.BatchCopyRef {
  return new types.BatchCopyRef({ ownerBatch: r.ownerBatch as never, createdMs: r.createdMs as never });
}

/** What one storeBatchCopies or forgetBatchCopies call carries at most. */
const COPY_CALL_LIMITS = { items: BATCH_COPIES_PER_CALL_MAX, bytes: BATCH_BYTES_MAX };

class ThriftLink implements PeerLink {
  private readonly remote: RemoteReplica;
  private readonly acceptor: RemoteAcceptor;
  /** Batch copies, and the word to forget them, coalesced per event-loop turn as replica writes are. */
  private readonly copyStores: BatchQueue<BatchCopy>;
  private readonly copyForgets: BatchQueue<BatchCopyRef>;

  constructor(
    readonly id: number,
    private readonly conn: RpcConnection,
    private readonly o: ThriftTransportOptions,
    private readonly events: PeerEvents,
  ) {
    const sender = { id: o.selfId, epoch: () => events.epoch() };
    this.remote = new RemoteReplica(id, conn, o.secret, o.requestTimeoutMs, sender);
    this.acceptor = new RemoteAcceptor(conn, o.secret, o.requestTimeoutMs, sender);
    this.copyStores = new BatchQueue(
      'batch copies',
      (copies) => {
        const wire = copies.map(
          (c) =>
            new types.BatchCopy({ ownerBatch: c.ownerBatch as never, createdMs: c.createdMs as never, writes: c.items.map(toMutation) }),
        );
        return this.conn.call((c) => c.storeBatchCopies(o.secret, o.selfId, wire), o.requestTimeoutMs).then(() => undefined, rethrow);
      },
      COPY_CALL_LIMITS,
    );
    this.copyForgets = new BatchQueue(
      'batch copies to forget',
      (refs) => {
        const wire = refs.map(toCopyRef);
        return this.conn.call((c) => c.forgetBatchCopies(o.secret, o.selfId, wire), o.requestTimeoutMs).then(() => undefined, rethrow);
      },
      COPY_CALL_LIMITS,
    );
  }

  private watched<T>(call: Promise<T>): Promise<T> {
    return watchedForStaleEpoch(this.events, call);
  }

  prepare(key: string, ballot: Ballot, requestId: string): Promise<Promised> {
    return this.watched(this.acceptor.prepare(key, ballot, requestId));
  }

  propose(key: string, proposal: Proposal): Promise<ProposeReply> {
    return this.watched(this.acceptor.propose(key, proposal));
  }

  commit(key: string, proposal: Proposal): Promise<void> {
    return this.watched(this.acceptor.commit(key, proposal));
  }

  paxosRows(from: string, to: string | undefined, limit: number): Promise<PaxosRowsPage> {
    return this.watched(this.acceptor.paxosRows(from, to, limit));
  }

  paxosMerge(rows: readonly KeyedPaxosState[]): Promise<boolean> {
    return this.watched(this.acceptor.paxosMerge(rows));
  }

  apply(items: readonly KeyedVersion[]): Promise<void> {
    return this.watched(this.remote.apply(items));
  }

  read(key: string): Promise<Version | undefined> {
    return this.watched(this.remote.read(key));
  }

  readRange(from: string, to: string | undefined, limit: number, bytesMax: number): Promise<ReplicaPage> {
    return this.watched(this.remote.readRange(from, to, limit, bytesMax));
  }

  sync(from: number, to: number, digests: KeyDigest[]): Promise<SyncAnswer> {
    return this.remote.sync(from, to, digests);
  }

  get catchingUp(): boolean {
    return this.remote.catchingUp;
  }

  treeHashes(range: TreeRange, level: Level, indices: readonly number[]): Promise<Buffer> {
    return this.watched(this.remote.treeHashes(range, level, indices));
  }

  segmentKeys(range: TreeRange, segments: readonly number[]): Promise<{ digests: KeyDigest[]; covered: number }> {
    return this.watched(this.remote.segmentKeys(range, segments));
  }

  fetch(keys: readonly string[]): Promise<KeyedVersion[]> {
    return this.remote.fetch(keys);
  }

  hello(clockReading: number, timeoutMs: number, epoch: number): Promise<number> {
    return this.conn.call((c) => c.hello(this.o.secret, this.o.selfId, clockReading as never, epoch as never), timeoutMs).then(Number);
  }

  membership(afterEpoch: number): Promise<{ epoch: number; entries: EpochEntry[] }> {
    return this.conn
      .call((c) => c.membership(afterEpoch as never), this.o.requestTimeoutMs)
      .then((log) => fromMembershipLog(log, afterEpoch), rethrow);
  }

  learnEpochs(entries: readonly EpochEntry[]): Promise<EpochState> {
    const log = toMembershipLog(entries[entries.length - 1]?.epoch ?? 0, entries);
    return this.conn.call((c) => c.learnEpochs(this.o.secret, this.o.selfId, log), this.o.requestTimeoutMs).then(epochStateOf, rethrow);
  }

  storeBatchCopies(copies: readonly BatchCopy[]): Promise<void> {
    let bytes = 0;
    for (const c of copies) bytes += keyedBytes(c.items);
    return this.copyStores.push([...copies], bytes).then(() => undefined);
  }

  forgetBatchCopies(refs: readonly BatchCopyRef[]): Promise<void> {
    return this.copyForgets.push([...refs], 0).then(() => undefined);
  }

  /** Not coalesced: a holder asks once a replay, one call per coordinator. */
  heldBatches(refs: readonly BatchCopyRef[]): Promise<BatchCopyRef[]> {
    const wire = refs.map(toCopyRef);
    return this.conn
      .call((c) => c.heldBatches(this.o.secret, this.o.selfId, wire), this.o.requestTimeoutMs)
      .then((held) => held.map((r) => ({ ownerBatch: Number(r.ownerBatch), createdMs: Number(r.createdMs) })), rethrow);
  }

  resetBackoff(): void {
    this.conn.resetBackoff();
  }

  stats(): PeerCallStats {
    const { writes, reads } = this.remote;
    return {
      replicateCalls: writes.stats.calls,
      replicateItems: writes.stats.items,
      readLocalCalls: reads.stats.calls,
      readLocalItems: reads.stats.items,
    };
  }

  close(): void {
    this.conn.close();
  }
}

export class ThriftTransport implements PeerTransport {
  constructor(private readonly o: ThriftTransportOptions) {}

  link(peer: number, events: PeerEvents): PeerLink {
    const at = this.o.endpoint(peer);
    const tls = this.o.tls;
    const conn = new RpcConnection({ host: at.host, port: at.port, frameBytesMax: this.o.frameBytesMax, ...(tls ? { tls } : {}) });
    conn.onDisconnect = () => events.lost();
    conn.onConnectFailure = (err: KvError) => events.connectFailed(err);
    return new ThriftLink(peer, conn, this.o, events);
  }
}
