/**
 * The checks a request's arguments pass before anything acts on them: the
 * handler (handler.ts) calls these on what came off the wire, so that the
 * layers below can assert instead of check. Each is a pure function of the
 * wire's values; a bad argument is refused with InvalidRequest and one
 * sentence naming it (the first bad item of a list by its place).
 */
import { toByteString } from '../common/bytes';
import { KvError } from '../common/errors';
import {
  BATCH_COPIES_PER_CALL_MAX,
  BATCH_WRITES_MAX,
  batchBytesMax,
  batchTooLarge,
  CHANGES_LIMIT_MAX,
  CHANGES_WAIT_MS_MAX,
  GET_MANY_KEYS_MAX,
  KEY_BYTES_MAX,
  SCAN_LIMIT_MAX,
  SCAN_PAGE_LIMIT_DEFAULT,
  TTL_SECONDS_MAX,
} from '../common/limits';
import type { BatchCopyRef, BatchWriteInput } from '../coordinator/batch-writer';
import {
  ANY_CODE,
  ANY_IS_FOR_WRITES,
  LEVEL_LIST,
  levelFromCode,
  type LevelName,
  SERIAL_CODE,
  SERIAL_IS_NOT_FOR_BATCHES,
  serialIsForOneKey,
  WRITE_LEVEL_LIST,
  writeLevelFromCode,
  type WriteLevelName,
} from '../coordinator/levels';
import type { ScanRequest } from '../coordinator/range-scan';
import { EPOCH_SLOT_KEY_PREFIX, isReservedKey } from '../membership/reserved-keys';
import { type Int64, int64ToNumber, types } from '../rpc/thrift';
import type { ChangesRequest } from '../storage/change-feed';

/** An absent optional bytes argument, read as empty. */
export const EMPTY = Buffer.alloc(0);

export function invalid(message: string): KvError {
  return new KvError('InvalidRequest', message);
}

export function checkKey(key: Buffer | null | undefined): string {
  if (!Buffer.isBuffer(key)) throw invalid('the key is missing');
  if (key.length === 0) throw invalid('the key is empty');
  if (key.length > KEY_BYTES_MAX) throw invalid(`the key is ${key.length} bytes; the limit is ${KEY_BYTES_MAX}`);
  return toByteString(key);
}

/** A key a client names: refused too when it is one of the ring's own (a client must not forge or read an epoch's slot). */
export function checkClientKey(key: Buffer | null | undefined): string {
  const k = checkKey(key);
  if (isReservedKey(k))
    throw invalid(`keys starting with ${JSON.stringify(EPOCH_SLOT_KEY_PREFIX)} are reserved for the ring's membership log`);
  return k;
}

export function checkValue(value: Buffer | null | undefined, max: number): string {
  if (!Buffer.isBuffer(value)) throw invalid('the value is missing');
  if (value.length > max) throw invalid(`the value is ${value.length} bytes; the limit is ${max}`);
  return toByteString(value);
}

/** A getMany's keys: 1 to GET_MANY_KEYS_MAX of them, each a key a client may name (the first bad one is named by its place). */
export function checkManyKeys(keys: Buffer[] | null | undefined): string[] {
  if (!Array.isArray(keys) || keys.length === 0) throw invalid('getMany needs at least one key');
  if (keys.length > GET_MANY_KEYS_MAX)
    throw invalid(
      `getMany asked for ${keys.length} keys; the limit is ${GET_MANY_KEYS_MAX} a call (the client library splits longer lists)`,
    );
  return keys.map((key, i) => {
    try {
      return checkClientKey(key);
    } catch (err) {
      throw invalid(`key ${i + 1} of ${keys.length}: ${(err as Error).message}`);
    }
  });
}

/**
 * A batch's writes: 1 to BATCH_WRITES_MAX of them, each a client key with a
 * value or `remove`, and no key twice (one timestamp for all would leave
 * which of two writes wins to the tie-break). The first bad one is named by
 * its place.
 */
export function checkBatch(writes: types.BatchWrite[] | null | undefined, maxValueBytes: number): BatchWriteInput[] {
  if (!Array.isArray(writes) || writes.length === 0) throw invalid('a batch needs at least one write');
  if (writes.length > BATCH_WRITES_MAX)
    throw invalid(
      `the batch has ${writes.length} writes; the limit is ${BATCH_WRITES_MAX} (a batch is not split: send the rest as another batch)`,
    );
  const seen = new Map<string, number>();
  const checked = writes.map((w, i) => {
    const place = `write ${i + 1} of ${writes.length}`;
    try {
      const write = checkBatchWrite(w, maxValueBytes);
      const first = seen.get(write.key);
      if (first !== undefined) throw invalid(`its key is write ${first + 1}'s too; a batch writes each key once`);
      seen.set(write.key, i);
      return write;
    } catch (err) {
      throw invalid(`${place}: ${(err as Error).message}`);
    }
  });
  let bytes = 0;
  for (const w of checked) bytes += w.key.length + w.value.length;
  const max = batchBytesMax(maxValueBytes);
  if (bytes > max) throw invalid(batchTooLarge(bytes, max));
  return checked;
}

