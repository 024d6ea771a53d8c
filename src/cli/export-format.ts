/**
 * The file `copy.sh export` writes and `copy.sh import` reads: one JSON
 * object a line, one key each (JSON Lines), so that a file of any size is
 * read and written a line at a time, and other tools can make or read one.
 *
 *   {"key":"user:1","value":"alice","ts":1796690000000000}
 *   {"key":"session:9","value":"x","ts":1796690000000001,"expiresUs":1796700000000000}
 *   {"keyHex":"00ff","valueHex":"cafe"}
 *
 * Keys and values are bytes. A key or value whose bytes are UTF-8 text is
 * written as that text (`key`, `value`), anything else as hex (`keyHex`,
 * `valueHex`), so that every file is exact and most are readable.
 * `ts`: the value's write timestamp (µs since 1970), which an import may
 * keep; absent, it is not known (a file from elsewhere, or nodes of an older
 * build). `expiresUs`: when a value written with a TTL expires (µs since
 * 1970); absent, it does not. Pure: no I/O here.
 */
import { KEY_BYTES_MAX, TTL_SECONDS_MAX } from '../common/limits';

export interface ExportEntry {
  readonly key: Buffer;
  readonly value: Buffer;
  /** The value's write timestamp, µs since 1970; undefined: not known. */
  readonly ts?: number;
  /** µs since 1970; undefined: the value does not expire. */
  readonly expiresUs?: number;
}

/** Text that round-trips through UTF-8 exactly, or undefined. */
function asText(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

/** One entry as its line (without the newline). */
export function entryLine(e: ExportEntry): string {
  const key = asText(e.key);
  const value = asText(e.value);
  return JSON.stringify({
    ...(key !== undefined ? { key } : { keyHex: e.key.toString('hex') }),
    ...(value !== undefined ? { value } : { valueHex: e.value.toString('hex') }),
    ...(e.ts !== undefined ? { ts: e.ts } : {}),
    ...(e.expiresUs !== undefined ? { expiresUs: e.expiresUs } : {}),
  });
}

/** Why a line cannot be read, in one sentence (the caller adds its number). */
export class LineError extends Error {}

const FIELDS = new Set(['key', 'keyHex', 'value', 'valueHex', 'ts', 'expiresUs']);

/** The bytes of a field given as text or as hex (exactly one of them). */
function bytesOf(o: Record<string, unknown>, name: 'key' | 'value'): Buffer {
  const text = o[name];
  const hex = o[`${name}Hex`];
  if (text !== undefined && hex !== undefined) throw new LineError(`it has both "${name}" and "${name}Hex"`);
  if (typeof text === 'string') return Buffer.from(text, 'utf8');
  if (typeof hex === 'string') {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new LineError(`"${name}Hex" is not an even number of hex digits`);
    return Buffer.from(hex, 'hex');
  }
  if (text !== undefined || hex !== undefined) throw new LineError(`"${name}" and "${name}Hex" are strings`);
  throw new LineError(`it has no "${name}" (or "${name}Hex")`);
}

/** A line as an entry; a blank line is undefined (skipped). Throws LineError for anything else it cannot read. */
export function parseLine(line: string): ExportEntry | undefined {
  if (line.trim() === '') return undefined;
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw new LineError('it is not JSON');
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new LineError('it is not a JSON object');
  const fields = o as Record<string, unknown>;
  const unknown = Object.keys(fields).find((f) => !FIELDS.has(f));
  if (unknown !== undefined) throw new LineError(`it has a field "${unknown}"; a line has key, value, ts and expiresUs`);
  const key = bytesOf(fields, 'key');
  if (key.length === 0 || key.length > KEY_BYTES_MAX) throw new LineError(`its key is ${key.length} bytes; a key is 1 to ${KEY_BYTES_MAX}`);
  const value = bytesOf(fields, 'value');
  const ts = microsField(fields, 'ts');
  const expiresUs = microsField(fields, 'expiresUs');
  return { key, value, ...(ts !== undefined ? { ts } : {}), ...(expiresUs !== undefined ? { expiresUs } : {}) };
}

/** A time field (µs since 1970): a positive whole number, or absent. */
function microsField(fields: Record<string, unknown>, name: 'ts' | 'expiresUs'): number | undefined {
  const n = fields[name];
  if (n === undefined) return undefined;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0)
    throw new LineError(`"${name}" is not a positive whole number of µs since 1970`);
  return n;
}

/**
 * The TTL to write an entry with at `nowUs`: the whole seconds it has left,
 * rounded up (it stays readable to its expiry and at most a second past
 * it), at most TTL_SECONDS_MAX; 'expired' when none are left; undefined
 * when it never expires.
 */
export function ttlLeft(e: ExportEntry, nowUs: number): number | 'expired' | undefined {
  if (e.expiresUs === undefined) return undefined;
  const left = e.expiresUs - nowUs;
  if (left <= 0) return 'expired';
  return Math.min(TTL_SECONDS_MAX, Math.ceil(left / 1e6));
}

/** How an import writes an entry: its TTL, and its own timestamp when kept. */
export interface ImportWrite {
  readonly ttlSeconds?: number;
  readonly timestamp?: number;
}

/**
 * How an import writes `e` at `nowUs`: 'expired' when its expiry has
 * passed. With `keepTs` and a `ts` in the line, the write keeps that
 * timestamp, and its TTL counts from it, so that it expires when it did;
 * otherwise it gets the coordinator's timestamp and the TTL left (ttlLeft).
 * LineError for a line whose expiry is not within a TTL after its ts.
 */
export function importWrite(e: ExportEntry, nowUs: number, keepTs: boolean): ImportWrite | 'expired' {
  const left = ttlLeft(e, nowUs);
  if (left === 'expired') return 'expired';
  if (!keepTs || e.ts === undefined) return left === undefined ? {} : { ttlSeconds: left };
  if (e.expiresUs === undefined) return { timestamp: e.ts };
  const ttl = Math.ceil((e.expiresUs - e.ts) / 1e6);
  if (ttl < 1 || ttl > TTL_SECONDS_MAX)
    throw new LineError(`"expiresUs" is not 1 to ${TTL_SECONDS_MAX} seconds after "ts", as a TTL would put it`);
  return { ttlSeconds: ttl, timestamp: e.ts };
}
