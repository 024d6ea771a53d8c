/** A full disk, from SQLite's error to the client's KvError, through every mapping on the way. */
import test from 'ava';
import { isKvError, STORAGE_FULL_MESSAGE, storageFull } from '../../src/common/errors';
import { toKvError, toWireError } from '../../src/rpc/errors';
import { types } from '../../src/rpc/thrift';

// The Thrift runtime's generic error, as a peer's undeclared failure arrives.
const { TApplicationException } = require('thrift').Thrift as { TApplicationException: new (type: number, message: string) => Error };
import { writeFailure } from '../../src/storage/sqlite';

test("SQLite's SQLITE_FULL becomes StorageFull; other write errors stay as they are", (t) => {
  const full = Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' });
  const mapped = writeFailure(full);
  t.true(isKvError(mapped, 'StorageFull'));
  t.true(mapped.message.startsWith(STORAGE_FULL_MESSAGE));
  t.regex(mapped.message, /SQLITE_FULL: database or disk is full/);
  const io = Object.assign(new Error('SQLITE_IOERR: disk I/O error'), { code: 'SQLITE_IOERR' });
  t.is(writeFailure(io), io);
});

test('to a client StorageFull travels as a TimedOut with reason StorageFull, and comes back as StorageFull', (t) => {
  const err = storageFull('SQLITE_FULL');
  const withCounts = Object.assign(err, { details: { acked: 1, required: 2 } });
  const wire = toWireError(withCounts);
  t.true(wire instanceof types.TimedOut);
  const timedOut = wire as InstanceType<typeof types.TimedOut>;
  t.is(timedOut.reason, 'StorageFull');
  t.is(timedOut.acked, 1);
  const back = toKvError(wire);
  t.is(back.code, 'StorageFull');
  t.is(back.message, err.message);
  t.deepEqual(back.details, { acked: 1, required: 2 });
});

test('an older node TimedOut without reason stays TimedOut', (t) => {
  t.is(toKvError(new types.TimedOut({ message: 'late', acked: 0, needed: 2 })).code, 'TimedOut');
});

test("between nodes a replica's full disk arrives as a generic Thrift error and is known by its message", (t) => {
  const internode = new TApplicationException(0, storageFull('SQLITE_FULL').message);
  t.is(toKvError(internode).code, 'StorageFull');
  t.is(toKvError(new TApplicationException(0, 'something else')).code, 'Internal');
});
