/**
 * Choosing a joining node's token (pure): the median of the keys of the
 * range it should split, or, when that range holds too few keys to say,
 * the byte midpoint of the range.
 */
import { compareKeyStrings } from '../common/bytes';

/** Fewer keys than this in the range to split: its byte midpoint is the token. */
export const MEDIAN_KEYS_MIN = 16;

function toNumber(s: string, len: number): bigint {
  let x = 0n;
  for (let i = 0; i < len; i++) x = x * 256n + BigInt(i < s.length ? s.charCodeAt(i) & 0xff : 0);
  return x;
}

function toToken(x: bigint, len: number): string {
  const bytes: number[] = [];
  for (let i = 0; i < len; i++) {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  return String.fromCharCode(...bytes);
}

/**
 * The byte midpoint of the range (start, end], reading both as fractions of
 * the key space (one byte longer than the longer of them, so that two
 * adjacent tokens still have a point between them); a range that wraps
 * goes round through the end of the key space. Trailing zero bytes are
 * dropped while the token stays after `start`.
 */
export function midpointToken(start: string, end: string): string {
  const len = Math.max(start.length, end.length) + 1;
  const span = 256n ** BigInt(len);
  const lo = toNumber(start, len);
  let hi = toNumber(end, len);
  if (hi <= lo) hi += span;
  let token = toToken(((lo + hi) / 2n) % span, len);
  while (token.length > 1 && token.endsWith('\u0000') && compareKeyStrings(token.slice(0, -1), start) > 0) token = token.slice(0, -1);
  return token;
}

/**
 * The token that splits the range (start, end] in two: the median of its
 * keys (in byte order, as the range gives them), else the midpoint. Never
 * the range's own end, which is taken.
 */
export function splitToken(start: string, end: string, keys: readonly string[]): string {
  if (keys.length < MEDIAN_KEYS_MIN) return midpointToken(start, end);
  const median = keys[(keys.length - 1) >> 1]!;
  return median === end ? midpointToken(start, end) : median;
}
