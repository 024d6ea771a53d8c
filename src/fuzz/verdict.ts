/**
 * What a correct node answers to a well-formed call, worked out from the
 * call's arguments as the generated reader hands them to node/handler.ts: a
 * model of the handler's checks, written apart from it so that the fuzzer's
 * unit test can hold one against the other.
 *
 * Where the answer depends on what the generator cannot know (which node gets
 * the frame, its epoch, whether a node id names a peer of it), the verdict is
 * `declared`: some answer the IDL declares for the method, never an untyped
 * application exception.
 */
import {
  BATCH_COPIES_PER_CALL_MAX,
  BATCH_WRITES_MAX,
  batchBytesMax,
  CLOCK_OFFSET_MS_MAX,
  GET_MANY_KEYS_MAX,
  KEY_BYTES_MAX,
  PAXOS_RECENT_REQUESTS_MAX,
  PAXOS_STREAM_ROWS_MAX,
  REPAIR_SEGMENTS_PER_CALL_MAX,
  REQUEST_ID_BYTES_MAX,
  SCAN_LIMIT_MAX,
  SCAN_REPLICA_PAGE_KEYS_MAX,
  SYNC_PAGE_KEYS,
  TREE_HASHES_PER_CALL_MAX,
  TTL_SECONDS_MAX,
  SAMPLED_TRACES_KEPT,
  CHANGES_LIMIT_MAX,
  CHANGES_WAIT_MS_MAX,
} from '../common/limits';
import { isChangeKind } from '../membership/epoch-log';
import { HASH_SPACE as HASH_SPACE_NUMBER } from '../partitioner/hash';
import { BRANCHES, LEAVES } from '../repair/hash-tree';
import {
  ArgSpec,
  BALLOT,
  BATCH_COPY,
  BATCH_COPY_REF,
  BATCH_WRITE,
  DIGEST,
  EPOCH_CHANGE,
  MEMBERSHIP_LOG,
  MethodName,
  MUTATION,
  PAXOS_ROW,
  PROPOSAL,
  RECENT_REQUEST,
  RING_MEMBER,
  SECRET_CHECKED,
  TRACE_REQUEST,
} from './methods';
import { TType } from './thrift-wire';
import type { WireField, WireValue } from './wire-value';

/**
 * What a correct node does with a frame:
 *   ok              answers with a result (or an exception of the method's THROWS.operational)
 *   invalid         answers with the method's InvalidRequest
 *   unauthorized    answers with Unauthorized (an internode call with a wrong secret)
 *   declared        answers with a result or one of the method's declared exceptions
 *   unknown-method  answers with a Thrift application exception "Unknown function", type UNKNOWN_METHOD
 *   close           answers nothing for it and closes the connection
 *   any             anything but a crash, a malformed reply or a hang
 */
export type Expect = 'ok' | 'invalid' | 'unauthorized' | 'declared' | 'unknown-method' | 'close' | 'any';
export type Verdict = Extract<Expect, 'ok' | 'invalid' | 'unauthorized' | 'declared'>;

/** Level codes of the IDL (4, SERIAL, only get takes). */
export const LEVELS_VALID = [1, 2, 3] as const;
/** TWO and THREE: valid where the fuzzed cluster keeps that many replicas of a key, else InvalidRequest. */
export const LEVELS_BY_FACTOR = [5, 6] as const;
/** ANY: a put's, a putWithTtl's and a remove's level; a get or a scan at ANY is InvalidRequest. */
export const LEVEL_ANY = 7;
/** SERIAL: a get's level only (the Paxos read). */
export const LEVEL_SERIAL = 4;
/** i64 timestamps: the largest a node accepts. */
export const TS_SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
/**
 * Valid timestamps sent with the real secret stay far in the past (below
 * 2^40 µs, January 1970): they must not push the node's hybrid clock forward,
 * which would change what legitimate writes get stamped with.
 */