/** The id a peer's call names itself by: a node id (a non-negative integer). */
export function checkCaller(fromNode: number | null | undefined): number {
  if (typeof fromNode !== 'number' || !Number.isInteger(fromNode) || fromNode < 0) throw invalid('the caller id is missing');
  return fromNode;
}

export function checkCopyList<T>(list: T[] | null | undefined, what: string): T[] {
  if (!Array.isArray(list) || list.length === 0 || list.length > BATCH_COPIES_PER_CALL_MAX)
    throw invalid(`${what} must number 1 to ${BATCH_COPIES_PER_CALL_MAX} a call`);
  return list;
}

/** A batch copy's id in its coordinator's log and its time: non-negative whole numbers. */
export function checkCopyRef(r: { ownerBatch: Int64 | number | null; createdMs: Int64 | number | null }): BatchCopyRef {
  const ownerBatch = wholeNumber(r.ownerBatch);
  const createdMs = wholeNumber(r.createdMs);
  if (ownerBatch === undefined || createdMs === undefined) throw invalid('a batch copy needs its id and time, whole numbers from 0');
  return { ownerBatch, createdMs };
}

/** A list of batch references (forgetBatchCopies, heldBatches): its length, then each one; `one` names an element in the sentence for a missing one. */
export function checkCopyRefs(list: types.BatchCopyRef[] | null | undefined, what: string, one: string): BatchCopyRef[] {
  return checkCopyList(list, what).map((r) => {
    if (r === null || typeof r !== 'object') throw invalid(`${one} is missing`);
    return checkCopyRef(r);
  });
}

/** An i64 from the wire as a safe integer, or undefined. */
function safeInteger(field: Int64 | number | null | undefined): number | undefined {
  if (field === null || field === undefined) return undefined;
  const n = typeof field === 'number' ? field : int64ToNumber(field);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** safeInteger, from 0 up. */
function wholeNumber(field: Int64 | number | null | undefined): number | undefined {
  const n = safeInteger(field);
  return n !== undefined && n >= 0 ? n : undefined;
}

function checkBatchWrite(w: types.BatchWrite | null | undefined, maxValueBytes: number): BatchWriteInput {
  if (w === null || typeof w !== 'object') throw invalid('the write is missing');
  const key = checkClientKey(w.key);
  const ttl = w.ttlSeconds ?? 0;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > TTL_SECONDS_MAX)
    throw invalid(`the TTL is ${ttl} seconds; it must be a whole number from 1 to ${TTL_SECONDS_MAX}, or 0 for none`);
  const ts = wholeNumber(w.timestamp);
  if (given(w.timestamp) && (ts === undefined || ts === 0)) throw invalid('the timestamp must be a whole number of µs since 1970, from 1');
  if (w.remove === true) {
    if (w.value !== null && w.value !== undefined) throw invalid('a remove carries no value');
    if (ttl > 0) throw invalid('a remove takes no TTL');
    // A tombstone is purged by its timestamp's age: an old one could go before every replica had it.
    if (ts !== undefined) throw invalid("a remove takes no timestamp (a tombstone's timestamp decides when it may be purged)");
    return { key, value: '', deleted: true, ttlSeconds: 0 };
  }
  if (w.value === null || w.value === undefined) throw invalid('the value is missing (set remove to delete the key)');
  const value = checkValue(w.value, maxValueBytes);
  return ts === undefined ? { key, value, deleted: false, ttlSeconds: ttl } : { key, value, deleted: false, ttlSeconds: ttl, ts };
}

/** A read's or a scan's level (SERIAL is the caller's to check first). */
export function checkLevel(code: number | null | undefined): LevelName {
  const level = typeof code === 'number' ? levelFromCode(code) : undefined;
  if (code === ANY_CODE) throw invalid(ANY_IS_FOR_WRITES);
  if (level === undefined) throw invalid(`unknown consistency level ${code ?? '(missing)'}; use ${LEVEL_LIST}`);
  return level;
}

/** A put's or a remove's level: ANY too. */
export function checkWriteLevel(code: number | null | undefined): WriteLevelName {
  const level = typeof code === 'number' ? writeLevelFromCode(code) : undefined;
  if (level === undefined) throw invalid(`unknown consistency level ${code ?? '(missing)'} for a write; use ${WRITE_LEVEL_LIST}`);
  return level;
}

