/**
 * Range scans and TTL against real node processes (four nodes, RF 3): a scan
 * over every node's range with a replica down, the console's scan and TTL,
 * values expiring and being purged, and bad input answered in one sentence.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { KvClient } from '../../src/client/client';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { RpcConnection } from '../../src/rpc/connection';
import { toKvError } from '../../src/rpc/errors';
import { errorOf } from './error-of';

const CONSOLE = join(resolve(__dirname, '../../..'), 'dist/src/cli/console.js');
const clusters: LocalCluster[] = [];
const clients: KvClient[] = [];

async function cluster(settings: Parameters<typeof LocalCluster.start>[0] = {}): Promise<{ c: LocalCluster; kv: KvClient }> {
  const c = await LocalCluster.start(settings);
  clusters.push(c);
  const kv = KvClient.fromClusterFile(c.clusterFile);
  clients.push(kv);
  return { c, kv };
}

test.after.always(async () => {
  clients.forEach((k) => k.close());
  await Promise.all(clusters.map((c) => c.destroy()));
});

/** Keys in every node's range (tokens M, f, p, 0x7f) and in the wrapped tail above 0x7f, some sharing prefixes. */
const KEYS = [
  '0',
  '00',
  'A',
  'Apple',
  'M',
  'M\u0000',
  'N',
  'Zebra',
  'a',
  'f',
  'fa',
  'grape',
  'p',
  'pear',
  'z',
  '\u007f',
  '\u007fz',
  '\u00c3\u00a9t\u00c3\u00a9',
  '\u00ff',
];
const bytes = (k: string): Buffer => Buffer.from(k, 'latin1');

async function scanKeys(kv: KvClient, start: string, end: string, pageSize: number): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of kv.scan(bytes(start), bytes(end), 'QUORUM', { pageSize })) out.push(key.toString('latin1'));
  return out;
}

test.serial(
  "a QUORUM scan reads every node's range in byte order, with a replica down, and sees deletes and writes made meanwhile",
  async (t) => {
    const { c, kv } = await cluster();
    for (const key of KEYS) for (let i = 0; i < 3; i++) await kv.put(bytes(`${key}#${i}`), `v-${i}`, 'QUORUM');
    const all = KEYS.flatMap((k) => [0, 1, 2].map((i) => `${k}#${i}`)).sort();
    t.deepEqual(await scanKeys(kv, '', '', 1000), all);
    await c.kill(2);
    await waitFor('the others to see node 2 down', async () =>
      (await Promise.all([0, 1, 3].map((id) => c.downPeers(id)))).every((d) => d.includes(2)),
    );
    await kv.delete(bytes('grape#1'), 'QUORUM');
    await kv.put(bytes('grape#9'), 'while node 2 was down', 'QUORUM');
    const expected = [...all.filter((k) => k !== 'grape#1'), 'grape#9'].sort();
    for (const pageSize of [1, 4, 1000]) t.deepEqual(await scanKeys(kv, '', '', pageSize), expected, `page size ${pageSize}`);
    t.deepEqual(
      await scanKeys(kv, 'M', 'p', 3),
      expected.filter((k) => k >= 'M' && k < 'p'),
      'a range spanning two node ranges',
    );
    const values = new Map<string, string>();
    for await (const { key, value } of kv.scan('grape', 'grape~', 'QUORUM')) values.set(key.toString(), value.toString());
    t.is(values.get('grape#9'), 'while node 2 was down');
    await c.restart(2);
  },
);

test.serial('bad scan input gets one clear sentence: an inverted range, a huge limit, an unknown level, a stray cursor', async (t) => {
  const { c, kv } = await cluster();
  const inverted = await errorOf(kv.scanPage('b', 'a', 'QUORUM', 10));
  t.is(inverted.code, 'InvalidRequest');
  t.regex(inverted.message, /^the scan's range is inverted: start "b" is after stop "a"$/);
  const huge = await errorOf(kv.scanPage('', '', 'QUORUM', 1_000_000));
  t.regex(huge.message, /^the scan's limit is 1000000; it must be a whole number from 1 to 10000$/);
  const stray = await errorOf(kv.scanPage('a', 'b', 'ONE', 10, Buffer.from('c')));
  t.regex(stray.message, /cursor is outside its range/);
  // An unknown level needs the raw call: the client library refuses one before sending.
  const node = c.config.nodes[0]!;
  const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 20 });
  try {
    const level = toKvError(
      await conn.call((cl) => cl.scan(Buffer.from(''), Buffer.from(''), 9 as never, 10, Buffer.from('')), 2000).catch((e) => e),
    );
    t.is(level.code, 'InvalidRequest');
    t.regex(level.message, /^unknown consistency level 9; use ONE, TWO, THREE, QUORUM or ALL$/);
  } finally {
    conn.close();
  }
});

