/**
 * scripts/copy.sh against four real node processes: a range exported to a
 * file, the keys deleted, the file imported back; text and binary keys and
 * values, a TTL carried as the time it has left; a bad line and a bad level
 * refused with a sentence.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvClient } from '../../src/client/client';
import { LocalCluster } from '../../src/harness/local-cluster';
import { type Run, run, script } from './scripts-env';

let cluster: LocalCluster | undefined;
let client: KvClient | undefined;
const dir = mkdtempSync(join(tmpdir(), 'ringkv-copy-'));

test.after.always(async () => {
  client?.close();
  await cluster?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** scripts/copy.sh as a user runs it, on the test cluster; `input` its stdin. */
function runCopy(args: string[], input = ''): Promise<Run> {
  return run(script('copy.sh'), [...args, '--cluster', cluster!.clusterFile], input);
}

const BINARY_KEY = Buffer.from([0x6b, 0x00, 0xff]);
const BINARY_VALUE = Buffer.from([0xca, 0xfe, 0x80]);

test.serial('export a range, delete it, import it back: the same keys and values, and the TTL it had left', async (t) => {
  cluster = await LocalCluster.start();
  client = await KvClient.connect(cluster.clusterFile);
  for (let i = 0; i < 250; i++) await client.put(`c:${String(i).padStart(3, '0')}`, `value ${i} é`, 'QUORUM');
  await client.put('c:ttl', 'short-lived', 'QUORUM', { ttlSeconds: 3600 });
  await client.put(BINARY_KEY, BINARY_VALUE, 'QUORUM');
  await client.put('d:outside', 'not exported', 'QUORUM');

  const file = join(dir, 'c.jsonl');
  const out = await runCopy(['export', file, '--from', 'c', '--to', 'd']);
  t.is(out.code, 0, out.stderr);
  t.regex(out.stderr, /^exported 251 keys to .*c\.jsonl in [\d.]+ s\n$/);
  t.false(existsSync(`${file}.partial`));
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  t.is(lines.length, 251);
  const first = JSON.parse(lines[0]!) as { key: string; value: string; ts: number };
  t.deepEqual(Object.keys(first), ['key', 'value', 'ts']);
  t.like(first, { key: 'c:000', value: 'value 0 é' }, 'in byte order, text as text');
  t.is(first.ts, (await client.get('c:000', 'QUORUM')).ts, "the value's write timestamp");
  const ttlLine = JSON.parse(lines.find((l) => l.includes('c:ttl'))!) as { expiresUs: number };
  const leftSeconds = (ttlLine.expiresUs - Date.now() * 1000) / 1e6;
  t.true(leftSeconds > 3500 && leftSeconds <= 3600, String(leftSeconds));

  const all = join(dir, 'all.jsonl');
  t.is((await runCopy(['export', all])).code, 0);
  t.true(readFileSync(all, 'utf8').includes('{"keyHex":"6b00ff","valueHex":"cafe80","ts":'), 'bytes that are not text as hex');

  for (let i = 0; i < 250; i++) await client.delete(`c:${String(i).padStart(3, '0')}`, 'QUORUM');
  await client.delete('c:ttl', 'QUORUM');
  await client.delete(BINARY_KEY, 'QUORUM');
  t.false((await client.get('c:007', 'QUORUM')).found);

  const back = await runCopy(['import', '-', '--level', 'ALL'], readFileSync(all, 'utf8'));
  t.is(back.code, 0, back.stderr);
  t.regex(back.stderr, /^imported 253 keys from stdin in [\d.]+ s\n$/);
  t.is((await client.get('c:007', 'ALL')).value.toString(), 'value 7 é');
  t.deepEqual((await client.get(BINARY_KEY, 'ALL')).value, BINARY_VALUE);
  // The TTL it had left: the key expires within the hour it was given, not never.
  const after = join(dir, 'after.jsonl');
  t.is((await runCopy(['export', after, '--from', 'c:ttl', '--to', 'c:ttm'])).code, 0);
  const again = JSON.parse(readFileSync(after, 'utf8')) as { key: string; expiresUs: number };
  t.is(again.key, 'c:ttl');
  t.true(again.expiresUs <= ttlLine.expiresUs + 1_000_000, 'not later than its expiry, past a second of rounding');
});

