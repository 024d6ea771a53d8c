import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { KeyOrder, PACKED_BYTES, packKey } from '../../src/storage/key-order';
import { byteString } from './arbitraries';
import { fcParams } from './fc-params';

/** Keys by slot in a plain array, compared as byte strings. */
function orderOver(blockSlots: number): { order: KeyOrder; keys: string[] } {
  const keys: string[] = [];
  const order = new KeyOrder(
    {
      compare: (slot, key) => (keys[slot]! < key ? -1 : keys[slot]! > key ? 1 : 0),
      key: (slot) => keys[slot]!,
      packed: (slot, from) => packKey(keys[slot]!, from),
    },
    blockSlots,
  );
  return { order, keys };
}

function listFrom(order: KeyOrder, keys: readonly string[], from: string | undefined): string[] {
  const out: string[] = [];
  order.forEachFrom(from, (slot) => {
    out.push(keys[slot]!);
    return true;
  });
  return out;
}

test('keys come out in byte order from any start, across block splits', (t) => {
  const { order, keys } = orderOver(4);
  for (const k of ['m', 'b', '\u00ff', 'a', '', 'ab', 'z', 'c', 'd', '\u0000']) {
    keys.push(k);
    order.insert(keys.length - 1, k);
  }
  t.deepEqual(listFrom(order, keys, undefined), [...keys].sort());
  t.deepEqual(listFrom(order, keys, 'b'), ['b', 'c', 'd', 'm', 'z', '\u00ff']);
  t.deepEqual(listFrom(order, keys, 'bb'), ['c', 'd', 'm', 'z', '\u00ff'], 'from a key that is not there');
  t.deepEqual(listFrom(order, keys, '\u00ff\u0000'), []);
  const firstTwo: string[] = [];
  order.forEachFrom('', (slot) => firstTwo.push(keys[slot]!) < 2);
  t.deepEqual(firstTwo, ['', '\u0000'], 'visit stops the walk');
});

type Step = { kind: 'insert' | 'remove'; key: string };

/**
 * Short keys of any byte, and longer ones from a few stems and a small
 * alphabet: those share prefixes and tie on their packed bytes, so blocks
 * shorten their prefixes and searches fall back to full comparisons.
 */
const orderKey = fc.oneof(
  byteString(0, 3),
  fc
    .tuple(
      fc.constantFrom('', 'k', 'key00', 'user:0123'),
      fc.array(fc.constantFrom('\u0000', '0', '1', '\u00ff'), { maxLength: 10 }).map((cs) => cs.join('')),
    )
    .map(([stem, rest]) => stem + rest),
);

test('property: packed bytes order keys that share a prefix as their bytes do', (t) => {
  // b keeps a's first `from` bytes, so the two share the prefix the packing starts after.
  const pair = fc.record({ a: orderKey, tail: orderKey, from: fc.nat({ max: 8 }) });
  const property = fc.property(pair, ({ a, tail, from }) => {
    const b = a.slice(0, from) + tail;
    if (a.slice(0, from) !== b.slice(0, from)) return; // a shorter than `from`: b is a itself plus more
    const pa = packKey(a, from);
    const pb = packKey(b, from);
    assert.ok(Number.isSafeInteger(pa) && pa >= 0, 'an exact number');
    if (pa === pb) assert.equal(a.slice(0, from + PACKED_BYTES), b.slice(0, from + PACKED_BYTES), 'a tie means the same bytes');
    else assert.equal(pa < pb, a < b, `${JSON.stringify(a)} against ${JSON.stringify(b)} from ${from}`);
  });
  t.notThrows(() => fc.assert(property, fcParams(300)));
});

/** Random inserts and removals on tiny blocks (so they split, merge and empty all the time), against a sorted array. */
/** Inserts a key not present (in a new slot) or removes one present; anything else changes nothing. */
function applyStep(order: KeyOrder, keys: string[], slotOf: Map<string, number>, kind: 'insert' | 'remove', key: string): void {
  const slot = slotOf.get(key);
  if (kind === 'insert' && slot === undefined) {
    keys.push(key);
    slotOf.set(key, keys.length - 1);
    order.insert(keys.length - 1, key);
  } else if (kind === 'remove' && slot !== undefined) {
    order.remove(slot, key);
    slotOf.delete(key);
  }
}

test('property: the order agrees with a sorted array of the keys present', (t) => {
  const step = fc.record({ kind: fc.constantFrom<Step['kind']>('insert', 'insert', 'remove'), key: orderKey });
  const input = fc.record({
    steps: fc.array(step, { maxLength: 300 }),
    blockSlots: fc.integer({ min: 4, max: 9 }),
    probe: orderKey,
  });
  const property = fc.property(input, ({ steps, blockSlots, probe }) => {
    const { order, keys } = orderOver(blockSlots);
    const slotOf = new Map<string, number>();
    for (const { kind, key } of steps) applyStep(order, keys, slotOf, kind, key);
    const present = [...slotOf.keys()].sort();
    assert.equal(order.size, present.length, 'size');
    assert.deepEqual(listFrom(order, keys, undefined), present, 'all keys');
    assert.deepEqual(
      listFrom(order, keys, probe),
      present.filter((k) => k >= probe),
      `from ${JSON.stringify(probe)}`,
    );
    const loaded = orderOver(blockSlots);
    loaded.keys.push(...keys);
    loaded.order.load(Int32Array.from(present, (k) => slotOf.get(k)!));
    assert.deepEqual(listFrom(loaded.order, keys, probe), listFrom(order, keys, probe), 'a loaded order reads the same');
  });
  t.notThrows(() => fc.assert(property, fcParams(100)));
});

test('property: keys inserted in ascending runs, among others and removals, come out in order (the last block tried first)', (t) => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant<'run'>('run'), keys: fc.array(orderKey, { maxLength: 40 }) }),
    fc.record({ kind: fc.constantFrom<'insert' | 'remove'>('insert', 'remove'), keys: fc.array(orderKey, { minLength: 1, maxLength: 1 }) }),
  );
  const property = fc.property(fc.array(step, { maxLength: 30 }), fc.integer({ min: 4, max: 9 }), (steps, blockSlots) => {
    const { order, keys } = orderOver(blockSlots);
    const slotOf = new Map<string, number>();
    for (const { kind, keys: stepKeys } of steps) {
      for (const key of kind === 'run' ? [...stepKeys].sort() : stepKeys)
        applyStep(order, keys, slotOf, kind === 'run' ? 'insert' : kind, key);
    }
    assert.deepEqual(listFrom(order, keys, undefined), [...slotOf.keys()].sort());
  });
  t.notThrows(() => fc.assert(property, fcParams(200)));
});
