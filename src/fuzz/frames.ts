/**
 * A pure, seeded generator of hostile frames for a ringkv node: the same seed
 * and options always give the same frames, and nothing here does I/O or reads
 * the clock. Four categories:
 *
 *   random    random bytes behind a random, plausible or slightly wrong length
 *   call      structurally valid Thrift CALL messages for every method of the
 *             IDL and for unknown names, with hostile contents: missing fields,
 *             wrong field types, random field ids, nested structs, bad level
 *             codes, empty and oversize keys, oversize values, wrong secrets,
 *             and (as the frame's one "defect") lies in the encoding: negative
 *             or oversize binary lengths, lists claiming 2^31 elements, invalid
 *             type ids, nesting past the runtime's depth limit, truncation
 *   mutation  a call frame with bits flipped, bytes overwritten, cut short, or
 *             parts duplicated
 *   length    a length prefix of 2 GB, a negative one, or one just past the limit
 *
 * Every frame carries what a correct node must do with it (`expect`), worked
 * out from a model of the generated reader and of node/handler.ts
 * (verdict.ts). The unit test checks that model against the real processor
 * and handler in process; the runner checks it against real nodes. Which
 * methods there are, and which calls may carry the real secret, is in
 * methods.ts.
 */
import {
  BATCH_COPIES_PER_CALL_MAX,
  BATCH_WRITES_MAX,
  CLOCK_OFFSET_MS_MAX,
  KEY_BYTES_MAX,
  REPAIR_SEGMENTS_PER_CALL_MAX,
  REQUEST_ID_BYTES_MAX,
  SCAN_LIMIT_MAX,
  SCAN_REPLICA_PAGE_KEYS_MAX,
  TREE_HASHES_PER_CALL_MAX,
  TTL_SECONDS_MAX,
  VALUE_BYTES_MAX_DEFAULT,
  frameBytesMax as frameBytesMaxFor,
  PAXOS_RECENT_REQUESTS_MAX,
  PAXOS_STREAM_ROWS_MAX,
  SAMPLED_TRACES_KEPT,
  CHANGES_LIMIT_MAX,
  CHANGES_WAIT_MS_MAX,
} from '../common/limits';
import { assert, unreachable } from '../common/assert';
import { Random as FuzzRandom } from '../common/random';
import { BRANCHES, LEAVES } from '../repair/hash-tree';
import {
  ARGS,
  ArgSpec,
  generatorOf,
  LIST_ELEMENT,
  METHODS,
  MethodName,
  MUTATION,
  SECRET_BEARING,
  SECRET_NEVER,
  SECRET_REFUSED_ONLY,
} from './methods';
import { FRAME_HEADER_BYTES, MessageType, ThriftWriter, TType, VERSION_1, frame } from './thrift-wire';
import {
  effectiveFields,
  Expect,
  HASH_SPACE,
  handlerVerdict,
  isValidKey,
  LEVEL_ANY,
  LEVEL_SERIAL,
  LEVELS_BY_FACTOR,
  LEVELS_VALID,
  SYNC_DIGESTS_MAX,
  TS_OLD_MAX,
  TS_SURELY_AHEAD,
  TS_SAFE_MAX,
} from './verdict';
import { bin, encodeCall, field, i32, WireField, WireValue, writeValue } from './wire-value';

export type { Expect } from './verdict';
export { METHODS } from './methods';

export type FrameCategory = 'random' | 'call' | 'mutation' | 'length';
export const FRAME_CATEGORIES: readonly FrameCategory[] = ['random', 'call', 'mutation', 'length'];

export interface FuzzFrame {
  readonly category: FrameCategory;
  /** Short description, e.g. "call/put" or "length/2GB". */
  readonly kind: string;
  /** Everything notable about the frame, for coverage: "method:put", "key:oversize", "defect:deep-nesting", ... */
  readonly tags: readonly string[];
  /** The method name in the header, when the frame has a known one. */
  readonly method: string | null;
  /** The sequence id, when a reply can be matched to this frame by it. */
  readonly seqid: number | null;
  /** Exactly what goes on the socket, length prefix included. */
  readonly bytes: Buffer;
  /**
   * The length prefix is the payload's true length (and acceptable), so a
   * frame sent after this one still starts on a frame boundary.
   */
  readonly framed: boolean;
  readonly expect: Expect;
  /** For a ping expected to succeed: the payload its reply must carry back. */
  readonly echo?: Buffer;
}

export interface FrameGeneratorOptions {
  /** The cluster's largest value (maxValueBytes); decides which values are oversize. */
  readonly maxValueBytes: number;
  /** The node's frame limit; a frame above it is refused on its length prefix. */
  readonly frameBytesMax: number;
  /**
   * The real cluster secret. When given, some internode and admin calls
   * carry it, so the validation behind the secret check is reached too; which
   * ones, and with what arguments, is said at SECRET_BEARING (methods.ts).
   */
  readonly secret?: string;
}

/** Names that are not methods, including ones that probe property lookup on the processor. */
const UNKNOWN_NAMES = [
  'dropTable',
  'PUT',
  'Put',
  'put ',
  ' get',
  'put\u0000',
  'pin',
  'pingg',
  '',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'process',
  'process_put',
  'recv_put',
  'send_put',
  '_handler',
  'KeyValue.put',
  'replicate\n',
  'dump;',
] as const;

/** Types the runtime can skip; a field of any other type id makes it throw. */
const SKIPPABLE = [
  TType.BOOL,
  TType.BYTE,
  TType.DOUBLE,
  TType.I16,
  TType.I32,
  TType.I64,
  TType.STRING,
  TType.STRUCT,
  TType.MAP,
  TType.SET,
  TType.LIST,
] as const;
/** Type ids the runtime does not know (0 is STOP, handled as its own defect). */
const INVALID_TYPE_IDS = [1, 5, 7, 9, 17, 18, 64, 127, -1, -128] as const;
/** The runtime's skip() gives up past this nesting (Thrift.DEFAULT_RECURSION_DEPTH). */
const RUNTIME_SKIP_DEPTH_MAX = 64;
/** Deepest nesting sent: deep enough to overflow a naive recursive reader's stack budget many times over. */
const NESTING_SENT_MAX = 3000;

/** Level codes no method takes (4 is SERIAL, which get takes; 7 is ANY, which the writes take). */
const LEVELS_BAD = [0, 8, -1, 0x7fff_ffff, -0x8000_0000, 99] as const;

/** Keys written by valid-looking calls come from small pools, so the data a run stores stays bounded. */
const KEY_POOL_SIZE = 64;
const KEY_POOL_KEY_BYTES_MAX = 24;
/** Keys of exactly KEY_BYTES_MAX bytes (the largest valid key). */
const BOUNDARY_KEY_COUNT = 2;
/** The only keys that get large values (at most maxValueBytes each). */
const LARGE_VALUE_KEY_COUNT = 2;
/** Values of at most this many bytes are "small". */
const SMALL_BYTES_MAX = 64;
/** Random contents of big buffers are a repeated pattern of this many random bytes: cheap to make. */
const PATTERN_BYTES = 251;
/** Elements in lists of mutations or keys. */
const LIST_ITEMS_MAX = 6;
/** Unknown fields added to one struct. */
const EXTRA_FIELDS_MAX = 3;
/** Nesting of ordinary random values (structs in lists in maps ...). */
const RANDOM_VALUE_DEPTH_MAX = 3;
/** Mutations are made from messages no larger than this (big ones are mostly padding). */
const MUTATION_BASE_BYTES_MAX = 64 * 1024;
/** Random payloads: the largest. */
const RANDOM_PAYLOAD_BYTES_MAX = 64 * 1024;
/** A "small lie" in a length prefix is off by at most this. */
const LENGTH_LIE_MAX = 8;

const CATEGORY_WEIGHTS: readonly (readonly [FrameCategory, number])[] = [
  ['random', 15],
  ['call', 50],
  ['mutation', 25],
  ['length', 10],
];
/** Every method of the IDL has a weight (the type says so), and so do unknown names. */
const WEIGHT_OF_METHOD: Record<MethodName, number> = {
  put: 18,
  get: 12,
  remove: 8,
  ping: 10,
  replicate: 10,
  readLocal: 8,
  hello: 6,
  dump: 6,
  sync: 6,
  setClockOffset: 5,
  cas: 8,
  paxosPrepare: 4,
  paxosPropose: 4,
  paxosCommit: 4,
  treeHashes: 4,
  segmentKeys: 4,
  fetchVersions: 4,
  repair: 3,
  scan: 6,
  readRange: 5,
  paxosRows: 3,
  paxosMerge: 4,
  putWithTtl: 6,
  membership: 4,
  learnEpochs: 5,
  decommission: 2,
  operationProgress: 2,
  cleanup: 3,
  move: 3,
  abortOperation: 2,
  getMany: 6,
  batch: 6,
  storeBatchCopies: 4,
  forgetBatchCopies: 3,
  heldBatches: 2,
  snapshot: 2,
  listSnapshots: 2,
  clearSnapshot: 2,
  setTraceProbability: 1,
  recentTraces: 2,
  trace: 3,
  changes: 4,
  removeNode: 2,
};
const UNKNOWN_WEIGHT = 14;
const METHOD_WEIGHTS: readonly (readonly [MethodName | 'unknown', number])[] = [
  ...METHODS.map((m) => [m, WEIGHT_OF_METHOD[m]] as const),
  ['unknown', UNKNOWN_WEIGHT],
];
/** Probability that a call frame gets one encoding defect. */
const DEFECT_PROBABILITY = 0.35;
const EXTRA_FIELDS_PROBABILITY = 0.3;
const DUPLICATE_FIELD_PROBABILITY = 0.12;
const SHUFFLE_PROBABILITY = 0.2;
/** Share of secret-bearing calls that carry the real secret, when it is known. */
const REAL_SECRET_PROBABILITY = 0.4;

