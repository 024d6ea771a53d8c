/**
 * The checks at the wire (node/request-checks.ts), as tables: each bad
 * argument is refused with InvalidRequest and the sentence that names it;
 * a good one comes back as the layers below take it.
 */
import test from 'ava';
import { isKvError } from '../../src/common/errors';
import { BATCH_WRITES_MAX, GET_MANY_KEYS_MAX, KEY_BYTES_MAX, SCAN_LIMIT_MAX } from '../../src/common/limits';
import { ANY_CODE, SERIAL_CODE } from '../../src/coordinator/levels';
import {
  checkBatch,
  checkCasLevel,
  checkClientKey,
  checkManyKeys,
  checkScan,
  checkTraceRequest,
  checkTtl,
  checkWriteLevel,
  EMPTY,
} from '../../src/node/request-checks';
import { EPOCH_SLOT_KEY_PREFIX } from '../../src/membership/reserved-keys';
import { types } from '../../src/rpc/thrift';

const b = (text: string): Buffer => Buffer.from(text);
const MAX_VALUE = 1024;
const QUORUM = 2;

/** The sentence `run` is refused with; fails the test when it is not refused, or not with InvalidRequest. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (isKvError(err, 'InvalidRequest')) return err.message;
    throw err;
  }
  throw new Error('not refused');
}

test('keys: missing, empty, too long and reserved keys are refused; a good one comes back as a byte string', (t) => {
  const table: Array<[Buffer | null, RegExp]> = [
    [null, /^the key is missing$/],
    [EMPTY, /^the key is empty$/],
    [Buffer.alloc(KEY_BYTES_MAX + 1, 0x61), new RegExp(`^the key is ${KEY_BYTES_MAX + 1} bytes; the limit is ${KEY_BYTES_MAX}$`)],
    [b(`${EPOCH_SLOT_KEY_PREFIX}1`), /are reserved for the ring's membership log$/],
  ];
  for (const [key, why] of table)
    t.regex(
      refusal(() => checkClientKey(key)),
      why,
      String(key),
    );
  t.is(checkClientKey(b('é')), '\u00c3\u00a9', 'a latin1 string of the bytes, as the store keeps keys');
});

test('getMany keys: at least one, at most GET_MANY_KEYS_MAX, and the first bad one named by its place', (t) => {
  t.regex(
    refusal(() => checkManyKeys([])),
    /^getMany needs at least one key$/,
  );
  const tooMany = Array.from({ length: GET_MANY_KEYS_MAX + 1 }, (_, i) => b(`k${i}`));
  t.regex(
    refusal(() => checkManyKeys(tooMany)),
    new RegExp(`^getMany asked for ${GET_MANY_KEYS_MAX + 1} keys; the limit is ${GET_MANY_KEYS_MAX} a call`),
  );
  t.is(
    refusal(() => checkManyKeys([b('a'), EMPTY, b('c')])),
    'key 2 of 3: the key is empty',
  );
  t.deepEqual(checkManyKeys([b('a'), b('b')]), ['a', 'b']);
});

test('batches: each write checked by its place, no key twice, and the TTL, timestamp and remove rules', (t) => {
  const w = (fields: Partial<types.BatchWrite>): types.BatchWrite => new types.BatchWrite({ key: b('k'), ...fields });
  const table: Array<[types.BatchWrite[] | null, RegExp]> = [
    [null, /^a batch needs at least one write$/],
    [
      Array.from({ length: BATCH_WRITES_MAX + 1 }, (_, i) => w({ key: b(`k${i}`), value: b('v') })),
      new RegExp(`^the batch has ${BATCH_WRITES_MAX + 1} writes; the limit is ${BATCH_WRITES_MAX}`),
    ],
    [[w({ value: b('v') }), w({ remove: true })], /^write 2 of 2: its key is write 1's too; a batch writes each key once$/],
    [[w({})], /^write 1 of 1: the value is missing \(set remove to delete the key\)$/],
    [[w({ remove: true, value: b('v') })], /^write 1 of 1: a remove carries no value$/],
    [[w({ remove: true, ttlSeconds: 5 })], /^write 1 of 1: a remove takes no TTL$/],
    [[w({ value: b('v'), ttlSeconds: -1 })], /^write 1 of 1: the TTL is -1 seconds/],
    [[w({ value: b('v'), timestamp: 0 as never })], /^write 1 of 1: the timestamp must be a whole number of µs since 1970, from 1$/],
    [[w({ value: b('v'), timestamp: -5 as never })], /^write 1 of 1: the timestamp must be a whole number/],
    [[w({ value: b('v'), timestamp: 1.5 as never })], /^write 1 of 1: the timestamp must be a whole number/],
    [
      [w({ remove: true, timestamp: 7 as never })],
      /^write 1 of 1: a remove takes no timestamp \(a tombstone's timestamp decides when it may be purged\)$/,
    ],
    [
      [w({ value: Buffer.alloc(MAX_VALUE + 1) })],
      new RegExp(`^write 1 of 1: the value is ${MAX_VALUE + 1} bytes; the limit is ${MAX_VALUE}$`),
    ],
  ];
  for (const [writes, why] of table)
    t.regex(
      refusal(() => checkBatch(writes, MAX_VALUE)),
      why,
    );
  t.deepEqual(
    checkBatch(
      [w({ value: b('v'), ttlSeconds: 60 }), w({ key: b('j'), remove: true }), w({ key: b('s'), value: b('o'), timestamp: 42 as never })],
      MAX_VALUE,
    ),
    [
      { key: 'k', value: 'v', deleted: false, ttlSeconds: 60 },
      { key: 'j', value: '', deleted: true, ttlSeconds: 0 },
      { key: 's', value: 'o', deleted: false, ttlSeconds: 0, ts: 42 },
    ],
  );
});

test('levels: a write takes ANY, a read does not; a cas commits at QUORUM or ALL only; a TTL is whole seconds', (t) => {
  t.is(checkWriteLevel(ANY_CODE), 'ANY');
  t.regex(
    refusal(() => checkWriteLevel(99)),
    /^unknown consistency level 99 for a write/,
  );
  t.regex(
    refusal(() => checkCasLevel(1)),
    /ONE cannot keep it linearizable/,
  );
  t.regex(
    refusal(() => checkCasLevel(SERIAL_CODE)),
    /^SERIAL is a read level/,
  );
  t.is(checkCasLevel(3), 'ALL');
  t.regex(
    refusal(() => checkTtl(1.5)),
    /^the TTL is 1.5 seconds; it must be a whole number from 1 to/,
  );
});

test('scans: an inverted range, a limit out of range and a cursor outside the range are refused', (t) => {
  t.regex(
    refusal(() => checkScan(b('b'), b('a'), 10, EMPTY)),
    /^the scan's range is inverted/,
  );
  t.regex(
    refusal(() => checkScan(b('a'), b('b'), SCAN_LIMIT_MAX + 1, EMPTY)),
    /^the scan's limit is \d+; it must be a whole number from 1 to/,
  );
  t.regex(
    refusal(() => checkScan(b('a'), b('b'), 10, b('c'))),
    /^the scan's cursor is outside its range/,
  );
  t.deepEqual(checkScan(EMPTY, EMPTY, 10, EMPTY), { start: '', end: undefined, limit: 10, cursor: undefined });
});

test('trace requests: each op takes its own fields and refuses the others', (t) => {
  const tr = (fields: Record<string, unknown>) => new types.TraceRequest({ key: b('k'), level: QUORUM as never, ...fields } as never);
  const table: Array<[Record<string, unknown>, RegExp]> = [
    [{ op: 'get', value: b('v') }, /^a traced get carries no value$/],
    [{ op: 'get', keys: [b('k')] }, /^only a traced getMany carries a list of keys$/],
    [{ op: 'put', value: b('v'), unlogged: true }, /^only a traced batch carries writes$/],
    [{ op: 'put', value: b('v'), stop: b('z') }, /^only a traced scan carries a stop and a limit$/],
    [{ op: 'remove', expected: b('v') }, /^only a traced cas carries an expected value$/],
    [{ op: 'cas', value: b('v') }, /^the expected value is missing/],
    [{ op: 'scan', value: b('v') }, /^a traced scan carries no value and no expectation$/],
    [{ op: 'getMany', keys: [b('k')], stop: b('z') }, /^a traced getMany carries no value, expectation, stop or limit$/],
    [{ op: 'getMany', keys: [b('k')], unlogged: false }, /^a traced getMany carries keys, not writes$/],
    [{ op: 'getMany', keys: [b('k')], level: SERIAL_CODE }, /SERIAL/],
    [{ op: 'batch', keys: [b('k')], writes: [] }, /^a traced batch carries writes, not a list of keys$/],
    [{ op: 'batch', writes: [new types.BatchWrite({ key: b('k'), value: b('v') })], level: SERIAL_CODE }, /SERIAL/],
    [{ op: 'drop' }, /^trace runs a "get", "put", "remove", "cas", "scan", "getMany" or "batch", not "drop"$/],
  ];
  for (const [fields, why] of table)
    t.regex(
      refusal(() => checkTraceRequest(tr(fields), MAX_VALUE)),
      why,
      JSON.stringify(fields),
    );
  t.deepEqual(checkTraceRequest(tr({ op: 'getMany', keys: [b('a'), b('b')] }), MAX_VALUE), {
    op: 'getMany',
    keys: ['a', 'b'],
    level: 'QUORUM',
  });
  t.deepEqual(
    checkTraceRequest(tr({ op: 'batch', writes: [new types.BatchWrite({ key: b('a'), value: b('1') })], unlogged: true }), MAX_VALUE),
    { op: 'batch', writes: [{ key: 'a', value: '1', deleted: false, ttlSeconds: 0 }], level: 'QUORUM', unlogged: true },
  );
});
