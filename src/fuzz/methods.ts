/**
 * The IDL's service as the fuzzer knows it: every method, its argument
 * fields, the exceptions it declares, and which calls may carry the real
 * cluster secret. test/unit/fuzz-methods.test.ts reads idl/kv.thrift and
 * fails when a method, an argument or an exception is missing here, so a
 * method added to the IDL cannot go unfuzzed.
 */
import { TType } from './thrift-wire';

/** The methods of idl/kv.thrift, in its order. */
export const METHODS = [
  'put',
  'get',
  'remove',
  'ping',
  'replicate',
  'readLocal',
  'hello',
  'dump',
  'sync',
  'setClockOffset',
  'cas',
  'paxosPrepare',
  'paxosPropose',
  'paxosCommit',
  'treeHashes',
  'segmentKeys',
  'fetchVersions',
  'repair',
  'scan',
  'readRange',
  'paxosRows',
  'paxosMerge',
  'putWithTtl',
  'membership',
  'learnEpochs',
  'decommission',
  'operationProgress',
  'cleanup',
  'move',
  'abortOperation',
  'getMany',
  'batch',
  'storeBatchCopies',
  'forgetBatchCopies',
  'heldBatches',
  'snapshot',
  'listSnapshots',
  'clearSnapshot',
  'trace',
  'setTraceProbability',
  'recentTraces',
  'changes',
  'removeNode',
] as const;
export type MethodName = (typeof METHODS)[number];

/**
 * A field of an argument (or nested) struct: [id, type, IDL name, generator].
 * The generator names how the fuzzer makes its values; it defaults to the
 * name, and differs where one name means different things (treeHashes'
 * `level` is a tree level, scan's `start` a key bound, cleanup's `start` a flag).
 */
export type ArgSpec = readonly [id: number, type: number, name: string, gen?: string];

/** The generator an argument's values come from. */
export function generatorOf(spec: ArgSpec): string {
  return spec[3] ?? spec[2];
}

const SECRET: ArgSpec = [1, TType.STRING, 'secret'];

