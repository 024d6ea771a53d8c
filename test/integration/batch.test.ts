/**
 * Logged batches against real node processes (four nodes, RF 3, tokens M,
 * f, p, 0x7f): writes across every node's range land with one timestamp;
 * bad input is answered in one sentence; a batch one of whose keys cannot
 * reach its level is refused whole; a batch a node logged and never sent
 * (a crash between the two) is written from its log when the node starts
 * again; copies go to two other nodes and are forgotten once the batch is
 * written, and a holder whose copy's coordinator went silent writes it;
 * the console's batch.
 */
import test from 'ava';
import { join } from 'node:path';
import { KvClient } from '../../src/client/client';
import { clusterStatus } from '../../src/client/status';
import { BATCH_WRITES_MAX } from '../../src/common/limits';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import * as types from '../../src/gen/kv_types';
import { SqliteBatchLog } from '../../src/storage/batch-log';
import { Sqlite } from '../../src/storage/sqlite';
import { rawCall, runConsole } from './cluster-calls';
import { errorOf } from './error-of';

let cluster: LocalCluster | undefined;
let kv: KvClient | undefined;

test.before(async () => {
  cluster = await LocalCluster.start();
  kv = KvClient.fromClusterFile(cluster.clusterFile);
});

test.after.always(async () => {
  kv?.close();
  await cluster?.destroy();
});

/** One batch sent as it is, past the client library: the node's answer or its error. */
const rawBatch = (writes: types.BatchWrite[], level: number, unlogged?: boolean): Promise<unknown> =>
  rawCall(cluster!, (c) => c.batch(writes, level as never, (unlogged ?? null) as never));

const put = (key: string, value: string): types.BatchWrite => new types.BatchWrite({ key: Buffer.from(key), value: Buffer.from(value) });
const message = async (writes: types.BatchWrite[], level = 2): Promise<string> => ((await rawBatch(writes, level)) as Error).message;

test.serial('writes in every node’s range land together, with the batch’s one timestamp', async (t) => {
  // 'A' is on nodes 0, 1, 2; 'a' on 1, 2, 3; 'g' on 2, 3, 0; 'q' on 3, 0, 1.
  await kv!.put('gone', 'soon', 'QUORUM');
  const { ts } = await kv!.batch(
    [
      { key: 'A', value: 'one' },
      { key: 'a', value: 'two' },
      { key: 'g', value: 'three', ttlSeconds: 3600 },
      { key: 'q', value: 'four' },
      { key: 'gone', remove: true },
    ],
    'QUORUM',
  );
  for (const [key, value] of [
    ['A', 'one'],
    ['a', 'two'],
    ['g', 'three'],
    ['q', 'four'],
  ]) {
    const r = await kv!.get(key!, 'ALL');
    t.is(r.value.toString(), value);
    t.is(r.ts, ts, `${key} carries the batch's timestamp`);
  }
  const gone = await kv!.get('gone', 'ALL');
  t.false(gone.found);
  t.is(gone.ts, ts);
});

test.serial('bad input is refused in one sentence, and nothing of the batch is written', async (t) => {
  t.is(await message([]), 'a batch needs at least one write');
  const tooMany = Array.from({ length: BATCH_WRITES_MAX + 1 }, (_, i) => put(`k${i}`, 'v'));
  t.is(await message(tooMany), 'the batch has 101 writes; the limit is 100 (a batch is not split: send the rest as another batch)');
  t.is(await message([put('x1', 'v'), put('x1', 'w')]), "write 2 of 2: its key is write 1's too; a batch writes each key once");
  t.is(await message([put('x1', 'v'), put('', 'w')]), 'write 2 of 2: the key is empty');
  t.is(
    await message([new types.BatchWrite({ key: Buffer.from('x1') })]),
    'write 1 of 1: the value is missing (set remove to delete the key)',
  );
  t.is(
    await message([new types.BatchWrite({ key: Buffer.from('x1'), value: Buffer.from('v'), remove: true })]),
    'write 1 of 1: a remove carries no value',
  );
  t.is(
    await message([new types.BatchWrite({ key: Buffer.from('x1'), value: Buffer.from('v'), ttlSeconds: -1 })]),
    'write 1 of 1: the TTL is -1 seconds; it must be a whole number from 1 to 315360000, or 0 for none',
  );
  t.is(
    await message([put('x1', 'v')], 4),
    'a batch writes at ANY, ONE, TWO, THREE, QUORUM or ALL; SERIAL is for reads, and a conditional write is cas, one key at a time',
  );
  t.regex(await message([put('x1', 'v')], 9), /^unknown consistency level 9 for a write/);
  t.false((await kv!.get('x1', 'ALL')).found, 'no refused batch wrote anything');
  const level = await errorOf(kv!.batch([{ key: 'x1', value: 'v' }], 'twice'));
  t.is(level.code, 'InvalidRequest');
  t.is((await errorOf(kv!.batch([{ key: 'x1', value: 'v' }], 'serial'))).message, await message([put('x1', 'v')], 4));
});

