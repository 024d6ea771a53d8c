/**
 * A call's deadline on an open connection, against a server that accepts and
 * never answers (a stalled replica). A coordinator sets its own deadline just
 * before it calls a replica with the same timeout; that deadline must end
 * the request, not the call's, however long the call took to encode.
 */
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { isKvError } from '../../src/common/errors';
import { RpcConnection } from '../../src/rpc/connection';

const HOST = '127.0.0.1';
const FRAME_BYTES_MAX = 1 << 20;

/** Blocks the thread for `ms`, as a long encode or a garbage collection inside the call would. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

test('on an open connection a call waits its whole timeout: a deadline of the same length set just before it ends first', async (t) => {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => sockets.push(s));
  server.listen(0, HOST);
  await once(server, 'listening');
  const conn = new RpcConnection({ host: HOST, port: (server.address() as net.AddressInfo).port, frameBytesMax: FRAME_BYTES_MAX });
  try {
    // The first call connects; the silent server lets it time out.
    const opened = await conn.call((c) => c.ping(Buffer.alloc(0)), 20).catch((e: unknown) => e);
    t.true(isKvError(opened, 'TimedOut'), String(opened));
    t.true(conn.isConnected);

    const TIMEOUT_MS = 50;
    const ended: string[] = [];
    const deadline = new Promise<void>((resolve) =>
      setTimeout(() => {
        ended.push('the deadline');
        resolve();
      }, TIMEOUT_MS),
    );
    const call = conn
      .call((c) => {
        busy(3);
        return c.ping(Buffer.alloc(0));
      }, TIMEOUT_MS)
      .then(
        () => ended.push('the call answered'),
        (err: unknown) => ended.push(isKvError(err, 'TimedOut') ? 'the call timed out' : String(err)),
      );
    await Promise.all([deadline, call]);
    t.deepEqual(ended, ['the deadline', 'the call timed out']);
  } finally {
    conn.close();
    for (const s of sockets) s.destroy();
    server.close();
  }
});
