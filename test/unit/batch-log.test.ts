/**
 * The batch log: its blob layout round-trips any batch (property test), a
 * blob of another format is refused loudly, and the SQLite log keeps its
 * batches, counts and bytes across a reopen, for both drivers.
 */
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyName, decodeBatch, encodeBatch, SqliteBatchLog } from '../../src/storage/batch-log';
import { Sqlite, SqliteDriverName } from '../../src/storage/sqlite';
import { KeyedVersion } from '../../src/storage/version';
import { byteString } from './arbitraries';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-batch-log-'));
let fileNo = 0;

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A batch's write: a value (maybe with an expiry) or a tombstone, at a µs timestamp as the clock makes them. */
const write: fc.Arbitrary<KeyedVersion> = fc
  .record({
    key: byteString(1, 40),
    value: byteString(0, 300),
    ts: fc.integer({ min: 0, max: 2 ** 53 - 1 }),
    kind: fc.constantFrom('value', 'expiring', 'tombstone'),
    ttlUs: fc.integer({ min: 1_000_000, max: 10 * 365 * 24 * 3600 * 1_000_000 }),
  })
  .map(({ key, value, ts, kind, ttlUs }) => {
    if (kind === 'tombstone') return { key, version: { value: '', ts, deleted: true } };
    if (kind === 'expiring') return { key, version: { value, ts, deleted: false, expires: ts + ttlUs } };
    return { key, version: { value, ts, deleted: false } };
  });

test('any batch comes back from its blob exactly as it went in', (t) => {
  fc.assert(
    fc.property(fc.array(write, { minLength: 1, maxLength: 100 }), (items) => {
      t.deepEqual(decodeBatch(encodeBatch(items)), items);
    }),
  );
});

test('a blob that is not a batch of this format is an assertion, not a batch', (t) => {
  const blob = encodeBatch([{ key: 'k', version: { value: 'v', ts: 1, deleted: false } }]);
  t.throws(() => decodeBatch(Buffer.concat([blob, Buffer.from([0])])), { message: /nothing after them/ });
  const other = Buffer.from(blob);
  other[0] = 9;
  t.throws(() => decodeBatch(other), { message: /format 1/ });
  t.throws(() => decodeBatch(blob.subarray(0, blob.length - 1)));
});

for (const driver of ['inline', 'thread'] as SqliteDriverName[]) {
  test(`${driver}: batches are listed in id order from a cursor, removed, and kept with their sizes across a reopen`, async (t) => {
    const path = join(dir, `log-${++fileNo}.db`);
    let db = await Sqlite.open(path, driver);
    let log = await SqliteBatchLog.open(db);
    const batch = (n: number): KeyedVersion[] => [
      { key: `a${n}`, version: { value: 'x'.repeat(n), ts: n, deleted: false } },
      { key: `b${n}`, version: { value: '', ts: n, deleted: true } },
    ];
    const added = [1, 2, 3].map((n) => log.add(batch(n), 1000 + n));
    t.deepEqual(
      added.map((a) => a.id),
      [1, 2, 3],
      'ids are given at once, in order',
    );
    t.is(log.size, 3, 'a batch counts from the moment it is added');
    await Promise.all(added.map((a) => a.durable));
    const bytes = [1, 2, 3].reduce((sum, n) => sum + encodeBatch(batch(n)).length, 0);
    t.is(log.bytes, bytes);
    t.deepEqual(
      (await log.list(1, 10)).map((b) => [b.id, b.createdMs]),
      [
        [2, 1002],
        [3, 1003],
      ],
    );
    t.deepEqual((await log.list(0, 1))[0]!.items, batch(1));
    await log.remove(2);
    await db.close();
    db = await Sqlite.open(path, driver);
    log = await SqliteBatchLog.open(db);
    t.is(log.size, 2);
    t.is(log.bytes, bytes - encodeBatch(batch(2)).length);
    t.deepEqual(
      (await log.list(0, 10)).map((b) => b.id),
      [1, 3],
    );
    const next = log.add(batch(4), 1004);
    t.is(next.id, 4, 'ids go on after the largest kept');
    await next.durable;
    await db.close();
  });
}