test.serial('a batch past half a frame of keys and values is refused in one sentence, by the library and by the node', async (t) => {
  const big = Buffer.alloc(cluster!.config.settings.maxValueBytes, 'x');
  const keys = ['big-0', 'big-1', 'big-2', 'big-3', 'big-4'];
  const sentence = /^the batch's keys and values take 5242905 bytes, more than the \d+ one batch may carry; split it into smaller batches$/;
  const err = await errorOf(
    kv!.batch(
      keys.map((key) => ({ key, value: big })),
      'QUORUM',
    ),
  );
  t.is(err.code, 'InvalidRequest');
  t.regex(err.message, sentence);
  t.regex(await message(keys.map((key) => new types.BatchWrite({ key: Buffer.from(key), value: big }))), sentence);
  t.false((await kv!.get('big-0', 'ALL')).found);
  await kv!.batch(
    keys.slice(0, 2).map((key) => ({ key, value: big })),
    'QUORUM',
  );
  t.is((await kv!.get('big-1', 'ALL')).value.length, big.length);
});

test.serial('the console writes a batch of puts and deletes', async (t) => {
  const run = (input: string, json = false): Promise<string> => runConsole(cluster!, input, json);
  const lines = (
    await run(
      'batch put c1 x put "c 2" "y z" ttl=600 delete q quorum\nmget c1 "c 2" q one\nbatch put c1 quorum\nbatch get c1 one\nbatch put c1 x serial\n',
    )
  )
    .trim()
    .split('\n');
  t.deepEqual(lines, [
    'OK (3 writes)',
    'c1  x',
    'c 2  y z',
    'q  (not found)',
    'error InvalidRequest: batch write 1: put lacks its key or value; batch [unlogged] put <key> <value> [ttl=SECONDS] | delete <key> ... <level>',
    'error InvalidRequest: batch write 1: "get" is not put or delete; batch [unlogged] put <key> <value> [ttl=SECONDS] | delete <key> ... <level>',
    'error InvalidRequest: a batch writes at ANY, ONE, TWO, THREE, QUORUM or ALL; SERIAL is for reads, and a conditional write is cas, one key at a time',
  ]);
  const json = JSON.parse((await run('batch put c3 w all\n', true)).trim());
  t.like(json, { ok: true, op: 'batch', level: 'ALL', writes: 1 });
  t.true(json.ts > 0);
  t.deepEqual((await run('batch unlogged put c4 u delete c3 quorum\nmget c4 c3 all\n')).trim().split('\n'), [
    'OK (2 writes, unlogged)',
    'c4  u',
    'c3  (not found)',
  ]);
  t.like(JSON.parse((await run('batch unlogged put c5 v one\n', true)).trim()), { ok: true, op: 'batch', unlogged: true, writes: 1 });
});

