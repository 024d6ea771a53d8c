/**
 * A peer's requests once their arguments are decoded and valid: the checks
 * each goes through before it touches this replica (a read refused while
 * catching up; the epoch the sender placed it by judged, see
 * EpochSync.checkPeerEpoch) and the call it then makes. The Thrift handler
 * (handler.ts) decodes the wire and comes here; the simulator's network
 * (sim/network.ts) comes here with the same arguments, so that a stale
 * coordinator is refused in the simulator by the same code as on a real
 * node.
 */
import { PAXOS_STREAM_ROWS_MAX, SCAN_REPLICA_PAGE_BYTES_MAX } from '../common/limits';
import type { ReplicaPage } from '../coordinator/scan-merge';
import type { Proposal, ProposeReply } from '../paxos/acceptor';
import type { Ballot } from '../paxos/ballot';
import type { KeyedPaxosState, PaxosRowsPage, PaxosStore } from '../paxos/paxos-store';
import type { Promised } from '../paxos/proposer';
import type { KeyDigest } from '../repair/compare';
import type { RangeName, Repairer } from '../repair/repairer';
import type { ReplicaStorage } from '../storage/replica-storage';
import type { KeyedVersion } from '../storage/version';

/** Who sent a request (undefined: not said) and the epoch it placed it by (0: none, an older build or a tool). */
export interface Placed {
  readonly from: number | undefined;
  readonly epoch: number;
}

/** What the requests need from their node. */
export interface PeerRequestServices {
  /**
   * Judges the epoch a peer placed a request by for its keys (asked only
   * when the epoch differs from this node's): throws StaleEpoch when it is
   * older and a key's replicas changed since; a promise to wait for when it
   * is newer (the log being fetched); else undefined.
   */
  checkEpoch(from: number | undefined, epoch: number, keys: () => readonly string[], writing: boolean): Promise<void> | undefined;
  /** Versions from another coordinator, hint delivery or repair. */
  applyReplicated(items: KeyedVersion[]): Promise<void>;
  readonly local: Pick<ReplicaStorage, 'range'>;
  readonly repair: Pick<Repairer, 'refuseReadsWhileCatchingUp' | 'answerHashes' | 'answerSegmentKeys'>;
  readonly acceptor: Pick<PaxosStore, 'prepare' | 'propose' | 'commit' | 'paxosRows' | 'paxosMerge'>;
}

export class PeerRequests {
  /**
   * What peers asked of this replica: mutations applied (from coordinators, hint deliveries and
   * repair) and keys read. Part of the node's foreground load, by which its streams are paced
   * (streaming/foreground-pace.ts).
   */
  readonly counters = { replicatedItems: 0, readKeys: 0 };

  constructor(private readonly s: PeerRequestServices) {}

  /** Waits for a newer epoch's log when there is one to wait for; throws StaleEpoch for an older one. */
  private admit(by: Placed, keys: () => readonly string[], writing: boolean): Promise<void> | undefined {
    return this.s.checkEpoch(by.from, by.epoch, keys, writing);
  }

  async replicate(by: Placed, items: KeyedVersion[]): Promise<void> {
    this.counters.replicatedItems += items.length;
    const waiting = this.admit(by, () => items.map((it) => it.key), true);
    if (waiting !== undefined) await waiting;
    await this.s.applyReplicated(items);
  }

  /**
   * Admits a point read of `keys`; the caller then reads them in the form
   * it answers in. Refused while catching up, so that the coordinator asks
   * another replica: this copy may lack what was written while it was away.
   */
  admitRead(by: Placed, keyCount: number, keys: () => readonly string[]): Promise<void> | undefined {
    this.counters.readKeys += keyCount;
    this.s.repair.refuseReadsWhileCatchingUp();
    return this.admit(by, keys, false);
  }

  /** A scan's page of this replica's range; judged by its first key, which the coordinator placed the page by. */
  async readRange(by: Placed, from: string, to: string | undefined, limit: number, bytesMax: number): Promise<ReplicaPage> {
    // Refused while catching up, as a point read.
    this.s.repair.refuseReadsWhileCatchingUp();
    await this.admit(by, () => [from], false);
    return this.s.local.range(from, to, limit, Math.min(bytesMax, SCAN_REPLICA_PAGE_BYTES_MAX));
  }

  /** A membership stream's page of this replica's Paxos rows; judged by its first key, as a range page. */
  async paxosRows(by: Placed, from: string, to: string | undefined, limit: number): Promise<PaxosRowsPage> {
    await this.admit(by, () => [from], false);
    return this.s.acceptor.paxosRows(from, to, Math.min(limit, PAXOS_STREAM_ROWS_MAX));
  }

  /** A membership stream's Paxos rows for this replica, merged with its own. */
  async paxosMerge(by: Placed, rows: readonly KeyedPaxosState[]): Promise<boolean> {
    await this.admit(by, () => rows.map((r) => r.key), true);
    return this.s.acceptor.paxosMerge(rows);
  }

  async paxosPrepare(by: Placed, key: string, ballot: Ballot, requestId: string): Promise<Promised> {
    await this.admit(by, () => [key], true);
    return this.s.acceptor.prepare(key, ballot, requestId);
  }

  async paxosPropose(by: Placed, key: string, proposal: Proposal): Promise<ProposeReply> {
    await this.admit(by, () => [key], true);
    return this.s.acceptor.propose(key, proposal);
  }

  async paxosCommit(by: Placed, key: string, proposal: Proposal): Promise<void> {
    await this.admit(by, () => [key], true);
    await this.s.acceptor.commit(key, proposal);
  }

  /**
   * A repair call's range is judged by its end, when the caller named it by
   * its bounds: a caller behind whose ring cut the range otherwise is refused.
   */
  private async admitRange(from: number, epoch: number, range: RangeName): Promise<void> {
    const end = range.bounds?.end;
    if (end !== undefined) await this.admit({ from, epoch }, () => [end], true);
  }

  async treeHashes(
    from: number,
    epoch: number,
    range: RangeName,
    level: number,
    indices: readonly number[],
  ): Promise<{ hashes: Buffer; catchingUp: boolean }> {
    await this.admitRange(from, epoch, range);
    return this.s.repair.answerHashes(from, range, level, indices);
  }

  async segmentKeys(
    from: number,
    epoch: number,
    range: RangeName,
    segments: readonly number[],
  ): Promise<{ digests: KeyDigest[]; covered: number }> {
    await this.admitRange(from, epoch, range);
    return this.s.repair.answerSegmentKeys(from, range, segments);
  }
}
