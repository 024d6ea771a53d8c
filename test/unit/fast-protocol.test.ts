/**
 * The fast binary-protocol writer must put the same bytes on the wire as the
 * Thrift runtime's own TBinaryProtocol + TFramedTransport, for every message
 * the IDL can produce; and the reader must give back what was written.
 */
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import Int64 from 'node-int64';
import { FastBinaryWriter, FrameBuilder, NumberI64Reader } from '../../src/rpc/fast-protocol';
import { ClientClass, frameReader, types } from '../../src/rpc/thrift';
import { fcParams } from './fc-params';

const runtime = require('thrift');

type Send = (client: Record<string, (...args: unknown[]) => unknown>) => void;

/** The frames a generated client writes for `send`, with the runtime's stack and with ours. */
function framesOf(send: Send): { theirs: Buffer; ours: Buffer } {
  const theirs: Buffer[] = [];
  const ours: Buffer[] = [];
  const slow = new ClientClass(new runtime.TFramedTransport(undefined, (b: Buffer) => theirs.push(b)), runtime.TBinaryProtocol);
  const fast = new ClientClass(new FrameBuilder((b) => ours.push(b)) as never, FastBinaryWriter as never);
  send(slow as unknown as Record<string, (...args: unknown[]) => unknown>);
  send(fast as unknown as Record<string, (...args: unknown[]) => unknown>);
  return { theirs: Buffer.concat(theirs), ours: Buffer.concat(ours) };
}

const bytes = (maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength, size: 'max' }).map((b) => Buffer.from(b));

/** i64 values: the edges of 32 and 53 bits, negatives, a wall-clock reading in microseconds, or any safe integer. */
const i64 = fc.oneof(
  fc.constantFrom(0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, 1_700_000_000_000_000, -1, -(2 ** 40)),
  fc.maxSafeNat(),
);

const mutation = fc
  .record({ key: bytes(30), value: bytes(100), ts: i64, deleted: fc.boolean() })
  .map((m) => new types.Mutation({ key: m.key, value: m.value, ts: m.ts as never, deleted: m.deleted }));

