import test from 'ava';
import { KvClient, keyText, nodeOrder, readStarts, wireKey } from '../../src/client/client';
import { FastBinaryWriter, FrameBuilder } from '../../src/rpc/fast-protocol';
import { isKvError } from '../../src/common/errors';

const nodes = [
  { host: '127.0.0.1', port: 1, token: 'M' },
  { host: '127.0.0.1', port: 2, token: 'f' },
  { host: '127.0.0.1', port: 3, token: 'p' },
  { host: '127.0.0.1', port: 4, token: '\x7f' },
];

const orders: [string, readonly number[] | undefined, number, number, number[]][] = [
  ['replicas first, from the first', [2, 3, 0], 4, 0, [2, 3, 0, 1]],
  ['the next turn starts at the next replica', [2, 3, 0], 4, 1, [3, 0, 2, 1]],
  ['turns wrap round the replicas', [2, 3, 0], 4, 5, [0, 2, 3, 1]],
  ['non-replicas follow in id order', [3], 4, 7, [3, 0, 1, 2]],
  ['no key: every node, from the turn', undefined, 4, 2, [2, 3, 0, 1]],
  ['no key, one node', undefined, 1, 9, [0]],
];
const ids = (count: number): number[] => Array.from({ length: count }, (_, i) => i);
for (const [name, replicas, count, turn, expected] of orders) {
  test(`nodeOrder: ${name}`, (t) => {
    t.deepEqual(nodeOrder(replicas, ids(count), turn), expected);
  });
}

test('nodeOrder: ids need not be 0..n-1 (a node left, another joined)', (t) => {
  t.deepEqual(nodeOrder([4, 0, 1], [0, 1, 2, 4], 1), [0, 1, 4, 2]);
  t.deepEqual(nodeOrder(undefined, [0, 1, 2, 4], 3), [4, 0, 1, 2]);
});

test('nodeOrder names every node exactly once, for any turn', (t) => {
  for (let turn = 0; turn < 50; turn++) {
    const order = nodeOrder([1, 2, 3], ids(5), turn);
    t.deepEqual([...order].sort(), [0, 1, 2, 3, 4]);
    t.deepEqual([...order.slice(0, 3)].sort(), [1, 2, 3], 'the replicas come first');
  }
});

test("token routing needs every node's token and a sane replication factor", (t) => {
  const noTokens = nodes.map(({ host, port }) => ({ host, port }));
  const missing = t.throws(() => new KvClient(noTokens, { routing: 'token' }));
  t.true(isKvError(missing) && missing.code === 'InvalidRequest');
  t.regex(missing!.message, /token routing needs every node's token/);
  const rf = t.throws(() => new KvClient(nodes, { routing: 'token', replicationFactor: 5 }));
  t.regex(rf!.message, /replication factor must be a whole number from 1 to 4/);
  const client = new KvClient(nodes, { routing: 'token', replicationFactor: 3 });
  t.is(client.routing, 'token');
  client.close();
  t.is(new KvClient(noTokens).routing, 'node', 'node routing is the default');
});

// A key goes on the wire as an ASCII string or as bytes, and routing places
// it by its bytes, one char per byte.
const keyCases: [string, string | Buffer, string | Buffer, string][] = [
  ['an ASCII string is sent and routed as it is', 'key000123', 'key000123', 'key000123'],
  ['a string with a char over 127 is sent as UTF-8 bytes', 'pêche', Buffer.from('pêche', 'utf8'), 'p\xc3\xaache'],
  ['a string of one char over 127', '\xff', Buffer.from([0xc3, 0xbf]), '\xc3\xbf'],
  ['control chars are ASCII too', 'a\x00\x7f', 'a\x00\x7f', 'a\x00\x7f'],
  ['a buffer is sent as it is', Buffer.from([0x6b, 0xff, 0x00]), Buffer.from([0x6b, 0xff, 0x00]), 'k\xff\x00'],
];
for (const [name, given, sent, text] of keyCases) {
  test(`wireKey and keyText: ${name}`, (t) => {
    const k = wireKey(given);
    t.deepEqual(k, sent);
    t.is(keyText(k), text);
    t.is(keyText(k), Buffer.from(given as never, 'utf8').toString('latin1'), 'routing always reads the UTF-8 bytes');
  });
}

test('an ASCII string key is written on the wire exactly like its bytes', (t) => {
  const frames: Buffer[] = [];
  for (const key of ['key000123', Buffer.from('key000123')]) {
    const builder = new FrameBuilder((f) => frames.push(f));
    new FastBinaryWriter(builder).writeBinary(key);
    builder.flush();
  }
  t.deepEqual(frames[0], frames[1]);
});

const starts: [number, 'ONE' | 'QUORUM' | 'ALL', number][] = [
  [3, 'ONE', 3],
  [3, 'QUORUM', 2],
  [3, 'ALL', 1],
  [5, 'QUORUM', 3],
  [1, 'QUORUM', 1],
  [2, 'QUORUM', 1],
];
for (const [rf, level, expected] of starts) {
  test(`readStarts: a ${level} read with ${rf} replicas starts at one of the first ${expected}`, (t) => {
    t.is(readStarts(rf, level), expected);
  });
}
