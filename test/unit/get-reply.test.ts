/**
 * The node answers `get` with its own code (rpc/get-reply.ts), not the
 * generated processor's: its replies must be the generated code's bytes for
 * every answer and error, and an answer given at once must be written before
 * the call returns (Handler.get's value may be a view into the memtable).
 */
import test from 'ava';
import fc from 'fast-check';
import * as KeyValue from '../../src/gen/KeyValue';
import { FastBinaryWriter, FrameBuilder } from '../../src/rpc/fast-protocol';
import { ClientClass, frameReader, frameWriter, InputProtocol, OutputProtocol, ProcessorClass, types } from '../../src/rpc/thrift';
import { fcParams } from './fc-params';

const runtime = require('thrift');
type Answer = types.ReadResult | Promise<types.ReadResult>;
type Processor = { process(input: unknown, output: unknown): void };

/** A get call's frame, as a generated client writes it. */
function callFrame(key: Buffer, level: number): Buffer {
  const frames: Buffer[] = [];
  const client = new ClientClass(new FrameBuilder((b) => frames.push(b)) as never, FastBinaryWriter as never);
  (client as unknown as { send_get(k: Buffer, l: number): void }).send_get(key, level);
  return Buffer.concat(frames);
}

/** Feeds `frame` to `processor`; returns the reply frames written so far, and a promise of all of them. */
function run(processor: Processor, frame: Buffer): { atOnce: number; all: Promise<Buffer> } {
  const out: Buffer[] = [];
  const output = new OutputProtocol(frameWriter((b) => out.push(b)));
  frameReader((transport) => processor.process(new InputProtocol(transport), output), 1 << 20).push(frame);
  const atOnce = out.length;
  return { atOnce, all: new Promise((resolve) => setImmediate(() => resolve(Buffer.concat(out)))) };
}

/** Both processors' replies to one call, the handler answering with `answer()`. */
async function replies(frame: Buffer, answer: () => Answer): Promise<{ ours: Buffer; theirs: Buffer; atOnce: number }> {
  const handler = { get: (_key: Buffer, _level: number) => answer() };
  const theirs = run(new KeyValue.Processor(handler as never) as unknown as Processor, frame);
  const ours = run(new ProcessorClass(handler) as unknown as Processor, frame);
  return { ours: await ours.all, theirs: await theirs.all, atOnce: ours.atOnce };
}

const found = (value: string, ts: number): types.ReadResult =>
  new types.ReadResult({ found: true, value: Buffer.from(value), ts: ts as never });
const rejected = (err: unknown) => (): Promise<types.ReadResult> => {
  const p = Promise.reject(err);
  p.catch(() => undefined); // handled by the processor a moment later
  return p;
};

const cases: [string, () => Answer, number][] = [
  ['a value answered at once', () => found('red', 1_700_000_000_000_001), 1],
  ['nothing found, at once', () => new types.ReadResult({ found: false, value: Buffer.alloc(0), ts: 0 as never }), 1],
  ['a value answered later', () => Promise.resolve(found('blue', 42)), 0],
  ['InvalidRequest', rejected(new types.InvalidRequest({ message: 'the key is empty' })), 0],
  ['Unavailable', rejected(new types.Unavailable({ message: 'not enough replicas', needed: 2, alive: 1 })), 0],
  ['TimedOut', rejected(new types.TimedOut({ message: 'timed out', acked: 1, needed: 2, reason: 'slow' })), 0],
  ['an error the IDL does not declare', rejected(new Error('something broke')), 0],
  // A value the writer refuses: the generated code answers the write's error as an exception.
  ['an answer that cannot be written, at once', () => new types.ReadResult({ found: true, value: 7 as never, ts: 1 as never }), 1],
  [
    'an answer that cannot be written, later',
    () => Promise.resolve(new types.ReadResult({ found: true, value: 7 as never, ts: 2 as never })),
    0,
  ],
];

for (const [name, answer, atOnce] of cases) {
  test(`get: ${name} gets the generated processor's bytes`, async (t) => {
    const r = await replies(callFrame(Buffer.from('apple'), 2), answer);
    t.true(r.ours.length > 0);
    t.deepEqual(r.ours, r.theirs);
    t.is(r.atOnce, atOnce, atOnce === 1 ? 'written before the call returned' : 'written when the promise settled');
  });
}

test('get: a field the reader does not know is skipped, as the generated reader skips it', async (t) => {
  const frames: Buffer[] = [];
  const w = new FastBinaryWriter(new FrameBuilder((b) => frames.push(b)));
  w.writeMessageBegin('get', runtime.Thrift.MessageType.CALL, 7);
  w.writeFieldBegin('later', runtime.Thrift.Type.STRING, 9);
  w.writeBinary(Buffer.from('from a newer client'));
  w.writeFieldBegin('key', runtime.Thrift.Type.STRING, 1);
  w.writeBinary(Buffer.from('k'));
  w.writeFieldBegin('level', runtime.Thrift.Type.I32, 2);
  w.writeI32(1);
  w.writeFieldStop();
  w.flush();
  const seen: [string, number][] = [];
  const handler = { get: (key: Buffer, level: number) => (seen.push([key.toString(), level]), found('v', 9)) };
  const theirs = run(new KeyValue.Processor(handler as never) as unknown as Processor, frames[0]!);
  const ours = run(new ProcessorClass(handler) as unknown as Processor, frames[0]!);
  t.deepEqual(await ours.all, await theirs.all);
  t.deepEqual(seen, [
    ['k', 1],
    ['k', 1],
  ]);
});

test('property: any answer, at once or later, gets the generated bytes', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.boolean(),
      fc.maxSafeNat(),
      fc.boolean(),
      async (key, value, isFound, ts, later) => {
        const result = new types.ReadResult({ found: isFound, value: Buffer.from(value), ts: ts as never });
        const r = await replies(callFrame(Buffer.from(key), 1), () => (later ? Promise.resolve(result) : result));
        return r.ours.equals(r.theirs) && r.atOnce === (later ? 0 : 1);
      },
    ),
    fcParams(200),
  );
  t.pass();
});
