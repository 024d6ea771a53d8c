/**
 * A reconnect to a local port nothing listens on can pick that port as its
 * own source port and meet itself. Each test makes that happen on purpose
 * (the connection's own end bound to the port it dials), and checks that the
 * socket is dropped and the port is left free for the node that owns it.
 */
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { LinkProxy } from '../../src/chaos/proxy';
import { freePort } from '../../src/harness/local-cluster';
import { connectedToItself, RpcConnection } from '../../src/rpc/connection';

const HOST = '127.0.0.1';

/** Resolves once a server listens on `port` (rejects with EADDRINUSE if something holds it), then closes it. */
async function canListenOn(port: number): Promise<boolean> {
  const server = net.createServer();
  server.listen(port, HOST);
  await once(server, 'listening');
  server.close();
  return true;
}

test('a socket that TCP joined to itself is told apart from a real connection', async (t) => {
  const port = await freePort();
  const self = net.connect({ host: HOST, port, localAddress: HOST, localPort: port });
  await once(self, 'connect');
  t.true(connectedToItself(self));
  self.destroy();

  const server = net.createServer((s) => s.destroy());
  server.listen(0, HOST);
  await once(server, 'listening');
  const real = net.connect({ host: HOST, port: (server.address() as net.AddressInfo).port });
  await once(real, 'connect');
  t.false(connectedToItself(real));
  real.destroy();
  server.close();
});

test('a node connection that meets itself fails as unreachable and frees the port', async (t) => {
  const port = await freePort();
  const conn = new RpcConnection({ host: HOST, port, frameBytesMax: 1 << 20, localPort: port });
  t.teardown(() => conn.close());
  // Without the check, the call's own request would come back as its reply.
  const err = await t.throwsAsync(conn.call((c) => c.ping(Buffer.from('x')), 5000));
  t.is((err as { code?: string }).code, 'ConnectionError');
  t.regex(err!.message, /reached itself/);
  t.false(conn.isConnected);
  t.true(await canListenOn(port));
});

test('a proxy whose upstream connection meets itself drops the link and frees the port', async (t) => {
  const port = await freePort();
  const proxy = await LinkProxy.start(0, 1, { host: HOST, port, localPort: port });
  t.teardown(() => proxy.close());
  const client = net.connect({ host: HOST, port: proxy.port });
  client.on('error', () => undefined);
  await once(client, 'connect');
  // Without the check, the bytes sent up would come straight back down.
  const outcome = new Promise<string>((resolve) => {
    client.once('data', (d: Buffer) => resolve(`echoed ${d.toString()}`));
    client.once('close', () => resolve('closed'));
  });
  client.write('hello');
  t.is(await outcome, 'closed');
  t.true(await canListenOn(port));
});
