/**
 * Rebalancing proposals (`scripts/admin.sh rebalance`), pure: from each
 * node's primary range, how many keys it holds and a sample of them in key
 * order, the tokens that bring every node's primary key count within a
 * tolerance (10%) of the mean, moving as few nodes as it can. With every
 * primary range within 10% of the mean, so is every node's replicated count
 * (the sum of rf consecutive primary ranges).
 *
 * The byte-ordered partitioner places keys by their bytes, so a node's load
 * is where the keys happen to fall; only the keys themselves say where to
 * cut. Each sampled key stands for keys / sample size keys of its range.
 *
 * The walk: one node (the anchor) keeps its token; from it, clockwise, each
 * next node keeps its token if its range's count is within the tolerance
 * and what is left can still be cut within it, and otherwise moves to the
 * sampled key that splits what is left evenly among the nodes left. Every
 * anchor is tried; the proposal with the fewest moves wins. Node order on
 * the ring is kept, and no node moves to a token another node holds now,
 * so the moves can run one at a time in any order.
 */
import { compareKeyStrings } from '../common/bytes';

/** How far from the mean a node's key count may be after a rebalance. */
export const REBALANCE_TOLERANCE = 0.1;

/** What a node's primary range holds: its key count, and sampled keys (sorted) each standing for keys / sample.length. */
export interface RangeSample {
  readonly node: number;
  /** The node's token now (latin1). */
  readonly token: string;
  readonly keys: number;
  readonly sample: readonly string[];
}

export interface Move {
  readonly node: number;
  readonly from: string;
  readonly to: string;
}

export interface Proposal {
  readonly moves: Move[];
  readonly mean: number;
  /** Each node's primary key count now and after the moves (estimated from the samples), in ring order. */
  readonly counts: { readonly node: number; readonly before: number; readonly after: number }[];
  /** Whether every node is within the tolerance now (then there are no moves). */
  readonly balancedNow: boolean;
}

interface Point {
  readonly key: string;
  readonly weight: number;
}

/** The sampled keys of the whole ring, sorted, each with the keys it stands for. */
function pointsOf(ranges: readonly RangeSample[]): Point[] {
  const points: Point[] = [];
  for (const r of ranges) {
    const weight = r.sample.length === 0 ? 0 : r.keys / r.sample.length;
    for (const key of r.sample) points.push({ key, weight });
  }
  return points.sort((a, b) => compareKeyStrings(a.key, b.key));
}