export const TS_OLD_MAX = 2 ** 40;
/** Timestamps from here on are surely more than the node's 5 minutes ahead of its clock (2096 and later). */
export const TS_SURELY_AHEAD = 4n * 10n ** 15n;
/** The largest hash bound (2^32): sync ranges are parts of [0, 2^32). */
export const HASH_SPACE = BigInt(HASH_SPACE_NUMBER);
/** Digests one sync may carry. */
export const SYNC_DIGESTS_MAX = SYNC_PAGE_KEYS;
/** Node ids below this may name a node of the fuzzed cluster (possibly the callee itself). */
export const NODE_IDS_MAYBE = 16;
/** A scan bound or cursor may be one byte longer than a key (a range's end is a token + NUL). */
const BOUND_BYTES_MAX = KEY_BYTES_MAX + 1;

type Args = Map<number, WireValue>;

/**
 * The fields the generated reader ends up with: the last one of each known id
 * whose type matches; others are skipped; a STOP ends the struct.
 */
export function effectiveFields(fields: readonly WireField[], spec: readonly ArgSpec[]): Args {
  const out: Args = new Map();
  for (const f of fields) {
    if (f.type === TType.STOP) break;
    const s = spec.find(([id]) => id === f.id);
    if (s && s[1] === f.type) out.set(f.id, f.value);
  }
  return out;
}

/** A struct value's effective fields, or null when it is not a struct. */
function structFields(v: WireValue | undefined, spec: readonly ArgSpec[]): Args | null {
  return v?.kind === 'struct' ? effectiveFields(v.fields, spec) : null;
}

export function isValidKey(v: WireValue | undefined): boolean {
  return v?.kind === 'binary' && v.v.length >= 1 && v.v.length <= KEY_BYTES_MAX;
}

function isValidValue(v: WireValue | undefined, max: number): boolean {
  return v?.kind === 'binary' && v.v.length <= max;
}

function isValidLevel(v: WireValue | undefined): boolean {
  return v?.kind === 'i32' && (LEVELS_VALID as readonly number[]).includes(v.v);
}

/**
 * The verdict on a request whose other arguments are `valid`, at `level`:
 * TWO or THREE passes every check of the arguments, and only the cluster's
 * replication factor (which the fuzzer does not assume) says whether it
 * can be met, so the answer may be a result or InvalidRequest. ANY is valid
 * for a write only.
 */
function withLevel(valid: boolean, level: WireValue | undefined, write = false): Verdict {
  if (!valid) return 'invalid';
  if (isValidLevel(level) || (write && level?.kind === 'i32' && level.v === LEVEL_ANY)) return 'ok';
  return level?.kind === 'i32' && (LEVELS_BY_FACTOR as readonly number[]).includes(level.v) ? 'declared' : 'invalid';
}

const i32Of = (v: WireValue | undefined): number | undefined => (v?.kind === 'i32' ? v.v : undefined);
const i64Of = (v: WireValue | undefined): bigint | undefined => (v?.kind === 'i64' ? v.v : undefined);
const inRange = (n: bigint | number | undefined, lo: bigint | number, hi: bigint | number): boolean =>
  n !== undefined && n >= lo && n <= hi;

/** A Thrift `string`: the node decodes the bytes as UTF-8, so invalid bytes grow into replacement characters. */
function stringBytes(v: WireValue | undefined): number | undefined {
  return v?.kind === 'binary' ? Buffer.byteLength(v.v.toString('utf8')) : undefined;
}

/** An epoch the node judges (epochOf in the handler): a positive safe integer. An older one than its own may be refused. */
function epochJudged(v: WireValue | undefined): boolean {
  return inRange(i64Of(v), 1n, TS_SAFE_MAX);
}

/** A node id that may name the callee's peer: the answer then depends on which node got the frame. */
function maybeNode(v: WireValue | undefined): boolean {
  return inRange(i32Of(v), 0, NODE_IDS_MAYBE - 1);
}

function secretMatches(v: WireValue | undefined, secret: string | undefined): boolean {
  // As the node reads a Thrift string: UTF-8, invalid bytes replaced.
  const given = Buffer.from(v?.kind === 'binary' ? v.v.toString('utf8') : '', 'utf8');
  return secret !== undefined && given.equals(Buffer.from(secret, 'utf8'));
}

