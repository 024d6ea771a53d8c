import test from 'ava';
import { Arena, ArenaOwner } from '../../src/storage/arena';
import { Gen, seedNote, testSeed } from './prng';

/** An owner that remembers where each of its records is, as the memtable does. */
function owners(): ArenaOwner & { current: Map<number, number> } {
  const current = new Map<number, number>();
  return { current, isCurrent: (o, loc) => current.get(o) === loc, moved: (o, loc) => void current.set(o, loc) };
}

const SLAB = 256;

/**
 * Frees that waited for unpin() can leave several dead records in one slab.
 * Unpinning must count all of them dead before it compacts any slab: a slab
 * compacted while some of its dead records still counted as live failed the
 * arena's "a compacted slab holds no live record" assertion (a node crashed
 * with it under a write load while anti-entropy sorted its keys).
 */
test('unpin applies every waiting free before compacting, and keeps every current record', (t) => {
  const seed = testSeed();
  const g = new Gen(seed);
  for (let round = 0; round < 200; round++) {
    const o = owners();
    const a = new Arena(o, SLAB);
    const values = new Map<number, string>();
    const write = (id: number, value: string): void => {
      const old = o.current.get(id);
      o.current.set(id, a.append(id, `k${id}`, value));
      values.set(id, value);
      if (old !== undefined) a.free(old);
    };
    const ids = g.int(5, 40);
    for (let id = 0; id < ids; id++) write(id, g.bytes(0, 40));
    a.pin();
    for (let n = g.int(1, 3 * ids); n > 0; n--) write(g.int(0, ids - 1), g.bytes(0, 40));
    t.notThrows(() => a.unpin(), `${seedNote(seed)}: round ${round}`);
    let live = 0;
    for (const [id, value] of values) {
      const loc = o.current.get(id)!;
      t.is(a.key(loc), `k${id}`, `${seedNote(seed)}: round ${round}: key of ${id}`);
      t.is(a.value(loc), value, `${seedNote(seed)}: round ${round}: value of ${id}`);
      live += 12 + `k${id}`.length + value.length;
    }
    t.is(a.liveBytes, live, `${seedNote(seed)}: round ${round}: live bytes`);
  }
});