/** How a call uses the secret (FrameGenerator.secretUse). */
interface SecretUse {
  /** The call carries the real secret. */
  readonly real: boolean;
  /** ... and is one of SECRET_REFUSED_ONLY: its arguments must make the node refuse, or only report. */
  readonly refusedOnly: boolean;
  /** A wrong secret may be a near miss of the real one (not in mutation bases of guarded calls). */
  readonly nearMiss: boolean;
}
/** Membership change kinds, and some a node does not know. */
const CHANGE_KINDS = ['bootstrap', 'join-begin', 'leave-begin', 'move-begin', 'replace-begin', 'reads-switch', 'abort'] as const;
const CHANGE_KINDS_UNKNOWN = ['', 'BOOTSTRAP', 'leave', 'join-begin ', 'explode'] as const;

/** A valid ping frame: what the runner appends to learn that everything before it was read. */
export function pingFrame(seqid: number, payload: Buffer): Buffer {
  return frame(encodeCall('ping', seqid, [field(1, bin(payload))]));
}

/** The generator. `next()` returns frames forever; the sequence depends only on the seed and options. */
export class FrameGenerator {
  readonly options: FrameGeneratorOptions;
  private readonly r: FuzzRandom;
  private readonly keyPool: Buffer[];
  private readonly boundaryKeys: Buffer[];
  private readonly largeValueKeys: Buffer[];

  constructor(seed: number, options: Partial<FrameGeneratorOptions> = {}) {
    const maxValueBytes = options.maxValueBytes ?? VALUE_BYTES_MAX_DEFAULT;
    this.options = {
      maxValueBytes,
      frameBytesMax: options.frameBytesMax ?? frameBytesMaxFor(maxValueBytes),
      ...(options.secret !== undefined ? { secret: options.secret } : {}),
    };
    this.r = new FuzzRandom(seed);
    const pools = this.r.fork();
    this.keyPool = Array.from({ length: KEY_POOL_SIZE }, () => pools.bytes(pools.range(1, KEY_POOL_KEY_BYTES_MAX)));
    this.boundaryKeys = Array.from({ length: BOUNDARY_KEY_COUNT }, () => this.pattern(pools, KEY_BYTES_MAX));
    this.largeValueKeys = Array.from({ length: LARGE_VALUE_KEY_COUNT }, (_, i) => Buffer.from(`fuzz/large/${i}/${pools.uint32()}`));
  }

  next(): FuzzFrame {
    switch (this.r.weighted(CATEGORY_WEIGHTS)) {
      case 'random':
        return this.randomFrame();
      case 'call':
        return this.callFrame();
      case 'mutation':
        return this.mutationFrame();
      case 'length':
        return this.lengthFrame();
    }
  }

  /** `n` bytes repeating a short random pattern: random enough, and cheap at megabytes. */
  private pattern(r: FuzzRandom, n: number): Buffer {
    const out = Buffer.alloc(n);
    if (n > 0) out.fill(r.bytes(Math.min(n, PATTERN_BYTES)));
    return out;
  }

  private seqid(): number {
    return this.r.uint32() & 0x7fff_ffff;
  }

  // ---- (a) random bytes ---------------------------------------------------

  private randomFrame(): FuzzFrame {
    const r = this.r;
    const size = r.weighted<[number, number]>([
      [[0, 16], 30],
      [[17, 256], 40],
      [[257, 4096], 25],
      [[4097, RANDOM_PAYLOAD_BYTES_MAX], 5],
    ]);
    const n = r.range(size[0], size[1]);
    const payload = r.bytes(n);
    const tags = ['category:random'];
    if (r.chance(0.2) && n >= 4) {
      // Starts like a strict CALL, so the reader gets past the version check.
      payload.writeUInt32BE((VERSION_1 | MessageType.CALL) >>> 0, 0);
      tags.push('random:versioned');
    }
    const how = r.weighted([
      ['exact', 50],
      ['random', 25],
      ['lie', 25],
    ] as const);
    tags.push(`random:prefix-${how}`);
    if (how === 'exact') {
      return {
        category: 'random',
        kind: 'random/exact-length',
        tags,
        method: null,
        seqid: null,
        bytes: frame(payload),
        framed: true,
        expect: 'any',
      };
    }
    const lie = r.pick([-1, 1]) * r.range(1, LENGTH_LIE_MAX);
    const prefix = how === 'random' ? r.uint32() | 0 : Math.max(0, n + lie);
    // A prefix the node refuses (negative, too big) or an empty frame: it must close at once.
    const refused = prefix <= 0 || prefix > this.options.frameBytesMax;
    return {
      category: 'random',
      kind: `random/${how}-length`,
      tags,
      method: null,
      seqid: null,
      bytes: frame(payload, prefix),
      framed: false,
      expect: refused ? 'close' : 'any',
    };
  }

  // ---- (d) length prefixes ------------------------------------------------

  private lengthFrame(): FuzzFrame {
    const r = this.r;
    const max = this.options.frameBytesMax;
    const [name, prefix] = r.pick<[string, number]>([
      ['2GB', 0x7fff_ffff],
      ['2GB-unsigned', 0x8000_0000 | 0],
      ['minus-1', -1],
      ['negative', -r.range(1, 0x7fff_ffff)],
      ['limit+1', max + 1],
      ['over-limit', r.range(max + 1, 0x7fff_ffff)],
      ['zero', 0],
    ]);
    const body = r.bytes(r.range(0, 16));
    return {
      category: 'length',
      kind: `length/${name}`,
      tags: ['category:length', `length:${name}`],
      method: null,
      seqid: null,
      bytes: frame(body, prefix),
      framed: false,
      expect: 'close',
    };
  }

  // ---- (b) calls ----------------------------------------------------------

