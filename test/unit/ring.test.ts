import test from 'ava';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Ring, RingNode } from '../../src/partitioner/ring';
import { Gen, seedNote, testSeed } from './prng';

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

test('property: owner() and replicas() match a linear-scan reference on random rings', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  const cases = 5000;
  const mismatches: string[] = [];
  let wrapped = 0;
  let exactToken = 0;

  for (let c = 0; c < cases && mismatches.length < 5; c++) {
    const n = g.int(1, 8);
    const tokens = new Set<string>();
    while (tokens.size < n) tokens.add(g.bytes(0, 4));
    const ids = g.shuffle([...Array(n).keys()].map((i) => i * 3 + 1));
    const nodes: RingNode[] = [...tokens].map((token, i) => ({ id: ids[i]!, token }));
    const rf = g.int(1, n);
    const tokenList = [...tokens];

    let key: string;
    const shape = g.int(0, 4);
    if (shape === 0) key = g.pick(tokenList);
    else if (shape === 1) key = g.pick(tokenList) + g.bytes(1, 2);
    else if (shape === 2) key = g.pick(tokenList).slice(0, -1);
    else key = g.bytes(0, 6);

    const ring = new Ring(nodes, rf);
    const expected = refReplicas(nodes, rf, key);
    const gotOwner = ring.owner(key);
    const gotReplicas = ring.replicas(key);
    if (gotOwner !== expected[0] || JSON.stringify(gotReplicas) !== JSON.stringify(expected)) {
      mismatches.push(
        `case ${c}: nodes=${JSON.stringify(nodes.map((x) => [x.id, Buffer.from(x.token, 'latin1').toString('hex')]))} ` +
          `rf=${rf} key=0x${Buffer.from(key, 'latin1').toString('hex')} owner=${gotOwner} replicas=${JSON.stringify(gotReplicas)} ` +
          `expected=${JSON.stringify(expected)}`,
      );
    }
    if (new Set(gotReplicas).size !== rf) mismatches.push(`case ${c}: replicas not ${rf} distinct: ${JSON.stringify(gotReplicas)}`);
    // The allocation-free forms agree with the list.
    const at = Array.from({ length: rf }, (_, i) => ring.replicaAt(key, i));
    if (JSON.stringify(at) !== JSON.stringify(expected))
      mismatches.push(`case ${c}: replicaAt gives ${JSON.stringify(at)}, expected ${JSON.stringify(expected)}`);
    for (const node of nodes) {
      if (ring.isReplica(key, node.id) !== expected.includes(node.id))
        mismatches.push(`case ${c}: isReplica(${node.id}) is ${!expected.includes(node.id)}`);
    }
    if (ring.isReplica(key, -1)) mismatches.push(`case ${c}: isReplica of an unknown id`);

    const sorted = refSorted(nodes);
    if (Buffer.compare(Buffer.from(key, 'latin1'), Buffer.from(sorted[sorted.length - 1]!.token, 'latin1')) > 0) wrapped++;
    if (tokens.has(key)) exactToken++;
  }

  t.deepEqual(mismatches, [], seedNote(seed));
  // The generator must exercise the interesting paths, or the test proves little.
  t.true(wrapped > 100, `only ${wrapped} wrap-round cases; ${seedNote(seed)}`);
  t.true(exactToken > 100, `only ${exactToken} exact-token cases; ${seedNote(seed)}`);
});