const verdict = (valid: boolean): Verdict => (valid ? 'ok' : 'invalid');

/**
 * Valid when every check passes; else invalid, unless a check that fails
 * comes after the epoch check (`afterEpoch`) and the call carries an epoch
 * the node may refuse first.
 */
function epochThen(beforeEpoch: boolean, afterEpoch: boolean, epoch: WireValue | undefined): Verdict {
  if (!beforeEpoch) return 'invalid';
  if (afterEpoch) return 'ok';
  return epochJudged(epoch) ? 'declared' : 'invalid';
}

export interface VerdictOptions {
  readonly secret?: string;
  readonly maxValueBytes: number;
}

/** The handler's verdict (node/handler.ts) on a well-formed call's effective arguments. */
export function handlerVerdict(method: MethodName, args: Args, options: VerdictOptions): Verdict {
  if (SECRET_CHECKED.has(method) && !secretMatches(args.get(1), options.secret)) return 'unauthorized';
  return VERDICTS[method](args, options.maxValueBytes);
}

const VERDICTS: Record<MethodName, (args: Args, maxValueBytes: number) => Verdict> = {
  put: (a, max) => withLevel(isValidKey(a.get(1)) && isValidValue(a.get(2), max), a.get(3), true),
  get: (a) => withLevel(isValidKey(a.get(1)), a.get(2)),
  remove: (a) => withLevel(isValidKey(a.get(1)), a.get(2), true),
  ping: (a) => verdict(a.get(1)?.kind === 'binary'),
  replicate: (a, max) => {
    const list = a.get(2);
    return verdict(list?.kind === 'list' && list.items.every((m) => mutationValid(m, max)));
  },
  readLocal: (a) => verdict(keysValid(a.get(2))),
  hello: (a) => verdict(a.get(2)?.kind === 'i32'),
  dump: () => 'ok',
  sync: syncVerdict,
  setClockOffset: (a) => verdict(inRange(i32Of(a.get(2)), -CLOCK_OFFSET_MS_MAX, CLOCK_OFFSET_MS_MAX)),
  cas: (a, max) => verdict(casValid(a, max)),
  paxosPrepare: (a) => epochThen(isValidKey(a.get(2)), ballotVerdict(a.get(3)) && paxosRequestIdValid(a.get(4)), a.get(5)),
  paxosPropose: (a, max) => epochThen(isValidKey(a.get(2)), proposalValid(a.get(3), max), a.get(4)),
  paxosCommit: (a, max) => epochThen(isValidKey(a.get(2)), proposalValid(a.get(3), max), a.get(4)),
  treeHashes: (a) => repairCallVerdict(a, a.get(5), levelIndicesValid(a.get(4), a.get(5)), { epoch: 6, start: 7, end: 8 }),
  segmentKeys: (a) => repairCallVerdict(a, a.get(4), segmentsValid(a.get(4)), { epoch: 5, start: 6, end: 7 }),
  fetchVersions: (a) => verdict(keysValid(a.get(2))),
  repair: repairVerdict,
  scan: (a) => withLevel(scanValid(a), a.get(3)),
  readRange: (a) => {
    const bounds = boundValid(a.get(2)) && boundValid(a.get(3));
    return verdict(bounds && inRange(i32Of(a.get(4)), 1, SCAN_REPLICA_PAGE_KEYS_MAX) && inRange(i32Of(a.get(5)), 1, 2 ** 31));
  },
  paxosRows: (a) => verdict(boundValid(a.get(2)) && boundValid(a.get(3)) && inRange(i32Of(a.get(4)), 1, PAXOS_STREAM_ROWS_MAX)),
  paxosMerge: (a, max) => {
    const rows = a.get(2);
    return verdict(rows?.kind === 'list' && rows.items.length <= PAXOS_STREAM_ROWS_MAX && rows.items.every((r) => paxosRowValid(r, max)));
  },
  putWithTtl: (a, max) =>
    withLevel(isValidKey(a.get(1)) && isValidValue(a.get(2), max) && inRange(i32Of(a.get(4)), 1, TTL_SECONDS_MAX), a.get(3), true),
  membership: (a) => verdict(inRange(i64Of(a.get(1)), 0n, TS_SAFE_MAX)),
  learnEpochs: (a) => verdict(a.get(2)?.kind === 'i32' && membershipLogValid(a.get(3))),
  // What a correct node does with these depends on the ring (an operation running, enough nodes left).
  decommission: () => 'declared',
  operationProgress: () => 'ok',
  cleanup: () => 'ok',
  move: (a) => {
    const token = a.get(2);
    return token?.kind === 'binary' && token.v.length > 0 ? 'declared' : 'invalid';
  },
  abortOperation: () => 'declared',
  // Refused for a negative id; otherwise what a correct node does depends on the ring (the node up, an operation running).
  removeNode: (a) => (i32Of(a.get(2)) !== undefined && i32Of(a.get(2))! >= 0 ? 'declared' : 'invalid'),
  batch: (a, max) => withLevel(batchValid(a.get(1), max), a.get(2), true),
  getMany: (a) => withLevel(manyKeysValid(a.get(1)), a.get(2)),
  storeBatchCopies: (a, max) => {
    if (!callerValid(a.get(2)) || !copyListValid(a.get(3), (c) => batchCopyValid(c, max))) return 'invalid';
    // A copy logged after 2004 and before the far future: only the node's clock can tell whether it is too far ahead.
    const list = a.get(3) as Extract<WireValue, { kind: 'list' | 'set' }>;
    return list.items.every((c) => i64Of(structFields(c, BATCH_COPY)!.get(2))! <= BigInt(TS_OLD_MAX)) ? 'ok' : 'declared';
  },
  forgetBatchCopies: (a) => verdict(callerValid(a.get(2)) && copyListValid(a.get(3), (c) => copyRefValid(structFields(c, BATCH_COPY_REF)))),
  snapshot: () => 'declared',
  listSnapshots: () => 'ok',
  setTraceProbability: (a) => {
    const p = a.get(2);
    return verdict(p?.kind === 'double' && p.v >= 0 && p.v <= 1);
  },
  recentTraces: (a) => verdict(inRange(i32Of(a.get(2)), 1, SAMPLED_TRACES_KEPT)),
  clearSnapshot: () => 'declared',
  heldBatches: (a) => verdict(callerValid(a.get(2)) && copyListValid(a.get(3), (c) => copyRefValid(structFields(c, BATCH_COPY_REF)))),
  trace: (a, max) => traceVerdict(structFields(a.get(1), TRACE_REQUEST), max),
  changes: (a) => (changesValid(a) ? 'declared' : 'invalid'),
};

