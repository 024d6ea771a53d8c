import test from 'ava';
import { outcomeOf } from '../../src/chaos/history';
import { KvClient } from '../../src/client/client';
import { isKvError, KvError } from '../../src/common/errors';
import { toWireError } from '../../src/rpc/errors';
import { RpcServer } from '../../src/rpc/server';
import { ProcessorClass } from '../../src/rpc/thrift';

type Answer = 'ok' | 'Unavailable' | 'InvalidRequest';

/** A node in this process whose put answers as told, and notes who was asked. */
async function fakeNode(name: string, answer: Answer, asked: string[]): Promise<RpcServer> {
  const handler = {
    // Three parameters, as the IDL has: the generated processor then takes the answer as a promise.
    put: async (_key: Buffer, _value: Buffer, _level: number): Promise<number> => {
      asked.push(name);
      if (answer === 'ok') return 42;
      throw toWireError(new KvError(answer, `${name} is still learning the ring from its peers`));
    },
  };
  const server = new RpcServer(new ProcessorClass(handler), { host: '127.0.0.1', port: 0, frameBytesMax: 1 << 20 });
  await server.listen();
  return server;
}

/** Puts once through a node-routing client of nodes answering `answers`, in order; what came back, and who was asked. */
async function putThrough(answers: Answer[]): Promise<{ result: number | KvError; asked: string[] }> {
  const asked: string[] = [];
  const servers = await Promise.all(answers.map((a, i) => fakeNode(`node ${i}`, a, asked)));
  const client = new KvClient(
    servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
    { timeoutMs: 5000 },
  );
  try {
    const result = await client.put('k', 'v', 'QUORUM').then(
      ({ ts }) => ts,
      (err: unknown) => {
        if (!isKvError(err)) throw err;
        return err;
      },
    );
    return { result, asked };
  } finally {
    client.close();
    await Promise.all(servers.map((s) => s.close()));
  }
}

test('a node that refuses as Unavailable (it wrote nothing) is passed over for the next one', async (t) => {
  const { result, asked } = await putThrough(['Unavailable', 'ok']);
  t.is(result, 42);
  t.deepEqual(asked, ['node 0', 'node 1']);
});

test('when every node refuses as Unavailable, the first refusal is what the caller gets', async (t) => {
  const { result, asked } = await putThrough(['Unavailable', 'Unavailable', 'Unavailable']);
  t.true(isKvError(result, 'Unavailable'), String(result));
  t.regex((result as KvError).message, /^node 0 is still learning the ring/);
  t.deepEqual(asked, ['node 0', 'node 1', 'node 2'], 'each node asked once');
});

test('any other refusal is the answer: a bad request is not tried elsewhere', async (t) => {
  const { result, asked } = await putThrough(['InvalidRequest', 'ok']);
  t.true(isKvError(result, 'InvalidRequest'), String(result));
  t.deepEqual(asked, ['node 0']);
});

test('when no node can be reached, the error says the request was never sent; a cas reports unknown only once an attempt may have left', async (t) => {
  // Ports with nothing listening: every connection is refused, so no request leaves.
  const closed = await Promise.all([0, 1].map(() => fakeNode('gone', 'ok', [])));
  const ports = closed.map((s) => s.port);
  await Promise.all(closed.map((s) => s.close()));
  const client = new KvClient(
    ports.map((port) => ({ host: '127.0.0.1', port })),
    { timeoutMs: 2000 },
  );
  try {
    const put = await client.put('k', 'v', 'QUORUM').catch((err: unknown) => err);
    t.true(isKvError(put, 'ConnectionError'), String(put));
    t.is((put as KvError).details.notSent, 1, 'a put that never left');
    t.is(outcomeOf(put), 'Unavailable', 'which the chaos checker counts as applied nowhere');
    const cas = await client.cas('k', null, 'v').catch((err: unknown) => err);
    t.true(isKvError(cas, 'ConnectionError'), String(cas));
    t.is((cas as KvError).details.notSent, 1, 'every attempt of the cas failed to leave');
  } finally {
    client.close();
  }
});

test('a cas whose first attempt may have reached its node, and whose retries cannot be sent, is unknown (TimedOut)', async (t) => {
  let server: RpcServer | undefined;
  let asked = 0;
  // The node takes the cas and never answers; it goes away once asked, so every retry's connection is refused.
  const handler = {
    cas: (): Promise<never> => {
      asked++;
      void server!.close();
      return new Promise<never>(() => undefined);
    },
  };
  server = new RpcServer(new ProcessorClass(handler), { host: '127.0.0.1', port: 0, frameBytesMax: 1 << 20 });
  await server.listen();
  const client = new KvClient([{ host: '127.0.0.1', port: server.port }], { timeoutMs: 500 });
  try {
    const err = await client.cas('k', null, 'v').catch((e: unknown) => e);
    t.is(asked, 1);
    t.true(isKvError(err, 'TimedOut'), String(err));
    t.regex((err as KvError).message, /whether an earlier attempt applied is unknown/);
    t.is(outcomeOf(err), 'TimedOut');
  } finally {
    client.close();
    await server.close();
  }
});
