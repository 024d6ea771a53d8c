/**
 * An operating error from an admin method whose IDL does not declare it
 * (TimedOut, Unavailable, a full disk) reaches the admin client with its
 * code and its sentence, through a real server, the generated processor and
 * the node's handler; one the method declares still travels as its struct.
 */
import test from 'ava';
import { NodeAdmin } from '../../src/client/client';
import { ErrorCode, isKvError, KvError } from '../../src/common/errors';
import { Handler, HandlerServices } from '../../src/node/handler';
import { toKvError } from '../../src/rpc/errors';
import { RpcServer } from '../../src/rpc/server';
import { ProcessorClass, types } from '../../src/rpc/thrift';

const SECRET = 'admin-errors-secret';

// The Thrift runtime's generic error, as an undeclared failure arrives.
const { TApplicationException } = require('thrift').Thrift as { TApplicationException: new (type: number, message: string) => Error };

/** A node whose admin services all fail with `failure`: only what the handler reads of them. */
async function failingNode(failure: KvError): Promise<RpcServer> {
  const fail = async (): Promise<never> => {
    throw failure;
  };
  const services = {
    secret: SECRET,
    decommission: fail,
    move: fail,
    removeNode: fail,
    abortOperation: fail,
    cleanup: () => {
      throw failure;
    },
  } as unknown as HandlerServices;
  const server = new RpcServer(new ProcessorClass(new Handler(services)), { host: '127.0.0.1', port: 0, frameBytesMax: 1 << 20 });
  await server.listen();
  return server;
}

async function adminFailure(failure: KvError, call: (admin: NodeAdmin) => Promise<unknown>): Promise<KvError> {
  const server = await failingNode(failure);
  const admin = new NodeAdmin({ host: '127.0.0.1', port: server.port }, SECRET, 5000);
  try {
    const err = await call(admin).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isKvError(err)) throw new Error(`expected a KvError, got ${String(err)}`);
    return err;
  } finally {
    admin.close();
    await server.close();
  }
}

const CASES: ReadonlyArray<{ code: ErrorCode; method: string; call: (admin: NodeAdmin) => Promise<unknown> }> = [
  { code: 'TimedOut', method: 'decommission', call: (a) => a.decommission() },
  { code: 'Unavailable', method: 'decommission', call: (a) => a.decommission() },
  { code: 'StorageFull', method: 'cleanup', call: (a) => a.cleanup(true) },
  { code: 'TimedOut', method: 'move', call: (a) => a.move(Buffer.from('m')) },
  { code: 'Unavailable', method: 'move (declared)', call: (a) => a.move(Buffer.from('m')) },
  { code: 'TimedOut', method: 'abortOperation', call: (a) => a.abortOperation(5000) },
  { code: 'TimedOut', method: 'removeNode', call: (a) => a.removeNode(3) },
  { code: 'Unavailable', method: 'removeNode (declared)', call: (a) => a.removeNode(3) },
];

for (const { code, method, call } of CASES) {
  test(`${code} from ${method} reaches the admin client as ${code}, with its sentence alone`, async (t) => {
    const sentence = 'cas commit at QUORUM reached 1 of 2 replicas; the value was chosen and will be applied';
    const err = await adminFailure(new KvError(code, sentence), call);
    t.is(err.code, code);
    t.is(err.message, sentence);
  });
}

test("the coded line comes back as its code; any other application exception stays the node's failure", (t) => {
  // What the generated processor sends for an undeclared error: the runtime's application exception with its message.
  const coded = toKvError(new TApplicationException(0, 'TimedOut: the slot was not decided in time'));
  t.is(coded.code, 'TimedOut');
  t.is(coded.message, 'the slot was not decided in time');
  const other = toKvError(new TApplicationException(0, 'something broke'));
  t.is(other.code, 'Internal');
  t.is(other.message, 'the node failed: something broke');
  // A code the method declares still travels as its struct, with its counts.
  const declared = toKvError(new types.Unavailable({ message: 'down', needed: 2, alive: 1 }));
  t.is(declared.code, 'Unavailable');
  t.deepEqual(declared.details, { required: 2, alive: 1 });
});
