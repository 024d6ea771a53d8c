/**
 * The internode calls of a run: the counters read from a node's dump, the
 * difference between two readings, items per call.
 */
import test from 'ava';
import Int64 from 'node-int64';
import { itemsPerCall, PeerCalls, peerCallsDelta, peerCallsOf } from '../../src/bench/internode';

const calls = (replicateCalls: number, replicateItems: number, readLocalCalls: number, readLocalItems: number): PeerCalls => ({
  replicateCalls,
  replicateItems,
  readLocalCalls,
  readLocalItems,
});

test('the peer-call counters are taken from a dump, as i64 or number; a counter missing gives none', (t) => {
  const dump = {
    'peers.replicateCalls': new Int64(7),
    'peers.replicateItems': new Int64(21),
    'peers.readLocalCalls': 3,
    'peers.readLocalItems': new Int64(9),
    'store.keys': new Int64(100),
  };
  t.deepEqual(peerCallsOf(dump), calls(7, 21, 3, 9));
  const { 'peers.readLocalItems': _, ...older } = dump;
  t.is(peerCallsOf(older), undefined);
});

test('the difference of two readings, per node; a node missing from either is unknown', (t) => {
  const before = { 0: calls(100, 300, 10, 50), 1: calls(0, 0, 0, 0), 2: null, 3: calls(5, 5, 5, 5) };
  const after = { 0: calls(1100, 3400, 10, 50), 1: calls(40, 90, 8, 8), 2: calls(1, 1, 1, 1), 3: null };
  t.deepEqual(peerCallsDelta(before, after), { 0: calls(1000, 3100, 0, 0), 1: calls(40, 90, 8, 8), 2: null, 3: null });
});

test('items per call; none without calls', (t) => {
  const table: [number, number, number | null][] = [
    [1000, 3100, 3.1],
    [4, 4, 1],
    [0, 0, null],
  ];
  for (const [c, items, want] of table) t.is(itemsPerCall(c, items), want, `${items}/${c}`);
});