/** A cas commits at QUORUM or ALL; anything else gets a sentence saying why not. */
export function checkCasLevel(code: number | null | undefined): LevelName {
  if (code === 2 || code === 3) return levelFromCode(code)!;
  if (code === 1) throw invalid('a cas commits at QUORUM or ALL; ONE cannot keep it linearizable');
  const named = typeof code === 'number' ? levelFromCode(code) : undefined;
  if (named === 'TWO' || named === 'THREE') throw invalid(`a cas commits at QUORUM or ALL, not ${named}`);
  if (code === ANY_CODE) throw invalid('a cas commits at QUORUM or ALL; ANY cannot keep it linearizable');
  if (code === SERIAL_CODE) throw invalid('SERIAL is a read level; a cas commits at QUORUM or ALL');
  throw invalid(`unknown consistency level ${code ?? '(missing)'} for cas; use QUORUM or ALL`);
}

export type CheckedTrace =
  | { readonly op: 'get'; readonly key: string; readonly level: LevelName | 'SERIAL' }
  | { readonly op: 'put' | 'remove'; readonly key: string; readonly value: string; readonly level: WriteLevelName }
  | { readonly op: 'cas'; readonly key: string; readonly value: string; readonly expected: string | null; readonly level: LevelName }
  | { readonly op: 'scan'; readonly scan: ScanRequest }
  | { readonly op: 'getMany'; readonly keys: string[]; readonly level: LevelName }
  | { readonly op: 'batch'; readonly writes: BatchWriteInput[]; readonly level: WriteLevelName; readonly unlogged: boolean };

const given = (x: unknown): boolean => x !== null && x !== undefined;

/** A trace's request, checked as get, put, remove and cas check theirs. */
export function checkTraceRequest(r: types.TraceRequest | null, maxValueBytes: number): CheckedTrace {
  if (r === null || r === undefined) throw invalid('trace needs a request: op, key, level, and a value for a put or a cas');
  if (r.op === 'getMany' || r.op === 'batch') return checkTracedMany(r, maxValueBytes);
  if (given(r.keys)) throw invalid('only a traced getMany carries a list of keys');
  if (given(r.writes) || given(r.unlogged)) throw invalid('only a traced batch carries writes');
  if (r.op === 'scan') {
    if (given(r.value) || given(r.expected) || given(r.expectAbsent)) throw invalid('a traced scan carries no value and no expectation');
    const limit = given(r.limit) ? r.limit! : SCAN_PAGE_LIMIT_DEFAULT;
    return { op: 'scan', scan: { ...checkScan(r.key ?? EMPTY, r.stop ?? EMPTY, limit, EMPTY), level: checkLevel(r.level) } };
  }
  if (given(r.stop) || given(r.limit)) throw invalid('only a traced scan carries a stop and a limit');
  const key = checkClientKey(r.key);
  if (r.op !== 'cas' && (given(r.expected) || given(r.expectAbsent))) throw invalid('only a traced cas carries an expected value');
  switch (r.op) {
    case 'get':
      if (given(r.value)) throw invalid('a traced get carries no value');
      return { op: 'get', key, level: r.level === SERIAL_CODE ? 'SERIAL' : checkLevel(r.level) };
    case 'put':
      return { op: 'put', key, value: checkValue(r.value, maxValueBytes), level: checkWriteLevel(r.level) };
    case 'remove':
      if (given(r.value)) throw invalid('a traced remove carries no value');
      return { op: 'remove', key, value: '', level: checkWriteLevel(r.level) };
    case 'cas': {
      const value = checkValue(r.value, maxValueBytes);
      if (r.expectAbsent !== true && !Buffer.isBuffer(r.expected)) throw invalid('the expected value is missing (or set expectAbsent)');
      if (r.expectAbsent === true && given(r.expected)) throw invalid('a cas expects a value or absence, not both');
      const expected = r.expectAbsent === true ? null : checkValue(r.expected, maxValueBytes);
      return { op: 'cas', key, value, expected, level: checkCasLevel(r.level) };
    }
    default:
      throw invalid(`trace runs a "get", "put", "remove", "cas", "scan", "getMany" or "batch", not ${JSON.stringify(r.op ?? null)}`);
  }
}

/** A traced getMany's or batch's request, checked as getMany and batch check theirs; `key` is not read. */
function checkTracedMany(r: types.TraceRequest, maxValueBytes: number): CheckedTrace {
  if (given(r.value) || given(r.expected) || given(r.expectAbsent) || given(r.stop) || given(r.limit))
    throw invalid(`a traced ${r.op} carries no value, expectation, stop or limit`);
  if (r.op === 'getMany') {
    if (given(r.writes) || given(r.unlogged)) throw invalid('a traced getMany carries keys, not writes');
    const keys = checkManyKeys(r.keys);
    if (r.level === SERIAL_CODE) throw invalid(serialIsForOneKey('getMany'));
    return { op: 'getMany', keys, level: checkLevel(r.level) };
  }
  if (given(r.keys)) throw invalid('a traced batch carries writes, not a list of keys');
  const writes = checkBatch(r.writes, maxValueBytes);
  if (r.level === SERIAL_CODE) throw invalid(SERIAL_IS_NOT_FOR_BATCHES);
  return { op: 'batch', writes, level: checkWriteLevel(r.level), unlogged: r.unlogged === true };
}