/** A change feed call's arguments as the handler's checkChanges takes them; a valid one may still be Unavailable (a range the node takes no reads of). */
function changesValid(a: Args): boolean {
  const [start, stop] = [a.get(1), a.get(2)];
  if (!boundValid(start) || !boundValid(stop)) return false;
  const from = start?.kind === 'binary' ? start.v : Buffer.alloc(0);
  if (stop?.kind === 'binary' && stop.v.length > 0 && Buffer.compare(from, stop.v) >= 0) return false;
  return (
    inRange(i64Of(a.get(3)), 0n, TS_SAFE_MAX) &&
    inRange(i64Of(a.get(4)), -1n, TS_SAFE_MAX) &&
    inRange(i32Of(a.get(5)), 1, CHANGES_LIMIT_MAX) &&
    inRange(i32Of(a.get(6)), 0, CHANGES_WAIT_MS_MAX)
  );
}

/**
 * A trace's request, as get (SERIAL too), put, remove, cas, scan, getMany and
 * batch check theirs; only a cas carries an expectation, only a scan a stop
 * and a limit, only a getMany keys, only a batch writes and `unlogged`.
 */
function traceVerdict(f: Args | null, max: number): Verdict {
  const op = f?.get(1);
  if (f === null || op?.kind !== 'binary') return 'invalid';
  const value = f.get(3);
  const expected = f.get(5);
  const absent = f.get(6);
  const name = op.v.toString('latin1');
  if (name === 'getMany' || name === 'batch') return tracedManyVerdict(name, f, max);
  if (f.get(9) !== undefined || f.get(10) !== undefined || f.get(11) !== undefined) return 'invalid';
  // A scan's key is its start, which may be empty (the first key); every other op needs a key.
  if (name !== 'scan' && !isValidKey(f.get(2))) return 'invalid';
  if (name === 'scan') {
    if (value !== undefined || expected !== undefined || absent !== undefined) return 'invalid';
    // As the scan call's arguments: start the key (absent: the first), a limit of 1,000 when none is given, no cursor.
    const args: Args = new Map();
    for (const [id, v] of [
      [1, f.get(2)],
      [2, f.get(7)],
      [4, f.get(8) ?? { kind: 'i32', v: 1000 }],
    ] as const)
      if (v !== undefined) args.set(id, v);
    return withLevel(scanValid(args), f.get(4));
  }
  if (f.get(7) !== undefined || f.get(8) !== undefined) return 'invalid';
  if (name === 'cas') {
    const expectsAbsence = absent?.kind === 'bool' && absent.v;
    const expectation = expectsAbsence ? expected === undefined : isValidValue(expected, max);
    const level = i32Of(f.get(4));
    return verdict(isValidValue(value, max) && expectation && (level === 2 || level === 3));
  }
  if (expected !== undefined || absent !== undefined) return 'invalid';
  switch (name) {
    case 'get':
      if (i32Of(f.get(4)) === LEVEL_SERIAL) return verdict(value === undefined);
      return withLevel(value === undefined, f.get(4));
    case 'put':
      return withLevel(isValidValue(value, max), f.get(4), true);
    case 'remove':
      return withLevel(value === undefined, f.get(4), true);
    default:
      return 'invalid';
  }
}

