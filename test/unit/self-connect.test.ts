import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { freePort } from '../../src/harness/local-cluster';
import { connectedToItself } from '../../src/rpc/connection';

test('a socket that TCP joined to itself is told apart from a real connection', async (t) => {
  const port = await freePort();
  // Nothing listens on `port`: a socket whose own end is bound to it and
  // connects to it meets itself, as a reconnect may by chance of its source port.
  const self = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1', localPort: port });
  await once(self, 'connect');
  t.true(connectedToItself(self));
  self.destroy();

  const server = net.createServer((s) => s.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const real = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  await once(real, 'connect');
  t.false(connectedToItself(real));
  real.destroy();
  server.close();
});
