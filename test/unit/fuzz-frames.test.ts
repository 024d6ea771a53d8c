/**
 * The fuzzer's frame generator: deterministic per seed, covers every category
 * and method, its encoder matches the project's generated code byte for byte,
 * and its idea of what a node must do with each frame (`expect`) agrees with
 * the real generated processor and handler, run in process on a stub node.
 */
import { HybridClock, wallClockMicros } from '../../src/clock/hlc';
import test from 'ava';
import { KEY_BYTES_MAX, VALUE_BYTES_MAX_DEFAULT, frameBytesMax } from '../../src/common/limits';
import { FRAME_CATEGORIES, FrameGenerator, FuzzFrame, generateFrames, METHODS, pingFrame } from '../../src/fuzz/frames';
import { SECRET_CHECKED, SECRET_NEVER, SECRET_REFUSED_ONLY } from '../../src/fuzz/methods';
import { judgeReply } from '../../src/fuzz/oracle';
import { Random as FuzzRandom } from '../../src/common/random';
import { decodeMessage, FrameSplitter, frame, MessageType, ThriftReader, ThriftWriter, TType } from '../../src/fuzz/thrift-wire';
import { NodeMetrics } from '../../src/metrics/registry';
import { bootstrapEntry } from '../../src/membership/changes';
import { Handler, HandlerServices } from '../../src/node/handler';
import { toMembershipLog } from '../../src/rpc/membership-wire';
import { Ring } from '../../src/partitioner/ring';
import { bootstrapPlacement } from '../../src/membership/placement';
import { AntiEntropy } from '../../src/repair/anti-entropy';
import { RangeTrees } from '../../src/repair/range-trees';
import { Repairer } from '../../src/repair/repairer';
import { systemTime } from '../../src/clock/time';
import { ClientClass, frameReader, frameWriter, InputProtocol, OutputProtocol, ProcessorClass, types } from '../../src/rpc/thrift';

const SECRET = 'the-cluster-secret-for-tests';
const FRAME_MAX = frameBytesMax(VALUE_BYTES_MAX_DEFAULT);
/** Enough frames that every category, method and defect shows up many times. */
const SAMPLE = 4000;
/** Frames the coverage test draws: its rarest tags (value:max) came up in 4,000 frames of seed 1 only by luck of the stream. */
const COVERAGE_SAMPLE = 12_000;

test('the PRNG is deterministic per seed and spreads its draws', (t) => {
  const a = new FuzzRandom(7);
  const b = new FuzzRandom(7);
  const c = new FuzzRandom(8);
  const xs = Array.from({ length: 1000 }, () => a.uint32());
  t.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b.uint32()),
  );
  t.notDeepEqual(
    xs.slice(0, 10),
    Array.from({ length: 10 }, () => c.uint32()),
  );
  const r = new FuzzRandom(1);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) buckets[r.int(10)]++;
  for (const n of buckets) t.true(n > 800 && n < 1200, `bucket ${n}`);
  t.throws(() => new FuzzRandom(-1));
  t.throws(() => new FuzzRandom(2 ** 32));
});

test('the same seed gives the same frames; another seed other frames', (t) => {
  const a = generateFrames(42, 500, { secret: SECRET });
  const b = generateFrames(42, 500, { secret: SECRET });
  t.deepEqual(
    a.map((f) => f.bytes.toString('hex')),
    b.map((f) => f.bytes.toString('hex')),
  );
  t.deepEqual(
    a.map((f) => f.expect),
    b.map((f) => f.expect),
  );
  const c = generateFrames(43, 500, { secret: SECRET });
  t.notDeepEqual(
    a.map((f) => f.bytes.toString('hex')),
    c.map((f) => f.bytes.toString('hex')),
  );
});

