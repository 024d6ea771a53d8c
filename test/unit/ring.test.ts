import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Ring, RingNode } from '../../src/partitioner/ring';
import { byteString } from './arbitraries';
import { fcParams, sampleParams, seedNote } from './fc-params';

const defaultNodes: RingNode[] = DEFAULT_TOKENS.map((token, id) => ({ id, token }));
const defaultRing = new Ring(defaultNodes, 3);

// Expected owners with the default tokens 'M', 'f', 'p', 0x7f. Node i owns
// (previous token, its token]; keys above 0x7f wrap round to node 0.
const ownerTable: Array<[key: string, owner: number, why: string]> = [
  ['apple', 1, 'lower-case a..e go to token "f"'],
  ['Apple', 0, 'upper-case A..L go to token "M"'],
  ['123', 0, 'digits sort below "M"'],
  ['grape', 2, '"grape" > "f", <= "p"'],
  ['pear', 3, '"pear" > "p"'],
  ['M', 0, 'a token is the inclusive upper end of its range'],
  ['Ma', 1, 'just above token "M"'],
  ['L', 0, 'just below token "M"'],
  ['Zebra', 1, 'upper-case M..Z go to token "f"'],
  ['_', 1, 'punctuation between the cases'],
  ['`', 1, 'backtick 0x60 < "f"'],
  ['f', 1, 'token "f" is inclusive'],
  ['fa', 2, 'just above token "f"'],
  ['p', 2, 'token "p" is inclusive'],
  ['p\u0000', 3, 'a longer key with the token as prefix sorts above it'],
  ['zzz', 3, 'z is below 0x7f'],
  ['~', 3, '0x7e'],
  ['\u007f', 3, 'the largest token itself'],
  ['\u007f\u0000', 0, 'above the largest token: wraps'],
  ['\u0080', 0, 'first byte above 0x7f wraps'],
  ['\u00ff\u00ff\u00ff', 0, 'the top of the key space wraps'],
  ['\u00c3\u00a9t\u00c3\u00a9', 0, 'UTF-8 "été" starts with 0xc3: wraps'],
  ['', 0, 'the empty key is the smallest key'],
  ['\u0000', 0, 'a zero byte'],
];

for (const [key, owner, why] of ownerTable) {
  test(`default ring: owner(${JSON.stringify(key)}) is node ${owner} (${why})`, (t) => {
    t.is(defaultRing.owner(key), owner);
    t.is(defaultRing.replicas(key)[0], owner, 'the owner is the first replica');
  });
}

const replicaTable: Array<[key: string, replicas: number[]]> = [
  ['Apple', [0, 1, 2]],
  ['apple', [1, 2, 3]],
  ['grape', [2, 3, 0]],
  ['pear', [3, 0, 1]],
  ['\u00ff', [0, 1, 2]],
];

for (const [key, replicas] of replicaTable) {
  test(`default ring: replicas(${JSON.stringify(key)}) are ${replicas.join(',')}`, (t) => {
    const got = defaultRing.replicas(key);
    t.deepEqual(got, replicas);
    t.is(new Set(got).size, got.length, 'replicas are distinct');
  });
}

test('default ring: replica count follows the replication factor', (t) => {
  for (let rf = 1; rf <= 4; rf++) {
    const ring = new Ring(defaultNodes, rf);
    t.deepEqual(ring.replicas('grape'), [2, 3, 0, 1].slice(0, rf), `rf ${rf}`);
  }
});