/** A traced getMany's or batch's request: as those calls check their arguments, and nothing of the other ops; its key is not read. */
function tracedManyVerdict(name: 'getMany' | 'batch', f: Args, max: number): Verdict {
  for (const id of [3, 5, 6, 7, 8]) if (f.get(id) !== undefined) return 'invalid';
  if (name === 'getMany') {
    if (f.get(10) !== undefined || f.get(11) !== undefined) return 'invalid';
    return withLevel(manyKeysValid(f.get(9)), f.get(4));
  }
  if (f.get(9) !== undefined) return 'invalid';
  return withLevel(batchValid(f.get(10), max), f.get(4), true);
}

/** A peer call's own node id: a non-negative i32. */
function callerValid(v: WireValue | undefined): boolean {
  return inRange(i32Of(v), 0, 2 ** 31);
}

/** A list of 1 to BATCH_COPIES_PER_CALL_MAX copies (or references), each valid. */
function copyListValid(list: WireValue | undefined, each: (c: WireValue) => boolean): boolean {
  return list?.kind === 'list' && inRange(list.items.length, 1, BATCH_COPIES_PER_CALL_MAX) && list.items.every(each);
}

/** A copy's id and time: whole numbers from 0 (the generator's valid times are long past, never ahead of the node's clock). */
function copyRefValid(f: Args | null): boolean {
  return f !== null && inRange(i64Of(f.get(1)), 0n, TS_SAFE_MAX) && inRange(i64Of(f.get(2)), 0n, TS_SAFE_MAX);
}

/**
 * A batch copy the handler may take: a valid reference logged before the
 * far future (TS_SURELY_AHEAD, as ms), and 1 to BATCH_WRITES_MAX
 * mutations as replicate takes them.
 */
