import test from 'ava';
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
