/**
 * Keys and values are byte strings. In memory a node keeps them as 'latin1'
 * JavaScript strings: one char per byte, so the mapping is exact, Map lookups
 * work by value, and a one-byte string costs far less memory than a Buffer.
 */

/** Bytes (a key or a value) as a byte string, one char per byte. */
export function toByteString(bytes: Buffer): string {
  return bytes.toString('latin1');
}

/** A byte string's bytes: the inverse of toByteString. */
export function fromByteString(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Unsigned byte-wise comparison of two latin1 strings (same order as the bytes). */
export function compareKeyStrings(a: string, b: string): number {
  // Every char is < 256, so UTF-16 code-unit order is byte order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Shows a byte string to a person: UTF-8 text when it is valid and has no control characters (C0 or C1, which terminals act on), hex otherwise. */
export function displayBytes(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(bytes) && !/[\u0000-\u001f\u007f-\u009f]/.test(text)) return text;
  return `0x${bytes.toString('hex')}`;
}

/** A size for people: "12.3 MiB". */
export function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
