import test from 'ava';
import { ByteBudget, FrameDecoder, FrameError } from '../../src/rpc/frames';

function framed(payload: string): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  b.write(payload, 4, 'latin1');
  return b;
}

test('frames are cut out of a stream however it is split', (t) => {
  const stream = Buffer.concat([framed('hello'), framed(''), framed('x'.repeat(300))]);
  for (const step of [1, 2, 3, 5, 7, 64, stream.length]) {
    const got: string[] = [];
    const d = new FrameDecoder(1000, (f) => got.push(f.toString('latin1')));
    for (let i = 0; i < stream.length; i += step) d.push(stream.subarray(i, i + step));
    t.deepEqual(got, ['hello', '', 'x'.repeat(300)], `step ${step}`);
    t.is(d.bufferedBytes, 0);
  }
});

test('an oversize or negative length is refused from its prefix alone', (t) => {
  const d = new FrameDecoder(100, () => t.fail());
  t.throws(() => d.push(Buffer.from([0, 0, 0, 101])), { instanceOf: FrameError });
  const e = new FrameDecoder(100, () => t.fail());
  t.throws(() => e.push(Buffer.from([0xff, 0xff, 0xff, 0xfe])), { instanceOf: FrameError });
  const huge = new FrameDecoder(100, () => t.fail());
  t.throws(() => huge.push(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3])), { message: /2147483647 bytes/ });
});

test('a shared budget caps the bytes all decoders hold together, and is given back', (t) => {
  const budget = new ByteBudget(10);
  const a = new FrameDecoder(100, () => undefined, budget);
  const b = new FrameDecoder(100, () => undefined, budget);
  a.push(Buffer.from([0, 0, 0, 50, 1, 2])); // 6 bytes of an unfinished frame
  t.is(budget.used, 6);
  t.throws(() => b.push(Buffer.alloc(5)), { message: /input buffers are full/ });
  a.dispose();
  t.is(budget.used, 0);
  b.push(framed('abc')); // a whole frame passes through and is released at once
  t.is(budget.used, 0);
});
