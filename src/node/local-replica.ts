/**
 * This node as one of a key's replicas, seen by its own coordinator through
 * the same `Replica` contract as its peers (and `RangeReplica`, for scans);
 * reads need no round trip.
 */
import type { RangeReplica } from '../coordinator/range-scan';
import type { ReplicaPage } from '../coordinator/scan-merge';
import type { ReplicaStorage } from '../storage/replica-storage';
import type { KeyedVersion } from '../storage/version';
import type { Version } from '../storage/version';

export class LocalReplica implements RangeReplica {
  constructor(
    readonly id: number,
    private readonly store: Pick<ReplicaStorage, 'apply' | 'get' | 'range'>,
  ) {}

  apply(items: readonly KeyedVersion[]): Promise<void> {
    return this.store.apply(items);
  }

  read(key: string): Promise<Version | undefined> {
    return Promise.resolve(this.store.get(key));
  }

  readRange(from: string, to: string | undefined, limit: number, bytesMax: number): Promise<ReplicaPage> {
    return Promise.resolve(this.store.range(from, to, limit, bytesMax));
  }
}
