/**
 * A readRange answer read by range-page-wire.ts must give what the
 * generated reader and fromMutation gave: the same keyed versions (TTLs,
 * tombstones and any bytes included), the same `more`, and the same errors.
 */
import test from 'ava';
import fc from 'fast-check';
import { FastBinaryWriter, FrameBuilder, NumberI64Reader } from '../../src/rpc/fast-protocol';
import { readRangeReply } from '../../src/rpc/range-page-wire';
import { fromMutation, toMutation } from '../../src/rpc/remote-replica';
import { ClientClass, frameTransport, types } from '../../src/rpc/thrift';
import type { KeyedVersion } from '../../src/storage/version';
import { fcParams } from './fc-params';

const runtime = require('thrift');
const { Type, MessageType } = runtime.Thrift;

const byteString = (maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength, size: 'max' }).map((b) => Buffer.from(b).toString('latin1'));

const keyed: fc.Arbitrary<KeyedVersion> = fc
  .record({
    key: byteString(30),
    value: byteString(120),
    ts: fc.oneof(fc.constantFrom(0, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.maxSafeNat()),
    deleted: fc.boolean(),
    expires: fc.option(fc.maxSafeNat(), { nil: undefined }),
  })
  .map(({ key, value, ts, deleted, expires }) => ({
    key,
    version: expires ? { value, ts, deleted, expires } : { value, ts, deleted },
  }));

/** A REPLY frame (without its length prefix) as the generated processor writes it, `extra` writing more fields. */
function replyFrame(write: (out: FastBinaryWriter) => void): Buffer {
  let frame: Buffer | undefined;
  const out = new FastBinaryWriter(new FrameBuilder((f) => (frame = f)));
  out.writeMessageBegin('readRange', MessageType.REPLY, 7);
  out.writeStructBegin();
  write(out);
  out.writeFieldStop();
  out.writeStructEnd();
  out.writeMessageEnd();
  out.flush();
  return frame!.subarray(4);
}

/** A generated struct's write, which its declarations leave out. */
function writeStruct(struct: object, out: FastBinaryWriter): void {
  (struct as { write(out: FastBinaryWriter): void }).write(out);
}

function pageFrame(entries: readonly KeyedVersion[], more: boolean): Buffer {
  return replyFrame((out) => {
    out.writeFieldBegin('success', Type.STRUCT, 0);
    writeStruct(new types.RangePage({ entries: entries.map(toMutation), more }), out);
    out.writeFieldEnd();
  });
}

function inputOf(frame: Buffer): NumberI64Reader {
  const input = new NumberI64Reader(frameTransport(frame));
  input.readMessageBegin();
  return input;
}

/** What the generated client's recv_readRange answers for the frame, through a callback. */
function generated(frame: Buffer): { err: unknown; page?: types.RangePage } {
  const client = new ClientClass(new FrameBuilder(() => undefined) as never, FastBinaryWriter as never) as unknown as {
    _reqs: Record<number, (err: unknown, page?: types.RangePage) => void>;
  };
  let answer: { err: unknown; page?: types.RangePage } | undefined;
  client._reqs[7] = (err, page) => (answer = { err, page });
  const recv = Object.getPrototypeOf(Object.getPrototypeOf(client)).recv_readRange as (...args: unknown[]) => void;
  recv.call(client, inputOf(frame), MessageType.REPLY, 7);
  return answer!;
}

test('property: a page reads as the generated reader and fromMutation read it', (t) => {
  const property = fc.property(fc.array(keyed, { maxLength: 40 }), fc.boolean(), (entries, more) => {
    const frame = pageFrame(entries, more);
    const ours = readRangeReply(inputOf(frame));
    const theirs = generated(frame);
    t.deepEqual(ours, { page: { entries: theirs.page!.entries.map(fromMutation), more: theirs.page!.more } });
    t.deepEqual(ours, { page: { entries, more } });
  });
  fc.assert(property, fcParams(200));
});

test('fields the reader does not know are skipped, at every level', (t) => {
  const frame = replyFrame((out) => {
    out.writeFieldBegin('success', Type.STRUCT, 0);
    out.writeStructBegin();
    out.writeFieldBegin('later', Type.I32, 9);
    out.writeI32(5);
    out.writeFieldBegin('entries', Type.LIST, 1);
    out.writeListBegin(Type.STRUCT, 1);
    out.writeFieldBegin('later', Type.STRING, 7);
    out.writeString('ignored');
    writeStruct(new types.Mutation({ key: 'k' as never, value: 'v' as never, ts: 5 as never, deleted: false }), out);
    out.writeFieldBegin('more', Type.BOOL, 2);
    out.writeBool(true);
    out.writeFieldStop();
    out.writeFieldBegin('later', Type.LIST, 4);
    out.writeListBegin(Type.I32, 0);
  });
  t.deepEqual(readRangeReply(inputOf(frame)), {
    page: { entries: [{ key: 'k', version: { value: 'v', ts: 5, deleted: false } }], more: true },
  });
});

test('an answered error comes back as the generated reader made it', (t) => {
  const frame = replyFrame((out) => {
    out.writeFieldBegin('stale', Type.STRUCT, 3);
    writeStruct(new types.StaleEpoch({ message: 'behind', epoch: 4 as never }), out);
    out.writeFieldEnd();
  });
  const ours = readRangeReply(inputOf(frame));
  t.deepEqual(ours, { failure: generated(frame).err });
  t.true((ours as { failure: unknown }).failure instanceof types.StaleEpoch);
});

test('a mutation without its key is a broken answer, not a version', (t) => {
  const frame = replyFrame((out) => {
    out.writeFieldBegin('success', Type.STRUCT, 0);
    const keyless = new types.Mutation({ value: 'v', ts: 1, deleted: false } as never);
    writeStruct(new types.RangePage({ entries: [keyless], more: false }), out);
    out.writeFieldEnd();
  });
  t.throws(() => readRangeReply(inputOf(frame)), { message: /without its key/ });
});
