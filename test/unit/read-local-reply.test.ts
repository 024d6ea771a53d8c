/**
 * The node answers `readLocal` with its own code (rpc/read-local-reply.ts),
 * not the generated processor's: its replies must be the generated code's
 * bytes for every answer and error, its handler must get the same
 * arguments, and an answer given at once must be written before the call
 * returns. The coordinator's client reads those rows straight into versions:
 * they must be what fromLocalRead made of the generated reader's rows.
 */
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import Int64 from 'node-int64';
import { FastBinaryWriter, FrameBuilder, NumberI64Reader } from '../../src/rpc/fast-protocol';
import { readLocalAnswer } from '../../src/rpc/read-local-reply';
import { fromLocalRead } from '../../src/rpc/remote-replica';
import { frameTransport, InputProtocol, types } from '../../src/rpc/thrift';
import { fcParams } from './fc-params';
import { bothReplies, callFrame, rejected } from './processor-run';

const runtime = require('thrift');
type Rows = types.LocalRead[];
type Answer = Rows | Promise<Rows>;

const readLocalFrame = (keys: Buffer[], epoch = 12, fromNode = 2): Buffer =>
  callFrame((c) => c.send_readLocal!('s3cret', keys, new Int64(epoch), fromNode));

/** Both processors' replies, and the arguments the handler saw each time (as text). */
async function replies(frame: Buffer, answer: () => Answer): Promise<{ ours: Buffer; theirs: Buffer; atOnce: number; seen: string[] }> {
  const seen: string[] = [];
  const handler = {
    readLocal: (secret: string, keys: Buffer[], epoch: Int64 | number, fromNode: number) => {
      seen.push(JSON.stringify([secret, keys?.map((k) => k.toString('hex')), Number(epoch), fromNode]));
      return answer();
    },
  };
  return { ...(await bothReplies(frame, handler)), seen };
}

const row = (value: string, ts: number, extra: Partial<{ deleted: boolean; expires: number }> = {}): types.LocalRead =>
  new types.LocalRead({
    exists: true,
    value: Buffer.from(value),
    ts: ts as never,
    deleted: extra.deleted ?? false,
    ...(extra.expires ? { expires: extra.expires as never } : {}),
  });
const absent = (): types.LocalRead => new types.LocalRead({ exists: false, value: Buffer.alloc(0), ts: 0 as never, deleted: false });

/** Any row a replica may answer with. */
const localRead = fc
  .record({
    exists: fc.boolean(),
    value: fc.uint8Array({ maxLength: 200 }),
    ts: fc.maxSafeNat(),
    deleted: fc.boolean(),
    expires: fc.nat(),
  })
  .map(
    (r) =>
      new types.LocalRead({
        exists: r.exists,
        value: Buffer.from(r.value),
        ts: r.ts as never,
        deleted: r.deleted,
        ...(r.expires > 0 ? { expires: r.expires as never } : {}),
      }),
  );

const cases: [string, () => Answer, number][] = [
  ['rows answered at once', () => [row('red', 1_700_000_000_000_001), absent(), row('', 5, { deleted: true, expires: 99 })], 1],
  ['no rows, at once', () => [], 1],
  ['rows answered later', () => Promise.resolve([row('blue', 42)]), 0],
  ['Unauthorized', rejected<Rows>(new types.Unauthorized({ message: 'wrong cluster secret' })), 0],
  ['InvalidRequest', rejected<Rows>(new types.InvalidRequest({ message: 'keys are missing' })), 0],
  ['StaleEpoch', rejected<Rows>(new types.StaleEpoch({ message: 'placed by epoch 3', epoch: 7 as never })), 0],
  ['an error the IDL does not declare', rejected<Rows>(new Error('something broke')), 0],
  [
    'a row that cannot be written, at once',
    () => [row('ok', 1), new types.LocalRead({ exists: true, value: 7 as never, ts: 1 as never, deleted: false })],
    1,
  ],
];

for (const [name, answer, atOnce] of cases) {
  test(`readLocal: ${name} gets the generated processor's bytes`, async (t) => {
    const r = await replies(readLocalFrame([Buffer.from('apple'), Buffer.from([0, 255])]), answer);
    t.true(r.ours.length > 0);
    t.deepEqual(r.ours, r.theirs);
    t.is(r.atOnce, atOnce, atOnce === 1 ? 'written before the call returned' : 'written when the promise settled');
    t.is(r.seen.length, 2);
    t.is(r.seen[0], r.seen[1], 'the handler got the same arguments from both');
  });
}

