/**
 * copy.sh import's batching against a fake client: consecutive lines go as
 * unlogged batches within the count and byte limits, a key repeated in the
 * file is written again only after its earlier batch settled (so the later
 * line wins however the batches settle), and a failed batch is named by its
 * lines with the keys written before it.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchOp } from '../../src/client/client';
import { importFile } from '../../src/cli/copy';
import { batchDueMs, type BatchWriter } from '../../src/cli/import-batches';
import { KvError } from '../../src/common/errors';
import { COPY_IMPORT_BATCH_BYTES_MAX, COPY_IMPORT_BATCH_WRITES_MAX } from '../../src/common/limits';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-copy-import-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function fileOf(lines: Array<{ key: string; value: string }>): string {
  const path = join(dir, `f${files++}.jsonl`);
  writeFileSync(path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  return path;
}

interface Call {
  readonly keys: string[];
  readonly unlogged: boolean;
  readonly level: string;
  /** The calls (by index) that had settled when this one was sent. */
  readonly settledBefore: ReadonlySet<number>;
}

/**
 * A client that holds every batch until none has been sent for a moment (the
 * import waits: at its in-flight limit, for a repeated key's batch, or at the
 * end), then settles all it holds in the reverse of the order they were
 * sent: the order most likely to let an earlier line's write land last. A
 * batch is applied to `store` as it settles; `fail` rejects one instead.
 * The moment only decides how many batches are reordered, never whether the
 * import is right.
 */
function fakeClient(fail: (keys: string[]) => KvError | undefined = () => undefined) {
  const store = new Map<string, string>();
  const calls: Call[] = [];
  const settled = new Set<number>();
  const held: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;
  const writer = {
    batch(ops: readonly BatchOp[], level: string, options: { readonly unlogged?: boolean } = {}) {
      const keys = ops.map((o) => String(o.key));
      const id = calls.length;
      calls.push({ keys, unlogged: options.unlogged === true, level, settledBefore: new Set(settled) });
      return new Promise<{ ts: number }>((resolve, reject) => {
        held.push(() => {
          settled.add(id);
          const err = fail(keys);
          if (err !== undefined) return reject(err);
          for (const o of ops) store.set(String(o.key), String(o.value));
          resolve({ ts: 0 });
        });
        clearTimeout(timer);
        timer = setTimeout(() => {
          for (const settle of held.splice(0).reverse()) settle();
        }, 2);
      });
    },
  } as BatchWriter;
  return { writer, store, calls };
}