  /**
   * A call frame; `plain` (a mutation's base) leaves out the encoding defects,
   * and the real secret and its near misses from the calls it must not reach
   * (methods.ts, SECRET_BEARING).
   */
  private callFrame(plain = false): FuzzFrame {
    const r = this.r;
    const which = r.weighted(METHOD_WEIGHTS);
    const tags: string[] = ['category:call'];
    const seqid = this.seqid();
    const unknown = which === 'unknown';
    const name = unknown ? this.unknownName(tags) : which;
    tags.push(`method:${unknown ? 'unknown' : which}`);
    const use = this.secretUse(unknown ? null : which, plain);

    let fields: WireField[] = unknown ? this.extraFields(r.range(0, EXTRA_FIELDS_MAX), [], tags) : this.argFields(which, tags, use);
    const spec = unknown ? [] : ARGS[which];
    if (!unknown && spec.length > 0 && r.chance(DUPLICATE_FIELD_PROBABILITY)) {
      // The same id again, with another value (maybe of another type): the reader keeps the last of the right type.
      const arg = r.pick(spec);
      const again = this.argField(arg, tags, use, false);
      if (again !== null) fields.push(again);
      tags.push(`dup:${arg[2]}`);
    }
    if (r.chance(EXTRA_FIELDS_PROBABILITY)) fields.push(...this.extraFields(r.range(1, EXTRA_FIELDS_MAX), spec, tags));
    if (r.chance(SHUFFLE_PROBABILITY)) {
      fields = this.shuffled(fields);
      tags.push('fields:shuffled');
    }

    let strict = true;
    let mtype: number = MessageType.CALL;
    let structural: 'close' | 'any' | null = null;
    let trailing: Buffer | null = null;
    let truncate = false;
    let claimedNameLength: number | null = null;
    let versionWord: number | null = null;
    // A refused-only call with the real secret gets no defect: one of unknown effect might make it act.
    if (!plain && !use.refusedOnly && r.chance(DEFECT_PROBABILITY)) {
      const defect = this.pickDefect(unknown ? null : which);
      tags.push(`defect:${defect}`);
      switch (defect) {
        case 'negative-binary-length':
        case 'binary-length-past-frame':
        case 'binary-length-short': {
          // Negative or past the end of any frame: the reader must fail. Short: the rest is misread (unknown effect).
          const lie =
            defect === 'negative-binary-length'
              ? -r.range(1, 0x7fff_ffff)
              : defect === 'binary-length-past-frame'
                ? r.pick([0x7fff_ffff, this.options.frameBytesMax + 1, r.range(this.options.frameBytesMax + 1, 0x7fff_ffff)])
                : 'short';
          fields = this.lieAboutABinary(fields, lie);
          structural = defect === 'binary-length-short' ? 'any' : 'close';
          break;
        }
        case 'list-claims-huge':
        case 'list-negative-size':
        case 'list-element-type': {
          fields = this.lieAboutAList(fields, which, defect);
          structural = defect === 'list-claims-huge' ? 'close' : 'any';
          break;
        }
        case 'map-claims-huge': {
          const huge = r.pick([0x7fff_ffff, 0x4000_0000, 1 << 24]);
          const kind = r.pick(['map', 'set'] as const);
          const value: WireValue =
            kind === 'map'
              ? { kind: 'map', keyType: TType.I32, valueType: TType.STRING, pairs: [[i32(1), bin(Buffer.from('x'))]], claimedSize: huge }
              : { kind: 'set', elemType: TType.I64, items: [{ kind: 'i64', v: 1n }], claimedSize: huge };
          fields.splice(r.int(fields.length + 1), 0, field(this.unusedId(spec), value));
          structural = 'close';
          break;
        }
        case 'invalid-type-id': {
          const id = r.chance(0.5) && spec.length > 0 ? r.pick(spec)[0] : this.unusedId(spec);
          fields.splice(r.int(fields.length + 1), 0, field(id, { kind: 'raw', bytes: r.bytes(r.range(0, 8)) }, r.pick(INVALID_TYPE_IDS)));
          structural = 'close';
          break;
        }
        case 'uuid-field':
          fields.splice(r.int(fields.length + 1), 0, field(this.unusedId(spec), { kind: 'raw', bytes: r.bytes(16) }, TType.UUID));
          structural = 'any';
          break;
        case 'deep-nesting': {
          // The runtime's skip() counts the struct of an unknown method's arguments as one level too.
          const depth = r.pick([
            2,
            10,
            32,
            RUNTIME_SKIP_DEPTH_MAX - 1,
            RUNTIME_SKIP_DEPTH_MAX,
            RUNTIME_SKIP_DEPTH_MAX + 1,
            RUNTIME_SKIP_DEPTH_MAX + 2,
            200,
            NESTING_SENT_MAX,
          ]);
          const tooDeep = depth + (unknown ? 1 : 0) > RUNTIME_SKIP_DEPTH_MAX;
          tags.push(`nesting:${depth}`, tooDeep ? 'nesting:too-deep' : 'nesting:ok');
          fields.splice(r.int(fields.length + 1), 0, field(this.unusedId(spec), this.nestedStructs(depth), TType.STRUCT));
          if (tooDeep) structural = 'close';
          break;
        }
        case 'early-stop':
          // The reader stops at the STOP; what follows is never looked at.
          fields.splice(r.int(fields.length + 1), 0, field(0, { kind: 'raw', bytes: Buffer.alloc(0) }, TType.STOP));
          if (r.chance(0.5)) trailing = r.bytes(r.range(1, 32));
          break;
        case 'trailing-garbage':
          trailing = r.bytes(r.range(1, 64));
          break;
        case 'truncated':
          truncate = true;
          structural = 'close';
          break;
        case 'unversioned-header':
          strict = false;
          break;
        case 'message-type':
          // The processor does not look at the type: a REPLY or ONEWAY header is served like a CALL.
          mtype = r.pick([MessageType.REPLY, MessageType.EXCEPTION, MessageType.ONEWAY, 0, 5, 0xff]);
          break;
        case 'bad-version':
          versionWord = r.pick([0x8002_0000 | MessageType.CALL, 0x8000_0001, 0xffff_0001 | 0]);
          structural = 'close';
          break;
        case 'name-length-lie':
          claimedNameLength = r.pick([-1, -0x8000_0000, 0x7fff_ffff, this.options.frameBytesMax + 1]);
          structural = 'close';
          break;
      }
    }

    // Encode.
    const w = new ThriftWriter();
    const nb = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
    if (versionWord !== null) w.i32(versionWord).binary(nb).i32(seqid);
    else if (claimedNameLength !== null)
      w.i32(VERSION_1 | mtype)
        .binary(nb, claimedNameLength)
        .i32(seqid);
    else w.messageBegin(nb, mtype, seqid, strict);
    writeValue(w, { kind: 'struct', fields });
    if (trailing) w.raw(trailing);
    let payload = w.toBuffer();
    if (truncate) payload = payload.subarray(0, r.int(payload.length));

    let expect: Expect;
    if (payload.length > this.options.frameBytesMax) {
      expect = 'close'; // refused on its length prefix
      tags.push('frame:over-limit');
    } else if (structural !== null) expect = structural;
    else if (unknown) expect = 'unknown-method';
    else expect = handlerVerdict(which, effectiveFields(fields, spec), this.options);
    assert(
      !use.refusedOnly || expect === 'invalid' || expect === 'unauthorized' || which === 'cleanup' || which === 'learnEpochs',
      `a ${which} with the real secret is refused: ${tags.join(' ')}`,
    );
    tags.push(`expect:${expect}`);
    const echo = which === 'ping' && expect === 'ok' ? effectiveFields(fields, spec).get(1) : undefined;
    return {
      category: 'call',
      kind: `call/${unknown ? 'unknown' : which}`,
      tags,
      method: unknown ? null : which,
      seqid,
      bytes: frame(payload),
      framed: true,
      expect,
      ...(echo?.kind === 'binary' ? { echo: echo.v } : {}),
    };
  }

  private unknownName(tags: string[]): string | Buffer {
    const r = this.r;
    const how = r.weighted([
      ['listed', 6],
      ['ascii', 2],
      ['bytes', 1],
      ['long', 1],
    ] as const);
    tags.push(`unknown:${how}`);
    if (how === 'listed') return r.pick(UNKNOWN_NAMES);
    if (how === 'long') return 'x'.repeat(r.range(256, 4096));
    if (how === 'ascii')
      return (
        r
          .bytes(r.range(1, 24))
          .toString('base64')
          .replace(/[^a-zA-Z]/g, '') || 'zz'
      );
    // Random bytes: the node decodes them as UTF-8; keep them from spelling a real method.
    const b = r.bytes(r.range(1, 24));
    return (METHODS as readonly string[]).includes(b.toString('utf8')) ? Buffer.concat([b, Buffer.from('!')]) : b;
  }

  private pickDefect(method: MethodName | null): string {
    const r = this.r;
    const hasList = method !== null && LIST_ELEMENT[method] !== undefined;
    const choices: (readonly [string, number])[] = [
      ['negative-binary-length', 3],
      ['binary-length-past-frame', 3],
      ['binary-length-short', 2],
      ['map-claims-huge', 2],
      ['invalid-type-id', 3],
      ['uuid-field', 1],
      ['deep-nesting', 4],
      ['early-stop', 2],
      ['trailing-garbage', 2],
      ['truncated', 3],
      ['unversioned-header', 2],
      ['message-type', 2],
      ['bad-version', 2],
      ['name-length-lie', 2],
    ];
    if (hasList) choices.push(['list-claims-huge', 4], ['list-negative-size', 2], ['list-element-type', 2]);
    else choices.push(['list-claims-huge', 2]);
    return r.weighted(choices);
  }

  /**
   * Whether this call carries the real secret, and what follows from it
   * (see SECRET_BEARING in methods.ts). `plain`: the frame is a mutation's
   * base, whose bytes may yet be changed at random.
   */
  private secretUse(method: MethodName | null, plain: boolean): SecretUse {
    if (method === null) return { real: false, refusedOnly: false, nearMiss: true };
    const refusedOnly = SECRET_REFUSED_ONLY.has(method);
    const guarded = refusedOnly || SECRET_NEVER.has(method);
    const real =
      this.options.secret !== undefined && SECRET_BEARING.has(method) && !(plain && refusedOnly) && this.r.chance(REAL_SECRET_PROBABILITY);
    return { real, refusedOnly: real && refusedOnly, nearMiss: !(plain && guarded) };
  }

  /** The arguments of a known method, each valid, hostile, missing or of the wrong type. */
  private argFields(method: MethodName, tags: string[], use: SecretUse): WireField[] {
    const out: WireField[] = [];
    for (const spec of ARGS[method]) {
      const f = this.argField(spec, tags, use, true);
      if (f !== null) out.push(f);
    }
    // Large valid values only ever go to a few keys, so the data a run stores stays bounded.
    const valueId = method === 'cas' ? 4 : 2;
    const value = out.find((f) => f.id === valueId && f.type === TType.STRING && f.value.kind === 'binary');
    const key = out.find((f) => f.id === 1 && f.type === TType.STRING && isValidKey(f.value));
    const writes = method === 'put' || method === 'cas' || method === 'putWithTtl';
    if (writes && value && key && (value.value as { v: Buffer }).v.length > SMALL_BYTES_MAX) {
      out[out.indexOf(key)] = field(1, bin(this.r.pick(this.largeValueKeys)));
    }
    return out;
  }

  /** One argument: null when left out. `allowLarge`: a valid value may be large. */
  private argField(spec: ArgSpec, tags: string[], use: SecretUse, allowLarge: boolean): WireField | null {
    const r = this.r;
    const [id, type, name] = spec;
    const gen = generatorOf(spec);
    // A repair without its list of peers repairs with all of them: with the real secret the list is always there.
    const keep = use.refusedOnly && gen === 'peers';
    const how = keep
      ? 'set'
      : r.weighted([
          ['set', 86],
          ['missing', 7],
          ['wrong-type', 7],
        ] as const);
    if (how === 'missing') {
      tags.push(`${name}:missing`);
      return null;
    }
    if (how === 'wrong-type') {
      tags.push(`${name}:wrong-type`);
      return field(id, this.randomValue(r.pick(SKIPPABLE.filter((t) => t !== type)), RANDOM_VALUE_DEPTH_MAX));
    }
    return field(id, this.argValue(gen, tags, use, allowLarge), type);
  }

