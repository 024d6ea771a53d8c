/**
 * The fast binary-protocol writer must put the same bytes on the wire as the
 * Thrift runtime's own TBinaryProtocol + TFramedTransport, for every message
 * the IDL can produce; and the reader must give back what was written.
 */
import test from 'ava';
import Int64 from 'node-int64';
import { FastBinaryWriter, FrameBuilder, NumberI64Reader } from '../../src/rpc/fast-protocol';
import { ClientClass, frameReader, types } from '../../src/rpc/thrift';
import { mulberry32, testSeed } from './prng';

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

function randomBytes(rand: () => number, max: number): Buffer {
  const n = Math.floor(rand() * max);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
}

function randomTs(rand: () => number): number {
  const choices = [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, Date.now() * 1000, -1, -(2 ** 40)];
  return rand() < 0.5 ? choices[Math.floor(rand() * choices.length)]! : Math.floor(rand() * Number.MAX_SAFE_INTEGER);
}

test('property: every call encodes to the same bytes as the runtime', (t) => {
  const seed = testSeed();
  const rand = mulberry32(seed);
  for (let i = 0; i < 500; i++) {
    const key = randomBytes(rand, 40);
    const value = randomBytes(rand, 300);
    const muts = Array.from(
      { length: Math.floor(rand() * 20) },
      () =>
        new types.Mutation({
          key: randomBytes(rand, 30),
          value: randomBytes(rand, 100),
          ts: randomTs(rand) as never,
          deleted: rand() < 0.3,
        }),
    );
    const level = 1 + Math.floor(rand() * 3);
    const clock = randomTs(rand);
    const limit = Math.floor(rand() * 2 ** 31);
    const sends: [string, Send][] = [
      ['put', (c) => c.send_put!(key, value, level)],
      ['get', (c) => c.send_get!(key, 2)],
      ['remove', (c) => c.send_remove!(key, 3)],
      ['ping', (c) => c.send_ping!(value)],
      ['replicate', (c) => c.send_replicate!('s3cret-\u00e9', muts)],
      [
        'readLocal',
        (c) =>
          c.send_readLocal!(
            's',
            muts.map((m) => m.key),
          ),
      ],
      ['hello', (c) => c.send_hello!('s', 3, clock)],
      ['dump', (c) => c.send_dump!('s', key, limit)],
    ];
    const [name, send] = sends[i % sends.length]!;
    const { theirs, ours } = framesOf(send);
    t.true(ours.equals(theirs), `${name} differs (seed ${seed}, case ${i})`);
  }
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
