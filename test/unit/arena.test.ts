import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { Arena, ArenaOwner } from '../../src/storage/arena';
import { packKey } from '../../src/storage/key-order';
import { byteString } from './arbitraries';
import { fcParams } from './fc-params';

/** An owner that remembers where each of its records is, as the memtable does. */
function owners(): ArenaOwner & { current: Map<number, number> } {
  const current = new Map<number, number>();
  return { current, isCurrent: (o, loc) => current.get(o) === loc, moved: (o, loc) => void current.set(o, loc) };
}

const SLAB = 256;

/** Values for 5 to 40 ids, then 1 to 120 overwrites of random ids (an index taken modulo the ids). */
const run = fc.record({
  initial: fc.array(byteString(0, 40), { minLength: 5, maxLength: 40, size: 'max' }),
  overwrites: fc.array(fc.tuple(fc.nat(), byteString(0, 40)), { minLength: 1, maxLength: 120, size: 'max' }),
});

/**
 * Overwrites on a small slab size free records all the time, so slabs are
 * compacted and recycled while records move; every current record must
 * stay readable where its owner was told it is, and live bytes exact.
 */
test('property: overwrites compact and recycle slabs, and keep every current record', (t) => {
  const property = fc.property(run, ({ initial, overwrites }) => {
    const o = owners();
    const a = new Arena(o, SLAB);
    const values = new Map<number, string>();
    const write = (id: number, value: string): void => {
      const old = o.current.get(id);
      o.current.set(id, a.append(id, `k${id}`, value));
      values.set(id, value);
      if (old !== undefined) a.free(old);
    };
    initial.forEach((value, id) => write(id, value));
    for (const [pick, value] of overwrites) write(pick % initial.length, value);
    let live = 0;
    for (const [id, value] of values) {
      const loc = o.current.get(id)!;
      assert.equal(a.key(loc), `k${id}`, `key of ${id}`);
      assert.equal(a.value(loc), value, `value of ${id}`);
      live += 12 + `k${id}`.length + value.length;
    }
    assert.equal(a.liveBytes, live, 'live bytes');
  });
  t.notThrows(() => fc.assert(property, fcParams(200)));
});

test('property: a key packed from the arena is the key packed from its string', (t) => {
  const property = fc.property(fc.array(byteString(0, 12), { minLength: 1, maxLength: 20 }), fc.nat({ max: 13 }), (keys, from) => {
    const o = owners();
    const a = new Arena(o, SLAB);
    keys.forEach((key, id) => {
      const loc = a.append(id, key, 'v');
      o.current.set(id, loc);
      assert.equal(a.packedKey(loc, from), packKey(key, from), `${JSON.stringify(key)} from ${from}`);
    });
  });
  t.notThrows(() => fc.assert(property, fcParams(200)));
});