  /** A value for an argument of the older methods (the newer ones: newerArgValue). */
  private argValue(gen: string, tags: string[], use: SecretUse, allowLarge: boolean): WireValue {
    const r = this.r;
    switch (gen) {
      case 'key':
        return bin(this.key(tags, 'key', true));
      case 'value':
        return bin(this.value(tags, allowLarge));
      case 'expected':
        return bin(this.value(tags, false));
      case 'expectAbsent':
        return { kind: 'bool', v: r.chance(0.5) };
      case 'requestId':
        return bin(this.requestId(tags));
      case 'payload':
        return bin(this.payload(tags));
      case 'level':
        return i32(this.level(tags));
      case 'secret':
        return bin(this.secret(tags, use));
      case 'mutations':
        return { kind: 'list', elemType: TType.STRUCT, items: this.mutations(tags, use.real) };
      case 'keys':
        return this.keyList(tags);
      case 'fromNode':
        return i32(r.pick([0, 1, 2, 3, -1, 4, 0x7fff_ffff, -0x8000_0000, r.uint32() | 0]));
      case 'afterEpoch':
        return { kind: 'i64', v: r.pick([0n, 1n, 2n, 1000n, -1n, TS_SAFE_MAX, TS_SAFE_MAX + 1n, -(1n << 63n), BigInt(r.uint32())]) };
      case 'clock':
        return {
          kind: 'i64',
          v: r.pick([0n, -1n, TS_SAFE_MAX, TS_SAFE_MAX + 1n, (1n << 63n) - 1n, -(1n << 63n), BigInt(r.uint32()) << 20n]),
        };
      case 'hashBound':
        return {
          kind: 'i64',
          v: r.pick([
            0n,
            1n,
            HASH_SPACE - 1n,
            HASH_SPACE,
            HASH_SPACE + 1n,
            -1n,
            TS_SAFE_MAX + 1n,
            (1n << 63n) - 1n,
            -(1n << 63n),
            BigInt(r.uint32()),
          ]),
        };
      case 'digests':
        return { kind: 'list', elemType: TType.STRUCT, items: this.digests(tags) };
      case 'startAfter':
        return bin(r.chance(0.3) ? Buffer.alloc(0) : r.bytes(r.range(1, 16)));
      case 'dumpLimit':
        // With the real secret the page stays small: a dump of everything is a legitimate, large answer.
        return i32(use.real ? r.range(1, 16) : r.pick([0, -1, 1, 10, 5000, 0x7fff_ffff, -0x8000_0000]));
      case 'offsetMs':
        return i32(r.pick([0, 1, -1, CLOCK_OFFSET_MS_MAX, CLOCK_OFFSET_MS_MAX + 1, -CLOCK_OFFSET_MS_MAX - 1, 0x7fff_ffff, -0x8000_0000]));
      default:
        return this.newerArgValue(gen, tags, use);
    }
  }