export const ARGS: Record<MethodName, readonly ArgSpec[]> = {
  put: [
    [1, TType.STRING, 'key'],
    [2, TType.STRING, 'value'],
    [3, TType.I32, 'level'],
  ],
  get: [
    [1, TType.STRING, 'key'],
    [2, TType.I32, 'level'],
  ],
  remove: [
    [1, TType.STRING, 'key'],
    [2, TType.I32, 'level'],
  ],
  ping: [[1, TType.STRING, 'payload']],
  replicate: [SECRET, [2, TType.LIST, 'mutations'], [3, TType.I64, 'epoch'], [4, TType.I32, 'fromNode']],
  readLocal: [SECRET, [2, TType.LIST, 'keys'], [3, TType.I64, 'epoch'], [4, TType.I32, 'fromNode']],
  hello: [SECRET, [2, TType.I32, 'fromNode'], [3, TType.I64, 'clock'], [4, TType.I64, 'epoch']],
  dump: [SECRET, [2, TType.STRING, 'startAfter'], [3, TType.I32, 'limit', 'dumpLimit']],
  sync: [
    SECRET,
    [2, TType.I32, 'fromNode'],
    [3, TType.I64, 'fromHash', 'hashBound'],
    [4, TType.I64, 'toHash', 'hashBound'],
    [5, TType.LIST, 'digests'],
  ],
  setClockOffset: [SECRET, [2, TType.I32, 'offsetMs']],
  cas: [
    [1, TType.STRING, 'key'],
    [2, TType.BOOL, 'expectAbsent'],
    [3, TType.STRING, 'expected'],
    [4, TType.STRING, 'value'],
    [5, TType.STRING, 'requestId'],
    [6, TType.I32, 'level'],
  ],
  paxosPrepare: [
    SECRET,
    [2, TType.STRING, 'key'],
    [3, TType.STRUCT, 'ballot'],
    [4, TType.STRING, 'requestId', 'paxosRequestId'],
    [5, TType.I64, 'epoch'],
    [6, TType.I32, 'fromNode'],
  ],
  paxosPropose: [SECRET, [2, TType.STRING, 'key'], [3, TType.STRUCT, 'proposal'], [4, TType.I64, 'epoch'], [5, TType.I32, 'fromNode']],
  paxosCommit: [SECRET, [2, TType.STRING, 'key'], [3, TType.STRUCT, 'proposal'], [4, TType.I64, 'epoch'], [5, TType.I32, 'fromNode']],
  treeHashes: [
    SECRET,
    [2, TType.I32, 'fromNode'],
    [3, TType.I32, 'range', 'rangeOwner'],
    [4, TType.I32, 'level', 'treeLevel'],
    [5, TType.LIST, 'indices'],
    [6, TType.I64, 'epoch'],
    [7, TType.STRING, 'rangeStart', 'rangeBound'],
    [8, TType.STRING, 'rangeEnd', 'rangeBound'],
  ],
  segmentKeys: [
    SECRET,
    [2, TType.I32, 'fromNode'],
    [3, TType.I32, 'range', 'rangeOwner'],
    [4, TType.LIST, 'segments'],
    [5, TType.I64, 'epoch'],
    [6, TType.STRING, 'rangeStart', 'rangeBound'],
    [7, TType.STRING, 'rangeEnd', 'rangeBound'],
  ],
  fetchVersions: [SECRET, [2, TType.LIST, 'keys']],
  repair: [SECRET, [2, TType.LIST, 'peers']],
  scan: [
    [1, TType.STRING, 'start', 'scanBound'],
    [2, TType.STRING, 'stop', 'scanBound'],
    [3, TType.I32, 'level'],
    [4, TType.I32, 'limit', 'scanLimit'],
    [5, TType.STRING, 'cursor', 'scanBound'],
  ],
  readRange: [
    SECRET,
    [2, TType.STRING, 'start', 'scanBound'],
    [3, TType.STRING, 'stop', 'scanBound'],
    [4, TType.I32, 'limit', 'pageLimit'],
    [5, TType.I32, 'bytesMax'],
    [6, TType.I64, 'epoch'],
    [7, TType.I32, 'fromNode'],
  ],
  paxosRows: [
    SECRET,
    [2, TType.STRING, 'start', 'scanBound'],
    [3, TType.STRING, 'stop', 'scanBound'],
    [4, TType.I32, 'limit', 'paxosRowsLimit'],
    [5, TType.I64, 'epoch'],
    [6, TType.I32, 'fromNode'],
  ],
  paxosMerge: [SECRET, [2, TType.LIST, 'rows', 'paxosRowList'], [3, TType.I64, 'epoch'], [4, TType.I32, 'fromNode']],
  putWithTtl: [
    [1, TType.STRING, 'key'],
    [2, TType.STRING, 'value'],
    [3, TType.I32, 'level'],
    [4, TType.I32, 'ttlSeconds'],
  ],
  membership: [[1, TType.I64, 'afterEpoch']],
  learnEpochs: [SECRET, [2, TType.I32, 'fromNode'], [3, TType.STRUCT, 'log']],
  decommission: [SECRET],
  operationProgress: [SECRET],
  cleanup: [SECRET, [2, TType.BOOL, 'start', 'cleanupStart']],
  move: [SECRET, [2, TType.STRING, 'token']],
  abortOperation: [SECRET],
  removeNode: [SECRET, [2, TType.I32, 'node']],
  getMany: [
    [1, TType.LIST, 'keys'],
    [2, TType.I32, 'level'],
  ],
  batch: [
    [1, TType.LIST, 'writes', 'batchWrites'],
    [2, TType.I32, 'level'],
    [3, TType.BOOL, 'unlogged'],
  ],
  storeBatchCopies: [SECRET, [2, TType.I32, 'fromNode'], [3, TType.LIST, 'copies', 'batchCopies']],
  forgetBatchCopies: [SECRET, [2, TType.I32, 'fromNode'], [3, TType.LIST, 'copies', 'batchCopyRefs']],
  heldBatches: [SECRET, [2, TType.I32, 'fromNode'], [3, TType.LIST, 'batches', 'batchCopyRefs']],
  snapshot: [SECRET, [2, TType.STRING, 'name', 'snapshotName']],
  listSnapshots: [SECRET],
  clearSnapshot: [SECRET, [2, TType.STRING, 'name', 'snapshotName']],
  setTraceProbability: [SECRET, [2, TType.DOUBLE, 'probability', 'traceProbability']],
  recentTraces: [SECRET, [2, TType.I32, 'limit', 'tracesLimit']],
  trace: [[1, TType.STRUCT, 'request', 'traceRequest']],
  changes: [
    [1, TType.STRING, 'start', 'scanBound'],
    [2, TType.STRING, 'stop', 'scanBound'],
    [3, TType.I64, 'incarnation'],
    [4, TType.I64, 'afterSeq'],
    [5, TType.I32, 'limit', 'changesLimit'],
    [6, TType.I32, 'waitMs'],
  ],
};