/** A TTL as putWithTtl takes it: whole seconds from 1 to TTL_SECONDS_MAX. */
export function checkTtl(ttlSeconds: number | null | undefined): number {
  if (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > TTL_SECONDS_MAX) {
    throw invalid(`the TTL is ${ttlSeconds ?? '(missing)'} seconds; it must be a whole number from 1 to ${TTL_SECONDS_MAX}`);
  }
  return ttlSeconds;
}

/** A scan's bound or cursor: a key, or the least key after one (a range's end is token + NUL). */
const BOUND_BYTES_MAX = KEY_BYTES_MAX + 1;

/** An optional bound: undefined when missing or empty. */
function checkBound(b: Buffer | null | undefined, name: string, of = "the scan's"): string | undefined {
  if (b === null || b === undefined || (Buffer.isBuffer(b) && b.length === 0)) return undefined;
  if (!Buffer.isBuffer(b)) throw invalid(`${of} ${name} is not bytes`);
  if (b.length > BOUND_BYTES_MAX) throw invalid(`${of} ${name} is ${b.length} bytes; the limit is ${BOUND_BYTES_MAX}`);
  return toByteString(b);
}

/** A change feed call's arguments checked, in one sentence when they are wrong. */
export function checkChanges(
  start: Buffer,
  stop: Buffer,
  incarnation: Int64 | number | null | undefined,
  afterSeq: Int64 | number | null | undefined,
  limit: number,
  waitMs: number,
): ChangesRequest {
  const of = "the change feed's";
  const from = checkBound(start, 'start', of) ?? '';
  const to = checkBound(stop, 'stop', of);
  if (to !== undefined && from >= to)
    throw invalid(`${of} range is empty: start ${JSON.stringify(from)} is not before stop ${JSON.stringify(to)}`);
  const inc = wholeNumber(incarnation);
  if (inc === undefined) throw invalid(`${of} incarnation must be 0 or one a page of this node gave`);
  const after = safeInteger(afterSeq);
  if (after === undefined || after < -1) throw invalid(`${of} afterSeq must be -1 (from now), 0 (from the beginning) or a page's position`);
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > CHANGES_LIMIT_MAX) {
    throw invalid(`${of} limit is ${limit ?? '(missing)'}; it must be a whole number from 1 to ${CHANGES_LIMIT_MAX}`);
  }
  if (typeof waitMs !== 'number' || !Number.isInteger(waitMs) || waitMs < 0 || waitMs > CHANGES_WAIT_MS_MAX) {
    throw invalid(`${of} waitMs is ${waitMs ?? '(missing)'}; it must be a whole number from 0 to ${CHANGES_WAIT_MS_MAX}`);
  }
  return { from, to, incarnation: inc, afterSeq: after, limit, waitMs };
}

/** A peer's page request checked: its bounds, and its limit within 1 to `max` (`what` names the page in the sentence). */
export function checkPeerPage(
  start: Buffer,
  stop: Buffer,
  limit: number,
  max: number,
  what: string,
): { from: string; to: string | undefined } {
  const from = checkBound(start, 'start') ?? '';
  const to = checkBound(stop, 'stop');
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw invalid(`${what} holds 1 to ${max} keys`);
  return { from, to };
}

/** A scan's arguments checked, in one sentence when they are wrong. */
export function checkScan(start: Buffer, stop: Buffer, limit: number, cursor: Buffer): Omit<ScanRequest, 'level'> {
  const from = checkBound(start, 'start') ?? '';
  const end = checkBound(stop, 'stop');
  if (end !== undefined && from > end) {
    throw invalid(`the scan's range is inverted: start ${JSON.stringify(from)} is after stop ${JSON.stringify(end)}`);
  }
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > SCAN_LIMIT_MAX) {
    throw invalid(`the scan's limit is ${limit ?? '(missing)'}; it must be a whole number from 1 to ${SCAN_LIMIT_MAX}`);
  }
  const after = checkBound(cursor, 'cursor');
  if (after !== undefined && (after < from || (end !== undefined && after >= end))) {
    throw invalid("the scan's cursor is outside its range: pass back the cursor of the previous page of the same scan");
  }
  return { start: from, end, limit, cursor: after };
}
