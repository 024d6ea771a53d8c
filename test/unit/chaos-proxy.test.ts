/**
 * The link proxy against an echo server: pass forwards, delay delays in order,
 * drop resets, blackhole holds the connection and answers nothing, and healing
 * a blackhole resets the held connections.
 */
import test from 'ava';
import net from 'node:net';
import { LinkProxy } from '../../src/chaos/proxy';

async function echoServer(): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `text` and resolves with the echo, or with null when nothing came back within `ms`, or 'closed'. */
function roundTrip(s: net.Socket, text: string, ms: number): Promise<string | null | 'closed'> {
  return new Promise((resolve) => {
    let got = '';
    const done = (v: string | null | 'closed'): void => {
      clearTimeout(timer);
      s.removeAllListeners('data');
      resolve(v);
    };
    const timer = setTimeout(() => done(got === '' ? null : got), ms);
    s.on('data', (d) => {
      got += d.toString();
      if (got.length >= text.length) done(got);
    });
    s.once('close', () => done('closed'));
    s.on('error', () => undefined);
    s.write(text);
  });
}

async function setup(t: { teardown(fn: () => void | Promise<void>): void }): Promise<LinkProxy> {
  const server = await echoServer();
  const proxy = await LinkProxy.start(0, 1, { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  t.teardown(async () => {
    await proxy.close();
    server.close();
  });
  return proxy;
}

test('pass forwards both ways', async (t) => {
  const proxy = await setup(t);
  const s = await connect(proxy.port);
  t.is(await roundTrip(s, 'hello', 2000), 'hello');
  s.destroy();
});

test('delay holds every chunk back, in order', async (t) => {
  const proxy = await setup(t);
  proxy.setMode({ kind: 'delay', ms: 150 });
  const s = await connect(proxy.port);
  const t0 = Date.now();
  t.is(await roundTrip(s, 'abcdef', 3000), 'abcdef');
  t.true(Date.now() - t0 >= 280, 'both directions are delayed');
  s.destroy();
});

test('drop resets open connections and new ones', async (t) => {
  const proxy = await setup(t);
  const s = await connect(proxy.port);
  t.is(await roundTrip(s, 'x', 2000), 'x');
  const closed = new Promise((r) => s.once('close', r));
  proxy.setMode({ kind: 'drop' });
  await closed;
  const again = net.connect({ port: proxy.port, host: '127.0.0.1' });
  await new Promise((r) => again.once('close', r).on('error', () => undefined));
  t.pass();
});

test('blackhole answers nothing but keeps the connection; healing resets it', async (t) => {
  const proxy = await setup(t);
  const s = await connect(proxy.port);
  proxy.setMode({ kind: 'blackhole' });
  t.is(await roundTrip(s, 'lost', 300), null);
  const fresh = await connect(proxy.port);
  t.is(await roundTrip(fresh, 'lost too', 300), null);
  const closed = new Promise((r) => s.once('close', r));
  proxy.setMode({ kind: 'pass' });
  await closed;
  const after = await connect(proxy.port);
  t.is(await roundTrip(after, 'back', 2000), 'back');
  after.destroy();
  fresh.destroy();
});
