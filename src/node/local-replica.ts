/**
 * This node as one of a key's replicas, seen by its own coordinator through
 * the same `Replica` contract as its peers; reads need no round trip.
 */
import type { Replica } from '../coordinator/replica';
import type { ReplicaStore } from '../storage/replica-store';
import type { KeyedVersion } from '../storage/version';
import type { Version } from '../storage/version';

export class LocalReplica implements Replica {
  constructor(
    readonly id: number,
    private readonly store: Pick<ReplicaStore, 'apply' | 'get'>,
  ) {}

  apply(items: readonly KeyedVersion[]): Promise<void> {
    return this.store.apply(items);
  }

  read(key: string): Promise<Version | undefined> {
    return Promise.resolve(this.store.get(key));
  }
}