function batchCopyValid(c: WireValue, max: number): boolean {
  const f = structFields(c, BATCH_COPY);
  const writes = f?.get(3);
  if (f === null || writes?.kind !== 'list' || !inRange(writes.items.length, 1, BATCH_WRITES_MAX)) return false;
  return copyRefValid(f) && i64Of(f.get(2))! < TS_SURELY_AHEAD && writes.items.every((m) => mutationValid(m, max));
}

/**
 * A batch the handler takes: 1 to BATCH_WRITES_MAX writes to distinct keys,
 * each a value or a remove, with a TTL and a timestamp only on a value; a
 * timestamp from 1, and not surely ahead of the node's clock.
 */
function batchValid(list: WireValue | undefined, max: number): boolean {
  if (list?.kind !== 'list' || !inRange(list.items.length, 1, BATCH_WRITES_MAX)) return false;
  const keys = new Set<string>();
  let bytes = 0;
  const each = list.items.every((w) => {
    const f = structFields(w, BATCH_WRITE);
    const key = f?.get(1);
    if (f === null || !isValidKey(key)) return false;
    const text = (key as { v: Buffer }).v.toString('latin1');
    if (keys.has(text)) return false;
    keys.add(text);
    const ttl = i32Of(f.get(4)) ?? 0;
    if (!inRange(ttl, 0, TTL_SECONDS_MAX)) return false;
    bytes += (key as { v: Buffer }).v.length;
    const ts = f.get(5);
    if (ts !== undefined && !inRange(i64Of(ts), 1n, TS_SURELY_AHEAD - 1n)) return false;
    const remove = f.get(3);
    if (remove?.kind === 'bool' && remove.v) return f.get(2) === undefined && ttl === 0 && ts === undefined;
    const value = f.get(2);
    if (value?.kind === 'binary') bytes += value.v.length;
    return isValidValue(value, max);
  });
  return each && bytes <= batchBytesMax(max);
}

function keysValid(list: WireValue | undefined): boolean {
  return list?.kind === 'list' && list.items.every((k) => isValidKey(k));
}

/** A getMany's keys: 1 to GET_MANY_KEYS_MAX, each valid. */
function manyKeysValid(list: WireValue | undefined): boolean {
  return keysValid(list) && list?.kind === 'list' && inRange(list.items.length, 1, GET_MANY_KEYS_MAX);
}

/** A mutation the handler takes: key, value, a timestamp in [0, 2^53), and an expiry only on a value, safe. */
function mutationValid(m: WireValue, max: number): boolean {
  const f = structFields(m, MUTATION);
  if (f === null) return false;
  const expires = i64Of(f.get(5));
  const deleted = f.get(4)?.kind === 'bool' && (f.get(4) as { v: boolean }).v;
  const expiresOk = expires === undefined || expires <= 0n || (expires <= TS_SAFE_MAX && !deleted);
  return inRange(i64Of(f.get(3)), 0n, TS_SAFE_MAX) && expiresOk && isValidKey(f.get(1)) && isValidValue(f.get(2), max);
}

/** A cas the handler takes: key, value and level (QUORUM or ALL) valid, a request id, and an expected value unless expectAbsent. */
function casValid(a: Args, maxValueBytes: number): boolean {
  const absent = a.get(2);
  const expectedOk = (absent?.kind === 'bool' && absent.v) || isValidValue(a.get(3), maxValueBytes);
  const idOk = inRange(stringBytes(a.get(5)), 1, REQUEST_ID_BYTES_MAX);
  const level = i32Of(a.get(6));
  const levelOk = level === 2 || level === 3;
  return isValidKey(a.get(1)) && isValidValue(a.get(4), maxValueBytes) && expectedOk && idOk && levelOk;
}

/**
 * sync's verdict. A fromNode that may name a node leaves it open: the
 * callee refuses its own id, and the generator does not know which node
 * gets the frame, so a call valid in every other way may get either answer.
 */
