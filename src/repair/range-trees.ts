/**
 * A node's hash trees, one per range it replicates (a range is named by the
 * id of the node that owns it: the keys after the previous token up to the
 * owner's token). The memtable tells every change of a key's newest version
 * (writes, replay at start, tombstone purge) to `changed`, which finds the
 * key's range on the ring and updates that tree in O(1); so the trees are
 * built by the replay itself and never rescanned.
 */
import { Ring } from '../partitioner/ring';
import type { VersionObserver } from '../storage/memtable';
import { EntryState, HashTree } from './hash-tree';

export class RangeTrees implements VersionObserver {
  private readonly trees = new Map<number, HashTree>();

  constructor(
    private readonly ring: Ring,
    readonly selfId: number,
    ownerIds: readonly number[],
  ) {
    for (const owner of ownerIds) if (this.replicasOf(owner).includes(selfId)) this.trees.set(owner, new HashTree());
  }

  /** The replicas of the range that `owner` owns: its token is the range's last key. */
  replicasOf(owner: number): number[] {
    return this.ring.replicas(this.ring.tokenOf(owner));
  }

  /** The ranges this node replicates, by owner id. */
  get ranges(): number[] {
    return [...this.trees.keys()];
  }

  /** The ranges both this node and `peer` replicate. */
  sharedWith(peer: number): number[] {
    return this.ranges.filter((r) => this.replicasOf(r).includes(peer));
  }

  tree(range: number): HashTree | undefined {
    return this.trees.get(range);
  }

  /** The range `key` falls in. */
  rangeOf(key: string): number {
    return this.ring.owner(key);
  }

  changed(key: string, keyHash: number, before: EntryState | undefined, after: EntryState | undefined): void {
    this.trees.get(this.ring.owner(key))?.change(key, keyHash, before, after);
  }

  /** Bytes the trees hold. */
  get bytes(): number {
    return this.trees.size * HashTree.bytes;
  }
}