test.serial('an unlogged batch writes its keys with one timestamp and touches no batch log', async (t) => {
  const before = { batches: await summed('batches'), unlogged: await summed('unloggedBatches'), copies: await summed('batchCopiesStored') };
  const { ts } = await kv!.batch(
    [
      { key: 'u-A', value: 'one' },
      { key: 'u-q', value: 'two' },
    ],
    'QUORUM',
    { unlogged: true },
  );
  for (const key of ['u-A', 'u-q']) t.is((await kv!.get(key, 'ALL')).ts, ts, `${key} carries the batch's timestamp`);
  t.is(await summed('unloggedBatches'), before.unlogged + 1);
  t.is(await summed('batches'), before.batches, 'not logged');
  t.is(await summed('batchCopiesStored'), before.copies, 'and not copied');
  // The node's checks are the logged batch's: a key twice is refused, nothing written.
  const dup = await rawBatch([put('u-dup', '1'), put('u-dup', '2')], 2, true);
  t.is((dup as Error).message, "write 2 of 2: its key is write 1's too; a batch writes each key once");
});

test.serial('a batch frame without the unlogged field, as a client built on the older IDL sends it, is logged', async (t) => {
  const before = { batches: await summed('batches'), unlogged: await summed('unloggedBatches') };
  const ts = await rawBatch([put('old-A', 'one'), put('old-q', 'two')], 2);
  t.false(ts instanceof Error, String(ts));
  t.true(Number(ts) > 0, 'answered with its timestamp');
  t.is(await summed('batches'), before.batches + 1, 'logged');
  t.is(await summed('unloggedBatches'), before.unlogged);
});

