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
import type { TreeRange } from './range-trees';
import { assert } from '../common/assert';
import { KvError } from '../common/errors';
import {
  REPAIR_CALL_BYTES_MAX,
  REPAIR_CALLS_IN_FLIGHT_MAX,
  REPAIR_KEYS_PER_CALL_MAX,
  REPAIR_SEGMENTS_PER_CALL_MAX,
  TREE_BRANCHES_PER_CALL_MIN,
  TREE_HASHES_PER_CALL_MAX,
} from '../common/limits';
import { KeyedVersion, keyedBytes, Version } from '../storage/version';
import { diffRange, KeyDigest } from './compare';
import { BRANCH, BRANCHES, HASH_BYTES, HashTree, LEAF, LEAVES_PER_BRANCH, leavesOf, Level, ROOT } from './hash-tree';

/** This node's side: its tree of a range and its keys. */
export interface TreeLocal {
  tree(range: TreeRange): HashTree | undefined;
  /** Our keys of `range` in these segments. */
  segmentKeys(range: TreeRange, segments: readonly number[]): string[];
  get(key: string): Version | undefined;
  /** Applies versions fetched from a peer (observing their timestamps). */
  applyLocal(items: KeyedVersion[]): Promise<void>;
}

/** A peer as an exchange needs it. */
export interface TreePeer {
  /** The peer's hashes at `indices` of a level of its tree of `range`, packed HASH_BYTES each. */
  treeHashes(range: TreeRange, level: Level, indices: readonly number[]): Promise<Buffer>;
  /** The peer's digests of its keys of `range` in the first `covered` of `segments` (it stops at REPAIR_DIGESTS_PER_CALL_MAX). */
  segmentKeys(range: TreeRange, segments: readonly number[]): Promise<{ digests: KeyDigest[]; covered: number }>;
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

function sameHash(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/** Approximate bytes of a digest on the wire: key, timestamp, flag, value hash and field headers. */
const DIGEST_OVERHEAD_BYTES = 24;

export class TreeExchange {
  readonly stats = emptyStats();
  /** Both sides' hashes of each differing leaf when it was first seen: what `recheckStable` compares against. */
  private readonly firstSeen = new Map<number, { ours: [number, number]; theirs: [number, number] }>();

  constructor(
    private readonly local: TreeLocal,
    private readonly peer: TreePeer,
    private readonly range: TreeRange,
  ) {}

  private ours(): HashTree {
    const tree = this.local.tree(this.range);
    if (tree === undefined)
      throw new KvError('Internal', `this node keeps no complete tree of the range ending at ${JSON.stringify(this.range.end)}`);
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
      const differing = this.ours().differing(level, part, theirs);
      if (level === LEAF) this.noteLeaves(part, differing, theirs);
      out.push(...differing);
    }
    return out;
  }

  /**
   * Keeps the first hashes seen of each differing leaf, ours and the peer's.
   * `differing` is a subsequence of `asked` (HashTree.differing keeps the
   * order), so one walk finds each one's place in the answer.
   */
  private noteLeaves(asked: readonly number[], differing: readonly number[], theirs: Buffer): void {
    const leaves = this.ours().leaves;
    let n = 0;
    for (const segment of differing) {
      while (n < asked.length && asked[n] !== segment) n++;
      assert(n < asked.length, 'the differing leaves are among those asked, in order');
      if (this.firstSeen.has(segment)) continue;
      this.firstSeen.set(segment, {
        ours: [leaves[segment * 2]!, leaves[segment * 2 + 1]!],
        theirs: [theirs.readUInt32LE(n * HASH_BYTES), theirs.readUInt32LE(n * HASH_BYTES + 4)],
      });
    }
  }

  /**
   * The segments whose leaves differ, walking down from the root; at most
   * about `max` of them. The leaves of as many differing branches as `max`
   * could need, and of TREE_BRANCHES_PER_CALL_MIN at least, are asked for in
   * one call (all of them, in calls of TREE_HASHES_PER_CALL_MAX, for a full
   * repair).
   */
  async differingSegments(max: number): Promise<number[]> {
    if ((await this.differ(ROOT, [0])).length === 0) return [];
    const branches = await this.differ(BRANCH, [...Array(BRANCHES).keys()]);
    const perCall = Math.min(
      Math.max(TREE_BRANCHES_PER_CALL_MIN, Math.ceil(max / LEAVES_PER_BRANCH)),
      TREE_HASHES_PER_CALL_MAX / LEAVES_PER_BRANCH,
    );
    const out: number[] = [];
    for (let i = 0; i < branches.length && out.length < max; i += perCall) {
      out.push(...(await this.differ(LEAF, branches.slice(i, i + perCall).flatMap(leavesOf))));
    }
    return out.slice(0, max);
  }

  /** Of these segments, those whose leaves still differ (asked again, after a pause the caller took). */
  recheck(segments: readonly number[]): Promise<number[]> {
    return this.differ(LEAF, segments);
  }

  /**
   * Of these segments, those that still differ and whose leaf neither side
   * changed since it was first seen: a difference that held still through
   * the pause. Under a write load most differing leaves are writes on their
   * way to both replicas, and they keep changing; background anti-entropy
   * leaves those to a later step (or to hints and read repair) instead of
   * listing and streaming them now.
   */
  async recheckStable(segments: readonly number[]): Promise<number[]> {
    const before = new Map(segments.map((s) => [s, this.firstSeen.get(s)]));
    this.firstSeen.clear();
    const still = await this.differ(LEAF, segments);
    return still.filter((s) => {
      const a = before.get(s);
      const b = this.firstSeen.get(s);
      return a !== undefined && b !== undefined && sameHash(a.ours, b.ours) && sameHash(a.theirs, b.theirs);
    });
  }

  /** Compares the keys of these segments with the peer's and sends each side the versions it lacks. */
  async repairSegments(segments: readonly number[]): Promise<void> {
    this.stats.segmentsDiffered += segments.length;
    let rest = segments.slice();
    let listing = rest.length > 0 ? this.list(rest) : undefined;
    while (listing !== undefined) {
      const { done, digests } = await listing;
      rest = rest.slice(done.length);
      // The next listing travels while this one's versions are sent and fetched.
      listing = rest.length > 0 ? this.list(rest) : undefined;
      await this.settle(done, digests);
    }
  }

  /** The peer's digests of the first of `segments` (as many as one answer holds), and which segments they cover. */
  private async list(segments: readonly number[]): Promise<{ done: number[]; digests: KeyDigest[] }> {
    const ask = segments.slice(0, REPAIR_SEGMENTS_PER_CALL_MAX);
    const { digests, covered } = await this.peer.segmentKeys(this.range, ask);
    this.stats.roundTrips++;
    if (!(Number.isInteger(covered) && covered >= 1 && covered <= ask.length)) {
      throw new KvError('Internal', `a peer listed ${covered} of ${ask.length} segments`);
    }
    this.stats.compareBytes += ask.length * 4 + digests.reduce((n, d) => n + d.key.length + DIGEST_OVERHEAD_BYTES, 0);
    return { done: ask.slice(0, covered), digests };
  }

  /** One listed batch of segments: what differs, sent and fetched. */
  private async settle(segments: readonly number[], theirs: readonly KeyDigest[]): Promise<void> {
    const ours = this.local.segmentKeys(this.range, segments);
    const diff = diffRange(ours, (k) => this.local.get(k), theirs);
    this.stats.keysDiffered += new Set([...diff.send, ...diff.fetch]).size;
    await this.send(diff.send);
    await this.fetch(diff.fetch);
  }

  /** Our versions of `keys` to the peer, REPAIR_KEYS_PER_CALL_MAX a call, REPAIR_CALLS_IN_FLIGHT_MAX calls at once. */
  private send(keys: readonly string[]): Promise<void> {
    return inChunks(keys, async (part) => {
      const items: KeyedVersion[] = [];
      for (const key of part) {
        const version = this.local.get(key);
        if (version !== undefined) items.push({ key, version });
      }
      for (const slice of byBytes(items, REPAIR_CALL_BYTES_MAX)) {
        await this.peer.apply(slice);
        this.stats.roundTrips++;
        this.stats.keysSent += slice.length;
        this.stats.bytesSent += keyedBytes(slice);
      }
    });
  }

  /** The peer's versions of `keys`, fetched and applied here, in chunks as `send`. */
  private fetch(keys: readonly string[]): Promise<void> {
    return inChunks(keys, async (part) => {
      const items = await this.peer.fetch(part);
      this.stats.roundTrips++;
      if (items.length === 0) return;
      await this.local.applyLocal(items);
      this.stats.keysFetched += items.length;
      this.stats.bytesFetched += keyedBytes(items);
    });
  }
}

/**
 * Runs `work` on chunks of REPAIR_KEYS_PER_CALL_MAX keys, at most
 * REPAIR_CALLS_IN_FLIGHT_MAX at once: one call at a time would wait for the
 * receiver's commit each time, and several in flight share its group commits.
 */
async function inChunks(keys: readonly string[], work: (part: string[]) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const part = keys.slice(next, next + REPAIR_KEYS_PER_CALL_MAX);
      next += part.length;
      await work(part);
    }
  };
  await Promise.all(Array.from({ length: REPAIR_CALLS_IN_FLIGHT_MAX }, worker));
}

/** `items` cut into runs of at most `max` bytes of keys and values (a larger item alone). */
export function byBytes(items: readonly KeyedVersion[], max: number): KeyedVersion[][] {
  const out: KeyedVersion[][] = [];
  let run: KeyedVersion[] = [];
  let bytes = 0;
  for (const it of items) {
    const n = it.key.length + it.version.value.length;
    if (run.length > 0 && bytes + n > max) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(it);
    bytes += n;
  }
  if (run.length > 0) out.push(run);
  return out;
}
