/**
 * Byte-ordered placement. Each node has one token, a byte string. Keys and
 * tokens compare as unsigned bytes. As in Cassandra's ByteOrderedPartitioner, a
 * node owns the range (previous token, its token]: the token itself is the
 * inclusive upper end. Keys greater than the largest token wrap round to the
 * node with the smallest token. A key's replicas are its owner and the next
 * nodes round the ring, `replicationFactor` distinct nodes in all.
 *
 * Everything here is pure: tokens and keys are latin1 strings (common/bytes.ts).
 */
import { assert } from '../common/assert';
import { compareKeyStrings } from '../common/bytes';

export interface RingNode {
  readonly id: number;
  /** The token as a latin1 string. */
  readonly token: string;
}

export class Ring {
  /** Nodes sorted by token. */
  private readonly sorted: readonly RingNode[];

  constructor(
    nodes: readonly RingNode[],
    readonly replicationFactor: number,
  ) {
    assert(nodes.length > 0, 'a ring needs at least one node');
    assert(
      replicationFactor >= 1 && replicationFactor <= nodes.length,
      `replication factor ${replicationFactor} must be between 1 and ${nodes.length}`,
    );
    this.sorted = [...nodes].sort((a, b) => compareKeyStrings(a.token, b.token));
    for (let i = 1; i < this.sorted.length; i++) {
      assert(this.sorted[i - 1]!.token !== this.sorted[i]!.token, 'tokens must be distinct');
    }
  }

  /** Index in `sorted` of the first token >= key; sorted.length when every token is below it. */
  private firstTokenFrom(key: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeyStrings(this.sorted[mid]!.token, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index in `sorted` of the node owning `key`: the first token >= key, wrapping. */
  private ownerIndex(key: string): number {
    const i = this.firstTokenFrom(key);
    return i === this.sorted.length ? 0 : i;
  }

  /** Node `id`'s token: the last key of the range it owns. */
  tokenOf(id: number): string {
    const node = this.sorted.find((n) => n.id === id);
    assert(node !== undefined, `node ${id} is on the ring`);
    return node.token;
  }

  owner(key: string): number {
    return this.sorted[this.ownerIndex(key)]!.id;
  }

  /** The `i`-th replica of `key` (0: the owner), without building the list: a client's per-request path. */
  replicaAt(key: string, i: number): number {
    assert(i >= 0 && i < this.replicationFactor, 'replica index within the replication factor');
    return this.sorted[(this.ownerIndex(key) + i) % this.sorted.length]!.id;
  }

  /** Whether node `id` is one of the replicas of `key`, without building the list. */
  isReplica(key: string, id: number): boolean {
    const start = this.ownerIndex(key);
    for (let i = 0; i < this.replicationFactor; i++) {
      if (this.sorted[(start + i) % this.sorted.length]!.id === id) return true;
    }
    return false;
  }

  /**
   * The range that holds `key`, as a scan walks the ring in key order: its
   * replicas (owner first, as `replicas`) and `end`, the least key after it
   * (exclusive), or undefined when the range runs to the end of the key
   * space. A node's range (previous token, token] ends before token + NUL,
   * the least key greater than the token; the keys after the largest token
   * are the smallest token's node's, up to the end of the key space.
   */
  rangeOf(key: string): { replicas: number[]; end: string | undefined } {
    const i = this.firstTokenFrom(key);
    const end = i === this.sorted.length ? undefined : `${this.sorted[i]!.token}\u0000`;
    return { replicas: this.replicas(key), end };
  }

  /** The ids of the replicas of `key`, owner first, then clockwise. */
  replicas(key: string): number[] {
    const start = this.ownerIndex(key);
    const out: number[] = [];
    for (let i = 0; i < this.replicationFactor; i++) {
      out.push(this.sorted[(start + i) % this.sorted.length]!.id);
    }
    return out;
  }
}
