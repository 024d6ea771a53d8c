/**
 * Generated frames against a real node process, one frame per connection:
 * a valid ping round-trips and decodes with the project's generated client
 * code, and a sample of every kind of expected outcome (answer, InvalidRequest,
 * Unauthorized, unknown method, closed connection) is what the node does.
 * The hand-written hostile cases are in wire.test.ts; the long random run is
 * the fuzzer (test/fuzz.test.ts, scripts/fuzz.sh).
 */
import test from 'ava';
import net from 'node:net';
import { VALUE_BYTES_MAX_DEFAULT, frameBytesMax } from '../../src/common/limits';
import { Expect, FrameGenerator, FuzzFrame, pingFrame } from '../../src/fuzz/frames';
import { judgeReply } from '../../src/fuzz/oracle';
import { decodeMessage, FrameSplitter, frame, MessageType, TType } from '../../src/fuzz/thrift-wire';
import { bin, encodeCall, field, i32 } from '../../src/fuzz/wire-value';
import { LocalCluster } from '../../src/harness/local-cluster';
import { ClientClass, ClientInternals, frameReader, frameWriter, InputProtocol, OutputProtocol } from '../../src/rpc/thrift';

const FRAME_MAX = frameBytesMax(VALUE_BYTES_MAX_DEFAULT);
/** Frames of each expected outcome sent. */
const PER_EXPECT = 8;
/** A liveness bound for one frame's answer or close, not a performance expectation. */
const ANSWER_WAIT_MS = 15_000;

let c: LocalCluster;

test.before(async () => {
  c = await LocalCluster.start({ tokens: ['M'], replicationFactor: 1 });
});

test.after.always(async () => {
  await c?.destroy();
});

/** Sends bytes on a fresh connection; resolves with the reply frames once one arrived (and FIN was sent) or the node closed. */
function exchange(bytes: Buffer, { half = false } = {}): Promise<{ replies: Buffer[]; closedByNode: boolean }> {
  const node = c.config.nodes[0]!;
  return new Promise((resolve, reject) => {
    const replies: Buffer[] = [];
    const splitter = new FrameSplitter(FRAME_MAX * 2);
    let weEnded = false;
    const socket = net.connect(node.port, node.host, () => {
      socket.write(bytes);
      if (half) {
        weEnded = true;
        socket.end();
      }
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer and no close'));
    }, ANSWER_WAIT_MS);
    socket.on('data', (d) => {
      replies.push(...splitter.push(d));
      if (replies.length > 0 && !weEnded) {
        weEnded = true;
        socket.end();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ replies, closedByNode: !weEnded });
    });
  });
}

test.serial('a generated ping round-trips and decodes with the generated client', async (t) => {
  const payload = Buffer.from('fuzz round trip \u0000\u00ff');
  const r = await exchange(pingFrame(77, payload));
  t.is(r.replies.length, 1);
  // Decode the reply exactly as RpcConnection does: the generated client's recv_ping.
  const client = new ClientClass(
    frameWriter(() => undefined),
    OutputProtocol,
  );
  const got = new Promise<Buffer>((resolve, reject) => {
    (client as unknown as ClientInternals)._reqs[77] = (err, result) => (err ? reject(err) : resolve(result as Buffer));
  });
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0]), r.replies[0]!]);
  framed.writeInt32BE(r.replies[0]!.length, 0);
  frameReader((transport) => {
    const input = new InputProtocol(transport) as unknown as { readMessageBegin(): { fname: string; mtype: number; rseqid: number } };
    const head = input.readMessageBegin();
    (client as unknown as Record<string, (i: unknown, m: number, s: number) => void>)[`recv_${head.fname}`]!(
      input,
      head.mtype,
      head.rseqid,
    );
  }, FRAME_MAX).push(framed);
  t.true((await got).equals(payload));
});

test.serial('generated frames of every expected outcome get it from a real node', async (t) => {
  const gen = new FrameGenerator(99, { secret: c.config.secret });
  const wanted: Expect[] = ['ok', 'invalid', 'unauthorized', 'declared', 'unknown-method', 'close'];
  const picked = new Map<Expect, FuzzFrame[]>(wanted.map((e) => [e, []]));
  for (let i = 0; i < 20_000 && wanted.some((e) => picked.get(e)!.length < PER_EXPECT); i++) {
    const f = gen.next();
    const list = picked.get(f.expect);
    // Small frames only: this is about outcomes, not volume.
    if (list && list.length < PER_EXPECT && f.bytes.length < 64 * 1024) list.push(f);
  }
  for (const [expect, frames] of picked) {
    t.is(frames.length, PER_EXPECT, `found ${expect} frames`);
    for (const f of frames) {
      const where = `${f.kind} [${f.tags.join(' ')}]`;
      const r = await exchange(f.bytes);
      if (expect === 'close') {
        t.true(r.closedByNode, `not closed: ${where}`);
        t.is(r.replies.length, 0, `answered: ${where}`);
      } else {
        t.is(r.replies.length, 1, where);
        const m = decodeMessage(r.replies[0]!);
        t.is(m.seqid, f.seqid ?? NaN, where);
        t.is(judgeReply(f, m), null, where);
      }
    }
  }
  // And the node still serves.
  const client = c.client();
  try {
    t.is((await client.ping('still here')).toString(), 'still here');
  } finally {
    client.close();
  }
});

test.serial('a pushed membership log the node cannot read gets InvalidRequest (the fuzzer found it answered untyped)', async (t) => {
  // learnEpochs(secret, fromNode 1, {epoch: -1, changes: []}): the log's own epoch is behind nothing.
  const log = {
    kind: 'struct' as const,
    fields: [field(1, { kind: 'i64', v: -1n }), field(2, { kind: 'list', elemType: TType.STRUCT, items: [] })],
  };
  const call = encodeCall('learnEpochs', 5, [field(1, bin(Buffer.from(c.config.secret))), field(2, i32(1)), field(3, log)]);
  const r = await exchange(frame(call));
  t.is(r.replies.length, 1);
  const m = decodeMessage(r.replies[0]!);
  t.is(m.type, MessageType.REPLY);
  t.deepEqual([...m.fields.keys()], [2], "the InvalidRequest field of learnEpochs's result");
  t.is(m.fields.get(2)!.type, TType.STRUCT);
});