  /** A value for an argument of the methods added after the first fuzzer: Paxos, repair, scans, TTLs, membership. */
  private newerArgValue(gen: string, tags: string[], use: SecretUse): WireValue {
    const r = this.r;
    switch (gen) {
      case 'epoch':
        // Positive: judged against the node's own (an older one may be refused, a newer one makes it fetch the log).
        return { kind: 'i64', v: r.pick([0n, 1n, 2n, 3n, 1000n, -1n, TS_SAFE_MAX, TS_SAFE_MAX + 1n, (1n << 63n) - 1n, -(1n << 63n)]) };
      case 'ballot':
        return this.ballot(tags);
      case 'paxosRequestId':
        return bin(this.paxosRequestId(tags));
      case 'proposal':
        return this.proposal(tags);
      case 'rangeOwner':
        return i32(r.pick([0, 1, 2, 3, 4, -1, 0x7fff_ffff, -0x8000_0000]));
      case 'treeLevel':
        return i32(r.pick([0, 1, 2, 0, 1, 2, 3, -1, 0x7fff_ffff]));
      case 'indices':
        return this.i32List(
          tags,
          'indices',
          [0, 1, BRANCHES - 1, BRANCHES, LEAVES - 1, LEAVES, -1, 0x7fff_ffff],
          TREE_HASHES_PER_CALL_MAX + 1,
        );
      case 'segments':
        return this.i32List(tags, 'segments', [0, 1, r.int(LEAVES), LEAVES - 1, LEAVES, -1], REPAIR_SEGMENTS_PER_CALL_MAX + 1);
      case 'rangeBound':
        return bin(r.pick([Buffer.alloc(0), r.pick(this.keyPool), Buffer.from('M'), r.bytes(r.range(1, 8))]));
      case 'peers':
        return this.peers(tags, use);
      case 'scanBound':
        return bin(this.scanBound(tags));
      case 'scanLimit':
        return i32(r.pick([1, 2, 10, 100, SCAN_LIMIT_MAX, SCAN_LIMIT_MAX + 1, 0, -1, 0x7fff_ffff, -0x8000_0000]));
      case 'paxosRowsLimit':
        return i32(r.pick([1, 10, PAXOS_STREAM_ROWS_MAX, PAXOS_STREAM_ROWS_MAX + 1, 0, -1, 0x7fff_ffff]));
      case 'paxosRowList':
        return this.paxosRowList(tags);
      case 'pageLimit':
        return i32(r.pick([1, 10, SCAN_REPLICA_PAGE_KEYS_MAX, SCAN_REPLICA_PAGE_KEYS_MAX + 1, 0, -1, 0x7fff_ffff]));
      case 'bytesMax':
        return i32(r.pick([1, 1024, 1 << 20, 0x7fff_ffff, 0, -1, -0x8000_0000]));
      case 'ttlSeconds': {
        const ttl = r.pick([1, 2, 60, 3600, TTL_SECONDS_MAX, TTL_SECONDS_MAX + 1, 0, -1, 0x7fff_ffff, -0x8000_0000]);
        tags.push(ttl >= 1 && ttl <= TTL_SECONDS_MAX ? 'ttl:valid' : 'ttl:bad');
        return i32(ttl);
      }
      case 'log':
        return this.membershipLog(tags, use.refusedOnly);
      case 'cleanupStart':
        // With the real secret a cleanup only reports: started, it would delete what the node holds outside its ranges.
        return { kind: 'bool', v: use.refusedOnly ? false : r.chance(0.5) };
      case 'token':
        return bin(this.token(tags, use.refusedOnly));
      case 'batchWrites':
        return this.batchWrites(tags);
      case 'traceRequest':
        return this.traceRequest(tags);
      case 'unlogged':
        return { kind: 'bool', v: r.chance(0.5) };
      case 'batchCopies':
        return this.batchCopies(tags, use.real);
      case 'batchCopyRefs':
        return this.batchCopies(tags, use.real, true);
      case 'traceProbability':
        return { kind: 'double', v: r.pick([0, 0.01, 0.5, 1, -0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) };
      case 'incarnation':
        return { kind: 'i64', v: r.pick([0n, 0n, 1n, 12_345n, -1n, TS_SAFE_MAX, TS_SAFE_MAX + 1n, (1n << 63n) - 1n, -(1n << 63n)]) };
      case 'afterSeq':
        return { kind: 'i64', v: r.pick([0n, -1n, 1n, 100n, -2n, TS_SAFE_MAX, TS_SAFE_MAX + 1n, -(1n << 63n)]) };
      case 'changesLimit':
        return i32(r.pick([1, 10, CHANGES_LIMIT_MAX, CHANGES_LIMIT_MAX + 1, 0, -1, 0x7fff_ffff]));
      case 'waitMs':
        // Short waits only (a valid call may hold the run that long), and the refused ones.
        return i32(r.pick([0, 0, 1, 20, CHANGES_WAIT_MS_MAX + 1, -1, 0x7fff_ffff, -0x8000_0000]));
      case 'tracesLimit':
        return i32(r.pick([1, 10, SAMPLED_TRACES_KEPT, SAMPLED_TRACES_KEPT + 1, 0, -1, 0x7fff_ffff]));
      case 'node':
        // Never sent with the real secret (SECRET_NEVER): a removal would take a peer out of the ring.
        return i32(r.pick([0, 1, 3, 7, -1, 0x7fff_ffff, -0x8000_0000]));
      case 'snapshotName':
        // Never sent with the real secret (SECRET_NEVER): a snapshot would copy the node's file to its disk.
        return bin(Buffer.from(r.pick(['daily', 'ok-1.b_c', '', '.hidden', '../up', 'a/b', 'x'.repeat(65)])));
      default:
        return unreachable(`no generator for argument ${gen}`);
    }
  }

  /**
   * Paxos rows for paxosMerge: pool keys, old ballots and proposals (any of
   * them missing or bad) and recent request ids, sometimes one too many.
   */
  private paxosRowList(tags: string[]): WireValue {
    const r = this.r;
    const n = r.weighted<number>([
      [0, 1],
      [1, 4],
      [r.range(2, LIST_ITEMS_MAX), 3],
    ]);
    tags.push(n === 0 ? 'paxos-rows:empty-list' : 'paxos-rows:some');
    const row = (): WireValue => {
      const fields: WireField[] = [];
      if (!r.chance(0.05)) fields.push(field(1, bin(this.key(tags, 'paxos-row-key', true))));
      if (r.chance(0.5)) fields.push(field(2, this.ballot(tags)));
      if (r.chance(0.3)) fields.push(field(3, this.proposal(tags)));
      if (r.chance(0.5)) fields.push(field(4, this.proposal(tags)));
      if (!r.chance(0.05)) {
        const ids = r.chance(0.05) ? PAXOS_RECENT_REQUESTS_MAX + 1 : r.range(0, 3);
        const recent = Array.from({ length: ids }, (): WireValue => {
          const ts = r.weighted<bigint>([
            [BigInt(r.range(0, TS_OLD_MAX)), 8],
            [-1n, 1],
            [TS_SAFE_MAX + 1n, 1],
          ]);
          return { kind: 'struct', fields: [field(1, bin(this.paxosRequestId(tags))), field(2, { kind: 'i64', v: ts })] };
        });
        fields.push(field(5, { kind: 'list', elemType: TType.STRUCT, items: recent }));
      }
      return { kind: 'struct', fields };
    };
    return { kind: 'list', elemType: TType.STRUCT, items: Array.from({ length: n }, row) };
  }

  /** A list of keys (readLocal, fetchVersions): sometimes empty, sometimes many from the pool. */
  private keyList(tags: string[]): WireValue {
    const r = this.r;
    const n = r.weighted<number>([
      [0, 1],
      [1, 4],
      [r.range(2, LIST_ITEMS_MAX), 3],
      [r.range(100, 2000), 1],
    ]);
    tags.push(n === 0 ? 'keys:empty-list' : n > LIST_ITEMS_MAX ? 'keys:many' : 'keys:some');
    return {
      kind: 'list',
      elemType: TType.STRING,
      items: Array.from({ length: n }, () => bin(n > LIST_ITEMS_MAX ? r.pick(this.keyPool) : this.key(tags, 'keys', false))),
    };
  }

  /**
   * A batch's writes: empty, a few, or one more than a batch may carry; each
   * a key (pool keys repeat, which a batch refuses), a small value or a
   * remove (sometimes both, or neither), and now and then a TTL or a
   * timestamp, valid or not.
   */
  private batchWrites(tags: string[]): WireValue {
    const r = this.r;
    const n = r.weighted<number>([
      [0, 1],
      [1, 4],
      [r.range(2, LIST_ITEMS_MAX), 4],
      [BATCH_WRITES_MAX + 1, 0.3],
    ]);
    tags.push(n === 0 ? 'batch:empty-list' : n > BATCH_WRITES_MAX ? 'batch:too-many' : 'batch:some');
    const write = (): WireValue => {
      const fields: WireField[] = [];
      if (!r.chance(0.05)) fields.push(field(1, bin(this.key(tags, 'batch-key', true))));
      const remove = r.chance(0.25);
      if (remove) fields.push(field(3, { kind: 'bool', v: r.chance(0.9) }));
      if (!remove || r.chance(0.1)) fields.push(field(2, bin(r.bytes(r.range(0, SMALL_BYTES_MAX)))));
      if (r.chance(0.2)) fields.push(field(4, i32(r.pick([0, 1, 60, TTL_SECONDS_MAX, TTL_SECONDS_MAX + 1, -1, 0x7fff_ffff]))));
      // A valid timestamp stays in January 1970 (TS_OLD_MAX), so as not to move the node's clock; the others are refused.
      if (r.chance(0.15))
        fields.push(
          field(5, {
            kind: 'i64',
            v: r.pick([1n, 12_345n, BigInt(TS_OLD_MAX), 0n, -1n, TS_SURELY_AHEAD, TS_SAFE_MAX + 1n, (1n << 63n) - 1n]),
          }),
        );
      return { kind: 'struct', fields };
    };
    return { kind: 'list', elemType: TType.STRUCT, items: Array.from({ length: n }, write) };
  }

  /**
   * A trace's request: mostly a get (now and then at SERIAL), put, remove,
   * cas or scan with a pool key, a small value for a put or a cas, an
   * expectation for a cas, a stop and a limit for a scan, keys for a
   * getMany, writes (and unlogged) for a batch, and a level; now and then a
   * field missing, a value, an expectation, a stop, keys or writes where none
   * belongs, both expectations, or an op no node runs.
   */
  private traceRequest(tags: string[]): WireValue {
    const r = this.r;
    const op = r.weighted<string>([
      ['get', 4],
      ['put', 4],
      ['remove', 2],
      ['cas', 2],
      ['scan', 1.5],
      ['getMany', 1.5],
      ['batch', 1.5],
      ['', 0.5],
    ]);
    tags.push(`trace:${op || 'empty-op'}`);
    const writesValue = op === 'put' || op === 'cas';
    const fields: WireField[] = [];
    if (!r.chance(0.05)) fields.push(field(1, bin(Buffer.from(op))));
    if (!r.chance(0.05)) fields.push(field(2, bin(this.key(tags, 'trace-key', true))));
    if (writesValue ? !r.chance(0.05) : r.chance(0.05)) fields.push(field(3, bin(r.bytes(r.range(0, SMALL_BYTES_MAX)))));
    if (!r.chance(0.05)) fields.push(field(4, i32(this.traceLevel(op, tags))));
    const absent = op === 'cas' ? r.chance(0.4) : r.chance(0.03);
    if (absent ? r.chance(0.05) : op === 'cas' ? !r.chance(0.05) : r.chance(0.03))
      fields.push(field(5, bin(r.bytes(r.range(0, SMALL_BYTES_MAX)))));
    if (absent || r.chance(0.05)) fields.push(field(6, { kind: 'bool', v: absent }));
    // A scan's stop and limit; now and then on another op, where they do not belong.
    if (op === 'scan' ? r.chance(0.6) : r.chance(0.03)) fields.push(field(7, bin(this.scanBound(tags))));
    if (op === 'scan' ? r.chance(0.6) : r.chance(0.03))
      fields.push(field(8, i32(r.pick([1, 10, 100, SCAN_LIMIT_MAX, SCAN_LIMIT_MAX + 1, 0, -1]))));
    // A getMany's keys, a batch's writes and flag; now and then on another op.
    if (op === 'getMany' ? !r.chance(0.05) : r.chance(0.03)) fields.push(field(9, this.keyList(tags)));
    if (op === 'batch' ? !r.chance(0.05) : r.chance(0.03)) fields.push(field(10, this.batchWrites(tags)));
    if (op === 'batch' ? r.chance(0.4) : r.chance(0.02)) fields.push(field(11, { kind: 'bool', v: r.chance(0.8) }));
    return { kind: 'struct', fields };
  }

  /** A traced request's level: a cas's mostly QUORUM or ALL, a get's now and then SERIAL. */
  private traceLevel(op: string, tags: string[]): number {
    const r = this.r;
    if (op === 'cas' && r.chance(0.8)) return r.pick([2, 3] as const);
    if (op === 'get' && r.chance(0.1)) {
      tags.push('level:serial');
      return LEVEL_SERIAL;
    }
    return this.level(tags);
  }

  /**
   * Batch copies for storeBatchCopies (or, `refsOnly`, the references
   * forgetBatchCopies takes): empty, a few, or one more than a call may
   * carry; each an id and a time, either missing or bad now and then (a
   * valid time is long past: such a copy is dropped as past the tombstone
   * grace, or a young one written with its old mutations), and mutations as
   * replicate's, sometimes none or one more than a batch may hold.
   */
  private batchCopies(tags: string[], realSecret: boolean, refsOnly = false): WireValue {
    const r = this.r;
    const label = refsOnly ? 'copy-refs' : 'copies';
    const n = r.weighted<number>([
      [0, 1],
      [1, 6],
      [r.range(2, LIST_ITEMS_MAX), 2],
      [BATCH_COPIES_PER_CALL_MAX + 1, 0.3],
    ]);
    tags.push(`${label}:${n === 0 ? 'empty-list' : n > BATCH_COPIES_PER_CALL_MAX ? 'too-many' : 'some'}`);
    const whole = (label: string): WireValue | null => {
      const v = r.weighted<bigint | null>([
        [BigInt(r.range(0, TS_OLD_MAX)), 8],
        [0n, 1],
        [-1n, 1],
        [TS_SAFE_MAX, 1],
        [null, 1],
      ]);
      tags.push(`${label}:${v === null ? 'missing' : v < 0n || v === TS_SAFE_MAX ? 'bad' : 'valid'}`);
      return v === null ? null : { kind: 'i64', v };
    };
    const copy = (): WireValue => {
      const fields: WireField[] = [];
      const id = whole('copy-id');
      if (id !== null) fields.push(field(1, id));
      const createdMs = whole('copy-time');
      if (createdMs !== null) fields.push(field(2, createdMs));
      if (!refsOnly && !r.chance(0.05)) {
        const writes = this.mutations(tags, realSecret, r.chance(0.03) ? BATCH_WRITES_MAX + 1 : undefined);
        fields.push(field(3, { kind: 'list', elemType: TType.STRUCT, items: writes }));
      }
      return { kind: 'struct', fields };
    };
    return { kind: 'list', elemType: TType.STRUCT, items: Array.from({ length: n }, copy) };
  }

  /** A list of i32 from `values`: empty, a few, or one more than a call may carry. */
  private i32List(tags: string[], label: string, values: readonly number[], tooMany: number): WireValue {
    const r = this.r;
    const how = r.weighted([
      ['empty', 1],
      ['some', 8],
      ['too-many', 0.3],
    ] as const);
    tags.push(`${label}:${how}`);
    const n = how === 'empty' ? 0 : how === 'some' ? r.range(1, LIST_ITEMS_MAX) : tooMany;
    // Past the limit the values are valid ones: only the count is wrong.
    return { kind: 'list', elemType: TType.I32, items: Array.from({ length: n }, () => i32(how === 'too-many' ? 0 : r.pick(values))) };
  }

  /** A Paxos ballot: an old hybrid-clock reading (valid), or one surely ahead, negative or missing. */
  private ballot(tags: string[]): WireValue {
    const r = this.r;
    const ts = r.weighted<bigint | null>([
      [BigInt(r.range(0, TS_OLD_MAX)), 6],
      [0n, 1],
      [-1n, 1],
      [TS_SAFE_MAX, 1],
      [TS_SAFE_MAX + 1n, 1],
      [(1n << 63n) - 1n, 1],
      [null, 1],
    ]);
    const node = r.weighted<number | null>([
      [r.range(0, 3), 8],
      [0x7fff_ffff, 1],
      [-1, 1],
      [null, 1],
    ]);
    const fields: WireField[] = [];
    if (ts !== null) fields.push(field(1, { kind: 'i64', v: ts }));
    if (node !== null) fields.push(field(2, i32(node)));
    tags.push(ts !== null && ts >= 0n && ts <= BigInt(TS_OLD_MAX) && node !== null && node >= 0 ? 'ballot:valid' : 'ballot:bad');
    return { kind: 'struct', fields };
  }

  /** A Paxos request id: as cas's, but empty is valid here; bytes that grow when decoded as UTF-8 probe the limit. */
  private paxosRequestId(tags: string[]): Buffer {
    if (!this.r.chance(0.1)) return this.requestId(tags);
    tags.push('requestId:utf8-growth');
    // Each 0xff decodes to U+FFFD, three bytes: 21 stay within 64 bytes, 22 go past.
    return Buffer.alloc(this.r.pick([21, 22]), 0xff);
  }

  /** A Paxos proposal: a ballot, a small value and a request id, any of them missing or bad. */
  private proposal(tags: string[]): WireValue {
    const r = this.r;
    const fields: WireField[] = [];
    if (!r.chance(0.05)) fields.push(field(1, this.ballot(tags)));
    if (!r.chance(0.05)) fields.push(field(2, bin(this.value(tags, false))));
    if (!r.chance(0.05)) fields.push(field(3, bin(this.paxosRequestId(tags))));
    return { kind: 'struct', fields: r.chance(0.1) ? this.shuffled(fields) : fields };
  }

  /** repair's peers; with the real secret always with one id that is no node, so the node refuses before it repairs. */
  private peers(tags: string[], use: SecretUse): WireValue {
    const r = this.r;
    const notNodes = [-1, 16, 99, 0x7fff_ffff, -0x8000_0000];
    const n = use.refusedOnly ? r.range(1, 4) : r.range(0, 4);
    const items = Array.from({ length: n }, () => i32(r.pick([0, 1, 2, 3, ...notNodes])));
    if (use.refusedOnly) items[r.int(n)] = i32(r.pick(notNodes));
    tags.push(n === 0 ? 'peers:empty-list' : 'peers:some');
    return { kind: 'list', elemType: TType.I32, items };
  }

  /** A scan's bound or cursor: empty (no bound), a pool key, random, one byte past a key, or longer. */
  private scanBound(tags: string[]): Buffer {
    const r = this.r;
    const how = r.weighted([
      ['empty', 35],
      ['pool', 30],
      ['random', 15],
      ['key+1', 3],
      ['oversize', 5],
    ] as const);
    tags.push(`bound:${how}`);
    switch (how) {
      case 'empty':
        return Buffer.alloc(0);
      case 'pool':
        return r.pick(this.keyPool);
      case 'random':
        return r.bytes(r.range(1, 8));
      case 'key+1':
        return this.pattern(r, KEY_BYTES_MAX + 1);
      case 'oversize':
        return this.pattern(r, r.pick([KEY_BYTES_MAX + 2, 4 * KEY_BYTES_MAX]));
    }
  }

  /** A move's token; with the real secret only an empty one, which the node refuses before it moves. */
  private token(tags: string[], refusedOnly: boolean): Buffer {
    const r = this.r;
    const how = refusedOnly ? 'empty' : r.pick(['empty', 'pool', 'oversize'] as const);
    tags.push(`token:${how}`);
    if (how === 'empty') return Buffer.alloc(0);
    return how === 'pool' ? r.pick(this.keyPool) : this.pattern(r, 4 * KEY_BYTES_MAX);
  }

  /**
   * A pushed membership log. With the real secret (`safe`) only logs that
   * change nothing: no changes (the barrier's poll), one change at epoch 1
   * (every node holds epoch 1, the bootstrap, so it is skipped), or changes
   * the node cannot read (a first epoch of 0 or less, an unknown kind),
   * which are refused before any is taken up.
   */
  private membershipLog(tags: string[], safe: boolean): WireValue {
    const r = this.r;
    const shape = r.weighted([
      ['no-changes', 3],
      ['epoch-one', 3],
      ['first-not-positive', 2],
      ['unknown-kind', 2],
      ['chain', safe ? 0 : 3],
    ] as const);
    tags.push(`log:${shape}`);
    const n = shape === 'no-changes' || shape === 'epoch-one' ? (shape === 'no-changes' ? 0 : 1) : r.range(1, 4);
    const first =
      shape === 'first-not-positive' ? r.pick([0n, -1n, -(1n << 63n), null]) : shape === 'chain' ? r.pick([1n, 2n, 3n, TS_SAFE_MAX]) : 1n;
    const unknownAt = shape === 'unknown-kind' ? r.int(n) : -1;
    const changes = Array.from({ length: n }, (_, i) =>
      this.epochChange(first === null ? null : first + BigInt(i), i === unknownAt ? r.pick(CHANGE_KINDS_UNKNOWN) : r.pick(CHANGE_KINDS)),
    );
    const fields: WireField[] = [];
    if (!r.chance(0.05)) fields.push(field(1, { kind: 'i64', v: r.pick([1n, 2n, 5n, 0n, -1n, TS_SAFE_MAX]) }));
    if (!(n === 0 && r.chance(0.3))) fields.push(field(2, { kind: 'list', elemType: TType.STRUCT, items: changes }));
    if (r.chance(0.5)) fields.push(field(3, { kind: 'i64', v: r.pick([0n, 1n, -1n]) }));
    return { kind: 'struct', fields };
  }

  /** One membership change: the fields its kind needs, each sometimes missing or out of range. */
  private epochChange(epoch: bigint | null, kind: string): WireValue {
    const r = this.r;
    const fields: WireField[] = [];
    if (epoch !== null) fields.push(field(1, { kind: 'i64', v: epoch }));
    if (!r.chance(0.05)) fields.push(field(2, bin(Buffer.from(kind))));
    if (!r.chance(0.1)) fields.push(field(3, i32(r.pick([0, 1, 2, 3, 4, -1]))));
    if (r.chance(0.6)) fields.push(field(4, bin(r.chance(0.8) ? r.pick(this.keyPool) : Buffer.alloc(0))));
    if (r.chance(0.3)) fields.push(field(5, i32(r.pick([0, 1, 7, -1]))));
    if (kind === 'bootstrap' && !r.chance(0.1)) fields.push(field(6, i32(r.pick([1, 3, 0, -1]))));
    if (kind === 'bootstrap' && r.chance(0.8)) fields.push(field(7, this.ringMembers()));
    if (r.chance(0.3)) fields.push(field(8, bin(Buffer.from(r.pick(['127.0.0.1', '', 'no such host'])))));
    if (r.chance(0.3)) fields.push(field(9, i32(r.pick([1, 65535, 0, 65536, -1]))));
    return { kind: 'struct', fields };
  }

  private ringMembers(): WireValue {
    const r = this.r;
    const items = Array.from({ length: r.range(0, 4) }, (_, id): WireValue => {
      const fields: WireField[] = [];
      if (!r.chance(0.1)) fields.push(field(1, i32(id)));
      if (!r.chance(0.1)) fields.push(field(2, bin(r.pick(this.keyPool))));
      return { kind: 'struct', fields };
    });
    return { kind: 'list', elemType: TType.STRUCT, items };
  }

  /** A key: usually a valid one from the pools, else empty or oversize. `write`: it may be stored. */
  private key(tags: string[], label: string, write: boolean): Buffer {
    const r = this.r;
    const how = r.weighted([
      ['pool', 55],
      ['fresh', write ? 0 : 10],
      ['boundary', 2],
      ['empty', 12],
      ['oversize', 5],
    ] as const);
    tags.push(`${label}:${how}`);
    switch (how) {
      case 'pool':
        return r.pick(this.keyPool);
      case 'fresh':
        return r.bytes(r.range(1, KEY_POOL_KEY_BYTES_MAX));
      case 'boundary':
        return r.pick(this.boundaryKeys);
      case 'empty':
        return Buffer.alloc(0);
      case 'oversize':
        return this.pattern(r, r.pick([KEY_BYTES_MAX + 1, KEY_BYTES_MAX + r.range(2, 4096), 2 * KEY_BYTES_MAX, 4 * KEY_BYTES_MAX]));
    }
  }

  /** A cas request id: usually a short one, else empty or past the limit. */
  private requestId(tags: string[]): Buffer {
    const r = this.r;
    const how = r.weighted([
      ['short', 85],
      ['empty', 8],
      ['oversize', 7],
    ] as const);
    tags.push(`requestId:${how}`);
    if (how === 'empty') return Buffer.alloc(0);
    // ASCII, so that its byte length is the length the node measures.
    return Buffer.from(
      r
        .bytes(how === 'short' ? r.range(1, 36) : r.range(REQUEST_ID_BYTES_MAX + 1, 4096))
        .toString('hex')
        .slice(0, how === 'short' ? 36 : undefined),
    );
  }

  private value(tags: string[], allowLarge: boolean): Buffer {
    const r = this.r;
    const max = this.options.maxValueBytes;
    const how = r.weighted([
      ['small', 70],
      ['empty', 8],
      ['max', allowLarge ? 1 : 0],
      ['oversize', 3],
      ['past-frame', 0.05],
    ] as const);
    tags.push(`value:${how}`);
    switch (how) {
      case 'small':
        return r.bytes(r.range(1, SMALL_BYTES_MAX));
      case 'empty':
        return Buffer.alloc(0);
      case 'max':
        return this.pattern(r, r.pick([max, max - 1, r.range(SMALL_BYTES_MAX + 1, max)]));
      case 'oversize':
        return this.pattern(r, r.pick([max + 1, max + r.range(2, 64 * 1024), 2 * max]));
      // A whole frame bigger than the node's limit: refused on its length prefix alone.
      case 'past-frame':
        return this.pattern(r, this.options.frameBytesMax + r.range(1, 1024));
    }
  }

  private payload(tags: string[]): Buffer {
    const r = this.r;
    const how = r.weighted([
      ['small', 80],
      ['empty', 10],
      ['large', 3],
      ['near-frame-limit', 0.1],
    ] as const);
    tags.push(`payload:${how}`);
    switch (how) {
      case 'small':
        return r.bytes(r.range(1, 256));
      case 'empty':
        return Buffer.alloc(0);
      case 'large':
        return this.pattern(r, r.range(4096, this.options.maxValueBytes));
      // Just fits: the reply is as large as a reply gets.
      case 'near-frame-limit':
        return this.pattern(r, this.options.frameBytesMax - 64);
    }
  }

  private level(tags: string[]): number {
    const r = this.r;
    if (r.chance(0.7)) {
      tags.push('level:valid');
      return r.pick(LEVELS_VALID);
    }
    if (r.chance(0.2)) {
      tags.push('level:factor');
      return r.pick(LEVELS_BY_FACTOR);
    }
    if (r.chance(0.15)) {
      tags.push('level:any');
      return LEVEL_ANY;
    }
    const bad = r.chance(0.85) ? r.pick(LEVELS_BAD) : r.uint32() | 0;
    tags.push(`level:bad`, `level:${bad}`);
    return bad;
  }

  private secret(tags: string[], use: SecretUse): Buffer {
    const r = this.r;
    const s = this.options.secret;
    if (use.real && s !== undefined) {
      tags.push('secret:real');
      return Buffer.from(s, 'utf8');
    }
    const how = r.weighted([
      ['random', 4],
      ['empty', 3],
      ['near-miss', s !== undefined && use.nearMiss ? 3 : 0],
      ['bytes', 1],
      ['long', 0.5],
    ] as const);
    tags.push(`secret:${how}`);
    switch (how) {
      case 'random':
        return Buffer.from(r.bytes(r.range(1, 32)).toString('base64url'));
      case 'empty':
        return Buffer.alloc(0);
      case 'bytes':
        return r.bytes(r.range(1, 32));
      case 'long':
        return this.pattern(r, r.range(1024, 64 * 1024));
      case 'near-miss': {
        const real = Buffer.from(s!, 'utf8');
        const variant = r.int(3);
        if (variant === 0) return real.subarray(0, real.length - 1);
        if (variant === 1) return Buffer.concat([real, Buffer.from('x')]);
        const b = Buffer.from(real);
        b[b.length - 1] = b[b.length - 1]! ^ 0x01;
        return b;
      }
    }
  }

  /** Mutations for replicate (`count` of them, else a few or none). With the real secret, valid ones keep to old timestamps and pool keys. */
  private mutations(tags: string[], realSecret: boolean, count?: number): WireValue[] {
    const r = this.r;
    const n =
      count ??
      r.weighted([
        [0, 1],
        [1, 4],
        [r.range(2, LIST_ITEMS_MAX), 3],
      ] as const);
    tags.push(n === 0 ? 'mutations:empty-list' : 'mutations:some');
    return Array.from({ length: n }, () => {
      const fs: WireField[] = [];
      if (!r.chance(0.05)) fs.push(field(1, bin(this.key(tags, 'mutation-key', true))));
      else tags.push('mutation-key:missing');
      if (!r.chance(0.05)) {
        const oversize = r.chance(0.03);
        tags.push(oversize ? 'mutation-value:oversize' : 'mutation-value:small');
        fs.push(
          field(2, bin(oversize ? this.pattern(r, this.options.maxValueBytes + r.range(1, 1024)) : r.bytes(r.range(0, SMALL_BYTES_MAX)))),
        );
      } else tags.push('mutation-value:missing');
      const ts = r.weighted<bigint | null>([
        [BigInt(r.range(0, TS_OLD_MAX)), 6],
        [0n, 1],
        [-1n, 1],
        [TS_SAFE_MAX + 1n, 1],
        [(1n << 63n) - 1n, 1],
        [-(1n << 63n), 1],
        [null, 1],
      ]);
      if (ts !== null) fs.push(field(3, { kind: 'i64', v: ts }));
      tags.push(ts === null ? 'mutation-ts:missing' : ts < 0n || ts > TS_SAFE_MAX ? 'mutation-ts:bad' : 'mutation-ts:valid');
      if (r.chance(0.8)) fs.push(field(4, { kind: 'bool', v: r.chance(0.2) }));
      if (r.chance(0.1)) {
        // An expiry: long past (the value reads as absent at once), none (0, -1), or past what a node takes.
        const expires = r.pick([BigInt(r.range(1, TS_OLD_MAX)), 0n, -1n, TS_SAFE_MAX + 1n, (1n << 63n) - 1n]);
        tags.push(expires > TS_SAFE_MAX ? 'mutation-expires:bad' : 'mutation-expires:set');
        fs.push(field(5, { kind: 'i64', v: expires }));
      }
      if (r.chance(0.1)) fs.push(...this.extraFields(1, MUTATION, tags));
      if (realSecret) tags.push('replicate:with-secret');
      return { kind: 'struct', fields: r.chance(0.1) ? this.shuffled(fs) : fs } as WireValue;
    });
  }

  /** Anti-entropy digests: mostly valid, some with a key or timestamp missing or bad; sometimes more than a sync takes. */
  private digests(tags: string[]): WireValue[] {
    const r = this.r;
    const n = r.weighted([
      [0, 1],
      [1, 4],
      [r.range(2, LIST_ITEMS_MAX), 3],
      [SYNC_DIGESTS_MAX + 1, 1],
    ] as const);
    tags.push(n === 0 ? 'digests:empty-list' : n > SYNC_DIGESTS_MAX ? 'digests:too-many' : 'digests:some');
    return Array.from({ length: n }, () => {
      const fs: WireField[] = [];
      if (!r.chance(0.05)) fs.push(field(1, bin(n > SYNC_DIGESTS_MAX ? r.pick(this.keyPool) : this.key(tags, 'digest-key', false))));
      const ts = r.weighted<bigint | null>([
        [BigInt(r.range(0, TS_OLD_MAX)), 8],
        [-1n, 1],
        [TS_SAFE_MAX + 1n, 1],
        [null, 1],
      ]);
      if (ts !== null) fs.push(field(2, { kind: 'i64', v: ts }));
      if (r.chance(0.8)) fs.push(field(3, { kind: 'bool', v: r.chance(0.2) }));
      if (r.chance(0.8)) fs.push(field(4, i32(r.uint32() | 0)));
      return { kind: 'struct', fields: fs } as WireValue;
    });
  }

  /** Fields with ids the struct does not have, of skippable types, honestly encoded. */
  private extraFields(n: number, spec: readonly ArgSpec[], tags: string[]): WireField[] {
    if (n > 0) tags.push('fields:unknown-ids');
    return Array.from({ length: n }, () => field(this.unusedId(spec), this.randomValue(this.r.pick(SKIPPABLE), RANDOM_VALUE_DEPTH_MAX)));
  }

  private unusedId(spec: readonly ArgSpec[]): number {
    const r = this.r;
    for (;;) {
      const id = r.pick([0, -1, -32768, 32767, r.range(4, 100), r.range(-32768, 32767)]);
      if (!spec.some(([known]) => known === id)) return id;
    }
  }

  /** An honestly encoded random value of `type`, nested at most `depth` deep. */
  private randomValue(type: number, depth: number): WireValue {
    const r = this.r;
    const leaf = depth <= 1;
    const childType = (): number => (leaf ? r.pick([TType.I32, TType.STRING, TType.BOOL]) : r.pick(SKIPPABLE));
    switch (type) {
      case TType.BOOL:
        return { kind: 'bool', v: r.chance(0.5) };
      case TType.BYTE:
        return { kind: 'i8', v: r.range(-128, 127) };
      case TType.DOUBLE:
        return { kind: 'double', v: r.pick([0, -0, 1.5, NaN, Infinity, -Infinity, r.float() * 1e300]) };
      case TType.I16:
        return { kind: 'i16', v: r.range(-32768, 32767) };
      case TType.I32:
        return i32(r.uint32() | 0);
      case TType.I64:
        return { kind: 'i64', v: BigInt.asIntN(64, (BigInt(r.uint32()) << 32n) | BigInt(r.uint32())) };
      case TType.STRING:
        return bin(r.bytes(r.range(0, 32)));
      case TType.STRUCT:
        return {
          kind: 'struct',
          fields: leaf ? [] : Array.from({ length: r.range(0, 3) }, () => field(r.range(-5, 40), this.randomValue(childType(), depth - 1))),
        };
      case TType.LIST:
      case TType.SET: {
        const e = childType();
        return {
          kind: type === TType.LIST ? 'list' : 'set',
          elemType: e,
          items: Array.from({ length: r.range(0, 4) }, () => this.randomValue(e, depth - 1)),
        };
      }
      case TType.MAP: {
        const k = childType();
        const v = childType();
        return {
          kind: 'map',
          keyType: k,
          valueType: v,
          pairs: Array.from({ length: r.range(0, 3) }, () => [this.randomValue(k, depth - 1), this.randomValue(v, depth - 1)] as const),
        };
      }
      default:
        return unreachable(`not a skippable type: ${type}`);
    }
  }

  /** `depth` structs, each the only field of the one outside it; written flat (no recursion here). */
  private nestedStructs(depth: number): WireValue {
    const id = this.r.range(1, 100);
    const open = Buffer.from([TType.STRUCT, (id >> 8) & 0xff, id & 0xff]);
    const bytes = Buffer.concat([...Array.from({ length: depth - 1 }, () => open), Buffer.alloc(depth, TType.STOP)]);
    return { kind: 'raw', bytes };
  }

  private shuffled<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.r.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** Makes one binary field (an argument, or a new unknown one) lie about its length. */
  private lieAboutABinary(fields: WireField[], lie: number | 'short'): WireField[] {
    const short = lie === 'short';
    const r = this.r;
    const candidates = fields.map((f, i) => [f, i] as const).filter(([f]) => f.type === TType.STRING && f.value.kind === 'binary');
    let index: number;
    let bytes: Buffer;
    if (candidates.length > 0 && r.chance(0.7)) {
      const [f, i] = r.pick(candidates);
      index = i;
      bytes = (f.value as { v: Buffer }).v;
    } else {
      index = r.int(fields.length + 1);
      bytes = r.bytes(r.range(1, 32));
      fields.splice(index, 0, field(this.unusedId([]), bin(bytes)));
    }
    if (short && bytes.length === 0) bytes = r.bytes(r.range(1, 8));
    const claimedLength = lie === 'short' ? r.int(bytes.length) : lie;
    const old = fields[index]!;
    fields[index] = { type: TType.STRING, id: old.id, value: { kind: 'binary', v: bytes, claimedLength } };
    return fields;
  }

  /** Makes the method's list argument (or a new unknown list field) lie about its size or element type. */
  private lieAboutAList(fields: WireField[], method: MethodName | 'unknown', defect: string): WireField[] {
    const r = this.r;
    const expectedElem = method === 'unknown' ? undefined : LIST_ELEMENT[method];
    const at = fields.findIndex((f) => f.type === TType.LIST && f.value.kind === 'list');
    let list: Extract<WireValue, { kind: 'list' | 'set' }>;
    let index: number;
    if (at >= 0 && expectedElem !== undefined) {
      list = fields[at]!.value as typeof list;
      index = at;
    } else {
      list = { kind: 'list', elemType: TType.I32, items: [i32(1), i32(2)] };
      index = r.int(fields.length + 1);
      fields.splice(index, 0, field(this.unusedId(method === 'unknown' ? [] : ARGS[method]), list));
    }
    const id = fields[index]!.id;
    let value: WireValue;
    if (defect === 'list-claims-huge') {
      // Far more elements than the frame has bytes: the reader must run out of data, not allocate.
      value = { ...list, claimedSize: r.pick([0x7fff_ffff, 0x7fff_fffe, 0x4000_0000, 1 << 24]) };
    } else if (defect === 'list-negative-size') {
      value = { ...list, claimedSize: r.pick([-1, -0x8000_0000, -r.range(2, 1000)]) };
    } else {
      const other = r.pick(SKIPPABLE.filter((t) => t !== (expectedElem ?? list.elemType)));
      value = { kind: 'list', elemType: other, items: Array.from({ length: r.range(1, 3) }, () => this.randomValue(other, 2)) };
    }
    fields[index] = field(id, value, TType.LIST);
    return fields;
  }

  // ---- (c) mutations ------------------------------------------------------

  private mutationFrame(): FuzzFrame {
    const r = this.r;
    let base = this.callFrame(true);
    for (let tries = 0; tries < 4 && base.bytes.length > MUTATION_BASE_BYTES_MAX; tries++) base = this.callFrame(true);
    const payload = Buffer.from(base.bytes.subarray(FRAME_HEADER_BYTES));
    const how = r.weighted([
      ['bit-flips', 30],
      ['byte-set', 15],
      ['i32-set', 10],
      ['truncate-payload', 12],
      ['truncate-frame', 8],
      ['duplicate-frame', 8],
      ['duplicate-range', 7],
      ['splice', 5],
      ['prefix-off', 5],
    ] as const);
    const tags = ['category:mutation', `mutation:${how}`, ...base.tags.filter((t) => t.startsWith('method:'))];
    const out = (bytes: Buffer, framed: boolean, expect: Expect, seqid: number | null = null): FuzzFrame => ({
      category: 'mutation',
      kind: `mutation/${how}`,
      tags: [...tags, `expect:${expect}`],
      method: base.method,
      seqid,
      bytes,
      framed,
      expect,
    });
    switch (how) {
      case 'bit-flips': {
        for (let i = r.range(1, 8); i > 0 && payload.length > 0; i--) {
          const at = r.int(payload.length);
          payload[at] = payload[at]! ^ (1 << r.int(8));
        }
        return out(frame(payload), true, 'any');
      }
      case 'byte-set': {
        for (let i = r.range(1, 4); i > 0 && payload.length > 0; i--)
          payload[r.int(payload.length)] = r.pick([0x00, 0xff, 0x7f, 0x80, 0x0b, 0x0c, 0x0f, 0x10]);
        return out(frame(payload), true, 'any');
      }
      case 'i32-set': {
        if (payload.length >= 4)
          payload.writeUInt32BE(r.pick([0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0, 0x0001_0000, 0x0100_0000]), r.int(payload.length - 3));
        return out(frame(payload), true, 'any');
      }
      case 'truncate-payload': {
        // Every byte of a defect-free message is needed to read it: cut anywhere, the reader runs short.
        const cut = payload.subarray(0, r.int(payload.length));
        return out(frame(cut), true, 'close', base.seqid);
      }
      case 'truncate-frame': {
        // The prefix promises more than is sent: the node waits for the rest, or for our FIN.
        const keep = r.int(payload.length);
        return out(frame(payload.subarray(0, keep), payload.length), false, 'any');
      }
      case 'duplicate-frame':
        return out(Buffer.concat([base.bytes, base.bytes]), true, 'any');
      case 'duplicate-range': {
        const from = r.int(payload.length);
        const to = Math.min(payload.length, from + r.range(1, 32));
        const grown = Buffer.concat([payload.subarray(0, to), payload.subarray(from, to), payload.subarray(to)]);
        return out(frame(grown), true, 'any');
      }
      case 'splice': {
        const other = this.callFrame(true).bytes.subarray(FRAME_HEADER_BYTES);
        const spliced = Buffer.concat([payload.subarray(0, r.int(payload.length + 1)), other.subarray(r.int(other.length + 1))]);
        return out(frame(spliced), true, 'any');
      }
      case 'prefix-off': {
        // Shorter: the node reads a cut message (it must close). Longer: it waits for bytes that never come.
        const off = r.pick([-3, -2, -1, 1, 2, 3]);
        const prefix = Math.max(0, payload.length + off);
        return out(frame(payload, prefix), false, off < 0 ? 'close' : 'any');
      }
    }
  }
}

/** The first `count` frames of a seed (convenient for tests). */
export function generateFrames(seed: number, count: number, options: Partial<FrameGeneratorOptions> = {}): FuzzFrame[] {
  const g = new FrameGenerator(seed, options);
  return Array.from({ length: count }, () => g.next());
}
