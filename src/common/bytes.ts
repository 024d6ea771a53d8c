/**
 * Keys and values are byte strings. In memory a node keeps them as 'latin1'
 * JavaScript strings: one char per byte, so the mapping is exact, Map lookups
 * work by value, and a one-byte string costs far less memory than a Buffer.
 */
import { KEY_SHOWN_CHARS_MAX } from './limits';

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

/** A key as a log or trace line shows it: printable ASCII as it is, other bytes as \xNN, at most KEY_SHOWN_CHARS_MAX chars. */
export function displayKey(key: Buffer | string): string {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'latin1') : key;
  let out = '';
  for (const b of bytes) {
    const c = b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
    if (out.length + c.length > KEY_SHOWN_CHARS_MAX) return `"${out}"… (${bytes.length} bytes)`;
    out += c;
  }
  return `"${out}"`;
}

/** A size for people: "12.3 MiB". */
export function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