/** The IDL's structs that arguments carry. */
export const MUTATION: readonly ArgSpec[] = [
  [1, TType.STRING, 'key'],
  [2, TType.STRING, 'value'],
  [3, TType.I64, 'ts'],
  [4, TType.BOOL, 'deleted'],
  [5, TType.I64, 'expires'],
];
export const DIGEST: readonly ArgSpec[] = [
  [1, TType.STRING, 'key'],
  [2, TType.I64, 'ts'],
  [3, TType.BOOL, 'deleted'],
  [4, TType.I32, 'valueHash'],
];
export const BALLOT: readonly ArgSpec[] = [
  [1, TType.I64, 'ts'],
  [2, TType.I32, 'node'],
];
export const PROPOSAL: readonly ArgSpec[] = [
  [1, TType.STRUCT, 'ballot'],
  [2, TType.STRING, 'value'],
  [3, TType.STRING, 'requestId'],
];
export const PAXOS_ROW: readonly ArgSpec[] = [
  [1, TType.STRING, 'key'],
  [2, TType.STRUCT, 'promised'],
  [3, TType.STRUCT, 'accepted'],
  [4, TType.STRUCT, 'committed'],
  [5, TType.LIST, 'recent'],
];
export const RECENT_REQUEST: readonly ArgSpec[] = [
  [1, TType.STRING, 'requestId'],
  [2, TType.I64, 'ts'],
];
export const MEMBERSHIP_LOG: readonly ArgSpec[] = [
  [1, TType.I64, 'epoch'],
  [2, TType.LIST, 'changes'],
  [3, TType.I64, 'settledEpoch'],
];
export const EPOCH_CHANGE: readonly ArgSpec[] = [
  [1, TType.I64, 'epoch'],
  [2, TType.STRING, 'kind'],
  [3, TType.I32, 'node'],
  [4, TType.STRING, 'token'],
  [5, TType.I32, 'replaces'],
  [6, TType.I32, 'replicationFactor'],
  [7, TType.LIST, 'members'],
  [8, TType.STRING, 'host'],
  [9, TType.I32, 'port'],
  [10, TType.I32, 'by'],
];
export const RING_MEMBER: readonly ArgSpec[] = [
  [1, TType.I32, 'id'],
  [2, TType.STRING, 'token'],
];

export const BATCH_WRITE: readonly ArgSpec[] = [
  [1, TType.STRING, 'key'],
  [2, TType.STRING, 'value'],
  [3, TType.BOOL, 'remove'],
  [4, TType.I32, 'ttlSeconds'],
  [5, TType.I64, 'timestamp'],
];