test('consecutive lines go as unlogged batches of at most COPY_IMPORT_BATCH_WRITES_MAX, at the level asked', async (t) => {
  const n = 2 * COPY_IMPORT_BATCH_WRITES_MAX + 7;
  const file = fileOf(Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}` })));
  const fake = fakeClient();
  const summary = await importFile(fake.writer, file, 'TWO');
  t.regex(summary, new RegExp(`^imported ${n} keys from .*\\.jsonl in [\\d.]+ s$`));
  t.deepEqual(
    fake.calls.map((c) => c.keys.length),
    [COPY_IMPORT_BATCH_WRITES_MAX, COPY_IMPORT_BATCH_WRITES_MAX, 7],
  );
  t.true(fake.calls.every((c) => c.unlogged && c.level === 'TWO'));
  t.is(fake.store.size, n);
});

test('a batch holds at most COPY_IMPORT_BATCH_BYTES_MAX of keys and values; a larger entry goes alone', async (t) => {
  const big = 'x'.repeat(Math.floor(COPY_IMPORT_BATCH_BYTES_MAX * 0.6));
  const huge = 'y'.repeat(COPY_IMPORT_BATCH_BYTES_MAX + 1);
  const file = fileOf([
    { key: 'a', value: big },
    { key: 'b', value: big },
    { key: 'c', value: 'small' },
    { key: 'd', value: huge },
    { key: 'e', value: 'small' },
  ]);
  const fake = fakeClient();
  await importFile(fake.writer, file, 'QUORUM');
  t.deepEqual(
    fake.calls.map((c) => c.keys),
    [['a'], ['b', 'c'], ['d'], ['e']],
  );
});

test('a key repeated in the file is written again only after its earlier batch settled: the later line wins', async (t) => {
  // "hot" on every 30th line: in one batch, in the next, and after it.
  const lines = Array.from({ length: 240 }, (_, i) =>
    i % 30 === 0 ? { key: 'hot', value: `line ${i + 1}` } : { key: `k${i}`, value: `v${i}` },
  );
  const fake = fakeClient();
  await importFile(fake.writer, fileOf(lines), 'QUORUM');
  t.is(fake.store.get('hot'), 'line 211');
  for (const c of fake.calls) t.is(new Set(c.keys).size, c.keys.length, 'a batch writes each key once');
  // Every batch that writes "hot" was sent after the one before it that writes "hot" had settled.
  const hot = fake.calls.map((c, i) => ({ c, i })).filter(({ c }) => c.keys.includes('hot'));
  t.is(hot.length, 8);
  for (let j = 1; j < hot.length; j++)
    t.true(hot[j]!.c.settledBefore.has(hot[j - 1]!.i), `batch ${hot[j]!.i} waited for batch ${hot[j - 1]!.i}`);
  for (let i = 1; i < 240; i++) if (i % 30 !== 0) t.is(fake.store.get(`k${i}`), `v${i}`);
});

test('a line that cannot be read stops the import after the lines before it are written', async (t) => {
  const path = join(dir, 'bad.jsonl');
  writeFileSync(path, '{"key":"a","value":"1"}\n{"key":"b","value":"2"}\n{"key":"c"}\n{"key":"d","value":"4"}\n');
  const fake = fakeClient();
  const err = await t.throwsAsync(importFile(fake.writer, path, 'QUORUM'));
  t.regex(err!.message, /^import stopped: .*bad\.jsonl, line 3: .*; the lines before it were written \(2 keys\), none from it on$/);
  t.deepEqual([...fake.store.keys()], ['a', 'b']);
});

test('a failed batch stops the import: its lines are named, with the keys written before it', async (t) => {
  const n = 3 * COPY_IMPORT_BATCH_WRITES_MAX;
  const file = fileOf(Array.from({ length: n }, (_, i) => ({ key: `k${String(i).padStart(4, '0')}`, value: 'v' })));
  const second = `k${String(COPY_IMPORT_BATCH_WRITES_MAX).padStart(4, '0')}`;
  const fake = fakeClient((keys) => (keys[0]! >= second ? new KvError('Unavailable', 'only 1 replica of 3 is up') : undefined));
  const err = await t.throwsAsync(importFile(fake.writer, file, 'ALL'));
  t.is((err as KvError).code, 'Unavailable');
  t.is(
    err!.message,
    `import stopped: lines ${COPY_IMPORT_BATCH_WRITES_MAX + 1}-${2 * COPY_IMPORT_BATCH_WRITES_MAX}: only 1 replica of 3 is up; ${COPY_IMPORT_BATCH_WRITES_MAX} keys written before it stopped. Run it again to write the rest: a key written twice holds the same value`,
  );
});

test('--rate: a batch goes once the keys before it have had their share of the second', (t) => {
  const table: Array<[number, number | undefined, number]> = [
    [0, undefined, 0],
    [5_000, undefined, 0],
    [0, 1000, 0],
    [50, 1000, 50],
    [100, 10, 10_000],
    [150, 20_000, 7.5],
  ];
  for (const [keysBefore, rate, due] of table) t.is(batchDueMs(keysBefore, rate), due, `${keysBefore} keys at ${rate}`);
});

test('a paced import writes every line, in the same batches', async (t) => {
  const n = COPY_IMPORT_BATCH_WRITES_MAX + 3;
  const fake = fakeClient();
  await importFile(fake.writer, fileOf(Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))), 'ONE', {
    keysPerSecond: 100_000,
  });
  t.deepEqual(
    fake.calls.map((c) => c.keys.length),
    [COPY_IMPORT_BATCH_WRITES_MAX, 3],
  );
  t.is(fake.store.size, n);
});