test('the batches added and removed in one turn go in one transaction, and one whose delete is queued is not listed', async (t) => {
  const db = await Sqlite.open(':memory:');
  let transactions = 0;
  const runTransaction = db.runTransaction.bind(db);
  db.runTransaction = (statements, tail) => {
    transactions++;
    return runTransaction(statements, tail);
  };
  const log = await SqliteBatchLog.open(db);
  const one = (key: string): KeyedVersion[] => [{ key, version: { value: 'v', ts: 1, deleted: false } }];
  const added = ['a', 'b', 'c'].map((k) => log.add(one(k), 1));
  await Promise.all(added.map((a) => a.durable));
  t.is(transactions, 1, 'three adds of one turn, one transaction');
  const leaving = log.remove(1);
  t.deepEqual(
    (await log.list(0, 2)).map((b) => b.id),
    [2, 3],
    'the batch being removed is passed over, and the page is still full',
  );
  const more = log.add(one('d'), 1);
  await Promise.all([leaving, log.remove(2), more.durable]);
  t.is(transactions, 2, 'two removes and an add of one turn, one transaction');
  t.deepEqual(
    (await log.list(0, 10)).map((b) => b.id),
    [3, 4],
  );
  await db.close();
});

test('a batch whose commit fails is not counted, and its caller gets the error', async (t) => {
  const db = await Sqlite.open(':memory:');
  const log = await SqliteBatchLog.open(db);
  db.runTransaction = async () => {
    throw new Error('disk I/O error');
  };
  const { durable } = log.add([{ key: 'k', version: { value: 'v', ts: 1, deleted: false } }], 1);
  await t.throwsAsync(durable, { message: 'disk I/O error' });
  t.is(log.size, 0);
  t.is(log.bytes, 0);
  await db.close();
});

test('flush waits for the queued changes, so a node closing its file loses none of them', async (t) => {
  const path = join(dir, `log-${++fileNo}.db`);
  const db = await Sqlite.open(path);
  const log = await SqliteBatchLog.open(db);
  const { durable } = log.add([{ key: 'k', version: { value: 'v', ts: 1, deleted: false } }], 1);
  await log.flush();
  await db.close();
  await durable;
  const again = await Sqlite.open(path);
  t.deepEqual(
    (await (await SqliteBatchLog.open(again)).list(0, 10)).map((b) => b.id),
    [1],
  );
  await again.close();
});

test('a copy of another coordinator keeps its origin and name across a reopen, and leaves the name index when removed', async (t) => {
  const path = join(dir, `log-${++fileNo}.db`);
  let db = await Sqlite.open(path);
  let log = await SqliteBatchLog.open(db);
  const items: KeyedVersion[] = [{ key: 'k', version: { value: 'v', ts: 5, deleted: false } }];
  await log.add(items, 100).durable;
  const copy = log.add(items, 200, { owner: 0, ownerBatch: 41 });
  await log.add(items, 300, { owner: 2, ownerBatch: 41 }).durable;
  await copy.durable;
  t.is(log.copyCount, 2);
  t.is(log.copyId(copyName({ owner: 0, ownerBatch: 41 }, 200)), copy.id, 'node 0 is an owner like any other');
  t.is(log.copyId(copyName({ owner: 0, ownerBatch: 41 }, 201)), undefined, 'a copy is named by its time too');
  await db.close();
  db = await Sqlite.open(path);
  log = await SqliteBatchLog.open(db);
  t.is(log.size, 3);
  t.is(log.copyCount, 2);
  t.deepEqual(
    (await log.list(0, 10)).map((b) => [b.createdMs, b.copyOf]),
    [
      [100, undefined],
      [200, { owner: 0, ownerBatch: 41 }],
      [300, { owner: 2, ownerBatch: 41 }],
    ],
  );
  await log.remove(log.copyId(copyName({ owner: 2, ownerBatch: 41 }, 300))!);
  t.is(log.copyCount, 1);
  t.is(log.copyId(copyName({ owner: 2, ownerBatch: 41 }, 300)), undefined);
  await db.close();
});

test('the log holds its own batches by id and time, across a reopen; a copy is not its own', async (t) => {
  const path = join(dir, `log-${++fileNo}.db`);
  let db = await Sqlite.open(path);
  let log = await SqliteBatchLog.open(db);
  const items: KeyedVersion[] = [{ key: 'k', version: { value: 'v', ts: 5, deleted: false } }];
  const own = log.add(items, 100);
  const copy = log.add(items, 200, { owner: 0, ownerBatch: 1 });
  t.true(log.holds(own.id, 100), 'held from the moment it is added');
  await Promise.all([own.durable, copy.durable]);
  t.false(log.holds(own.id, 101), 'a batch is named by its time too (ids start again on a new disk)');
  t.false(log.holds(copy.id, 200));
  await db.close();
  db = await Sqlite.open(path);
  log = await SqliteBatchLog.open(db);
  t.true(log.holds(own.id, 100));
  t.false(log.holds(copy.id, 200));
  await log.remove(own.id);
  t.false(log.holds(own.id, 100));
  await db.close();
});