export const BATCH_COPY: readonly ArgSpec[] = [
  [1, TType.I64, 'ownerBatch'],
  [2, TType.I64, 'createdMs'],
  [3, TType.LIST, 'writes'],
];
export const TRACE_REQUEST: readonly ArgSpec[] = [
  [1, TType.STRING, 'op'],
  [2, TType.STRING, 'key'],
  [3, TType.STRING, 'value'],
  [4, TType.I32, 'level'],
  [5, TType.STRING, 'expected'],
  [6, TType.BOOL, 'expectAbsent'],
  [7, TType.STRING, 'stop'],
  [8, TType.I32, 'limit'],
  [9, TType.LIST, 'keys'],
  [10, TType.LIST, 'writes'],
  [11, TType.BOOL, 'unlogged'],
];
export const BATCH_COPY_REF: readonly ArgSpec[] = [
  [1, TType.I64, 'ownerBatch'],
  [2, TType.I64, 'createdMs'],
];

/** What each list argument holds. */
export const LIST_ELEMENT: Partial<Record<MethodName, number>> = {
  replicate: TType.STRUCT,
  readLocal: TType.STRING,
  sync: TType.STRUCT,
  treeHashes: TType.I32,
  segmentKeys: TType.I32,
  fetchVersions: TType.STRING,
  repair: TType.I32,
};

/**
 * The result struct's field ids of the exceptions a method declares (0 is
 * the return value). `operational`: declared exceptions a correct node may
 * answer a valid call with: Unavailable and TimedOut for client calls, and
 * StaleEpoch for internode calls that carry an epoch (the generator does not
 * know the callee's epoch, so a call placed by an older one may be refused).
 */
export interface Throws {
  readonly invalid: number;
  readonly unauthorized?: number;
  readonly operational: readonly number[];
  /** The exception ids the IDL declares, in order. */
  readonly declared: readonly number[];
  /** The method returns nothing: its success is an empty result struct. */
  readonly void?: true;
}

const CLIENT: Throws = { invalid: 1, operational: [2, 3], declared: [1, 2, 3] };
const INTERNODE: Throws = { invalid: 2, unauthorized: 1, operational: [], declared: [1, 2] };
const EPOCH_CHECKED: Throws = { invalid: 2, unauthorized: 1, operational: [3], declared: [1, 2, 3] };
const ADMIN_UNAVAILABLE: Throws = { invalid: 2, unauthorized: 1, operational: [3], declared: [1, 2, 3] };

export const THROWS: Record<MethodName, Throws> = {
  put: CLIENT,
  get: CLIENT,
  remove: CLIENT,
  ping: { invalid: 1, operational: [], declared: [1] },
  replicate: { ...EPOCH_CHECKED, void: true },
  readLocal: EPOCH_CHECKED,
  hello: INTERNODE,
  dump: INTERNODE,
  sync: INTERNODE,
  setClockOffset: INTERNODE,
  cas: CLIENT,
  paxosPrepare: EPOCH_CHECKED,
  paxosPropose: EPOCH_CHECKED,
  paxosCommit: { ...EPOCH_CHECKED, void: true },
  treeHashes: EPOCH_CHECKED,
  segmentKeys: EPOCH_CHECKED,
  fetchVersions: INTERNODE,
  repair: ADMIN_UNAVAILABLE,
  scan: CLIENT,
  readRange: EPOCH_CHECKED,
  paxosRows: EPOCH_CHECKED,
  paxosMerge: { ...EPOCH_CHECKED, void: true },
  putWithTtl: CLIENT,
  membership: { invalid: 1, operational: [], declared: [1] },
  learnEpochs: INTERNODE,
  decommission: INTERNODE,
  operationProgress: INTERNODE,
  cleanup: INTERNODE,
  move: ADMIN_UNAVAILABLE,
  abortOperation: ADMIN_UNAVAILABLE,
  getMany: CLIENT,
  batch: CLIENT,
  storeBatchCopies: { ...ADMIN_UNAVAILABLE, void: true },
  forgetBatchCopies: { ...INTERNODE, void: true },
  heldBatches: INTERNODE,
  snapshot: ADMIN_UNAVAILABLE,
  listSnapshots: INTERNODE,
  clearSnapshot: { ...ADMIN_UNAVAILABLE, void: true },
  setTraceProbability: INTERNODE,
  recentTraces: INTERNODE,
  // Unavailable is thrown only by a node that serves no clients yet; TimedOut never (a trace reports it).
  trace: { invalid: 1, operational: [2], declared: [1, 2] },
  // Unavailable: a range this node takes no reads of, or too many calls waiting.
  changes: { invalid: 1, operational: [2], declared: [1, 2] },
  removeNode: ADMIN_UNAVAILABLE,
};

