import test from 'ava';
import { rmSync } from 'node:fs';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { KvNode } from '../../src/node/node';
import { Sqlite } from '../../src/storage/sqlite';
import { SCHEMA_VERSION } from '../../src/storage/schema';
import { encodeBatch } from '../../src/storage/batch-log';

test('a node refuses a data file written with another table layout, and says what to do', async (t) => {
  const lc = await LocalCluster.create({ tokens: ['M'], replicationFactor: 1 });
  try {
    const db = await Sqlite.open(`${lc.dir}/node-0.sqlite`);
    await db.exec('CREATE TABLE log (seq INTEGER PRIMARY KEY, key BLOB)');
    await db.close();
    await t.throwsAsync(KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir }), {
      name: 'ConfigError',
      message: new RegExp(`data layout 0, this build reads layout ${SCHEMA_VERSION}; move it away`),
    });
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});

test('a new data file is stamped and opens again', async (t) => {
  const lc = await LocalCluster.create({ tokens: ['M'], replicationFactor: 1 });
  try {
    const node = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
    await node.stop();
    const again = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
    await again.stop();
    const db = await Sqlite.open(`${lc.dir}/node-0.sqlite`);
    t.deepEqual(await db.all('PRAGMA user_version'), [{ user_version: SCHEMA_VERSION }]);
    await db.close();
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});

/**
 * Layout 3 exactly as builds before the epoch log wrote it (frozen here: the
 * point is that such a file keeps opening, whatever schema.ts becomes).
 */
const LAYOUT_3 = `CREATE TABLE log (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, stamp INTEGER NOT NULL, expires INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE hints (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    ts INTEGER NOT NULL, deleted INTEGER NOT NULL, created_ms INTEGER NOT NULL, expires INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX hints_by_target ON hints (target, id);
  CREATE TABLE paxos (key BLOB PRIMARY KEY, state TEXT NOT NULL, in_progress INTEGER NOT NULL, newest_us INTEGER NOT NULL);
  CREATE INDEX paxos_by_age ON paxos (in_progress, newest_us);
  PRAGMA user_version = 3;`;

for (const [layout, tables] of [
  [1, () => LAYOUT_1],
  [3, () => LAYOUT_3],
] as const) {
  test(`a data file of layout ${layout} (before the epoch log) opens with its data, gains the bootstrap epoch, and reopens`, async (t) => {
    const lc = await LocalCluster.create({ tokens: ['M'], replicationFactor: 1 });
    try {
      const file = `${lc.dir}/node-0.sqlite`;
      const old = await Sqlite.open(file);
      await old.exec(tables());
      // stamp = ts * 2 + deleted
      await old.exec(
        "INSERT INTO log (seq, key, value, stamp) VALUES (1, 'kept', 'from an old layout', 2000000); INSERT INTO meta VALUES ('settled_seq', 1);",
      );
      await old.close();
      for (let start = 0; start < 2; start++) {
        const node = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
        t.is(node.store.get('kept')?.value, 'from an old layout');
        t.is(node.epochs.epoch, 1);
        t.deepEqual(node.epochs.membership.members, [{ id: 0, token: 'M', state: 'NORMAL' }]);
        await node.stop();
      }
      const db = await Sqlite.open(file);
      t.deepEqual(await db.all('PRAGMA user_version'), [{ user_version: SCHEMA_VERSION }]);
      t.deepEqual(await db.all('SELECT epoch FROM epochs'), [{ epoch: 1 }], 'the bootstrap, stored once');
      await db.close();
    } finally {
      rmSync(lc.dir, { recursive: true, force: true });
    }
  });
}

test('a data file of layout 1 (before compare-and-set) is migrated: its log replays and cas works on it', async (t) => {
  const lc = await LocalCluster.create({ tokens: ['M'], replicationFactor: 1 });
  try {
    // Layout 1 exactly as the build before the paxos table wrote it, with one key in the log.
    const db = await Sqlite.open(`${lc.dir}/node-0.sqlite`);
    await db.exec(`CREATE TABLE log (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, stamp INTEGER NOT NULL);
      CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      CREATE TABLE hints (id INTEGER PRIMARY KEY AUTOINCREMENT, target INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
        ts INTEGER NOT NULL, deleted INTEGER NOT NULL, created_ms INTEGER NOT NULL);
      CREATE INDEX hints_by_target ON hints (target, id);
      INSERT INTO log (seq, key, value, stamp) VALUES (1, 'old', 'kept', ${Date.now() * 1000 * 2});
      PRAGMA user_version = 1;`);
    await db.close();
    const node = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
    try {
      t.is(node.store.get('old')?.value, 'kept');
      const answer = await node.proposer.cas({ key: 'old', expected: 'kept', value: 'new', requestId: 'r1', level: 'QUORUM' });
      t.true(answer.applied);
      t.is(node.store.get('old')?.value, 'new');
      t.is((await node.paxos.load('old')).committed?.requestId, 'r1');
    } finally {
      await node.stop();
    }
    const after = await Sqlite.open(`${lc.dir}/node-0.sqlite`);
    t.deepEqual(await after.all('PRAGMA user_version'), [{ user_version: SCHEMA_VERSION }]);
    await after.close();
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});

/** The tables of layout 1, as builds before TTL wrote them (no `expires` columns). */
const LAYOUT_1 = `CREATE TABLE log (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, stamp INTEGER NOT NULL);
  CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE hints (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    ts INTEGER NOT NULL, deleted INTEGER NOT NULL, created_ms INTEGER NOT NULL
  );
  CREATE INDEX hints_by_target ON hints (target, id);
  PRAGMA user_version = 1;`;

test('a data file of layout 1 (before TTL) is migrated: its rows and hints replay, and expiries are kept from then on', async (t) => {
  const lc = await LocalCluster.create({ tokens: ['M', 'f'], replicationFactor: 2 });
  try {
    const db = await Sqlite.open(`${lc.dir}/node-0.sqlite`);
    await db.exec(LAYOUT_1);
    // stamp = ts * 2 + deleted; a TEXT row, a BLOB row, a tombstone, and a superseded row.
    await db.exec(`INSERT INTO log VALUES (1, 'apple', 'old', 20), (2, 'apple', 'red', 40), (3, X'00ff', X'0102', 60), (4, 'gone', '', 81);
      INSERT INTO hints (target, key, value, ts, deleted, created_ms) VALUES (1, X'6b', X'76', 50, 0, ${Date.now()});`);
    await db.close();
    const node = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
    t.deepEqual(node.store.get('apple'), { value: 'red', ts: 20, deleted: false, seq: 2 });
    t.deepEqual(node.store.get('\u0000\u00ff'), { value: '\u0001\u0002', ts: 30, deleted: false, seq: 3 });
    t.true(node.store.get('gone')!.deleted);
    const [hint] = await node.hints.next(1, 0, 10);
    t.deepEqual(hint!.version, { value: 'v', ts: 50, deleted: false }, 'the old hint reads without an expiry');
    await node.store.apply([{ key: 'ttl', version: { value: 'x', ts: 100, deleted: false, expires: 5_000 } }]);
    await node.hints.add(1, [{ key: 'ttl', version: { value: 'x', ts: 100, deleted: false, expires: 5_000 } }]);
    await node.stop();
    const again = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
    t.deepEqual(again.store.get('ttl'), { value: 'x', ts: 100, deleted: false, seq: 5, expires: 5_000 }, 'the expiry replays');
    const hints = await again.hints.next(1, 0, 10);
    t.deepEqual(hints[1]!.version, { value: 'x', ts: 100, deleted: false, expires: 5_000 }, 'and a hint keeps it');
    await again.stop();
    const check = await Sqlite.open(`${lc.dir}/node-0.sqlite`);
    t.deepEqual(await check.all('PRAGMA user_version'), [{ user_version: SCHEMA_VERSION }]);
    await check.close();
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});

test('a data file of layout 5 (before batch copies) is migrated: its logged batch is written at start, and copies can be held', async (t) => {
  const lc = await LocalCluster.create({ tokens: ['M'], replicationFactor: 1 });
  try {
    const file = `${lc.dir}/node-0.sqlite`;
    const old = await Sqlite.open(file);
    // Layout 5's tables as the build before batch copies made them (frozen here), with one logged batch.
    await old.exec(`${LAYOUT_3.replace('PRAGMA user_version = 3;', '')}
      CREATE TABLE epochs (epoch INTEGER PRIMARY KEY, change TEXT NOT NULL);
      CREATE TABLE batches (id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL, body BLOB NOT NULL);
      PRAGMA user_version = 5;`);
    const ts = Date.now() * 1000;
    const body = encodeBatch([{ key: 'batched', version: { value: 'from layout 5', ts, deleted: false } }]);
    await old.runTransaction([['INSERT INTO batches (id, created_ms, body) VALUES (?, ?, ?)', [1, Date.now(), body]]]);
    await old.close();
    const node = await KvNode.start({ config: lc.config, id: 0, dataDir: lc.dir });
    try {
      await waitFor('the old batch to be written', () => node.store.get('batched')?.value === 'from layout 5' || undefined);
      await waitFor('the old batch to leave the log', () => node.batches.logged === 0 || undefined);
      await node.batches.storeCopies(3, [
        { ownerBatch: 7, createdMs: Date.now(), items: [{ key: 'c', version: { value: 'v', ts, deleted: false } }] },
      ]);
      t.is(node.batches.copiesHeld, 1);
    } finally {
      await node.stop();
    }
    const db = await Sqlite.open(file);
    t.deepEqual(await db.all('PRAGMA user_version'), [{ user_version: SCHEMA_VERSION }]);
    t.deepEqual(await db.all('SELECT owner, owner_batch FROM batches'), [{ owner: 3, owner_batch: 7 }]);
    await db.close();
  } finally {
    rmSync(lc.dir, { recursive: true, force: true });
  }
});