test('readLocal: fields the reader does not know, or of another type, are skipped as the generated reader skips them', async (t) => {
  const frames: Buffer[] = [];
  const w = new FastBinaryWriter(new FrameBuilder((b) => frames.push(b)));
  w.writeMessageBegin('readLocal', runtime.Thrift.MessageType.CALL, 7);
  w.writeFieldBegin('later', runtime.Thrift.Type.STRING, 9);
  w.writeBinary(Buffer.from('from a newer build'));
  w.writeFieldBegin('secret', runtime.Thrift.Type.STRING, 1);
  w.writeString('s3cret');
  w.writeFieldBegin('fromNode', runtime.Thrift.Type.STRING, 4); // the wrong type: skipped, so absent
  w.writeString('node two');
  w.writeFieldBegin('keys', runtime.Thrift.Type.LIST, 2);
  w.writeListBegin(runtime.Thrift.Type.STRING, 1);
  w.writeBinary(Buffer.from('k'));
  w.writeFieldStop();
  w.flush();
  const r = await replies(frames[0]!, () => [absent()]);
  t.deepEqual(r.ours, r.theirs);
  t.deepEqual(r.seen, [JSON.stringify(['s3cret', ['6b'], 0, null]), JSON.stringify(['s3cret', ['6b'], 0, null])]);
});

test('property: any rows, at once or later, get the generated bytes', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 8 }),
      fc.array(localRead, { maxLength: 8 }),
      fc.boolean(),
      async (keys, rows, later) => {
        const r = await replies(readLocalFrame(keys.map((k) => Buffer.from(k))), () => (later ? Promise.resolve(rows) : rows));
        return r.ours.equals(r.theirs) && r.atOnce === (later ? 0 : 1) && r.seen[0] === r.seen[1];
      },
    ),
    fcParams(200),
  );
  t.pass();
});

/** A reply frame (length prefix and all) read as the coordinator's client reads it. */
function readAnswer(frame: Buffer): ReturnType<typeof readLocalAnswer> {
  const input = new InputProtocol(frameTransport(frame.subarray(4))) as unknown as NumberI64Reader;
  input.readMessageBegin();
  return readLocalAnswer(input);
}

test('the coordinator reads the rows straight into versions, as fromLocalRead makes them', async (t) => {
  const rows = [row('red', 1_700_000_000_000_001), absent(), row('', 5, { deleted: true, expires: 99 }), row('\u00ff\u0000', 2 ** 53 - 1)];
  const r = await replies(readLocalFrame([Buffer.from('k')]), () => rows);
  t.deepEqual(readAnswer(r.ours), { rows: rows.map(fromLocalRead) });
});

test("the coordinator reads a declared error as the generated client's error", async (t) => {
  const errors = [
    new types.Unauthorized({ message: 'wrong cluster secret' }),
    new types.InvalidRequest({ message: 'keys are missing' }),
    new types.StaleEpoch({ message: 'placed by epoch 3', epoch: 7 as never }),
  ];
  for (const err of errors) {
    const r = await replies(readLocalFrame([Buffer.from('k')]), rejected<Rows>(err));
    const answer = readAnswer(r.ours);
    t.true('failure' in answer && answer.failure instanceof err.constructor, err.constructor.name);
    t.is((answer as { failure: { message: string } }).failure.message, err.message);
  }
});

test('a row that exists without its value is a broken answer', (t) => {
  const frames: Buffer[] = [];
  const w = new FastBinaryWriter(new FrameBuilder((b) => frames.push(b)));
  w.writeMessageBegin('readLocal', runtime.Thrift.MessageType.REPLY, 1);
  w.writeFieldBegin('success', runtime.Thrift.Type.LIST, 0);
  w.writeListBegin(runtime.Thrift.Type.STRUCT, 1);
  w.writeFieldBegin('exists', runtime.Thrift.Type.BOOL, 1);
  w.writeBool(true);
  w.writeFieldBegin('ts', runtime.Thrift.Type.I64, 3);
  w.writeI64(5);
  w.writeFieldStop();
  w.writeFieldStop();
  w.flush();
  t.throws(() => readAnswer(frames[0]!), { message: 'a readLocal answer holds a row without its value or timestamp' });
});

test('property: any rows read back as fromLocalRead makes them', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(localRead, { maxLength: 8 }), async (rows) => {
      const r = await replies(readLocalFrame([Buffer.from('k')]), () => rows);
      assert.deepEqual(readAnswer(r.ours), { rows: rows.map(fromLocalRead) });
    }),
    fcParams(200),
  );
  t.pass();
});