/** Internode and admin calls: the secret is their first argument. */
export const SECRET_CHECKED: ReadonlySet<MethodName> = new Set(METHODS.filter((m) => ARGS[m][0]?.[2] === 'secret'));

/**
 * Which calls may carry the real secret (when the fuzzer knows it), so that
 * the validation behind the secret check is reached too. The rule: only
 * where every effect of the call is one the run can still check, or bounded
 * and harmless to what it checks.
 *
 * - Freely: calls that only read (readLocal, dump, fetchVersions, readRange,
 *   paxosRows, treeHashes, segmentKeys, operationProgress, sync,
 *   heldBatches, listSnapshots, recentTraces), setTraceProbability (the
 *   node then traces a share of the run's requests, keeping at most 200:
 *   bounded, and the tracing paths get fuzzed traffic too), and writes
 *   that keep to small key pools and timestamps long past, which lose to
 *   every real write (replicate; the Paxos calls and paxosMerge, whose
 *   ballots are as old: an accepted proposal that old is over, never
 *   finished; storeBatchCopies, whose copies are as old, and are written,
 *   as such writes, or dropped as past the tombstone grace; and
 *   forgetBatchCopies, which drops only copies its caller named).
 * - Only with arguments the node refuses before it acts, or that only
 *   report (SECRET_REFUSED_ONLY): a move to an empty or missing token; a
 *   repair naming a peer that is no node; a cleanup that only reports; a
 *   learnEpochs whose log carries no new epoch or cannot be read. A real
 *   move, repair or cleanup would start long work and change what the node
 *   holds, and a learnt epoch would change the ring under the run.
 * - Never: decommission, removeNode and abortOperation (a correct node would
 *   leave the ring, take a peer out of it, or undo an operator's move: the run could not tell a bug from the
 *   effect), hello and setClockOffset (with the secret they are trusted
 *   control calls that mark a peer up or move the clock, not input to
 *   validate), snapshot and clearSnapshot (each would write a copy of the
 *   node's whole file to its disk, or delete an operator's backup).
 *
 * Frames that mutations start from never carry the real secret for the
 * refused-only calls, nor a near miss of it: a flipped bit could turn a
 * refused move into a move, or a near-miss secret into the real one.
 */
export const SECRET_BEARING: ReadonlySet<MethodName> = new Set([
  'replicate',
  'readLocal',
  'dump',
  'sync',
  'paxosPrepare',
  'paxosPropose',
  'paxosCommit',
  'treeHashes',
  'segmentKeys',
  'fetchVersions',
  'readRange',
  'paxosRows',
  'paxosMerge',
  'storeBatchCopies',
  'forgetBatchCopies',
  'heldBatches',
  'listSnapshots',
  'setTraceProbability',
  'recentTraces',
  'operationProgress',
  'move',
  'repair',
  'cleanup',
  'learnEpochs',
]);
export const SECRET_REFUSED_ONLY: ReadonlySet<MethodName> = new Set(['move', 'repair', 'cleanup', 'learnEpochs']);
/** Never with the real secret, nor (in mutation bases) with a near miss of it. */
export const SECRET_NEVER: ReadonlySet<MethodName> = new Set([
  'hello',
  'setClockOffset',
  'decommission',
  'removeNode',
  'abortOperation',
  'snapshot',
  'clearSnapshot',
]);
