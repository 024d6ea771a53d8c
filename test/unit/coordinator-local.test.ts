import test from 'ava';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { Coordinator, CoordinatorDeps } from '../../src/coordinator/coordinator';
import { LevelName } from '../../src/coordinator/levels';
import { bootstrapPlacement } from '../../src/membership/placement';
import { Ring } from '../../src/partitioner/ring';

const ring = new Ring(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
const placement = bootstrapPlacement(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);

/** A coordinator with only a placement, an id and whether it is catching up: readsLocally must need nothing else. */
function coordinator(selfId: number): Coordinator {
  const deps = new Proxy({ selfId, placement: () => placement, catchingUp: () => false } as Record<string | symbol, unknown>, {
    get(target, name) {
      if (name in target) return target[name];
      throw new Error(`readsLocally used deps.${String(name)}`);
    },
  });
  return new Coordinator(deps as unknown as CoordinatorDeps);
}

const keys = ['A', 'M', 'N', 'g', 'o', 'q', '\u007f', '\u0080', 'apple', ''];

for (const self of [0, 1, 2, 3]) {
  test(`node ${self} answers a ONE read alone exactly for the keys it replicates, and counts only those`, (t) => {
    const c = coordinator(self);
    let expectedReads = 0;
    for (const key of keys) {
      const replica = ring.replicas(key).includes(self);
      t.is(c.readsLocally(key, 'ONE'), replica, `key ${JSON.stringify(key)}`);
      if (replica) expectedReads++;
      for (const level of ['QUORUM', 'ALL'] as LevelName[]) t.false(c.readsLocally(key, level), `${level} read of ${JSON.stringify(key)}`);
    }
    t.is(c.counters.reads, expectedReads);
  });
}

test('a node catching up answers no ONE read alone, and leaves itself out of the replicas a read asks', async (t) => {
  let catching = true;
  const deps: CoordinatorDeps = {
    selfId: 0,
    placement: () => placement,
    replicas: new Map(),
    isUp: () => true,
    hints: { add: async () => true },
    clock: undefined as never,
    timeoutMs: 1000,
    readLocal: () => {
      throw new Error('a catching-up node read its own copy');
    },
    catchingUp: () => catching,
  };
  const c = new Coordinator(deps);
  const key = ['A', 'M', 'N', 'g', 'o', 'q'].find((k) => ring.replicas(k).includes(0))!;
  t.false(c.readsLocally(key, 'ONE'));
  // Only node 0 up among the replicas: a read has nobody to ask.
  const alone = new Coordinator({ ...deps, isUp: (id) => id === 0 });
  await t.throwsAsync(alone.read(key, 'ONE'), { message: /needs 1 .* but only 0/ });
  catching = false;
  t.true(c.readsLocally(key, 'ONE'));
});
