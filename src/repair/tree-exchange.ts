/**
 * One exchange of hash trees between this node and a peer, for one range
 * both replicate: roots, then the branches of a differing root, then the
 * leaves under differing branches, then, after a short pause and a second
 * look at those leaves (a write still on its way to both replicas makes
 * them differ for a moment), the digests of the keys in the segments that
 * still differ. Each side then gets the versions it lacks: ours go to the
 * peer, theirs are fetched. Both keep the winner by the usual rule.
 *
 * An in-sync range costs one round trip (the roots). Everything here goes
 * through `TreeLocal` and `TreePeer`, so tests run it between two stores in
 * one process.
 */
import { KvError } from '../common/errors';
import { REPAIR_KEYS_PER_CALL_MAX, REPAIR_SEGMENTS_PER_CALL_MAX, TREE_HASHES_PER_CALL_MAX } from '../common/limits';
import { KeyedVersion, Version } from '../storage/version';
import { diffRange, KeyDigest } from './compare';
import { BRANCH, BRANCHES, HASH_BYTES, HashTree, LEAF, leavesOf, Level, ROOT } from './hash-tree';

/** This node's side: its tree of a range and its keys. */
export interface TreeLocal {
  tree(range: number): HashTree | undefined;
  /** Digests of our keys of `range` in these segments. */
  segmentDigests(range: number, segments: readonly number[]): KeyDigest[];
  get(key: string): Version | undefined;
  /** Applies versions fetched from a peer (observing their timestamps). */
  applyLocal(items: KeyedVersion[]): Promise<void>;
}

/** A peer as an exchange needs it. */
export interface TreePeer {
  /** The peer's hashes at `indices` of a level of its tree of `range`, packed HASH_BYTES each. */
  treeHashes(range: number, level: Level, indices: readonly number[]): Promise<Buffer>;
  /** The peer's digests of its keys of `range` in the first `covered` of `segments` (it stops at REPAIR_DIGESTS_PER_CALL_MAX). */
  segmentKeys(range: number, segments: readonly number[]): Promise<{ digests: KeyDigest[]; covered: number }>;
  /** The peer's versions of these keys (none for a key it lacks). */
  fetch(keys: readonly string[]): Promise<KeyedVersion[]>;
  /** Sends versions the peer lacks; resolves once they are durable there. */
  apply(items: readonly KeyedVersion[]): Promise<void>;
}

export interface ExchangeStats {
  segmentsDiffered: number;
  keysDiffered: number;
  keysSent: number;
  keysFetched: number;
  /** Keys and values sent to the peer and fetched from it. */
  bytesSent: number;
  bytesFetched: number;
  /** Tree hashes and digests that crossed the wire (both ways), in bytes. */
  compareBytes: number;
  roundTrips: number;
}

export function emptyStats(): ExchangeStats {
  return {
    segmentsDiffered: 0,
    keysDiffered: 0,
    keysSent: 0,
    keysFetched: 0,
    bytesSent: 0,
    bytesFetched: 0,
    compareBytes: 0,
    roundTrips: 0,
  };
}

const STAT_NAMES = Object.keys(emptyStats()) as (keyof ExchangeStats)[];

/** Adds `from`'s exchange numbers to `into`'s (either may hold other fields too). */
export function addStats(into: ExchangeStats, from: ExchangeStats): void {
  for (const k of STAT_NAMES) into[k] += from[k];
}

/** Approximate bytes of a digest on the wire: key, timestamp, flag, value hash and field headers. */
const DIGEST_OVERHEAD_BYTES = 24;

export class TreeExchange {
  readonly stats = emptyStats();

  constructor(
    private readonly local: TreeLocal,
    private readonly peer: TreePeer,
    private readonly range: number,
  ) {}

  private ours(): HashTree {
    const tree = this.local.tree(this.range);
    if (tree === undefined) throw new KvError('Internal', `this node keeps no tree of range ${this.range}`);
    return tree;
  }