function syncVerdict(a: Args): Verdict {
  const lo = i64Of(a.get(3));
  const hi = i64Of(a.get(4));
  const list = a.get(5);
  if (!maybeNode(a.get(2))) return 'invalid';
  if (list?.kind !== 'list' || list.items.length > SYNC_DIGESTS_MAX) return 'invalid';
  const digestsOk = list.items.every((d) => {
    const f = structFields(d, DIGEST);
    return f !== null && isValidKey(f.get(1)) && inRange(i64Of(f.get(2)), 0n, TS_SAFE_MAX);
  });
  const rangeOk = lo !== undefined && hi !== undefined && lo >= 0n && lo < hi && hi <= HASH_SPACE;
  return digestsOk && rangeOk ? 'declared' : 'invalid';
}

/** A peer's ballot: true when valid, false when refused, null when only the node's clock can tell. */
function ballotValidity(v: WireValue | undefined): boolean | null {
  const f = structFields(v, BALLOT);
  if (f === null) return false;
  const ts = i64Of(f.get(1));
  if (!inRange(ts, 0n, TS_SAFE_MAX) || !inRange(i32Of(f.get(2)), 0, 2 ** 31)) return false;
  if (ts! <= BigInt(TS_OLD_MAX)) return true;
  return ts! >= TS_SURELY_AHEAD ? false : null;
}

/** The generator sends only ballots whose validity it knows; one it does not know counts as refused. */
function ballotVerdict(v: WireValue | undefined): boolean {
  return ballotValidity(v) === true;
}

/** A Paxos request id: a string of at most 64 bytes once decoded ('' too: a SERIAL read's rounds send none). */
function paxosRequestIdValid(v: WireValue | undefined): boolean {
  return inRange(stringBytes(v), 0, REQUEST_ID_BYTES_MAX);
}

function proposalValid(v: WireValue | undefined, max: number): boolean {
  const f = structFields(v, PROPOSAL);
  return f !== null && ballotVerdict(f.get(1)) && isValidValue(f.get(2), max) && paxosRequestIdValid(f.get(3));
}

/** A Paxos row as paxosMerge takes it: a key, optional ballot and proposals that are valid, at most 64 recent request ids. */
function paxosRowValid(v: WireValue | undefined, max: number): boolean {
  const f = structFields(v, PAXOS_ROW);
  if (f === null || !isValidKey(f.get(1))) return false;
  if (f.get(2) !== undefined && !ballotVerdict(f.get(2))) return false;
  if (f.get(3) !== undefined && !proposalValid(f.get(3), max)) return false;
  if (f.get(4) !== undefined && !proposalValid(f.get(4), max)) return false;
  const recent = f.get(5);
  if (recent?.kind !== 'list' || recent.items.length > PAXOS_RECENT_REQUESTS_MAX) return false;
  return recent.items.every((item) => {
    const r = structFields(item, RECENT_REQUEST);
    return r !== null && paxosRequestIdValid(r.get(1)) && inRange(i64Of(r.get(2)), 0n, TS_SAFE_MAX);
  });
}

/**
 * treeHashes and segmentKeys: the caller, range and list are checked first;
 * then the range must be one both nodes replicate (it depends on the node),
 * and the level and indices or segments valid.
 */
function repairCallVerdict(
  a: Args,
  list: WireValue | undefined,
  restValid: boolean,
  ids: { epoch: number; start: number; end: number },
): Verdict {
  if (!maybeNode(a.get(2)) || a.get(3)?.kind !== 'i32' || list?.kind !== 'list') return 'invalid';
  if (restValid) return 'declared';
  // By bounds, the epoch is judged before the range is looked up.
  const byBounds = a.get(ids.start)?.kind === 'binary' && a.get(ids.end)?.kind === 'binary';
  return byBounds && epochJudged(a.get(ids.epoch)) ? 'declared' : 'invalid';
}

function levelIndicesValid(level: WireValue | undefined, list: WireValue | undefined): boolean {
  const l = i32Of(level);
  if (list?.kind !== 'list' || (l !== 0 && l !== 1 && l !== 2) || list.items.length > TREE_HASHES_PER_CALL_MAX) return false;
  const size = l === 0 ? 1 : l === 1 ? BRANCHES : LEAVES;
  return list.items.every((i) => inRange(i32Of(i), 0, size - 1));
}

