/**
 * heldBatches through a real server, the generated processor and the
 * node's handler, asked by the real peer link: a holder hears which of the
 * batches it names the coordinator still holds, with their ids and times
 * as it sent them; bad lists get their sentence, a wrong secret is refused.
 */
import test from 'ava';
import type { BatchCopyRef } from '../../src/coordinator/batch-writer';
import { isKvError } from '../../src/common/errors';
import { Handler, HandlerServices } from '../../src/node/handler';
import { RpcServer } from '../../src/rpc/server';
import { ProcessorClass } from '../../src/rpc/thrift';
import { ThriftTransport } from '../../src/rpc/thrift-transport';

const SECRET = 'held-batches-secret';

/** A coordinator whose log holds, as its own, the batches named in `held` (`id/createdMs`). */
async function coordinator(held: ReadonlySet<string>): Promise<RpcServer> {
  const services = {
    secret: SECRET,
    batches: { heldBatches: (refs: readonly BatchCopyRef[]) => refs.filter((r) => held.has(`${r.ownerBatch}/${r.createdMs}`)) },
  } as unknown as HandlerServices;
  const server = new RpcServer(new ProcessorClass(new Handler(services)), { host: '127.0.0.1', port: 0, frameBytesMax: 1 << 20 });
  await server.listen();
  return server;
}

function linkTo(server: RpcServer, secret = SECRET) {
  const transport = new ThriftTransport({
    selfId: 1,
    secret,
    requestTimeoutMs: 5_000,
    frameBytesMax: 1 << 20,
    endpoint: () => ({ host: '127.0.0.1', port: server.port }),
  });
  return transport.link(0, { lost: () => {}, connectFailed: () => {}, epoch: () => 1, refusedAsStale: () => {} });
}

const failure = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => undefined,
    (e: unknown) => e,
  );

test('a holder hears which of its batches the coordinator still holds, by id and time', async (t) => {
  // Times in ms since 1970 and ids past 2^32: both must cross the wire as i64s, whole.
  const created = 1_796_000_000_123;
  const server = await coordinator(new Set([`7/${created}`, `${2 ** 40}/${created}`]));
  const link = linkTo(server);
  try {
    const asked = [
      { ownerBatch: 7, createdMs: created },
      { ownerBatch: 7, createdMs: created + 1 },
      { ownerBatch: 8, createdMs: created },
      { ownerBatch: 2 ** 40, createdMs: created },
    ];
    t.deepEqual(await link.heldBatches(asked), [asked[0], asked[3]]);
    t.deepEqual(await link.heldBatches([asked[2]!]), [], 'none held: an empty answer');
  } finally {
    link.close();
    await server.close();
  }
});

test('a list that is empty, too long or holds a bad reference gets its sentence; a wrong secret is refused', async (t) => {
  const server = await coordinator(new Set());
  const link = linkTo(server);
  const stranger = linkTo(server, 'not-the-secret');
  try {
    const cases: [readonly BatchCopyRef[], string][] = [
      [[], 'batches must number 1 to 64 a call'],
      [Array.from({ length: 65 }, (_, i) => ({ ownerBatch: i, createdMs: 1 })), 'batches must number 1 to 64 a call'],
      [[{ ownerBatch: -1, createdMs: 1 }], 'a batch copy needs its id and time, whole numbers from 0'],
    ];
    for (const [refs, sentence] of cases) {
      const err = await failure(link.heldBatches(refs));
      t.true(isKvError(err) && err.code === 'InvalidRequest', String(err));
      t.is((err as Error).message, sentence);
    }
    const refused = await failure(stranger.heldBatches([{ ownerBatch: 1, createdMs: 1 }]));
    t.true(isKvError(refused) && refused.code === 'Unauthorized', String(refused));
  } finally {
    link.close();
    stranger.close();
    await server.close();
  }
});
