/**
 * The cluster-wide hashes of byte strings (latin1 strings, one char per
 * byte). Every node must compute them alike: anti-entropy pages through keys
 * by `hashKey` and compares values by `valueHash`, across nodes.
 */

/** Key hashes are unsigned 32-bit: [0, HASH_SPACE). */
export const HASH_SPACE = 2 ** 32;

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the bytes, as a signed 32-bit integer. */
function fnv1a(bytes: string): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * FNV-1a over the key's bytes, then MurmurHash3's final mix, so that every
 * bit depends on every byte (the memtable's index uses the high bits).
 * Unsigned: [0, HASH_SPACE).
 */
export function hashKey(key: string): number {
  let h = fnv1a(key);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over a value's bytes, signed 32-bit: what an anti-entropy digest carries. */
export function valueHash(value: string): number {
  return fnv1a(value) | 0;
}