test('every category, method and kind of hostility is generated', (t) => {
  const frames = generateFrames(1, COVERAGE_SAMPLE, { secret: SECRET });
  const tags = new Set(frames.flatMap((f) => f.tags));
  for (const c of FRAME_CATEGORIES)
    t.true(
      frames.some((f) => f.category === c),
      `category ${c}`,
    );
  for (const m of [...METHODS, 'unknown']) t.true(tags.has(`method:${m}`), `method ${m}`);
  const wanted = [
    'length:2GB',
    'length:2GB-unsigned',
    'length:minus-1',
    'length:negative',
    'length:limit+1',
    'length:zero',
    'random:prefix-exact',
    'random:prefix-random',
    'random:prefix-lie',
    'key:empty',
    'key:oversize',
    'key:boundary',
    'key:missing',
    'key:wrong-type',
    'value:oversize',
    'value:max',
    'value:missing',
    'level:0',
    'level:8',
    'level:factor',
    'level:any',
    'level:-1',
    'level:2147483647',
    'level:missing',
    'level:wrong-type',
    'secret:empty',
    'secret:random',
    'secret:near-miss',
    'secret:missing',
    'secret:wrong-type',
    'secret:real',
    'mutation-ts:bad',
    'mutation-ts:missing',
    'keys:empty-list',
    'fields:unknown-ids',
    'fields:shuffled',
    'defect:negative-binary-length',
    'defect:binary-length-past-frame',
    'defect:list-claims-huge',
    'defect:list-negative-size',
    'defect:list-element-type',
    'defect:map-claims-huge',
    'defect:invalid-type-id',
    'nesting:ok',
    'nesting:too-deep',
    'defect:early-stop',
    'defect:truncated',
    'defect:unversioned-header',
    'defect:bad-version',
    'defect:name-length-lie',
    'defect:message-type',
    'defect:uuid-field',
    'defect:trailing-garbage',
    'mutation:bit-flips',
    'mutation:truncate-payload',
    'mutation:truncate-frame',
    'mutation:duplicate-frame',
    'mutation:duplicate-range',
    'mutation:splice',
    'mutation:prefix-off',
    'mutation:byte-set',
    'mutation:i32-set',
    'mutation-expires:bad',
    'ttl:bad',
    'ttl:valid',
    'ballot:valid',
    'ballot:bad',
    'requestId:utf8-growth',
    'bound:oversize',
    'bound:key+1',
    'peers:some',
    'indices:too-many',
    'segments:empty',
    'token:empty',
    'log:no-changes',
    'log:epoch-one',
    'log:first-not-positive',
    'log:unknown-kind',
    'log:chain',
    'expect:ok',
    'expect:declared',
    'expect:invalid',
    'expect:unauthorized',
    'expect:unknown-method',
    'expect:close',
    'expect:any',
  ];
  for (const tag of wanted) t.true(tags.has(tag), `no frame tagged ${tag}`);
  // The 2 GB prefix really is 0x7fffffff on the wire, with at most a few bytes behind it.
  const big = frames.find((f) => f.tags.includes('length:2GB'))!;
  t.is(big.bytes.readUInt32BE(0), 0x7fff_ffff);
  t.true(big.bytes.length <= 4 + 16);
  // Oversize keys and values are really over the limits.
  t.true(frames.some((f) => f.tags.includes('key:oversize') && f.bytes.length > KEY_BYTES_MAX));
  t.true(frames.some((f) => f.tags.includes('value:oversize') && f.bytes.length > VALUE_BYTES_MAX_DEFAULT));
});

test('without the secret no frame carries it, and internode calls all expect Unauthorized', (t) => {
  const frames = generateFrames(5, 1500);
  t.false(frames.some((f) => f.tags.includes('secret:real')));
  for (const f of frames.filter((x) => x.category === 'call' && SECRET_CHECKED.has(x.method as never))) {
    t.true(['unauthorized', 'close', 'any'].includes(f.expect), `${f.kind} ${f.expect}`);
  }
});

test('the writer encodes a call exactly as the generated client does', (t) => {
  const sent: Buffer[] = [];
  const client = new ClientClass(
    frameWriter((f) => sent.push(f)),
    OutputProtocol,
  );
  const internals = client as unknown as { _seqid: number };
  internals._seqid = 41;
  void client.put(Buffer.from('apple'), Buffer.from('red'), 2).catch(() => undefined);
  const mine = new ThriftWriter()
    .messageBegin('put', MessageType.CALL, 42)
    .fieldBegin(TType.STRING, 1)
    .binary(Buffer.from('apple'))
    .fieldBegin(TType.STRING, 2)
    .binary(Buffer.from('red'))
    .fieldBegin(TType.I32, 3)
    .i32(2)
    .fieldStop()
    .toBuffer();
  t.is(sent[0]!.toString('hex'), frame(mine).toString('hex'));
  void client.ping(Buffer.from('hello')).catch(() => undefined);
  t.is(sent[1]!.toString('hex'), pingFrame(43, Buffer.from('hello')).toString('hex'));
});

