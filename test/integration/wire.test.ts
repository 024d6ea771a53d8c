/**
 * Hostile bytes on the wire: each gets a closed connection or a clear error,
 * and the node keeps serving everyone else.
 */
import test from 'ava';
import net from 'node:net';
import { isKvError } from '../../src/common/errors';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { RpcConnection } from '../../src/rpc/connection';
import { decodeMessage, FRAME_HEADER_BYTES, MessageType } from '../../src/fuzz/thrift-wire';
import { ABSENT, types, UNKNOWN_METHOD } from '../../src/rpc/thrift';

let c: LocalCluster;

test.before(async () => {
  c = await LocalCluster.start({ tokens: ['M'], replicationFactor: 1 });
});

test.after.always(async () => {
  await c?.destroy();
});

/** Sends bytes on a fresh socket; resolves with what came back when the node closed it. */
function sendRaw(bytes: Buffer, { endAfter = false } = {}): Promise<{ closed: boolean; reply: Buffer }> {
  const node = c.config.nodes[0]!;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(node.port, node.host, () => {
      socket.write(bytes);
      if (endAfter) socket.end();
    });
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ closed: true, reply: Buffer.concat(chunks) }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the node kept the connection open'));
    }, 10_000).unref();
  });
}

function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(payload.length);
  return Buffer.concat([head, payload]);
}

/** A CALL message header in strict binary protocol. */
function callHeader(name: string, seqid = 1): Buffer {
  const b = Buffer.alloc(4 + 4 + name.length + 4);
  b.writeUInt32BE(0x80010001, 0);
  b.writeInt32BE(name.length, 4);
  b.write(name, 8, 'latin1');
  b.writeInt32BE(seqid, 8 + name.length);
  return b;
}

async function stillServes(t: { true(v: boolean): void }): Promise<void> {
  const client = c.client();
  try {
    t.true((await client.ping('still here')).toString() === 'still here');
  } finally {
    client.close();
  }
}

test.serial('random garbage closes the connection', async (t) => {
  const garbage = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const r = await sendRaw(garbage);
  t.true(r.closed);
  await stillServes(t);
});

test.serial('a 2 GB frame length is refused before anything is buffered', async (t) => {
  const head = Buffer.alloc(4);
  head.writeInt32BE(0x7fffffff);
  const r = await sendRaw(head);
  t.true(r.closed);
  await stillServes(t);
});

test.serial('an unknown method gets a Thrift application exception of type UNKNOWN_METHOD', async (t) => {
  const payload = Buffer.concat([callHeader('dropTable', 7), Buffer.from([0])]);
  const r = await sendRaw(frame(payload), { endAfter: true });
  const reply = decodeMessage(r.reply.subarray(FRAME_HEADER_BYTES));
  t.is(reply.type, MessageType.EXCEPTION);
  t.is(reply.name, 'dropTable');
  t.is(reply.seqid, 7);
  t.is(reply.fields.get(1)?.bytes?.toString('utf8'), 'Unknown function dropTable');
  t.is(reply.fields.get(2)?.i32, UNKNOWN_METHOD);
  t.is(UNKNOWN_METHOD, 1); // the number every Thrift implementation uses
  await stillServes(t);
});

test.serial('a truncated message inside a whole frame closes the connection', async (t) => {
  // put with a binary field that claims 1000 bytes but carries 3.
  const field = Buffer.from([11, 0, 1, 0, 0, 3, 232, 1, 2, 3]);
  const r = await sendRaw(frame(Buffer.concat([callHeader('put'), field])));
  t.true(r.closed);
  await stillServes(t);
});

test.serial('wrong field types and missing fields get InvalidRequest', async (t) => {
  const node = c.config.nodes[0]!;
  const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 20 });
  try {
    const err = await conn.call((cl) => cl.put(null as never, null as never, 2), 2000).catch((e) => e);
    t.true(err instanceof types.InvalidRequest);
    t.regex(String(err.message), /key is missing/);
    const badLevel = await conn.call((cl) => cl.get(Buffer.from('k'), 99 as never), 2000).catch((e) => e);
    t.true(badLevel instanceof types.InvalidRequest);
    t.regex(String(badLevel.message), /unknown consistency level 99/);
  } finally {
    conn.close();
  }
  await stillServes(t);
});

test.serial('internode and admin calls need the cluster secret', async (t) => {
  const node = c.config.nodes[0]!;
  const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 20 });
  try {
    const m = new types.Mutation({ key: Buffer.from('k'), value: Buffer.from('v'), ts: 1 as never, deleted: false });
    for (const call of [
      conn.call((cl) => cl.replicate('wrong-secret', [m], ABSENT, ABSENT), 2000),
      conn.call((cl) => cl.readLocal('', [Buffer.from('k')], ABSENT, ABSENT), 2000),
      conn.call((cl) => cl.dump('nope', Buffer.alloc(0), 10), 2000),
    ]) {
      const err = await call.catch((e) => e);
      t.true(err instanceof types.Unauthorized, String(err));
    }
  } finally {
    conn.close();
  }
  const client = c.client();
  t.false((await client.get('k', 'ONE')).found, 'the unauthorised write did not land');
  client.close();
});

test.serial('many idle connections do not stop other clients', async (t) => {
  const node = c.config.nodes[0]!;
  const sockets = await Promise.all(
    Array.from(
      { length: 500 },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(node.port, node.host, () => resolve(s));
          s.on('error', () => undefined);
        }),
    ),
  );
  await stillServes(t);
  sockets.forEach((s) => s.destroy());
  await waitFor('the node to see the sockets closed', () => c.isRunning(0));
});

test.serial('a closed connection fails its pending calls at once', async (t) => {
  const node = c.config.nodes[0]!;
  const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 20 });
  await conn.call((cl) => cl.ping(Buffer.from('x')), 2000);
  const pending = conn.call((cl) => cl.get(Buffer.from('k'), 2), 60_000).catch((e) => e);
  conn.close();
  const err = await pending;
  t.true(isKvError(err, 'ConnectionError'), String(err));
});