test.serial('a value with a TTL reads as not found once it expires, never brings back the older value, and is purged', async (t) => {
  // Grace 0: an expired value may be purged at once (a restart purges before anything else).
  const { c, kv } = await cluster({ settings: { tombstoneGraceSeconds: 0 } });
  await kv.put('session', 'older, without TTL', 'QUORUM');
  await kv.put('session', 'short-lived', 'QUORUM', { ttlSeconds: 1 });
  await kv.put('sessions-stay', 'kept', 'QUORUM');
  // Right after the write it lives (it expires a second after its timestamp).
  const fresh = await kv.get('session', 'QUORUM');
  t.true(
    !fresh.found || fresh.value.toString() === 'short-lived',
    'either still alive, or already expired on a slow machine, but never the older value',
  );
  await waitFor('the value to expire', async () => !(await kv.get('session', 'QUORUM')).found);
  for (const level of ['ONE', 'QUORUM', 'ALL']) t.false((await kv.get('session', level)).found, `${level}: not found, not the older value`);
  const scanned: string[] = [];
  for await (const { key } of kv.scan('session', 'sessiot', 'QUORUM')) scanned.push(key.toString());
  t.deepEqual(scanned, ['sessions-stay'], 'a scan skips it');
  // A restarted node purges what is past its grace; the dump then no longer lists the key.
  const owner = 3; // "session" lies in node 3's range, ("p", 0x7f]
  const before = c.admin(owner);
  try {
    const listed = (await before.dumpPage(Buffer.alloc(0), 100)).entries.find((e) => e.key.toString() === 'session');
    t.truthy(listed?.expires, 'until the purge, the replica holds the expired value with its expiry');
  } finally {
    before.close();
  }
  await c.stopNode(owner);
  await c.restart(owner);
  const admin = c.admin(owner);
  try {
    await waitFor('the expired value to be purged', async () => {
      const page = await admin.dumpPage(Buffer.alloc(0), 100);
      return page.entries.every((e) => e.key.toString() !== 'session') || undefined;
    });
    const page = await admin.dumpPage(Buffer.alloc(0), 100);
    t.true(
      page.entries.some((e) => e.key.toString() === 'sessions-stay'),
      'the other key is still there',
    );
    t.true(Number((page.counters as Record<string, unknown>)['store.tombstonesPurged']) >= 1, 'purged, not just hidden');
  } finally {
    admin.close();
  }
});

test.serial('the console: put with ttl=, and scan with --json and as lines', async (t) => {
  const { c } = await cluster();
  const console = (input: string, json: boolean): Promise<string> =>
    new Promise((done) => {
      const child = spawn(process.execPath, [CONSOLE, ...(json ? ['--json'] : []), '--cluster', c.clusterFile]);
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('close', () => done(out));
      child.stdin.end(input);
    });
  const json = (
    await console(
      'put b 2 quorum\nput a 1 quorum\nput c 3 quorum ttl=3600\nscan a c quorum\nscan "" "" quorum 2\nscan a c quorum x\nput d 4 one ttl=0\n',
      true,
    )
  )
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.like(json[2], { ok: true, op: 'put', key: 'c', ttlSeconds: 3600 });
  t.deepEqual(json[3], {
    ok: true,
    op: 'scan',
    entries: [
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ],
    more: false,
  });
  t.deepEqual(json[4], {
    ok: true,
    op: 'scan',
    entries: [
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ],
    more: true,
  });
  t.like(json[5], { ok: false, error: 'InvalidRequest', message: 'the scan limit must be a whole number from 1 to 1000000, not "x"' });
  t.like(json[6], { ok: false, error: 'InvalidRequest', message: 'ttl must be a whole number from 1 to 315360000, not "0"' });
  const lines = (await console('scan a "" quorum\nscan x y one\n', false)).trim().split('\n');
  t.deepEqual(lines, ['a  1', 'b  2', 'c  3', '(no keys)']);
});