test('the reader splits frames, refuses bad lengths before buffering, and decodes messages', (t) => {
  const s = new FrameSplitter(100);
  const msg = new ThriftWriter()
    .messageBegin('ping', MessageType.REPLY, 7)
    .fieldBegin(TType.STRING, 0)
    .binary(Buffer.from('x'))
    .fieldStop()
    .toBuffer();
  const bytes = Buffer.concat([frame(msg), frame(msg)]);
  const got = [...s.push(bytes.subarray(0, 5)), ...s.push(bytes.subarray(5, 30)), ...s.push(bytes.subarray(30))];
  t.is(got.length, 2);
  const d = decodeMessage(got[1]!);
  t.deepEqual([d.name, d.type, d.seqid], ['ping', MessageType.REPLY, 7]);
  t.is(d.fields.get(0)!.bytes!.toString(), 'x');
  t.throws(() => new FrameSplitter(100).push(frame(Buffer.alloc(0), 0x7fff_ffff)));
  t.throws(() => new FrameSplitter(100).push(frame(Buffer.alloc(0), -1)));
  t.throws(() => decodeMessage(msg.subarray(0, msg.length - 1)));
  t.throws(() => new ThriftReader(Buffer.from([TType.LIST, 0, 1, TType.BOOL, 0x7f, 0xff, 0xff, 0xff])).struct());
});

/** Real request metrics, shared by every stub node: every request the fuzzer sends must finish in them. */
const metrics = new NodeMetrics(
  { counters: () => ({}), hintsPending: () => new Map(), hintOutcomes: () => new Map(), peers: [], isUp: () => true },
  { processMetrics: false },
);

/** The handler's services with every operation succeeding, over a node that holds nothing. */
function stubServices(): HandlerServices {
  const nodes = ['A', 'H', 'P', 'W'].map((token, id) => ({ id, token }));
  // The real anti-entropy answer (it checks the range and the digest count), over a store that holds nothing.
  const emptyStore = {
    size: 0,
    keysInHashRange: (_from: number, to: number) => ({ keys: [], end: to }),
    has: () => false,
    get: () => undefined,
  };
  const antiEntropy = new AntiEntropy(
    0,
    new Ring(nodes, 3),
    emptyStore,
    new Map(),
    () => true,
    async () => undefined,
  );
  const repair = new Repairer({
    trees: new RangeTrees(bootstrapPlacement(nodes, 3), 0),
    store: emptyStore,
    peers: new Map(),
    isUp: () => true,
    applyLocal: async () => undefined,
    time: systemTime,
    catchingUp: false,
  });
  return {
    secret: SECRET,
    maxValueBytes: VALUE_BYTES_MAX_DEFAULT,
    isPeer: (id) => id !== 0 && id >= 0 && id < nodes.length,
    refusesClients: () => undefined,
    checkEpoch: () => undefined,
    antiEntropy,
    repair,
    coordinator: {
      // A traced write is over once every live replica answered: here at once.
      write: async (_key, _value, _deleted, _level, _ttl, trace) => (trace?.markLanded(), 1),
      read: async () => undefined,
      readsLocally: (key: string) => key.length % 2 === 0,
    },
    scanner: { scan: async () => ({ rows: [], cursor: undefined }) },
    batches: {
      write: async () => 1,
      writeUnlogged: async () => 1,
      storeCopies: async () => undefined,
      forgetCopies: async () => undefined,
      heldBatches: () => [],
    },
    snapshot: async () => ({ path: 'unused', bytes: 0, tookMs: 0 }),
    listSnapshots: () => [],
    clearSnapshot: () => undefined,
    changes: async () => ({ changes: [], incarnation: 1, position: 0, restarted: false, caughtUp: true, epoch: 1 }),
    local: { getBytes: () => undefined, peekBytes: () => undefined, range: () => ({ entries: [], more: false }) },
    nowUs: () => Date.now() * 1000,
    clock: new HybridClock(wallClockMicros()),
    applyReplicated: async () => undefined,
    heardFrom: () => undefined,
    setClockOffset: () => 1,
    dump: async () => new types.NodeDump({ id: 0, entries: [], hints: [], counters: {} as never, downPeers: [], more: false }),
    paxos: { cas: async () => ({ applied: false, current: undefined }), serialRead: async () => undefined },
    acceptor: {
      prepare: async () => ({ reply: { promised: true, requestCommitted: false }, current: undefined }),
      propose: async () => ({ accepted: true }),
      commit: async () => undefined,
      paxosRows: async () => ({ rows: [], more: false }),
      paxosMerge: async () => true,
    },
    requests: metrics.requests,
    tracing: { selfId: 0, time: systemTime, timeoutMs: 10 },
    // The real log of the stub's ring: the fuzzer's calls reach the answer's encoding too.
    membership: (after) => toMembershipLog(1, after === 0 ? [bootstrapEntry(nodes, 3)] : []),
    learnEpochs: async () => ({ epoch: 1, settled: 1 }),
    decommission: async () => ({ ...NO_OPERATION, state: 'NORMAL' }),
    operationProgress: () => ({ ...NO_OPERATION, state: 'NORMAL' }),
    cleanup: () => ({ keys: 0, bytes: 0, epoch: 1, done: true }),
    move: async () => ({ ...NO_OPERATION, state: 'MOVING' }),
    abortOperation: async () => 'nothing to abort',
    removeNode: async () => ({ ...NO_OPERATION, state: 'NORMAL' }),
  };
}

