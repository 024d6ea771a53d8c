/**
 * What the dashboard computes from what the nodes tell it, all pure: rates
 * from counter deltas, a quantile from histogram bucket deltas (one node's,
 * or every node's added up), and where
 * each node's range sits on the drawn ring.
 *
 * Counters and histogram buckets only grow while a node runs; a value that
 * went down means the node restarted, and no rate is made across a restart.
 */
import { compareKeyStrings, displayBytes, fromByteString } from '../common/bytes';

/** Events per second between two readings of a counter; null when there is no rate to give. */
export function ratePerSecond(before: number | undefined, after: number, elapsedMs: number): number | null {
  if (before === undefined || elapsedMs <= 0 || after < before) return null;
  return ((after - before) * 1000) / elapsedMs;
}

/** A histogram's cumulative counts by bucket upper bound (`le`, +Inf included), in seconds. */
export type Buckets = ReadonlyMap<number, number>;

/** `le="0.005"` or `le="+Inf"` out of a sample's label set. */
const LE_LABEL = /(?:^|,)\s*le="([^"]*)"/;

/**
 * The buckets of histogram `name` in Prometheus text, summed over its label
 * sets (every op and level): the node's requests as one distribution. Every
 * series of one histogram has the same bounds, so the sums stay cumulative.
 * Undefined when the page has no such histogram.
 */
export function histogramBuckets(text: string, name: string): Buckets | undefined {
  const prefix = `${name}_bucket{`;
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const close = line.lastIndexOf('}');
    const le = LE_LABEL.exec(line.slice(prefix.length, close));
    const value = Number(
      line
        .slice(close + 1)
        .trim()
        .split(/\s+/)[0],
    );
    if (le === null || !Number.isFinite(value)) continue;
    const bound = le[1] === '+Inf' ? Infinity : Number(le[1]);
    if (Number.isNaN(bound)) continue;
    out.set(bound, (out.get(bound) ?? 0) + value);
  }
  return out.size > 0 ? out : undefined;
}

/**
 * What a histogram observed between two readings: each bucket's cumulative
 * count after less before (everything counted so far without a reading
 * before). Null when a count went down: the node restarted in between.
 */
export function bucketDeltas(before: Buckets | undefined, after: Buckets): Buckets | null {
  const out = new Map<number, number>();
  for (const [bound, count] of after) {
    const delta = count - (before?.get(bound) ?? 0);
    if (delta < 0) return null;
    out.set(bound, delta);
  }
  return out;
}

/**
 * Several histograms' counts added bound by bound: every node's requests as
 * one distribution. Only the bounds all of them have are kept (nodes of one
 * build share theirs), so the sums stay cumulative.
 */
export function sumBuckets(parts: readonly Buckets[]): Buckets {
  const out = new Map<number, number>();
  const [first, ...rest] = parts;
  if (first === undefined) return out;
  for (const [bound, count] of first) {
    if (!rest.every((p) => p.has(bound))) continue;
    out.set(
      bound,
      rest.reduce((sum, p) => sum + p.get(bound)!, count),
    );
  }
  return out;
}

/**
 * The `q` quantile (0 < q < 1) of a histogram's observations, in its unit,
 * interpolated linearly inside the bucket it falls in (as Prometheus's
 * histogram_quantile does). Null when it holds none.
 */
export function quantileOf(counts: Buckets, q: number): number | null {
  const bounds = [...counts.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((b) => counts.get(b)!);
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  const i = cumulative.findIndex((c) => c >= rank);
  const upper = bounds[i]!;
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  // Past the largest finite bound nothing says how far: give that bound.
  if (upper === Infinity) return lower;
  const below = i === 0 ? 0 : cumulative[i - 1]!;
  const inBucket = cumulative[i]! - below;
  return inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
}

/** The `q` quantile of what a histogram observed between two readings; null when nothing was, or across a restart. */
export function quantileBetween(before: Buckets | undefined, after: Buckets, q: number): number | null {
  const deltas = bucketDeltas(before, after);
  return deltas === null ? null : quantileOf(deltas, q);
}

/** Leading token bytes that place a token on the drawn circle: later bytes move it less than a pixel. */
const TOKEN_ANGLE_BYTES = 4;

/** Where a token sits on the circle, as a fraction of a turn in [0, 1): its first bytes read as a fraction. */
export function tokenTurn(token: string): number {
  const bytes = fromByteString(token);
  let turn = 0;
  let scale = 1;
  for (let i = 0; i < TOKEN_ANGLE_BYTES; i++) {
    scale /= 256;
    turn += (bytes[i] ?? 0) * scale;
  }
  return turn;
}

/** One node's range on the circle, in turns: (`from`, `to`], with `from` < `to` <= `from` + 1. */
export interface RingArc {
  readonly id: number;
  readonly from: number;
  readonly to: number;
  /** The range in words: (previous token, own token]. */
  readonly label: string;
}

/**
 * Each node's range as an arc: a node owns (previous token, its token], and
 * the node with the smallest token also owns everything above the largest
 * one, so its arc crosses the top of the circle.
 */
export function ringArcs(nodes: readonly { readonly id: number; readonly token: string }[]): RingArc[] {
  const sorted = [...nodes].sort((a, b) => compareKeyStrings(a.token, b.token));
  return sorted.map((n, i) => {
    const prev = sorted[(i + sorted.length - 1) % sorted.length]!;
    const to = tokenTurn(n.token);
    // Only the first arc wraps; comparing turns instead would wrap two tokens that share their first bytes.
    const from = tokenTurn(prev.token) - (i === 0 ? 1 : 0);
    const shown = (t: string): string => JSON.stringify(displayBytes(fromByteString(t)));
    return { id: n.id, from, to, label: `(${shown(prev.token)}, ${shown(n.token)}]` };
  });
}
