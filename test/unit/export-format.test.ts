/**
 * The export file's lines (cli/export-format.ts): any key and value come back
 * byte for byte, text stays readable, a TTL is what is left of it, and a line
 * that cannot be read says why.
 */
import test from 'ava';
import fc from 'fast-check';
import { KEY_BYTES_MAX, TTL_SECONDS_MAX } from '../../src/common/limits';
import { entryLine, type ExportEntry, importWrite, LineError, parseLine, ttlLeft } from '../../src/cli/export-format';

test('any key and value, and a timestamp and an expiry, come back from their line byte for byte', (t) => {
  const micros = fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: undefined });
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      fc.uint8Array({ maxLength: 256 }),
      micros,
      micros,
      (key, value, ts, expiresUs) => {
        const e: ExportEntry = {
          key: Buffer.from(key),
          value: Buffer.from(value),
          ...(ts !== undefined ? { ts } : {}),
          ...(expiresUs !== undefined ? { expiresUs } : {}),
        };
        const line = entryLine(e);
        t.false(line.includes('\n'));
        t.deepEqual(parseLine(line), e);
      },
    ),
  );
});

test('text is written as text, other bytes as hex', (t) => {
  t.is(entryLine({ key: Buffer.from('user:1'), value: Buffer.from('ålice "A"') }), '{"key":"user:1","value":"ålice \\"A\\""}');
  t.is(
    entryLine({ key: Buffer.from([0x6b, 0xff]), value: Buffer.from([0xc3]), ts: 4, expiresUs: 5 }),
    '{"keyHex":"6bff","valueHex":"c3","ts":4,"expiresUs":5}',
  );
  t.deepEqual(parseLine('{"key":"a","value":""}'), { key: Buffer.from('a'), value: Buffer.alloc(0) });
  t.is(parseLine('   '), undefined, 'a blank line is skipped');
});

test('a line that cannot be read is refused with the reason', (t) => {
  const table: Array<[string, RegExp]> = [
    ['{"key":"a"', /^it is not JSON$/],
    ['["a","b"]', /^it is not a JSON object$/],
    ['{"key":"a","value":"b","ttl":5}', /^it has a field "ttl"; a line has key, value, ts and expiresUs$/],
    ['{"value":"b"}', /^it has no "key" \(or "keyHex"\)$/],
    ['{"key":"a"}', /^it has no "value" \(or "valueHex"\)$/],
    ['{"key":"a","keyHex":"61","value":"b"}', /^it has both "key" and "keyHex"$/],
    ['{"keyHex":"6","value":"b"}', /^"keyHex" is not an even number of hex digits$/],
    ['{"key":5,"value":"b"}', /^"key" and "keyHex" are strings$/],
    ['{"key":"","value":"b"}', new RegExp(`^its key is 0 bytes; a key is 1 to ${KEY_BYTES_MAX}$`)],
    [`{"key":"${'k'.repeat(KEY_BYTES_MAX + 1)}","value":"b"}`, /^its key is \d+ bytes/],
    ['{"key":"a","value":"b","expiresUs":-3}', /^"expiresUs" is not a positive whole number/],
    ['{"key":"a","value":"b","expiresUs":"soon"}', /^"expiresUs" is not a positive whole number/],
    ['{"key":"a","value":"b","ts":0}', /^"ts" is not a positive whole number of µs since 1970$/],
    ['{"key":"a","value":"b","ts":1.5}', /^"ts" is not a positive whole number/],
  ];
  for (const [line, why] of table) {
    const err = t.throws(() => parseLine(line), { instanceOf: LineError }, line);
    t.regex(err!.message, why, line);
  }
});

test('the TTL an import writes: the whole seconds left, rounded up, at most the largest TTL', (t) => {
  const key = Buffer.from('k');
  const value = Buffer.alloc(0);
  const now = 1_000_000_000_000_000;
  t.is(ttlLeft({ key, value }, now), undefined);
  t.is(ttlLeft({ key, value, expiresUs: now - 1 }, now), 'expired');
  t.is(ttlLeft({ key, value, expiresUs: now }, now), 'expired');
  t.is(ttlLeft({ key, value, expiresUs: now + 1 }, now), 1);
  t.is(ttlLeft({ key, value, expiresUs: now + 90_000_000 }, now), 90);
  t.is(ttlLeft({ key, value, expiresUs: now + 90_000_001 }, now), 91);
  t.is(ttlLeft({ key, value, expiresUs: now + (TTL_SECONDS_MAX + 50) * 1e6 }, now), TTL_SECONDS_MAX);
});

test("how an import writes a line: new timestamps and the TTL left, or with --keep-timestamps the line's ts and its TTL from it", (t) => {
  const key = Buffer.from('k');
  const value = Buffer.alloc(0);
  const now = 1_000_000_000_000_000;
  const ts = now - 30_000_000;
  const table: Array<[ExportEntry, boolean, ReturnType<typeof importWrite>]> = [
    [{ key, value }, false, {}],
    [{ key, value, ts }, false, {}],
    [{ key, value, ts }, true, { timestamp: ts }],
    [{ key, value }, true, {}],
    [{ key, value, ts, expiresUs: now + 10_000_000 }, false, { ttlSeconds: 10 }],
    // Written 30 s ago with a TTL of 40 s: kept, it still expires 10 s from now.
    [{ key, value, ts, expiresUs: now + 10_000_000 }, true, { ttlSeconds: 40, timestamp: ts }],
    [{ key, value, ts, expiresUs: now + 10_000_001 }, true, { ttlSeconds: 41, timestamp: ts }],
    [{ key, value, expiresUs: now + 10_000_000 }, true, { ttlSeconds: 10 }],
    [{ key, value, ts, expiresUs: now }, true, 'expired'],
    [{ key, value, ts, expiresUs: now - 1 }, false, 'expired'],
  ];
  for (const [e, keep, want] of table) t.deepEqual(importWrite(e, now, keep), want, JSON.stringify({ ...e, keep }));
  // An expiry not after the ts (a ts ahead of now), or further after it than a TTL may be, is no TTL's.
  const future = now + 5_000_000;
  for (const e of [
    { key, value, ts: future, expiresUs: future },
    { key, value, ts, expiresUs: ts + (TTL_SECONDS_MAX + 1) * 1e6 },
  ]) {
    const err = t.throws(() => importWrite(e, now, true), { instanceOf: LineError });
    t.regex(err!.message, /^"expiresUs" is not 1 to \d+ seconds after "ts", as a TTL would put it$/);
  }
});
