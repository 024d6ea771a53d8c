/**
 * The client's speculative reads (client/speculation.ts) against nodes in
 * this process whose answers the test holds back or gives: a read the first
 * node has not answered is sent to the next one, and the first answer wins;
 * writes and SERIAL reads are never sent twice.
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { isKvError, KvError } from '../../src/common/errors';
import { toWireError } from '../../src/rpc/errors';
import { RpcServer } from '../../src/rpc/server';
import { ProcessorClass, types } from '../../src/rpc/thrift';
import { SpeculationQueue } from '../../src/client/speculation';
import { performance } from 'node:perf_hooks';

/** How a fake node answers: with a value, an error, or not until the test ends. */
type Answer = { value: string } | { error: 'TimedOut' | 'Unavailable' } | 'hang';

interface Fakes {
  /** Names of the nodes asked, in order, each time a request arrived. */
  readonly asked: string[];
  readonly servers: RpcServer[];
  /** Resolves once node `i` has been asked. */
  askedNode(i: number): Promise<void>;
  /** Lets every held answer go (as errors), so the servers can close. */
  release(): void;
}

/**
 * Nodes answering as `answers` say; `waitFor[i]`, when given, holds node i's
 * answer until node waitFor[i] has been asked.
 */
async function fakeNodes(answers: Answer[], waitFor: (number | undefined)[] = []): Promise<Fakes> {
  const asked: string[] = [];
  const arrivals = answers.map(() => {
    let mark!: () => void;
    const p = new Promise<void>((resolve) => {
      mark = resolve;
    });
    return { p, mark };
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const answer = async (i: number): Promise<types.ReadResult> => {
    asked.push(`node ${i}`);
    arrivals[i]!.mark();
    const a = answers[i]!;
    if (waitFor[i] !== undefined) await arrivals[waitFor[i]!]!.p;
    if (a === 'hang') {
      await released;
      throw toWireError(new KvError('TimedOut', `node ${i} was held until the test ended`));
    }
    if ('error' in a) throw toWireError(new KvError(a.error, `node ${i} failed as told`));
    return new types.ReadResult({ found: true, value: Buffer.from(a.value), ts: 1 as never });
  };
  const servers = await Promise.all(
    answers.map(async (_, i) => {
      const handler = {
        get: (_key: Buffer, _level: number) => answer(i),
        put: async (_key: Buffer, _value: Buffer, _level: number): Promise<number> => {
          await answer(i);
          return 1;
        },
      };
      const server = new RpcServer(new ProcessorClass(handler), { host: '127.0.0.1', port: 0, frameBytesMax: 1 << 20 });
      await server.listen();
      return server;
    }),
  );
  return { asked, servers, askedNode: (i) => arrivals[i]!.p, release };
}

/** Runs `body` with a node-routing client of the fakes (node 0 first), then closes everything. */
async function withClient<T>(
  fakes: Fakes,
  options: ConstructorParameters<typeof KvClient>[1],
  body: (client: KvClient) => Promise<T>,
): Promise<T> {
  const client = new KvClient(
    fakes.servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
    { timeoutMs: 5000, ...options },
  );
  try {
    return await body(client);
  } finally {
    fakes.release();
    client.close();
    await Promise.all(fakes.servers.map((s) => s.close()));
  }
}

/** What a call gave: its value, or the KvError it failed with. */
async function outcome<T>(p: Promise<T>): Promise<T | KvError> {
  return p.catch((err: unknown) => {
    if (!isKvError(err)) throw err;
    return err;
  });
}

test('a read the first node holds is sent to the next node, whose answer wins', async (t) => {
  const fakes = await fakeNodes(['hang', { value: 'from node 1' }, { value: 'from node 2' }]);
  await withClient(fakes, { speculativeRetry: '20ms' }, async (client) => {
    const r = await client.get('k', 'QUORUM');
    t.is(r.value.toString(), 'from node 1');
    t.deepEqual(fakes.asked, ['node 0', 'node 1']);
    t.is(client.speculativeReads, 1);
  });
});

/**
 * The request timeout of the tests whose first node holds its answer: the
 * read must reach that node before it ends, which took over 300 ms once in
 * a loaded full run (the node had not been asked when the read timed out).
 */
const HELD_TIMEOUT_MS = 3000;

test('node routing does not speculate unless asked to: the chosen node is waited for', async (t) => {
  const fakes = await fakeNodes(['hang', { value: 'from node 1' }]);
  await withClient(fakes, { timeoutMs: HELD_TIMEOUT_MS }, async (client) => {
    const r = await outcome(client.get('k', 'QUORUM'));
    t.true(isKvError(r, 'TimedOut'), String(r));
    t.deepEqual(fakes.asked, ['node 0']);
    t.is(client.speculativeReads, 0);
  });
});

test('when the first node fails after the second was asked, the second answer is taken', async (t) => {
  // Node 0 answers its error only once node 1 has the read.
  const fakes = await fakeNodes([{ error: 'TimedOut' }, { value: 'from node 1' }], [1]);
  await withClient(fakes, { speculativeRetry: 'ALWAYS' }, async (client) => {
    t.is((await client.get('k', 'ONE')).value.toString(), 'from node 1');
    t.deepEqual(fakes.asked, ['node 0', 'node 1']);
  });
});

test("when both asks fail, the caller gets the first node's error", async (t) => {
  const fakes = await fakeNodes([{ error: 'TimedOut' }, { error: 'TimedOut' }], [1]);
  await withClient(fakes, { speculativeRetry: 'ALWAYS' }, async (client) => {
    const r = await outcome(client.get('k', 'QUORUM'));
    t.true(isKvError(r, 'TimedOut'), String(r));
    t.regex((r as KvError).message, /^node 0 failed as told/);
    t.deepEqual(fakes.asked, ['node 0', 'node 1']);
  });
});

test('a failure before the wait is over goes to the failover as before, with no second ask', async (t) => {
  // Unavailable means the node wrote and read nothing: the client tries the next node at once.
  const fakes = await fakeNodes([{ error: 'Unavailable' }, { value: 'from node 1' }, { value: 'from node 2' }]);
  await withClient(fakes, { speculativeRetry: '2000ms' }, async (client) => {
    t.is((await client.get('k', 'QUORUM')).value.toString(), 'from node 1');
    t.deepEqual(fakes.asked, ['node 0', 'node 1']);
    t.is(client.speculativeReads, 0);
  });
});

test('an answer within the wait is the only ask', async (t) => {
  const fakes = await fakeNodes([{ value: 'from node 0' }, { value: 'from node 1' }]);
  await withClient(fakes, { speculativeRetry: '2000ms' }, async (client) => {
    for (let i = 0; i < 5; i++) t.is((await client.get('k', 'QUORUM')).value.toString(), 'from node 0');
    t.deepEqual(fakes.asked, ['node 0', 'node 0', 'node 0', 'node 0', 'node 0']);
    t.is(client.speculativeReads, 0);
  });
});

test('writes and SERIAL reads are never sent twice', async (t) => {
  const fakes = await fakeNodes(['hang', { value: 'from node 1' }]);
  await withClient(fakes, { speculativeRetry: 'ALWAYS', timeoutMs: HELD_TIMEOUT_MS }, async (client) => {
    t.true(isKvError(await outcome(client.put('k', 'v', 'QUORUM')), 'TimedOut'));
    t.true(isKvError(await outcome(client.get('k', 'SERIAL')), 'TimedOut'));
    t.deepEqual(fakes.asked, ['node 0', 'node 0']);
    t.is(client.speculativeReads, 0);
  });
});

test('token routing speculates by default: a read its replica holds is answered by the next replica', async (t) => {
  const fakes = await fakeNodes(['hang', { value: 'from node 1' }, { value: 'from node 2' }]);
  // Key 'k' falls in node 0's range ('a' < 'k' <= 'm'), replicas 0, 1, 2; the first read starts at the owner.
  const tokens = ['m', 's', 'x'];
  const client = new KvClient(
    fakes.servers.map((s, i) => ({ host: '127.0.0.1', port: s.port, token: tokens[i]! })),
    { routing: 'token', replicationFactor: 3 },
  );
  try {
    t.is((await client.get('k', 'ONE')).value.toString(), 'from node 1');
    t.deepEqual(fakes.asked, ['node 0', 'node 1']);
    t.is(client.speculativeReads, 1);
  } finally {
    fakes.release();
    client.close();
    await Promise.all(fakes.servers.map((s) => s.close()));
  }
});

test('a speculativeRetry that is none of its forms is refused in one sentence', (t) => {
  const err = t.throws(() => new KvClient([{ host: '127.0.0.1', port: 1 }], { speculativeRetry: 'often' }));
  t.true(isKvError(err, 'InvalidRequest'));
  t.is(
    err!.message,
    'speculativeRetry must be a percentile ("99p", above 0 and below 100), a wait ("20ms"), "ALWAYS" or "NONE", not "often"',
  );
});

/** Resolves once `cond` holds, checking every few ms; fails after `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('the condition did not hold in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('the queue drops answered reads at its head at once, past its first size, in any order of answers', (t) => {
  const queue = new SpeculationQueue();
  const far = performance.now() + 60_000;
  const handles = Array.from({ length: 600 }, () => queue.wait(far, 60_000, () => t.fail('never due')));
  t.is(queue.size, 600);
  for (const h of handles.slice(1).reverse()) queue.answered(h);
  t.is(queue.size, 600, 'the first read still waits, so the answered ones behind it stay');
  queue.answered(handles[0]!);
  t.is(queue.size, 0, 'once it is answered, all go');
  queue.answered(handles[3]!);
  t.is(queue.size, 0, 'answering twice changes nothing');
  queue.close();
});

test('a read whose time has come is asked again once; its answer after that changes nothing', async (t) => {
  const queue = new SpeculationQueue();
  const asked: number[] = [];
  const now = performance.now();
  const first = queue.wait(now, 0, () => asked.push(1));
  const answeredInTime = queue.wait(now + 1, 1, () => asked.push(2));
  queue.answered(answeredInTime);
  const third = queue.wait(now + 2, 2, () => asked.push(3));
  await until(() => queue.size === 0);
  t.deepEqual(asked, [1, 3]);
  queue.answered(first);
  queue.answered(third);
  t.deepEqual(asked, [1, 3]);
  t.is(queue.size, 0);
  queue.close();
});