test.serial('a batch one of whose keys cannot reach its level is refused whole, its place named', async (t) => {
  // 'A' is on nodes 0, 1 and 2; 'a' on 1, 2 and 3: with 2 and 3 down, 'a' cannot reach QUORUM.
  await kv!.put('A', 'before', 'ALL');
  await cluster!.kill(2);
  await cluster!.kill(3);
  try {
    // Until a coordinator sees them down, a write to them times out instead (and a logged batch is written again later).
    await waitFor('the others to see nodes 2 and 3 down', async () =>
      (await Promise.all([0, 1].map((id) => cluster!.downPeers(id)))).every((d) => d.includes(2) && d.includes(3)),
    );
    const err = await errorOf(
      kv!.batch(
        [
          { key: 'A', value: 'after' },
          { key: 'a', value: 'after' },
        ],
        'QUORUM',
      ),
    );
    t.is(err.code, 'Unavailable');
    t.regex(err.message, /^key 2 of 2: QUORUM needs 2 of the key's 3 replicas but only 1 is up$/);
    t.is((await kv!.get('A', 'QUORUM')).value.toString(), 'before', 'the key that could be written was not');
    await kv!.batch(
      [
        { key: 'A', value: 'after' },
        { key: 'a', value: 'after' },
      ],
      'ONE',
    );
    t.is((await kv!.get('A', 'QUORUM')).value.toString(), 'after');
  } finally {
    await cluster!.restart(2);
    await cluster!.restart(3);
    await cluster!.waitAllSeeEachOther();
  }
});

test.serial('a batch logged but never sent (a crash between the two) is written when its node starts again', async (t) => {
  await cluster!.stopNode(0);
  // As node 0 leaves it when killed right after its log's commit: 'b' is on nodes 1, 2, 3, so only the replay can write it there.
  const ts = Date.now() * 1000;
  const db = await Sqlite.open(join(cluster!.dir, 'node-0.sqlite'));
  try {
    const log = await SqliteBatchLog.open(db);
    await log.add(
      [
        { key: 'b', version: { value: 'replayed', ts, deleted: false } },
        { key: 'B', version: { value: 'replayed too', ts, deleted: false } },
      ],
      Date.now(),
    ).durable;
  } finally {
    await db.close();
  }
  await cluster!.restart(0);
  await cluster!.waitAllSeeEachOther();
  await waitFor("the logged batch's write of b", async () => (await kv!.get('b', 'ALL')).found);
  const b = await kv!.get('b', 'ALL');
  t.is(b.value.toString(), 'replayed');
  t.is(b.ts, ts);
  t.is((await kv!.get('B', 'ALL')).value.toString(), 'replayed too');
  const counters = (await cluster!.admin(0).status()).counters;
  t.is(Number(counters['batches.batchesReplayed']), 1);
  t.is(Number(counters['batches.batchLogBatches']), 0);
});

/** A counter summed over the four nodes. */
async function summed(name: string): Promise<number> {
  let sum = 0;
  for (let id = 0; id < 4; id++) sum += Number((await cluster!.admin(id).status()).counters[`batches.${name}`] ?? 0);
  return sum;
}

test.serial("a batch's copies go to two other nodes before its writes, and are forgotten once it is written", async (t) => {
  const before = { stored: await summed('batchCopiesStored'), held: await summed('batchCopiesHeld') };
  await kv!.batch(
    [
      { key: 'copied-1', value: 'x' },
      { key: 'copied-2', value: 'y' },
    ],
    'QUORUM',
  );
  t.is(await summed('batchCopiesStored'), before.stored + 2, 'the coordinator had two copies acknowledged');
  t.is(await summed('batchCopiesHeld'), before.held + 2, 'and two other nodes took one each');
  await waitFor('every copy to be forgotten', async () => (await summed('batchLogCopies')) === 0 || undefined);
  t.is(await summed('batchLogBatches'), 0);
  t.is(await summed('batchesShortOfCopies'), 0);
});

test.serial('a copy whose coordinator went silent is written by the node that holds it, with its timestamp', async (t) => {
  const ts = Date.now() * 1000;
  const copy = new types.BatchCopy({
    ownerBatch: 900 as never,
    // Older than the copy wait (twice the request timeout): its coordinator would have written it or said so by now.
    createdMs: (Date.now() - 10_000) as never,
    writes: [
      new types.Mutation({ key: Buffer.from('orphan-1'), value: Buffer.from('from a copy'), ts: ts as never, deleted: false }),
      new types.Mutation({ key: Buffer.from('orphan-2'), value: Buffer.from('from a copy too'), ts: ts as never, deleted: false }),
    ],
  });
  t.is(await rawCall(cluster!, (c) => c.storeBatchCopies(cluster!.config.secret, 3, [copy])), undefined);
  await waitFor('the copy to be written', async () => (await kv!.get('orphan-2', 'ALL')).found || undefined);
  const written = await kv!.get('orphan-1', 'ALL');
  t.is(written.value.toString(), 'from a copy');
  t.is(written.ts, ts);
  await waitFor('the copy to leave the log', async () => (await summed('batchLogCopies')) === 0 || undefined);
  t.is(Number((await cluster!.admin(0).status()).counters['batches.batchCopiesReplayed']), 1);
  // A young copy waits for its coordinator's word; status shows it meanwhile.
  const young = new types.BatchCopy({ ...copy, ownerBatch: 901 as never, createdMs: Date.now() as never, writes: [copy.writes[0]!] });
  t.is(await rawCall(cluster!, (c) => c.storeBatchCopies(cluster!.config.secret, 3, [young])), undefined);
  const shown = (await clusterStatus(cluster!.config)).nodes.find((n) => n.id === 0)!;
  t.deepEqual([shown.batches, shown.batchCopies], [1, 1]);
  await waitFor('the young copy to be written in its turn', async () => (await summed('batchLogCopies')) === 0 || undefined);
  const refused = await rawCall(cluster!, (c) =>
    c.storeBatchCopies(cluster!.config.secret, 3, [new types.BatchCopy({ ...copy, writes: [] })]),
  );
  t.is((refused as Error).message, 'a batch copy must carry 1 to 100 writes');
  const future = new types.BatchCopy({ ...copy, createdMs: (Date.now() + 3_600_000) as never });
  t.regex(
    ((await rawCall(cluster!, (c) => c.storeBatchCopies(cluster!.config.secret, 3, [future]))) as Error).message,
    /^a batch copy's time is more than 5 minutes ahead of this node's clock$/,
  );
  t.is(((await rawCall(cluster!, (c) => c.storeBatchCopies('wrong', 3, [copy]))) as Error).message, 'this call needs the cluster secret');
});