test('default ring: words starting with a-z, A-Z and 0-9 land on all four owners', (t) => {
  const expectedOwner = (first: string): number => {
    if (/[0-9A-L]/.test(first)) return 0;
    if (/[M-Za-e]/.test(first)) return 1;
    if (/[f-o]/.test(first)) return 2;
    return 3; // p..z
  };
  const firsts = [...'abcdefghijklmnopqrstuvwxyz', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', ...'0123456789'];
  const owners = new Set<number>();
  for (const first of firsts) {
    const word = `${first}word`;
    const owner = defaultRing.owner(word);
    t.is(owner, expectedOwner(first), word);
    owners.add(owner);
  }
  t.deepEqual([...owners].sort(), [0, 1, 2, 3]);
});

test('node order in the constructor does not matter', (t) => {
  const shuffled = [defaultNodes[2]!, defaultNodes[0]!, defaultNodes[3]!, defaultNodes[1]!];
  const ring = new Ring(shuffled, 3);
  for (const [key, owner] of ownerTable) t.is(ring.owner(key), owner, key);
  t.deepEqual(ring.replicas('pear'), [3, 0, 1]);
});

test('ids need not follow token order', (t) => {
  // Node 7 has the smallest token, node 2 the largest.
  const ring = new Ring(
    [
      { id: 2, token: 'x' },
      { id: 7, token: 'c' },
      { id: 4, token: 'm' },
    ],
    2,
  );
  t.is(ring.owner('a'), 7);
  t.is(ring.owner('d'), 4);
  t.is(ring.owner('x'), 2);
  t.is(ring.owner('y'), 7);
  t.deepEqual(ring.replicas('n'), [2, 7]);
});

test('a one-node ring owns every key', (t) => {
  const ring = new Ring([{ id: 0, token: 'k' }], 1);
  for (const key of ['', 'a', 'k', 'z', '\u00ff']) {
    t.is(ring.owner(key), 0);
    t.deepEqual(ring.replicas(key), [0]);
  }
});

test('the constructor rejects an empty ring, a bad replication factor and duplicate tokens', (t) => {
  t.throws(() => new Ring([], 1), { message: /at least one node/ });
  t.throws(() => new Ring(defaultNodes, 0), { message: /replication factor 0/ });
  t.throws(() => new Ring(defaultNodes, 5), { message: /replication factor 5/ });
  t.throws(
    () =>
      new Ring(
        [
          { id: 0, token: 'a' },
          { id: 1, token: 'a' },
        ],
        1,
      ),
    { message: /distinct/ },
  );
});

// ---------------------------------------------------------------------------
// Property test against a naive reference: linear scan over Buffer-compared
// tokens (an implementation independent of the string comparison in src).

function refSorted(nodes: readonly RingNode[]): RingNode[] {
  return [...nodes].sort((a, b) => Buffer.compare(Buffer.from(a.token, 'latin1'), Buffer.from(b.token, 'latin1')));
}

function refOwnerIndex(sorted: readonly RingNode[], key: string): number {
  const k = Buffer.from(key, 'latin1');
  for (let i = 0; i < sorted.length; i++) {
    if (Buffer.compare(Buffer.from(sorted[i]!.token, 'latin1'), k) >= 0) return i;
  }
  return 0;
}

function refReplicas(nodes: readonly RingNode[], rf: number, key: string): number[] {
  const sorted = refSorted(nodes);
  const start = refOwnerIndex(sorted, key);
  const out: number[] = [];
  for (let i = 0; i < rf; i++) out.push(sorted[(start + i) % sorted.length]!.id);
  return out;
}

/** A ring of 1 to 8 nodes and a key; see ringCase. */
interface RingCase {
  nodes: RingNode[];
  rf: number;
  key: string;
}

/**
 * Tokens of up to 4 bytes; ids that follow neither token order nor the order
 * the nodes are listed in (each node's rank by a drawn number, times 3 plus 1,
 * so they are not indexes either); and a key that is often a token, a token
 * with bytes added, or a token with its last byte cut, where an off-by-one in
 * the search would show.
 */
const ringCase: fc.Arbitrary<RingCase> = fc
  .record({
    nodes: fc.uniqueArray(fc.tuple(byteString(0, 4), fc.nat()), { minLength: 1, maxLength: 8, selector: ([token]) => token }),
    rfPick: fc.nat(),
    keyShape: fc.constantFrom('token', 'token+', 'token-', 'any', 'any'),
    tokenPick: fc.nat(),
    bytes: byteString(1, 6),
  })
  .map(({ nodes: drawn, rfPick, keyShape, tokenPick, bytes }) => {
    const rank = drawn.map((_, i) => i).sort((a, b) => drawn[a]![1] - drawn[b]![1] || a - b);
    const nodes = drawn.map(([token], i) => ({ id: rank.indexOf(i) * 3 + 1, token }));
    const token = drawn[tokenPick % drawn.length]![0];
    const key =
      keyShape === 'token'
        ? token
        : keyShape === 'token+'
          ? token + bytes.slice(0, 2)
          : keyShape === 'token-'
            ? token.slice(0, -1)
            : bytes.slice(1);
    return { nodes, rf: 1 + (rfPick % nodes.length), key };
  });

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

test('property: owner() and replicas() match a linear-scan reference on random rings', (t) => {
  const property = fc.property(ringCase, ({ nodes, rf, key }) => {
    const ring = new Ring(nodes, rf);
    const expected = refReplicas(nodes, rf, key);
    const note = `key 0x${hex(key)}, tokens ${nodes.map((n) => `${n.id}:0x${hex(n.token)}`).join(' ')}`;
    assert.equal(ring.owner(key), expected[0], `owner of ${note}`);
    assert.deepEqual(ring.replicas(key), expected, `replicas of ${note}`);
    // The allocation-free forms agree with the list.
    assert.deepEqual(
      Array.from({ length: rf }, (_, i) => ring.replicaAt(key, i)),
      expected,
      `replicaAt of ${note}`,
    );
    for (const node of nodes) assert.equal(ring.isReplica(key, node.id), expected.includes(node.id), `isReplica(${node.id}) of ${note}`);
    assert.equal(ring.isReplica(key, -1), false, 'isReplica of an unknown id');
  });
  t.notThrows(() => fc.assert(property, fcParams(5000)));
});

test('the rings of the property often have keys past the last token and keys equal to a token', (t) => {
  const cases = fc.sample(ringCase, sampleParams(5000));
  const last = (c: RingCase): string => refSorted(c.nodes)[c.nodes.length - 1]!.token;
  const wrapped = cases.filter((c) => Buffer.compare(Buffer.from(c.key, 'latin1'), Buffer.from(last(c), 'latin1')) > 0).length;
  const exactToken = cases.filter((c) => c.nodes.some((n) => n.token === c.key)).length;
  t.true(wrapped > 100, `only ${wrapped} wrap-round cases; ${seedNote}`);
  t.true(exactToken > 100, `only ${exactToken} exact-token cases; ${seedNote}`);
});

// [key, replicas of its range, the range's end (exclusive), why]; tokens 'M', 'f', 'p', 0x7f.
const rangeTable: Array<[string, number[], string | undefined, string]> = [
  ['', [0, 1, 2], 'M\u0000', 'the empty key starts the first range'],
  ['M', [0, 1, 2], 'M\u0000', 'a token is in the range it ends'],
  ['M\u0000', [1, 2, 3], 'f\u0000', 'token + NUL starts the next range'],
  ['pear', [3, 0, 1], '\u007f\u0000', 'the last token range'],
  ['\u007f\u0000', [0, 1, 2], undefined, 'past the last token: the first node again, to the end of the key space'],
  ['\u00ff\u00ff', [0, 1, 2], undefined, 'the top of the key space'],
];

for (const [key, replicas, end, why] of rangeTable) {
  test(`rangeOf(${JSON.stringify(key)}): ${why}`, (t) => {
    t.deepEqual(defaultRing.rangeOf(key), { replicas, end });
  });
}

test('property: walking rangeOf from the empty key visits every node range in key order, each key in exactly one', (t) => {
  const property = fc.property(fc.array(byteString(0, 4), { maxLength: 30 }), (keys) => {
    const walked: Array<{ from: string; end: string | undefined; owner: number }> = [];
    for (let from = ''; ; ) {
      const r = defaultRing.rangeOf(from);
      walked.push({ from, end: r.end, owner: r.replicas[0]! });
      if (r.end === undefined) break;
      from = r.end;
    }
    assert.equal(walked.length, defaultNodes.length + 1, 'one range per token, and the wrapped tail');
    for (const key of keys) {
      const holding = walked.filter((w) => w.from <= key && (w.end === undefined || key < w.end));
      assert.equal(holding.length, 1, `one range holds ${JSON.stringify(key)}`);
      assert.equal(holding[0]!.owner, defaultRing.owner(key), `its owner owns ${JSON.stringify(key)}`);
    }
  });
  t.notThrows(() => fc.assert(property, fcParams(100)));
});
