/**
 * How a node reaches its peers: everything it asks of another node (replica
 * calls, hint delivery, anti-entropy and repair, Paxos, hello) goes through a PeerLink that
 * the node gets from a PeerTransport made outside it. The real transport is
 * Thrift over TCP (thrift-transport.ts); the deterministic simulator passes
 * a message bus on virtual time (sim/network.ts).
 */
import { isKvError, type KvError } from '../common/errors';
import type { EpochEntry } from '../membership/changes';
import type { BatchCopy, BatchCopyRef } from '../coordinator/batch-writer';
import type { RangeReplica } from '../coordinator/range-scan';
import type { PaxosRowsPeer } from '../paxos/paxos-store';
import type { Acceptor } from '../paxos/proposer';
import type { SyncPeer } from '../repair/anti-entropy';
import type { RepairPeer } from '../repair/repairer';

/** What the link tells its node about the peer's reachability. */
export interface PeerEvents {
  /** An established connection to the peer was lost: it counts as down at once. */
  lost(): void;
  /** The peer could not be reached at all (refused, or TLS refused): down at once. */
  connectFailed(err: KvError): void;
  /** The node's epoch now: every request placed by the ring carries it (see the IDL's replicate). */
  epoch(): number;
  /** The peer refused a request as placed by an older epoch than its `epoch`: the node takes up the log. */
  refusedAsStale(epoch: number): void;
}

/** Internode calls sent and the items in them: their ratio is the coalescing achieved. */
export interface PeerCallStats {
  readonly replicateCalls: number;
  readonly replicateItems: number;
  readonly readLocalCalls: number;
  readonly readLocalItems: number;
}

/** Where a node is with the membership: its epoch, and the epoch its writes have all taken up. */
export interface EpochState {
  readonly epoch: number;
  readonly settled: number;
}

export interface PeerLink extends RangeReplica, SyncPeer, RepairPeer, Acceptor, PaxosRowsPeer {
  /** Says hello with this node's clock reading and epoch; resolves with the peer's clock reading. */
  hello(clockReading: number, timeoutMs: number, epoch: number): Promise<number>;
  /** The peer's membership log after an epoch, and its epoch. */
  membership(afterEpoch: number): Promise<{ epoch: number; entries: EpochEntry[] }>;
  /** Gives the peer this node's log to take up; resolves with the peer's epoch and settled epoch (see Coordinator.settledEpoch). */
  learnEpochs(entries: readonly EpochEntry[]): Promise<EpochState>;
  /** Stores copies of this node's logged batches in the peer's batch log; resolves once they are durable there. */
  storeBatchCopies(copies: readonly BatchCopy[]): Promise<void>;
  /** Tells the peer that these batches are written: it drops its copies. */
  forgetBatchCopies(refs: readonly BatchCopyRef[]): Promise<void>;
  /** Which of these batches the peer, their coordinator, still holds in its log. */
  heldBatches(refs: readonly BatchCopyRef[]): Promise<BatchCopyRef[]>;
  /** The peer was heard from: the next connect after a loss need not wait for a backoff. */
  resetBackoff(): void;
  stats(): PeerCallStats;
  close(): void;
}

/** A call placed by the ring: a refusal for a stale epoch tells the node, which takes up the log; the caller still gets the error. */
export function watchedForStaleEpoch<T>(events: PeerEvents, call: Promise<T>): Promise<T> {
  return call.catch((err: unknown) => {
    if (isKvError(err, 'StaleEpoch')) events.refusedAsStale(err.details.epoch ?? 0);
    throw err;
  });
}

export interface PeerTransport {
  /** The link to one peer; its events go to the node. */
  link(peer: number, events: PeerEvents): PeerLink;
}
