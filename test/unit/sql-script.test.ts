/**
 * The commit script built in one buffer (storage/sql-script.ts, appendRows)
 * against the plain literals of sql-literal.ts: the same text per literal,
 * and the same rows in SQLite as one INSERT a row built from those literals.
 */
import test from 'ava';
import fc from 'fast-check';
import { SQL_SCRIPT_PIECE_BYTES } from '../../src/common/limits';
import { appendRows } from '../../src/storage/group-commit';
import { bytesLiteral } from '../../src/storage/sql-literal';
import { SqlScript } from '../../src/storage/sql-script';
import { Sqlite } from '../../src/storage/sqlite';
import type { Version } from '../../src/storage/version';
import { byteString } from './arbitraries';
import { fcParams } from './fc-params';

const LOG = `CREATE TABLE log (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, stamp INTEGER NOT NULL,
  expires INTEGER NOT NULL DEFAULT 0);`;

/** A byte string that is often printable ASCII (with quotes), so both literal kinds come up. */
const text: fc.Arbitrary<string> = fc.oneof(
  byteString(0, 40),
  fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, "'")),
);

test('a script writes each key or value as bytesLiteral does', (t) => {
  fc.assert(
    fc.property(fc.array(text, { maxLength: 20 }), (values) => {
      const script = new SqlScript();
      for (const v of values) script.bytes(v).char(0x2c);
      const written = script.finish().join('');
      return written === values.map((v) => `${bytesLiteral(v)},`).join('');
    }),
    fcParams(500),
  );
  t.pass();
});

test('a script writes integers in decimal', (t) => {
  const ns = [0, 1, 9, 10, 99, 100, 12345, 2 ** 31, 2 ** 32 + 1, 3_400_000_000_000_001, Number.MAX_SAFE_INTEGER];
  const script = new SqlScript();
  for (const n of ns) script.int(n).char(0x20);
  t.is(script.finish().join(''), ns.map((n) => `${n} `).join(''));
});

/** The rows a script leaves in a fresh log table, as SQLite stores them (type and bytes). */
async function rowsAfter(script: string | string[]): Promise<unknown[]> {
  const db = await Sqlite.open(':memory:');
  try {
    await db.exec(LOG);
    await db.execTransaction(script);
    return await db.all(
      'SELECT seq, typeof(key) AS tk, hex(key) AS k, typeof(value) AS tv, hex(value) AS v, stamp, expires FROM log ORDER BY seq',
    );
  } finally {
    await db.close();
  }
}

const versionWithExpiry: fc.Arbitrary<Version> = fc.record({
  value: fc.oneof({ weight: 9, arbitrary: text }, { weight: 1, arbitrary: byteString(1000, 3000) }),
  ts: fc.integer({ min: 0, max: 2 ** 50 }),
  deleted: fc.boolean(),
  expires: fc.option(fc.integer({ min: 1, max: 2 ** 52 }), { nil: undefined }),
});

test('appendRows leaves the same rows as one INSERT a row of plain literals, in pieces of about SQL_SCRIPT_PIECE_BYTES', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.tuple(text, versionWithExpiry), { maxLength: 1200, selector: ([k]) => k }),
      fc.integer({ min: 1, max: 1000 }),
      async (entries, firstSeq) => {
        const rows = new Map<string, Version>(entries);
        const naive = entries.map(([k, v], i) => {
          const stamp = v.ts * 2 + (v.deleted ? 1 : 0);
          return `INSERT INTO log (seq, key, value, stamp, expires) VALUES (${firstSeq + i},${bytesLiteral(k)},${bytesLiteral(v.value)},${stamp},${v.expires ?? 0});`;
        });
        const { pieces, largest } = appendRows(rows, firstSeq, 0);
        // A piece goes past the size by at most its last row and the statement heads.
        for (const piece of pieces) t.true(piece.length <= SQL_SCRIPT_PIECE_BYTES + 2 * largest + 200, `a piece of ${piece.length} chars`);
        [...rows.values()].forEach((v, i) => t.is((v as { seq?: number }).seq, firstSeq + i));
        t.is(largest, Math.max(0, ...entries.map(([k, v]) => k.length + v.value.length)));
        if (entries.length === 0) return pieces.length === 0;
        t.deepEqual(await rowsAfter(pieces), await rowsAfter(naive.join('\n')));
        return true;
      },
    ),
    fcParams(100),
  );
});
