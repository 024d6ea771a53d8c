/**
 * Keys and values as SQL literals, so that a whole group commit goes to
 * SQLite as one script (one trip to the driver's thread) instead of a bound
 * statement per chunk, each its own trip (the thread driver's way; the
 * inline driver binds, with bytesParameter below). Every literal here is
 * safe to splice into a statement: a quoted text doubles its quotes and never
 * holds a NUL, a BLOB holds nothing but hex digits.
 */
import { fromByteString } from '../common/bytes';

/** Bytes as an SQL blob literal, X'…'. */
export function blobLiteral(bytes: Buffer): string {
  return `X'${bytes.toString('hex')}'`;
}

/** A latin1 key or value as an SQL blob literal. */
export function latin1Literal(s: string): string {
  return blobLiteral(fromByteString(s));
}

/**
 * A latin1 key or value as an SQL text literal. The log stores keys and
 * values of printable ASCII as TEXT holding one code point per byte, so a
 * replay gets JavaScript strings straight from the driver instead of a Buffer
 * per column to convert: four times faster for a large log, and no external
 * memory to collect. A quoted literal is cheapest to build and parse; text
 * with a NUL (which would end the statement) goes as hex instead. (Logs
 * written before bytesLiteral hold keys and values of any bytes this way,
 * encoded as UTF-8 by SQLite.)
 */
export function textLiteral(s: string): string {
  if (s.includes('\u0000')) return `CAST(X'${Buffer.from(s, 'utf8').toString('hex')}' AS TEXT)`;
  return `'${s.includes("'") ? s.replace(/'/g, "''") : s}'`;
}

/** Printable ASCII: keys and values stored as TEXT. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;

/**
 * A key or value as an SQL literal for the log: printable ASCII as TEXT,
 * anything else as a BLOB. Other bytes as TEXT are a slow case for a replay:
 * in SQLite's UTF-8 half of them take two bytes, control characters become
 * six-character JSON escapes, and the driver's conversion and JSON.parse
 * leave their fast paths. A replay reads BLOBs as bytes instead (see
 * replayChunk).
 */
export function bytesLiteral(s: string): string {
  return PLAIN_TEXT.test(s) ? textLiteral(s) : latin1Literal(s);
}

/**
 * A key or value as a bound parameter for the log, stored as bytesLiteral
 * would spell it: printable ASCII as TEXT (a string), anything else as a
 * BLOB (its latin1 bytes). So a row reads back the same whichever way it was
 * written.
 */
export function bytesParameter(s: string): string | Buffer {
  return PLAIN_TEXT.test(s) ? s : fromByteString(s);
}