const call = fc.record({
  method: fc.constantFrom('put', 'get', 'remove', 'ping', 'replicate', 'readLocal', 'hello', 'dump'),
  key: bytes(40),
  value: bytes(300),
  muts: fc.array(mutation, { maxLength: 20 }),
  level: fc.integer({ min: 1, max: 3 }),
  clock: i64,
  limit: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

test('property: every call encodes to the same bytes as the runtime', (t) => {
  const property = fc.property(call, ({ method, key, value, muts, level, clock, limit }) => {
    const sends: Record<typeof method, Send> = {
      put: (c) => c.send_put!(key, value, level),
      get: (c) => c.send_get!(key, 2),
      remove: (c) => c.send_remove!(key, 3),
      ping: (c) => c.send_ping!(value),
      replicate: (c) => c.send_replicate!('s3cret-\u00e9', muts),
      readLocal: (c) =>
        c.send_readLocal!(
          's',
          muts.map((m) => m.key),
        ),
      hello: (c) => c.send_hello!('s', 3, clock),
      dump: (c) => c.send_dump!('s', key, limit),
    };
    const { theirs, ours } = framesOf(sends[method]);
    assert.equal(ours.toString('hex'), theirs.toString('hex'), `${method} differs`);
  });
  t.notThrows(() => fc.assert(property, fcParams(500)));
});

test('Int64 objects and negative numbers encode like the runtime', (t) => {
  for (const ts of [new Int64(0), new Int64(123456789), new Int64('7fffffffffffffff'), -5, -(2 ** 53 - 1)]) {
    const { theirs, ours } = framesOf((c) => c.send_hello!('s', 1, ts));
    t.true(ours.equals(theirs), String(ts));
  }
});

test('the reader returns i64 as numbers when exact, as Int64 beyond 2^53', (t) => {
  const cases: [Int64 | number, number | string][] = [
    [0, 0],
    [1, 1],
    [-1, -1],
    [2 ** 32, 2 ** 32],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    [-(2 ** 40), -(2 ** 40)],
    [new Int64('7fffffffffffffff'), '7fffffffffffffff'],
  ];
  for (const [input, expected] of cases) {
    const frames: Buffer[] = [];
    const w = new FastBinaryWriter(new FrameBuilder((f) => frames.push(f)));
    w.writeI64(input);
    w.flush();
    let got: unknown;
    frameReader((ft) => {
      got = new NumberI64Reader(ft).readI64();
    }, 1024).push(frames[0]!);
    if (typeof expected === 'number') t.is(got, expected);
    else t.is((got as Int64).toOctetString(), expected);
  }
});

test('a failed half-written message does not leak into the next frame', (t) => {
  const frames: Buffer[] = [];
  const w = new FastBinaryWriter(new FrameBuilder((f) => frames.push(f)));
  w.writeMessageBegin('put', 1, 7);
  w.writeI32(42); // ... then the write fails and the caller starts over
  w.writeMessageBegin('ping', 1, 8);
  w.writeFieldStop();
  w.flush();
  const ref: Buffer[] = [];
  const r = new runtime.TBinaryProtocol(new runtime.TFramedTransport(undefined, (b: Buffer) => ref.push(b)));
  r.writeMessageBegin('ping', 1, 8);
  r.writeFieldStop();
  r.writeMessageEnd();
  r.flush();
  t.true(frames[0]!.equals(ref[0]!));
});

test('messages larger than the scratch buffer are written whole', (t) => {
  const big = Buffer.alloc(3 * 1024 * 1024, 9);
  const { theirs, ours } = framesOf((c) => c.send_ping!(big));
  t.is(ours.length, theirs.length);
  t.true(ours.equals(theirs));
});

test('the reader refuses negative list, set and map sizes', (t) => {
  for (const write of [
    (w: FastBinaryWriter) => w.writeListBegin(11, -5),
    (w: FastBinaryWriter) => w.writeSetBegin(11, -1),
    (w: FastBinaryWriter) => w.writeMapBegin(11, 11, -(2 ** 31)),
  ]) {
    const frames: Buffer[] = [];
    const w = new FastBinaryWriter(new FrameBuilder((f) => frames.push(f)));
    write(w);
    w.flush();
    frameReader((ft) => {
      const r = new NumberI64Reader(ft) as unknown as Record<string, () => unknown>;
      const method = frames[0]!.length === 4 + 5 ? 'readListBegin' : 'readMapBegin';
      t.throws(() => r[method]!(), { message: /negative container size/ });
    }, 1024).push(frames[0]!);
  }
});

/** The generated structs' own wire methods, which their type declarations leave out. */
interface Wired {
  read(input: unknown): void;
  write(output: unknown): void;
}
const wired = (s: unknown): Wired => s as Wired;

/** What `read` gives back from `frame`, through our reader and through the runtime's. */
function readBoth<T>(frame: Buffer, read: (input: unknown) => T): { ours: T; theirs: T } {
  let ours: T | undefined;
  frameReader((ft) => {
    ours = read(new NumberI64Reader(ft));
  }, 1 << 20).push(frame);
  const theirs = read(new runtime.TBinaryProtocol(new runtime.TFramedTransport(frame.subarray(4))));
  return { ours: ours as T, theirs };
}

test('property: a range page reads back alike through the shared field header, unknown nested fields skipped', (t) => {
  fc.assert(
    fc.property(fc.array(mutation, { maxLength: 30 }), fc.boolean(), fc.integer({ min: 6, max: 200 }), (muts, more, unknownId) => {
      const frames: Buffer[] = [];
      const w = new FastBinaryWriter(new FrameBuilder((f) => frames.push(f)));
      w.writeStructBegin();
      // A field this reader does not know, a struct holding a list of structs: skipped field by field.
      w.writeFieldBegin('', runtime.Thrift.Type.STRUCT, unknownId);
      wired(new types.RangePage({ entries: muts.slice(0, 3), more })).write(w);
      w.writeFieldEnd();
      w.writeFieldBegin('', runtime.Thrift.Type.LIST, 1);
      w.writeListBegin(runtime.Thrift.Type.STRUCT, muts.length);
      for (const m of muts) wired(m).write(w);
      w.writeFieldBegin('', runtime.Thrift.Type.BOOL, 2);
      w.writeBool(more);
      w.writeFieldStop();
      w.flush();
      const { ours, theirs } = readBoth(frames[0]!, (input) => {
        const page = new types.RangePage();
        wired(page).read(input);
        return page;
      });
      assert.equal(ours.entries.length, muts.length);
      assert.deepEqual(
        ours.entries.map((m) => [m.key, m.value, Number(m.ts), m.deleted]),
        theirs.entries.map((m) => [m.key, m.value, Number(m.ts), m.deleted]),
      );
      assert.equal(ours.more, more);
    }),
    fcParams(200),
  );
  t.pass();
});

test('property: a mutation made of byte strings goes on the wire as one made of Buffers', (t) => {
  fc.assert(
    fc.property(fc.array(mutation, { maxLength: 20 }), (muts) => {
      const asStrings = muts.map(
        (m) =>
          new types.Mutation({
            key: m.key.toString('latin1') as never,
            value: m.value.toString('latin1') as never,
            ts: m.ts,
            deleted: m.deleted,
          }),
      );
      const buffers = framesOf((c) => c.send_replicate!('s', muts, 3, 1));
      const strings = framesOf((c) => c.send_replicate!('s', asStrings, 3, 1));
      assert.ok(strings.ours.equals(buffers.ours), 'our writer');
      assert.ok(strings.theirs.equals(buffers.theirs), "the runtime's writer");
    }),
    fcParams(200),
  );
  t.pass();
});

test('reading past the end of a frame fails as the runtime transport does, with its underrun error', (t) => {
  const Underrun = runtime.InputBufferUnderrunError;
  const frame = Buffer.from([0, 0, 0, 3, 0x0b, 0x00, 0x01]); // a string field header, then nothing of its length
  /** What reading the string throws (the runtime's underrun error is not an Error, so ava's throws() refuses it). */
  const thrown = (read: () => unknown): unknown => {
    try {
      read();
    } catch (err) {
      return err;
    }
    return undefined;
  };
  let ours: unknown;
  frameReader((ft) => {
    const r = new NumberI64Reader(ft);
    r.readFieldBegin();
    ours = thrown(() => r.readString());
  }, 1024).push(frame);
  const theirs = new runtime.TBinaryProtocol(new runtime.TFramedTransport(frame.subarray(4)));
  theirs.readFieldBegin();
  t.true(thrown(() => theirs.readString()) instanceof Underrun, 'the runtime transport throws its underrun error');
  t.true(ours instanceof Underrun, 'ours throws the same');
});