test.serial(
  "import --keep-timestamps: a value newer in the cluster stays, a new key gets the line's timestamp and its TTL from it",
  async (t) => {
    await client!.put('t:a', 'exported', 'QUORUM');
    await client!.put('t:b', 'exported', 'QUORUM');
    await client!.put('t:c', 'expiring', 'QUORUM', { ttlSeconds: 3600 });
    const file = join(dir, 't.jsonl');
    t.is((await runCopy(['export', file, '--from', 't:', '--to', 't;'])).code, 0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const c = JSON.parse(lines[2]!) as { key: string; value: string; ts: number; expiresUs: number };
    t.is(c.key, 't:c');
    // Changed since the export: a newer value and a delete.
    await client!.put('t:a', 'newer', 'QUORUM');
    await client!.delete('t:b', 'QUORUM');
    // The line of t:c under a key the cluster does not have.
    const d = JSON.stringify({ ...c, key: 't:d' });
    const kept = await runCopy(['import', '-', '--keep-timestamps', '--level', 'ALL'], `${lines.join('\n')}\n${d}\n`);
    t.is(kept.code, 0, kept.stderr);
    t.regex(kept.stderr, /^imported 4 keys from stdin/);
    t.is((await client!.get('t:a', 'ALL')).value.toString(), 'newer', 'the newer value stays');
    t.false((await client!.get('t:b', 'ALL')).found, 'the newer delete stays');
    const got = await client!.get('t:d', 'ALL');
    t.like(got, { found: true, ts: c.ts });
    t.is(got.value.toString(), 'expiring');
    const back = join(dir, 'd.jsonl');
    t.is((await runCopy(['export', back, '--from', 't:d', '--to', 't:e'])).code, 0);
    t.deepEqual(
      JSON.parse(readFileSync(back, 'utf8')),
      { key: 't:d', value: 'expiring', ts: c.ts, expiresUs: c.expiresUs },
      'expires when t:c does',
    );
    // Without the flag, the file's values are written anew over the newer ones.
    const anew = await runCopy(['import', file, '--level', 'ALL']);
    t.is(anew.code, 0, anew.stderr);
    t.is((await client!.get('t:a', 'ALL')).value.toString(), 'exported');
    t.true((await client!.get('t:b', 'ALL')).found);
    const refused = await runCopy(['export', back, '--keep-timestamps']);
    t.is(refused.code, 2);
    t.regex(refused.stderr, /--keep-timestamps is for import/);
    const badRate = await runCopy(['import', file, '--rate', '-5']);
    t.is(badRate.code, 2);
    t.regex(badRate.stderr, /^copy: --rate must be a whole number from 0 to 10000000\n$/);
    const paced = await runCopy(['import', file, '--rate', '1000']);
    t.is(paced.code, 0, paced.stderr);
    t.regex(paced.stderr, /^imported 3 keys from /);
  },
);

test.serial('import: a value already past its expiry is skipped; a bad line stops it, after the lines before it', async (t) => {
  const file = join(dir, 'hand.jsonl');
  writeFileSync(
    file,
    [
      '{"key":"h:1","value":"one"}',
      '',
      `{"key":"h:gone","value":"x","expiresUs":${(Date.now() - 1000) * 1000}}`,
      '{"key":"h:2","valueHex":"7477"}',
      '{"key":"h:3","value":"three","colour":"red"}',
      '{"key":"h:4","value":"four"}',
    ].join('\n'),
  );
  const r = await runCopy(['import', file]);
  t.is(r.code, 2);
  t.regex(
    r.stderr,
    /^copy: import stopped: .*hand\.jsonl, line 5: it has a field "colour"; a line has key, value, ts and expiresUs; the lines before it were written \(2 keys\), none from it on, 1 skipped as expired\n$/,
  );
  t.is((await client!.get('h:2', 'QUORUM')).value.toString(), 'tw');
  t.false((await client!.get('h:gone', 'QUORUM')).found);
  t.false((await client!.get('h:4', 'QUORUM')).found);

  const level = await runCopy(['export', join(dir, 'x.jsonl'), '--level', 'ANY']);
  t.is(level.code, 2);
  t.regex(level.stderr, /^copy: ANY is a level for writes only/);
  const usage = await runCopy(['import', file, '--from', 'a']);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /--from and --to are for export/);
  const missing = await runCopy(['import', join(dir, 'none.jsonl')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^copy: cannot open .*none\.jsonl: ENOENT\n$/);
  const nowhere = await runCopy(['export', join(dir, 'no-dir', 'x.jsonl')]);
  t.is(nowhere.code, 2);
  t.regex(nowhere.stderr, /^copy: cannot open .*no-dir\/x\.jsonl\.partial: ENOENT\n$/);
});

test.serial('import: a write that fails stops it, with the earliest failed line and the keys written', async (t) => {
  // Keys from A on have replicas 0, 1 and 2.
  await cluster!.kill(1);
  const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ key: `A:f:${i}`, value: 'v' }));
  const r = await runCopy(['import', '-', '--level', 'ALL'], `${lines.join('\n')}\n`);
  t.is(r.code, 1);
  t.regex(
    r.stderr,
    // Every key has node 1 for a replica: none reaches ALL, and the earliest line is told whichever write failed first.
    /^copy: import stopped: lines 1-40: [^\n]+; 0 keys written before it stopped\. Run it again to write the rest/,
  );
});