/** How many of the sorted points are <= key. */
function countAtMost(points: readonly Point[], key: string): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeyStrings(points[mid]!.key, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The points in clockwise order from just after `anchor` (the anchor's token), with their running weights. */
class Walk {
  readonly keys: string[];
  /** prefix[j]: the weight of the first j points of the walk. */
  readonly prefix: number[];
  private readonly split: number;

  constructor(
    private readonly points: readonly Point[],
    anchor: string,
  ) {
    this.split = countAtMost(points, anchor);
    const order = [...points.slice(this.split), ...points.slice(0, this.split)];
    this.keys = order.map((p) => p.key);
    this.prefix = [0];
    for (const p of order) this.prefix.push(this.prefix[this.prefix.length - 1]! + p.weight);
  }

  /** How many points of the walk come up to and including `token` (a token after the anchor, clockwise). */
  indexOf(token: string, anchor: string): number {
    const atMost = countAtMost(this.points, token);
    return compareKeyStrings(token, anchor) > 0 ? atMost - this.split : this.points.length - this.split + atMost;
  }

  get total(): number {
    return this.prefix[this.prefix.length - 1]!;
  }
}

/** The walk index in (after, last] whose running weight is nearest `target`, its key free; undefined if none. */
function cutNear(walk: Walk, after: number, last: number, target: number, taken: ReadonlySet<string>): number | undefined {
  let lo = after + 1;
  let hi = last;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (walk.prefix[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  // lo is the first index reaching the target, lo - 1 the last below it: the nearest is one of the two, and
  // going outwards from them the distance only grows. A key that is some node's token now is skipped (the
  // move would be refused).
  for (let d = 0; lo + d <= last || lo - 1 - d > after; d++) {
    const pair = [lo + d, lo - 1 - d].filter((j) => j > after && j <= last);
    pair.sort((x, y) => Math.abs(walk.prefix[x]! - target) - Math.abs(walk.prefix[y]! - target));
    const free = pair.find((j) => !taken.has(walk.keys[j - 1]!));
    if (free !== undefined) return free;
  }
  return undefined;
}

interface Cut {
  readonly moves: Move[];
  /** Each range's weight, in walk order from the node after the anchor; the anchor's last. */
  readonly weights: number[];
}

/** The walk from the anchor at `a` (an index of `ring`, sorted by token). */
function cutFrom(ring: readonly RangeSample[], a: number, points: readonly Point[], tolerance: number, maxWeight: number): Cut {
  const n = ring.length;
  const anchor = ring[a]!.token;
  const walk = new Walk(points, anchor);
  const total = walk.total;
  const mean = total / n;
  const [lo, hi] = bounds(mean, tolerance);
  const taken = new Set(ring.map((r) => r.token));
  const moves: Move[] = [];
  const weights: number[] = [];
  let at = 0; // walk index of the previous range's end
  for (let k = 1; k < n; k++) {
    const node = ring[(a + k) % n]!;
    const left = n - k; // ranges after this one, the anchor's included
    const keep = walk.indexOf(node.token, anchor);
    const kept = keep >= at ? walk.prefix[keep]! - walk.prefix[at]! : -1;
    const rest = total - walk.prefix[Math.max(keep, at)]!;
    const fits = kept >= lo && kept <= hi && rest >= left * (lo + maxWeight) && rest <= left * (hi - maxWeight);
    let end = keep;
    if (!fits) {
      const target = walk.prefix[at]! + (total - walk.prefix[at]!) / (left + 1);
      const cut = cutNear(walk, at, walk.keys.length, target, taken);
      if (cut !== undefined) {
        end = cut;
        moves.push({ node: node.node, from: node.token, to: walk.keys[cut - 1]! });
      }
    }
    end = Math.max(end, at);
    weights.push(walk.prefix[end]! - walk.prefix[at]!);
    at = end;
  }
  weights.push(total - walk.prefix[at]!);
  return { moves, weights };
}

/**
 * The key counts within `tolerance` of `mean`, widened by a hair: counts are
 * whole numbers, and a count exactly at the edge (39 of a mean of 130 / 3)
 * must not fall out by a rounding of the last bit.
 */
function bounds(mean: number, tolerance: number): [number, number] {
  const slack = 1e-9 * Math.max(1, mean);
  return [mean * (1 - tolerance) - slack, mean * (1 + tolerance) + slack];
}

/** Tokens that bring every node's primary key count within `tolerance` of the mean, moving as few nodes as it can. */
export function proposeTokens(ranges: readonly RangeSample[], tolerance = REBALANCE_TOLERANCE): Proposal {
  const ring = [...ranges].sort((x, y) => compareKeyStrings(x.token, y.token));
  const n = ring.length;
  const total = ring.reduce((sum, r) => sum + r.keys, 0);
  const mean = n === 0 ? 0 : total / n;
  const [lo, hi] = bounds(mean, tolerance);
  const within = (c: number): boolean => c >= lo && c <= hi;
  const balancedNow = ring.every((r) => within(r.keys));
  const unchanged = ring.map((r) => ({ node: r.node, before: r.keys, after: r.keys }));
  if (balancedNow || n < 2) return { moves: [], mean, counts: unchanged, balancedNow };
  const points = pointsOf(ring);
  const maxWeight = points.reduce((m, p) => Math.max(m, p.weight), 0);
  let best: { cut: Cut; a: number } | undefined;
  for (let a = 0; a < n; a++) {
    const cut = cutFrom(ring, a, points, tolerance, maxWeight);
    const worse =
      best !== undefined &&
      (cut.moves.length > best.cut.moves.length ||
        (cut.moves.length === best.cut.moves.length && spread(cut.weights, mean) >= spread(best.cut.weights, mean)));
    if (!worse) best = { cut, a };
  }
  const { cut, a } = best!;
  const after = new Map<number, number>();
  cut.weights.forEach((w, i) => after.set(ring[(a + 1 + i) % n]!.node, w));
  return { moves: cut.moves, mean, counts: ring.map((r) => ({ node: r.node, before: r.keys, after: after.get(r.node)! })), balancedNow };
}

/** The largest distance of a count from the mean. */
function spread(weights: readonly number[], mean: number): number {
  return weights.reduce((m, w) => Math.max(m, Math.abs(w - mean)), 0);
}