const NO_OPERATION = { keys: 0, bytes: 0, rangesDone: 0, rangesTotal: 0, fraction: 0, done: false };

interface Served {
  /** The server loop would have closed the connection (the reader or processor threw). */
  readonly closed: boolean;
  readonly replies: Buffer[];
}

/** What the node's own reader, generated processor and handler do with the bytes, without a socket. */
async function serve(bytes: Buffer, services: HandlerServices = stubServices()): Promise<Served> {
  const replies: Buffer[] = [];
  const processor = new ProcessorClass(new Handler(services));
  // As in rpc/server.ts: one output protocol per connection, a fresh input per frame.
  const output = new OutputProtocol(frameWriter((f) => replies.push(f)));
  const onBytes = frameReader((transport) => processor.process(new InputProtocol(transport), output), FRAME_MAX);
  let closed = false;
  try {
    onBytes.push(bytes);
  } catch {
    closed = true;
  }
  // Handlers are async: let their promise chains settle.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return { closed, replies };
}

function hexStart(f: FuzzFrame): string {
  return f.bytes.subarray(0, 96).toString('hex');
}

test('every frame gets what its expect says from the real processor and handler', async (t) => {
  const gen = new FrameGenerator(2024, { secret: SECRET });
  const counts: Record<string, number> = {};
  for (let i = 0; i < SAMPLE; i++) {
    const f = gen.next();
    counts[f.expect] = (counts[f.expect] ?? 0) + 1;
    const r = await serve(f.bytes);
    const where = `${f.kind} [${f.tags.join(' ')}] ${hexStart(f)}`;
    const replies = r.replies.map((b) => decodeMessage(new FrameSplitter(FRAME_MAX * 2).push(b)[0]!));
    if (f.expect === 'close') {
      t.true(r.closed, `not closed: ${where}`);
      t.is(replies.length, 0, `answered: ${where}`);
    } else if (f.expect !== 'any') {
      t.false(r.closed, `closed: ${where}`);
      t.is(replies.length, 1, `replies: ${where}`);
      if (replies.length === 1) {
        t.is(replies[0]!.seqid, f.seqid ?? NaN, where);
        t.is(judgeReply(f, replies[0]!), null, where);
      }
    }
  }
  for (const e of ['ok', 'invalid', 'unauthorized', 'unknown-method', 'close', 'any'])
    t.true((counts[e] ?? 0) > 20, `few "${e}": ${JSON.stringify(counts)}`);
  // Rarer: the call must carry the real secret and a node id that may name a peer.
  t.true((counts.declared ?? 0) >= 5, `few "declared": ${JSON.stringify(counts)}`);
  t.is(metrics.requests.inFlight, 0, 'every client request the handler started was counted as finished');
});

