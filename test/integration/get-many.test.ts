/**
 * getMany against real node processes (four nodes, RF 3, tokens M, f, p,
 * 0x7f): keys read in the order asked, across every node's range; a list
 * longer than one call split by the client library; bad input answered in
 * one sentence; a key whose replicas are down failing the call with its
 * place named; the console's mget.
 */
import test from 'ava';
import { KvClient } from '../../src/client/client';
import { GET_MANY_KEYS_MAX } from '../../src/common/limits';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { toKvError } from '../../src/rpc/errors';
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

/** One getMany sent as it is, past the client library's splitting: the node's answer or its error. */
const rawGetMany = (keys: Buffer[], level: number): Promise<unknown> => rawCall(cluster!, (c) => c.getMany(keys, level as never));

const text = (r: { found: boolean; value: Buffer }): string | null => (r.found ? r.value.toString() : null);

test.serial('keys in every node’s range come back in the order asked, a missing key as not found, a key asked twice twice', async (t) => {
  // 'A' is on nodes 0, 1, 2; 'a' and 'b' on 1, 2, 3; 'g' on 2, 3, 0; 'q' on 3, 0, 1.
  for (const [k, v] of [
    ['a', '1'],
    ['b', '2'],
    ['A', '3'],
    ['g', '4'],
    ['q', '5'],
  ])
    await kv!.put(k!, v!, 'QUORUM');
  await kv!.delete('b', 'QUORUM');
  const got = await kv!.getMany(['q', 'a', 'missing', 'A', 'b', 'g', 'a'], 'QUORUM');
  t.deepEqual(got.map(text), ['5', '1', null, '3', null, '4', '1']);
  t.true(got[4]!.ts > 0, 'a deleted key reads as not found, with its tombstone’s timestamp');
  t.is(got[2]!.ts, 0);
  t.deepEqual((await kv!.getMany(['g', 'A'], 'ALL')).map(text), ['4', '3']);
  t.deepEqual(await kv!.getMany([], 'ONE'), []);
});

test.serial('a list longer than one call goes as several, in order', async (t) => {
  const n = 2 * GET_MANY_KEYS_MAX + 50;
  const keys = Array.from({ length: n }, (_, i) => `many-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < n; i += 2) await kv!.put(keys[i]!, `v${i}`, 'QUORUM');
  const got = await kv!.getMany(keys, 'QUORUM');
  t.is(got.length, n);
  t.deepEqual(
    got.map(text),
    keys.map((_, i) => (i % 2 === 0 ? `v${i}` : null)),
  );
});

test.serial('bad input is refused in one sentence', async (t) => {
  const key = Buffer.from('a');
  const tooMany = (await rawGetMany(Array(GET_MANY_KEYS_MAX + 1).fill(key), 2)) as Error;
  t.is(toKvError(tooMany).code, 'InvalidRequest');
  t.is(tooMany.message, 'getMany asked for 101 keys; the limit is 100 a call (the client library splits longer lists)');
  t.is(((await rawGetMany([], 2)) as Error).message, 'getMany needs at least one key');
  t.is(((await rawGetMany([key, Buffer.alloc(0)], 2)) as Error).message, 'key 2 of 2: the key is empty');
  t.is(
    ((await rawGetMany([key], 4)) as Error).message,
    'getMany reads at ONE, TWO, THREE, QUORUM or ALL; SERIAL reads one key at a time through Paxos: use get',
  );
  t.regex(((await rawGetMany([key], 7)) as Error).message, /^ANY is a level for writes only/);
  t.regex(((await rawGetMany([key], 9)) as Error).message, /^unknown consistency level 9/);
  const level = await errorOf(kv!.getMany(['a'], 'serial'));
  t.is(level.code, 'InvalidRequest');
  t.is(level.message, 'getMany reads at ONE, TWO, THREE, QUORUM or ALL; SERIAL reads one key at a time through Paxos: use get');
  t.is((await errorOf(kv!.getMany(['a'], 'any'))).message.split(':')[0], 'ANY is a level for writes only');
  t.is((await errorOf(kv!.getMany(['a'], 'twice'))).message, 'unknown consistency level "twice"; use ONE, TWO, THREE, QUORUM or ALL');
});

test.serial('values past what one answer may carry are refused, with the sizes, and nothing else is harmed', async (t) => {
  const big = Buffer.alloc(cluster!.config.settings.maxValueBytes, 'x');
  const keys = ['big-0', 'big-1', 'big-2', 'big-3', 'big-4'];
  // At ALL: a ONE read must find each value on whichever replica it asks, not a replica the write has yet to reach.
  for (const k of keys) await kv!.put(k, big, 'ALL');
  const err = await errorOf(kv!.getMany(keys, 'ONE'));
  t.is(err.code, 'InvalidRequest');
  t.regex(
    err.message,
    /^the 5 values asked for take 5242880 bytes, more than the \d+ one getMany answer may carry; ask for fewer keys a call$/,
  );
  t.deepEqual(
    (await kv!.getMany(keys.slice(0, 2), 'ONE')).map((r) => r.value.length),
    [big.length, big.length],
  );
});

test.serial('the console reads several keys with mget, one line each', async (t) => {
  const run = (input: string, json = false): Promise<string> => runConsole(cluster!, input, json);
  t.deepEqual((await run('mget a missing g quorum\nmget a serial\nmget a\n')).trim().split('\n'), [
    'a  1',
    'missing  (not found)',
    'g  4',
    'error InvalidRequest: mget reads at ONE, TWO, THREE, QUORUM or ALL; SERIAL reads one key at a time through Paxos: use get',
    'error InvalidRequest: mget takes one or more keys, then a level: mget <key> [<key>...] <level>',
  ]);
  const json = JSON.parse((await run('mget a missing one\n', true)).trim());
  t.like(json, { ok: true, op: 'mget', level: 'ONE' });
  t.like(json.entries, [
    { key: 'a', found: true, value: '1' },
    { key: 'missing', found: false, value: null, ts: 0 },
  ]);
});

test.serial('a key whose replicas are down fails the call with its place named; ONE still reads', async (t) => {
  // 'a' is on nodes 1, 2 and 3; 'A' on 0, 1 and 2.
  await cluster!.kill(2);
  await cluster!.kill(3);
  // Until a coordinator sees them down, a read sent to them times out instead.
  await waitFor('the others to see nodes 2 and 3 down', async () =>
    (await Promise.all([0, 1].map((id) => cluster!.downPeers(id)))).every((d) => d.includes(2) && d.includes(3)),
  );
  const err = await errorOf(kv!.getMany(['A', 'a'], 'QUORUM'));
  t.is(err.code, 'Unavailable');
  t.regex(err.message, /^key 2 of 2: /);
  t.deepEqual((await kv!.getMany(['A', 'a'], 'ONE')).map(text), ['3', '1']);
});