function segmentsValid(list: WireValue | undefined): boolean {
  if (list?.kind !== 'list' || list.items.length === 0 || list.items.length > REPAIR_SEGMENTS_PER_CALL_MAX) return false;
  return list.items.every((i) => inRange(i32Of(i), 0, LEAVES - 1));
}

/** repair: every peer named must be another node; none named (or no list) means all of them. */
function repairVerdict(a: Args): Verdict {
  const list = a.get(2);
  if (list?.kind !== 'list') return 'declared';
  return list.items.every((p) => maybeNode(p)) ? 'declared' : 'invalid';
}

/** A scan bound or cursor: missing or empty, or at most a key and a byte. */
function boundValid(v: WireValue | undefined): boolean {
  return v === undefined || (v.kind === 'binary' && v.v.length <= BOUND_BYTES_MAX);
}

/** A scan's range, limit and cursor as the handler's checkScan takes them. */
function scanValid(a: Args): boolean {
  const [start, stop, cursor] = [a.get(1), a.get(2), a.get(5)];
  if (!boundValid(start) || !boundValid(stop) || !boundValid(cursor)) return false;
  const bound = (v: WireValue | undefined): Buffer | undefined => (v?.kind === 'binary' && v.v.length > 0 ? v.v : undefined);
  const from = bound(start) ?? Buffer.alloc(0);
  const end = bound(stop);
  const after = bound(cursor);
  if (end !== undefined && Buffer.compare(from, end) > 0) return false;
  if (!inRange(i32Of(a.get(4)), 1, SCAN_LIMIT_MAX)) return false;
  return after === undefined || (Buffer.compare(after, from) >= 0 && (end === undefined || Buffer.compare(after, end) < 0));
}

/**
 * A pushed membership log the handler reads: its first change's epoch
 * positive, every change readable and the epochs consecutive, and the log's
 * own epoch not behind its last change (rpc/membership-wire.ts).
 */
function membershipLogValid(v: WireValue | undefined): boolean {
  const log = structFields(v, MEMBERSHIP_LOG);
  if (log === null) return false;
  const list = log.get(2);
  const changes = list?.kind === 'list' ? list.items.map((c) => structFields(c, EPOCH_CHANGE)) : [];
  if (changes.some((c) => c === null)) return false;
  const first = changes[0] === undefined ? 1n : i64Of(changes[0]!.get(1));
  if (!inRange(first, 1n, TS_SAFE_MAX)) return false;
  const after = first! - 1n;
  const readable = changes.every((c, i) => changeReadable(c!) && i64Of(c!.get(1)) === after + 1n + BigInt(i));
  return readable && inRange(i64Of(log.get(1)), after + BigInt(changes.length), TS_SAFE_MAX);
}

/** One change: a known kind with the fields it needs. */
function changeReadable(c: Args): boolean {
  const kindField = c.get(2);
  const kind = kindField?.kind === 'binary' ? kindField.v.toString('utf8') : undefined;
  if (!isChangeKind(kind)) return false;
  const has = (id: number, type: 'i32' | 'binary'): boolean => c.get(id)?.kind === type;
  const port = i32Of(c.get(9));
  const addressOk = c.get(9) === undefined || inRange(port, 1, 65535);
  switch (kind) {
    case 'bootstrap': {
      const members = c.get(7);
      const list = members?.kind === 'list' ? members.items : [];
      return has(6, 'i32') && list.every((m) => memberReadable(structFields(m, RING_MEMBER)));
    }
    case 'join-begin':
      return has(3, 'i32') && has(4, 'binary') && addressOk;
    case 'move-begin':
      return has(3, 'i32') && has(4, 'binary');
    case 'replace-begin':
      return has(3, 'i32') && has(5, 'i32') && addressOk;
    default:
      return has(3, 'i32');
  }
}

function memberReadable(m: Args | null): boolean {
  return m !== null && m.get(1)?.kind === 'i32' && m.get(2)?.kind === 'binary';
}