test('a generated ping decodes through the generated processor to the same payload', async (t) => {
  const payload = Buffer.from('round trip');
  const r = await serve(pingFrame(9, payload));
  t.false(r.closed);
  const d = decodeMessage(r.replies[0]!.subarray(4));
  t.is(d.seqid, 9);
  t.true(d.fields.get(0)!.bytes!.equals(payload));
});

/** The stub's services, with every effect the fuzzer must not cause with the real secret written down in `acts`. */
function recordingServices(acts: string[]): HandlerServices {
  const base = stubServices();
  const repair = Object.create(base.repair) as HandlerServices['repair'];
  Object.assign(repair, {
    repairAll: (only: readonly number[]) => {
      acts.push(`repair with ${only.length === 0 ? 'every peer' : only.join(',')}`);
      return base.repair.repairAll(only);
    },
  });
  return {
    ...base,
    repair,
    heardFrom: (peer) => void acts.push(`hello from ${peer}`),
    setClockOffset: (ms) => {
      acts.push(`clock offset ${ms}`);
      return 1;
    },
    decommission: async () => {
      acts.push('decommission');
      return { ...NO_OPERATION, state: 'LEAVING' };
    },
    abortOperation: async () => {
      acts.push('abort');
      return 'aborted';
    },
    removeNode: async (node) => {
      acts.push(`remove node ${node}`);
      return { ...NO_OPERATION, state: 'NORMAL' };
    },
    move: async (token) => {
      acts.push(`move to ${JSON.stringify(token)}`);
      return { ...NO_OPERATION, state: 'MOVING' };
    },
    cleanup: (start) => {
      if (start) acts.push('cleanup started');
      return base.cleanup(start);
    },
    learnEpochs: async (from, entries) => {
      // Every node holds epoch 1 (the bootstrap): anything after it would change the ring.
      if (entries.some((e) => e.epoch > 1)) acts.push(`epochs ${entries.map((e) => e.epoch).join(',')} from ${from}`);
      return { epoch: 1, settled: 1 };
    },
  };
}

test('no frame sent with the secret makes a node act on what the run cannot check', async (t) => {
  const guarded = new Set<string>([...SECRET_NEVER, ...SECRET_REFUSED_ONLY]);
  const gen = new FrameGenerator(77, { secret: SECRET });
  let served = 0;
  let realSecret = 0;
  for (let i = 0; i < 5 * SAMPLE; i++) {
    const f = gen.next();
    if (f.method === null || !guarded.has(f.method)) continue;
    t.false(f.tags.includes('secret:real') && SECRET_NEVER.has(f.method as never), `${f.kind} [${f.tags.join(' ')}]`);
    if (f.tags.includes('secret:real')) realSecret++;
    const acts: string[] = [];
    await serve(f.bytes, recordingServices(acts));
    served++;
    t.deepEqual(acts, [], `${f.kind} [${f.tags.join(' ')}] ${hexStart(f)}`);
  }
  t.true(served > 500 && realSecret > 50, `served ${served}, with the real secret ${realSecret}`);
  // The recording services do see these effects: a frame that acts would be caught.
  const acts: string[] = [];
  const handler = new Handler(recordingServices(acts));
  await handler.cleanup(SECRET, true);
  await handler.move(SECRET, Buffer.from('token'));
  await handler.learnEpochs(SECRET, 1, toMembershipLog(2, [{ epoch: 2, change: { kind: 'leave-begin', node: 3 } }]));
  t.deepEqual(acts, ['cleanup started', 'move to "token"', 'epochs 2 from 1']);
});

test('a pushed membership log that cannot be read gets InvalidRequest, not an untyped failure', async (t) => {
  const handler = new Handler(stubServices());
  const logs = [
    // The fuzzer's first finding: a log without changes whose own epoch is negative.
    new types.MembershipLog({ epoch: -1 as never, changes: [] }),
    new types.MembershipLog({ epoch: 3 as never, changes: [new types.EpochChange({ epoch: 1 as never, kind: 'explode' })] }),
    new types.MembershipLog({ epoch: 3 as never, changes: [new types.EpochChange({ epoch: 1 as never, kind: 'leave-begin' })] }),
  ];
  for (const log of logs) {
    const err = await handler.learnEpochs(SECRET, 1, log).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.true(err instanceof types.InvalidRequest, `${JSON.stringify(log)}: ${String(err)}`);
  }
});
