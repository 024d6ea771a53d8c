/**
 * The client's ring learner on virtual time (the simulator's scheduler): when
 * it asks the nodes (at once, every RING_REFRESH_INTERVAL_MS, and soon after a
 * failure but not within RING_REFRESH_AFTER_FAILURE_MS of the last ask), whom
 * (the node that answered last first, the next when one fails) and what it
 * adopts (the known log plus what follows it).
 */
import test from 'ava';
import { RingHolder, RingLearner } from '../../src/client/learner';
import { KvError } from '../../src/common/errors';
import { RING_REFRESH_AFTER_FAILURE_MS, RING_REFRESH_INTERVAL_MS } from '../../src/common/limits';
import { bootstrapEntry, EpochEntry } from '../../src/membership/changes';
import { Owner, Scheduler } from '../../src/sim/scheduler';

const BOOT = bootstrapEntry(
  [
    { id: 0, token: 'h' },
    { id: 1, token: 'p' },
    { id: 2, token: 'x' },
  ],
  3,
);
const JOIN: EpochEntry = { epoch: 2, change: { kind: 'join-begin', node: 3, token: 'l', host: 'h', port: 4 } };

/** A holder whose nodes answer from `served` (node 0 refuses while `down0`), noting every ask. */
function rig(sched: Scheduler) {
  const served: EpochEntry[] = [BOOT];
  const asks: { atMs: number; node: number; after: number }[] = [];
  const state = { log: [] as readonly EpochEntry[], down0: false };
  const holder: RingHolder = {
    knownLog: () => state.log,
    askable: () =>
      [0, 1].map((id) => ({
        id,
        fetch: async (after: number) => {
          asks.push({ atMs: sched.nowMs, node: id, after });
          if (id === 0 && state.down0) throw new KvError('ConnectionError', 'refused');
          return { epoch: served.length, entries: served.slice(after) };
        },
      })),
    adopt: (log) => {
      state.log = log;
    },
  };
  return { served, asks, state, holder };
}

test('the ring learner asks at once and every interval, adopts what follows its log, and asks soon after a failure, not more than once a second', async (t) => {
  const sched = new Scheduler();
  const { served, asks, state, holder } = rig(sched);
  const learner = new RingLearner(holder, sched.timeFor(new Owner('client')));
  await sched.runUntil(1);
  t.deepEqual(asks, [{ atMs: 0, node: 0, after: 0 }]);
  t.deepEqual(state.log, [BOOT]);

  served.push(JOIN);
  learner.soon(); // within a second of the last ask: waits for the rest of it
  await sched.runUntil(RING_REFRESH_AFTER_FAILURE_MS - 1);
  t.is(asks.length, 1);
  await sched.runUntil(RING_REFRESH_AFTER_FAILURE_MS);
  t.deepEqual(asks[1], { atMs: RING_REFRESH_AFTER_FAILURE_MS, node: 0, after: 1 });
  t.deepEqual(state.log, [BOOT, JOIN]);

  // Node 0 refuses: node 1 is asked next, and asked first from then on.
  state.down0 = true;
  await sched.runUntil(RING_REFRESH_INTERVAL_MS);
  t.deepEqual(
    asks.slice(2).map((a) => [a.atMs, a.node, a.after]),
    [
      [RING_REFRESH_INTERVAL_MS, 0, 2],
      [RING_REFRESH_INTERVAL_MS, 1, 2],
    ],
  );
  await sched.runUntil(2 * RING_REFRESH_INTERVAL_MS);
  t.deepEqual(asks[4], { atMs: 2 * RING_REFRESH_INTERVAL_MS, node: 1, after: 2 });
  learner.stop();
  await sched.runUntil(4 * RING_REFRESH_INTERVAL_MS);
  t.is(asks.length, 5, 'no ask once stopped');
});
