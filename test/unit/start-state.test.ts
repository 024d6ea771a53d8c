/**
 * Whether a node starts by catching up (node/start-state.ts), as a table:
 * an empty directory, a file put back from a snapshot, an outage past the
 * hint window, and a short outage.
 */
import test from 'ava';
import { startState } from '../../src/node/start-state';
import { bootstrapPlacement } from '../../src/membership/placement';
import { RangeTrees } from '../../src/repair/range-trees';
import { ALIVE_AT } from '../../src/storage/meta';
import type { NodeMeta } from '../../src/storage/replica-storage';

const NOW_MS = 1_800_000_000_000;
const WINDOW_S = 3 * 3600;

function meta(aliveAt: number | undefined): NodeMeta {
  return {
    read: async (name) => (name === ALIVE_AT ? aliveAt : undefined),
    write: async () => undefined,
  };
}

const trees = new RangeTrees(
  bootstrapPlacement(
    [0, 1, 2, 3].map((id) => ({ id, token: 'Mfp\x7f'[id]! })),
    3,
  ),
  0,
);

const CASES: ReadonlyArray<{
  what: string;
  aliveAt: number | undefined;
  keys: number;
  restored: boolean;
  catchingUp: boolean;
  why: RegExp;
}> = [
  { what: 'a new node', aliveAt: undefined, keys: 0, restored: false, catchingUp: true, why: /^an empty data directory$/ },
  {
    what: 'a file put back from a snapshot',
    aliveAt: NOW_MS - 60_000,
    keys: 10,
    restored: true,
    catchingUp: true,
    why: /put back from a snapshot/,
  },
  {
    what: 'a snapshot of a node that never ran',
    aliveAt: undefined,
    keys: 0,
    restored: true,
    catchingUp: true,
    why: /put back from a snapshot/,
  },
  {
    what: 'down past the hint window',
    aliveAt: NOW_MS - (WINDOW_S + 1) * 1000,
    keys: 10,
    restored: false,
    catchingUp: true,
    why: /longer than the hint window/,
  },
  { what: 'a short outage', aliveAt: NOW_MS - 60_000, keys: 10, restored: false, catchingUp: false, why: /^$/ },
];

for (const c of CASES) {
  test(`start state: ${c.what}`, async (t) => {
    const s = await startState({ trees, meta: meta(c.aliveAt), time: { nowMs: () => NOW_MS } as never }, c.keys, WINDOW_S, c.restored);
    t.is(s.catchingUp, c.catchingUp);
    t.regex(s.why, c.why);
  });
}
