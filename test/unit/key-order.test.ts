import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { KeyOrder } from '../../src/storage/key-order';
import { byteString } from './arbitraries';
import { fcParams } from './fc-params';

/** Keys by slot in a plain array, compared as byte strings. */
function orderOver(blockSlots: number): { order: KeyOrder; keys: string[] } {
  const keys: string[] = [];
  const order = new KeyOrder(
    { compare: (slot, key) => (keys[slot]! < key ? -1 : keys[slot]! > key ? 1 : 0), key: (slot) => keys[slot]! },
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

/** Random inserts and removals on tiny blocks (so they split, merge and empty all the time), against a sorted array. */
test('property: the order agrees with a sorted array of the keys present', (t) => {
  const step = fc.record({ kind: fc.constantFrom<Step['kind']>('insert', 'insert', 'remove'), key: byteString(0, 3) });
  const input = fc.record({
    steps: fc.array(step, { maxLength: 300 }),
    blockSlots: fc.integer({ min: 4, max: 9 }),
    probe: byteString(0, 3),
  });
  const property = fc.property(input, ({ steps, blockSlots, probe }) => {
    const { order, keys } = orderOver(blockSlots);
    const slotOf = new Map<string, number>();
    for (const { kind, key } of steps) {
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
