/**
 * A node's hash trees, one per range of the current ring that it takes
 * writes for (its read ranges, and those it is pending on while a range
 * moves to it). A range is named by its bounds: the keys after `start` up
 * to and including `end` (membership/placement.ts). The memtable tells every
 * change of a key's newest version (writes, replay at start, tombstone
 * purge) to `changed`, which finds the key's range by the placement's binary
 * search and updates that tree in O(1); so the trees are built by the
 * replay itself and never rescanned while the ring holds still.
 *
 * When the ring changes (`follow`), each range of the new placement gets
 * its tree in one of three ways:
 * - kept: a range with the same bounds keeps its tree;
 * - derived: a range that is exactly the union of ranges with complete
 *   trees (a merge, as when a node leaves) gets the XOR of their trees, at
 *   once, no key read;
 * - rebuilt: any other range (a split, as when a node joins inside it, or
 *   a range this node did not replicate) is rebuilt from the store's keys
 *   of the range in key order, TREE_BUILD_PAGE_KEYS per turn. Meanwhile a
 *   change to a key the rebuild has passed goes into the tree, and one to a
 *   key it has not reached yet is left to the rebuild, which reads that key's
 *   version when it gets there. The tree takes part in no exchange until it
 *   is complete.
 * A split could be derived too (the whole XOR the other part), but that
 * needs one part rebuilt anyway, so the part is rebuilt directly.
 */
import { compareKeyStrings } from '../common/bytes';
import { TREE_BUILD_PAGE_KEYS } from '../common/limits';
import type { Time } from '../clock/time';
import type { PlacedRange, Placement } from '../membership/placement';
import { hashKey } from '../partitioner/hash';
import type { VersionObserver } from '../storage/memtable';
import type { KeyedVersion } from '../storage/version';
import { EntryState, HashTree } from './hash-tree';

/** A range as repair names it (and the replicas the current placement gives it). */
export type TreeRange = PlacedRange;

/** Where a rebuild reads a range's keys: the store's committed versions, in key order. */
export interface TreeSource {
  range(from: string, to: string | undefined, limit: number, bytesMax: number): { entries: readonly KeyedVersion[]; more: boolean };
}

/** The key intervals [from, to) of a range, in the order a rebuild walks them (two when the range wraps past the last key). */
function piecesOf(range: TreeRange): Array<{ from: string; to: string | undefined }> {
  const from = `${range.start}\u0000`;
  const to = `${range.end}\u0000`;
  if (compareKeyStrings(range.start, range.end) < 0) return [{ from, to }];
  return [
    { from, to: undefined },
    { from: '', to },
  ];
}

class Kept {
  readonly tree = new HashTree();
  /** While rebuilt: the piece it is in and the last key it took there (undefined: none yet). */
  piece = 0;
  through: string | undefined;
  complete: boolean;

  constructor(
    public range: TreeRange,
    complete: boolean,
  ) {
    this.complete = complete;
  }

  /** Whether the rebuild has passed `key` (so a change to it belongs in the tree now). */
  passed(key: string): boolean {
    if (this.complete) return true;
    const pieces = piecesOf(this.range);
    const at = pieces.length === 1 || compareKeyStrings(key, this.range.start) > 0 ? 0 : 1;
    if (at !== this.piece) return at < this.piece;
    return this.through !== undefined && compareKeyStrings(key, this.through) <= 0;
  }
}

export class RangeTrees implements VersionObserver {
  private placement: Placement;
  /** By range end (unique within a placement). */
  private kept = new Map<string, Kept>();
  private building = 0;
  private idle: Array<() => void> = [];
  readonly counters = { treesKept: 0, treesDerived: 0, treesRebuilt: 0, keysRebuilt: 0 };

  constructor(
    placement: Placement,
    readonly selfId: number,
    /** Keys a rebuild takes per turn (tests pass a few, to interleave writes with it). */
    private readonly pageKeys = TREE_BUILD_PAGE_KEYS,
  ) {
    this.placement = placement;
    for (const range of placement.ranges) if (range.writes.includes(selfId)) this.kept.set(range.end, new Kept(range, true));
  }

