/**
 * Which key each operation touches. Keys are numbered 0 .. keys-1 and sent as
 * fixed-width text, `key000123`, so they all have the same length and sort in
 * numeric order.
 *
 * uniform: every key equally likely.
 * zipfian: a few keys are hot, most are cold (YCSB's request distribution,
 *   theta 0.99). Popularity ranks are scattered over the key space by a fixed
 *   permutation, as YCSB's "scrambled zipfian" does, so the hot keys are not
 *   neighbours: on a byte-ordered ring neighbours share one replica set, and
 *   that would measure one replica set rather than the skew.
 */
import { Random as Prng } from '../common/random';

export type Distribution = 'uniform' | 'zipfian';
export const DISTRIBUTIONS: readonly Distribution[] = ['uniform', 'zipfian'];

export const KEY_PREFIX = 'key';
/** Digits of a key number at least; more when --keys needs them. */
export const KEY_DIGITS_MIN = 6;
/**
 * Most keys a run may use. The zipfian set-up sums a series over every key
 * (about 30 ms per million on one core), and the key numbers times the
 * permutation stride must stay exact in a double.
 */
export const KEYS_MAX = 10_000_000;
/** YCSB's default skew: item i is chosen with probability proportional to 1 / (i+1)^0.99. */
export const ZIPFIAN_THETA = 0.99;

export interface KeyChooser {
  /** A key number in [0, keys). */
  next(): number;
}

/** Digits needed for key numbers below `keys`. */
export function keyDigits(keys: number): number {
  return Math.max(KEY_DIGITS_MIN, String(Math.max(0, keys - 1)).length);
}

/**
 * `key000123`: the text form of key number `n` in a space of `keys` keys,
 * behind one of `spread` (chosen by n), so the keys fall in every node's
 * token range instead of one (see ringSpread).
 */
export function formatKey(n: number, keys: number, spread: readonly string[] = ['']): string {
  return keyFormatter(keys, spread)(n);
}

/**
 * formatKey for one key space, with the width and prefixes worked out once:
 * the benchmark formats a key for every operation.
 */
export function keyFormatter(keys: number, spread: readonly string[] = ['']): (n: number) => string {
  const digits = keyDigits(keys);
  const zeros = '0'.repeat(digits);
  const prefixes = spread.map((p) => p + KEY_PREFIX);
  return (n) => {
    const s = String(n);
    return prefixes[n % prefixes.length]! + (s.length < digits ? zeros.slice(s.length) + s : s);
  };
}

/** First characters tried when looking for a prefix that lands in a node's range. */
const SPREAD_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * One single-character prefix per node such that `prefix + "key…"` is owned
 * by that node, for nodes whose range holds such keys. On a byte-ordered
 * ring all `key…` keys would otherwise share one owner and one replica set,
 * and a benchmark would measure three nodes out of four.
 */
export function ringSpread(owner: (key: string) => number, nodeIds: readonly number[]): string[] {
  const out: string[] = [];
  for (const id of nodeIds) {
    const c = [...SPREAD_ALPHABET].find((ch) => owner(ch + KEY_PREFIX) === id);
    if (c !== undefined) out.push(c);
  }
  return out.length > 0 ? out : [''];
}

function checkKeys(keys: number): void {
  if (!Number.isInteger(keys) || keys < 1 || keys > KEYS_MAX) {
    throw new RangeError(`the number of keys must be an integer from 1 to ${KEYS_MAX}`);
  }
}

export class UniformChooser implements KeyChooser {
  constructor(
    private readonly keys: number,
    private readonly rng: Prng,
  ) {
    checkKeys(keys);
  }

  next(): number {
    return this.rng.int(this.keys);
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * A permutation of [0, n): i -> (i * stride) mod n with stride coprime to n.
 * The stride starts near n / golden ratio, which spreads consecutive ranks
 * evenly over the whole range.
 */
export function scatterStride(n: number): number {
  let stride = Math.max(1, Math.floor(n * 0.6180339887));
  while (gcd(stride, n) !== 1) stride++;
  return stride % n;
}

/**
 * Zipfian ranks by the method of Gray et al., "Quickly generating
 * billion-record synthetic databases" (SIGMOD 1994), as in YCSB's
 * ZipfianGenerator: one uniform draw per key, after an O(n) set-up.
 */
export class ZipfianChooser implements KeyChooser {
  private readonly zetaN: number;
  private readonly alpha: number;
  private readonly eta: number;
  private readonly secondThreshold: number;
  private readonly stride: number;

  constructor(
    private readonly keys: number,
    private readonly rng: Prng,
    theta = ZIPFIAN_THETA,
  ) {
    checkKeys(keys);
    this.zetaN = zeta(keys, theta);
    const zeta2 = zeta(2, theta);
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - Math.pow(2 / keys, 1 - theta)) / (1 - zeta2 / this.zetaN);
    this.secondThreshold = 1 + Math.pow(0.5, theta);
    this.stride = scatterStride(keys);
  }

  /** The popularity rank of the next key: 0 is the hottest. */
  nextRank(): number {
    const u = this.rng.float();
    const uz = u * this.zetaN;
    if (uz < 1) return 0;
    if (uz < this.secondThreshold) return Math.min(1, this.keys - 1);
    const rank = Math.floor(this.keys * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return Math.min(Math.max(rank, 0), this.keys - 1);
  }

  next(): number {
    return (this.nextRank() * this.stride) % this.keys;
  }
}

/** sum_{i=1..n} 1 / i^theta */
function zeta(n: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += 1 / Math.pow(i, theta);
  return sum;
}

export function makeChooser(distribution: Distribution, keys: number, rng: Prng): KeyChooser {
  return distribution === 'zipfian' ? new ZipfianChooser(keys, rng) : new UniformChooser(keys, rng);
}
