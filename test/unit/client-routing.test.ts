import test from 'ava';
import { KvClient, keyText, nodeOrder } from '../../src/client/client';
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
for (const [name, replicas, count, turn, expected] of orders) {
  test(`nodeOrder: ${name}`, (t) => {
    t.deepEqual(nodeOrder(replicas, count, turn), expected);
  });
}

test('nodeOrder names every node exactly once, for any turn', (t) => {
  for (let turn = 0; turn < 50; turn++) {
    const order = nodeOrder([1, 2, 3], 5, turn);
    t.deepEqual([...order].sort(), [0, 1, 2, 3, 4]);
    t.deepEqual([...order.slice(0, 3)].sort(), [1, 2, 3], 'the replicas come first');
  }
});

test('token routing needs every node\'s token and a sane replication factor', (t) => {
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

// Routing places a key by its bytes, one char per byte; an ASCII string is its
// own byte text, anything else must be decoded from its UTF-8 bytes.
const texts: [string, string | Buffer, string][] = [
  ['an ASCII string is used as it is', 'key000123', 'key000123'],
  ['a non-ASCII string routes by its UTF-8 bytes', 'pêche', 'p\xc3\xaache'],
  ['a string of one char over 127', '\xff', '\xc3\xbf'],
  ['a buffer routes by its bytes', Buffer.from([0x6b, 0xff, 0x00]), 'k\xff\x00'],
];
for (const [name, given, expected] of texts) {
  test(`keyText: ${name}`, (t) => {
    const bytes = typeof given === 'string' ? Buffer.from(given, 'utf8') : given;
    t.is(keyText(given, bytes), expected);
    t.is(keyText(given, bytes), bytes.toString('latin1'), 'always the latin1 reading of the bytes');
  });
}