  /**
   * Takes up a new placement: keeps, derives or rebuilds each tree (see the
   * header). Rebuilds read `source` in the background.
   */
  follow(placement: Placement, source: TreeSource, time: Time): void {
    if (placement === this.placement) return;
    const old = this.kept;
    const byStart = new Map<string, Kept>();
    for (const k of old.values()) byStart.set(k.range.start, k);
    const next = new Map<string, Kept>();
    const rebuild: Kept[] = [];
    for (const range of placement.ranges) {
      if (!range.writes.includes(this.selfId)) continue;
      const same = old.get(range.end);
      if (same !== undefined && same.range.start === range.start) {
        same.range = range;
        next.set(range.end, same);
        this.counters.treesKept++;
        continue;
      }
      const parts = this.tiling(range, byStart);
      const kept = new Kept(range, parts !== undefined);
      if (parts !== undefined) {
        for (const part of parts) kept.tree.xorWith(part.tree);
        this.counters.treesDerived++;
      } else rebuild.push(kept);
      next.set(range.end, kept);
    }
    this.placement = placement;
    this.kept = next;
    for (const kept of rebuild) void this.rebuild(kept, source, time);
  }

  /** The complete trees whose ranges run one after another from `range.start` exactly to `range.end`, if there are such. */
  private tiling(range: TreeRange, byStart: ReadonlyMap<string, Kept>): Kept[] | undefined {
    const parts: Kept[] = [];
    let at = range.start;
    do {
      const part = byStart.get(at);
      if (part === undefined || !part.complete || parts.includes(part)) return undefined;
      parts.push(part);
      at = part.range.end;
    } while (at !== range.end);
    return parts;
  }

  private async rebuild(kept: Kept, source: TreeSource, time: Time): Promise<void> {
    this.building++;
    this.counters.treesRebuilt++;
    try {
      const pieces = piecesOf(kept.range);
      for (; kept.piece < pieces.length; kept.piece++, kept.through = undefined) {
        const { from, to } = pieces[kept.piece]!;
        for (let more = true; more; ) {
          // Replaced by a newer placement meanwhile: that one has its own tree.
          if (this.kept.get(kept.range.end) !== kept) return;
          const page = source.range(kept.through === undefined ? from : `${kept.through}\u0000`, to, this.pageKeys, Infinity);
          for (const { key, version } of page.entries) kept.tree.change(key, hashKey(key), undefined, version);
          this.counters.keysRebuilt += page.entries.length;
          const last = page.entries[page.entries.length - 1];
          if (last !== undefined) kept.through = last.key;
          more = page.more && last !== undefined;
          if (more) await new Promise<void>((resolve) => time.soon(resolve));
        }
      }
      kept.complete = true;
    } finally {
      if (--this.building === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  /** Resolves once no tree is being rebuilt (a full repair waits for it, so that it covers every range). */
  ready(): Promise<void> {
    if (this.building === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** The ranges with a complete tree. */
  get ranges(): TreeRange[] {
    return [...this.kept.values()].filter((k) => k.complete).map((k) => k.range);
  }

  /** The other nodes a range is exchanged with: every replica that takes its writes. */
  replicasOf(range: TreeRange): readonly number[] {
    return range.writes;
  }

  /** The complete-tree ranges that `peer` takes writes for too. */
  sharedWith(peer: number): TreeRange[] {
    return this.ranges.filter((r) => r.writes.includes(peer));
  }

  /** The complete tree of exactly this range (undefined: none, or not complete yet). */
  tree(range: Pick<TreeRange, 'start' | 'end'>): HashTree | undefined {
    const kept = this.kept.get(range.end);
    return kept !== undefined && kept.complete && kept.range.start === range.start ? kept.tree : undefined;
  }

  /** The range of this node's trees with these bounds (a peer's exchange names it so). */
  find(start: string, end: string): TreeRange | undefined {
    const kept = this.kept.get(end);
    return kept !== undefined && kept.range.start === start ? kept.range : undefined;
  }

  /** The range an older build names by its owner: the one `owner` takes reads for first. */
  byOwner(owner: number): TreeRange | undefined {
    for (const k of this.kept.values()) if (k.range.reads[0] === owner) return k.range;
    return undefined;
  }

  /** Whether `key` falls in `range` on the current placement. */
  holds(range: TreeRange, key: string): boolean {
    return this.placement.rangeOf(key).end === range.end;
  }

  changed(key: string, keyHash: number, before: EntryState | undefined, after: EntryState | undefined): void {
    const kept = this.kept.get(this.placement.rangeOf(key).end);
    if (kept !== undefined && kept.passed(key)) kept.tree.change(key, keyHash, before, after);
  }

  /** Bytes the trees hold. */
  get bytes(): number {
    return this.kept.size * HashTree.bytes;
  }
}