  /** Of `indices` of a level, those whose hashes differ from the peer's, asked in calls of at most TREE_HASHES_PER_CALL_MAX. */
  private async differ(level: Level, indices: readonly number[]): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < indices.length; i += TREE_HASHES_PER_CALL_MAX) {
      const part = indices.slice(i, i + TREE_HASHES_PER_CALL_MAX);
      const theirs = await this.peer.treeHashes(this.range, level, part);
      this.stats.roundTrips++;
      this.stats.compareBytes += part.length * (4 + HASH_BYTES);
      if (theirs.length !== part.length * HASH_BYTES)
        throw new KvError('Internal', `a peer answered ${theirs.length} bytes for ${part.length} tree hashes`);
      out.push(...this.ours().differing(level, part, theirs));
    }
    return out;
  }

  /** The segments whose leaves differ, walking down from the root; at most about `max` of them. */
  async differingSegments(max: number): Promise<number[]> {
    if ((await this.differ(ROOT, [0])).length === 0) return [];
    const branches = await this.differ(BRANCH, [...Array(BRANCHES).keys()]);
    const out: number[] = [];
    for (const b of branches) {
      if (out.length >= max) break;
      out.push(...(await this.differ(LEAF, leavesOf(b))));
    }
    return out.slice(0, max);
  }

  /** Of these segments, those whose leaves still differ (asked again, after a pause the caller took). */
  recheck(segments: readonly number[]): Promise<number[]> {
    return this.differ(LEAF, segments);
  }

  /** Compares the keys of these segments with the peer's and sends each side the versions it lacks. */
  async repairSegments(segments: readonly number[]): Promise<void> {
    this.stats.segmentsDiffered += segments.length;
    let rest = segments.slice();
    while (rest.length > 0) {
      const ask = rest.slice(0, REPAIR_SEGMENTS_PER_CALL_MAX);
      const { digests, covered } = await this.peer.segmentKeys(this.range, ask);
      this.stats.roundTrips++;
      if (!(Number.isInteger(covered) && covered >= 1 && covered <= ask.length)) {
        throw new KvError('Internal', `a peer listed ${covered} of ${ask.length} segments`);
      }
      this.stats.compareBytes += ask.length * 4 + digests.reduce((n, d) => n + d.key.length + DIGEST_OVERHEAD_BYTES, 0);
      const done = ask.slice(0, covered);
      await this.settle(done, digests);
      rest = rest.slice(covered);
    }
  }

  /** One listed batch of segments: what differs, sent and fetched. */
  private async settle(segments: readonly number[], theirs: readonly KeyDigest[]): Promise<void> {
    const ours = this.local.segmentDigests(this.range, segments).map((d) => d.key);
    const diff = diffRange(ours, (k) => this.local.get(k), theirs);
    this.stats.keysDiffered += new Set([...diff.send, ...diff.fetch]).size;
    await this.send(diff.send);
    await this.fetch(diff.fetch);
  }

  private async send(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += REPAIR_KEYS_PER_CALL_MAX) {
      const items: KeyedVersion[] = [];
      for (const key of keys.slice(i, i + REPAIR_KEYS_PER_CALL_MAX)) {
        const version = this.local.get(key);
        if (version !== undefined) items.push({ key, version });
      }
      if (items.length === 0) continue;
      await this.peer.apply(items);
      this.stats.roundTrips++;
      this.stats.keysSent += items.length;
      this.stats.bytesSent += bytesOf(items);
    }
  }

  private async fetch(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += REPAIR_KEYS_PER_CALL_MAX) {
      const items = await this.peer.fetch(keys.slice(i, i + REPAIR_KEYS_PER_CALL_MAX));
      this.stats.roundTrips++;
      if (items.length === 0) continue;
      await this.local.applyLocal(items);
      this.stats.keysFetched += items.length;
      this.stats.bytesFetched += bytesOf(items);
    }
  }
}

function bytesOf(items: readonly KeyedVersion[]): number {
  return items.reduce((n, it) => n + it.key.length + it.version.value.length, 0);
}
