import test from 'ava';
import fc from 'fast-check';
import { DASHBOARD_SAMPLES_MAX } from '../../src/common/limits';
import { NodeAddress } from '../../src/config/cluster';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { histogramBuckets, quantileBetween, quantileOf, ratePerSecond, ringArcs, sumBuckets, tokenTurn } from '../../src/dashboard/derive';
import { DashboardState, NodeReading, Poller, RingBuffer } from '../../src/dashboard/poller';
import { waitFor } from '../../src/harness/local-cluster';

test('a rate is the counter delta per second, and none across a restart or without a previous reading', (t) => {
  const cases: [number | undefined, number, number, number | null][] = [
    [100, 300, 1000, 200],
    [100, 300, 2000, 100],
    [100, 100, 1000, 0],
    [undefined, 300, 1000, null],
    [300, 10, 1000, null],
    [100, 300, 0, null],
  ];
  for (const [before, after, ms, want] of cases) t.is(ratePerSecond(before, after, ms), want, `${before} → ${after} in ${ms} ms`);
});

const METRICS = `# HELP ringkv_client_request_duration_seconds How long a coordinated client request took.
# TYPE ringkv_client_request_duration_seconds histogram
ringkv_client_request_duration_seconds_bucket{le="0.001",op="put",level="QUORUM"} 3
ringkv_client_request_duration_seconds_bucket{le="0.01",op="put",level="QUORUM"} 8
ringkv_client_request_duration_seconds_bucket{le="+Inf",op="put",level="QUORUM"} 10
ringkv_client_request_duration_seconds_sum{op="put",level="QUORUM"} 0.5
ringkv_client_request_duration_seconds_count{op="put",level="QUORUM"} 10
ringkv_client_request_duration_seconds_bucket{op="get",level="ONE",le="0.001"} 5
ringkv_client_request_duration_seconds_bucket{op="get",level="ONE",le="0.01"} 5
ringkv_client_request_duration_seconds_bucket{op="get",level="ONE",le="+Inf"} 6
ringkv_other_seconds_bucket{le="0.001"} 99
`;

test('histogram buckets are summed over every label set, by bound', (t) => {
  const b = histogramBuckets(METRICS, 'ringkv_client_request_duration_seconds');
  t.deepEqual(
    [...(b ?? [])].sort((x, y) => x[0] - y[0]),
    [
      [0.001, 8],
      [0.01, 13],
      [Infinity, 16],
    ],
  );
  t.is(histogramBuckets(METRICS, 'ringkv_missing_seconds'), undefined);
  t.is(histogramBuckets('', 'ringkv_client_request_duration_seconds'), undefined);
});

test('a quantile comes from the bucket deltas, interpolated inside its bucket', (t) => {
  const before = new Map([
    [0.001, 10],
    [0.01, 10],
    [0.1, 10],
    [Infinity, 10],
  ]);
  // 100 new observations: 50 up to 1 ms, 40 in (1, 10] ms, 10 in (10, 100] ms.
  const after = new Map([
    [0.001, 60],
    [0.01, 100],
    [0.1, 110],
    [Infinity, 110],
  ]);
  const near = (got: number | null, want: number, what: string): void =>
    void t.true(got !== null && Math.abs(got - want) < 1e-12, `${what}: ${got} ≠ ${want}`);
  near(quantileBetween(before, after, 0.5), 0.001, 'p50');
  near(quantileBetween(before, after, 0.7), 0.0055, 'p70');
  near(quantileBetween(before, after, 0.99), 0.091, 'p99');
  near(quantileBetween(undefined, after, 0.5), 0.001 * (55 / 60), 'without a previous reading, everything counted so far');
  t.is(quantileBetween(after, after, 0.99), null, 'nothing observed in between');
  t.is(quantileBetween(after, before, 0.99), null, 'buckets that went down: a restart');
  const beyond = new Map([
    [0.001, 0],
    [Infinity, 5],
  ]);
  t.is(quantileBetween(undefined, beyond, 0.99), 0.001, 'past the largest bound: that bound');
});

test('the quantile falls in the bucket of the true quantile observation (property)', (t) => {
  const bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
  const bucketOf = (v: number): number => bounds.findIndex((b) => v <= b);
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: 1, maxLength: 200 }),
      fc.double({ min: 0.01, max: 0.999, noNaN: true }),
      (values, q) => {
        const after = new Map<number, number>([...bounds, Infinity].map((b) => [b, values.filter((v) => v <= b).length]));
        const got = quantileBetween(undefined, after, q)!;
        const sorted = [...values].sort((a, b) => a - b);
        const truth = sorted[Math.ceil(q * values.length) - 1]!;
        const i = bucketOf(truth);
        if (i === -1) return got === bounds[bounds.length - 1];
        const lower = i === 0 ? 0 : bounds[i - 1]!;
        return got >= lower && got <= bounds[i]!;
      },
    ),
  );
  t.pass();
});

test("histograms added bound by bound: the quantile of every observation, not of the parts' quantiles", (t) => {
  // Node a: 98 fast requests (at most 1 ms) and 2 slow ones (at most 100 ms); node b: 100 fast ones.
  const a = new Map([
    [0.001, 98],
    [0.1, 100],
    [Infinity, 100],
  ]);
  const b = new Map([
    [0.001, 100],
    [0.1, 100],
    [Infinity, 100],
  ]);
  const both = sumBuckets([a, b]);
  t.deepEqual(
    [...both],
    [
      [0.001, 198],
      [0.1, 200],
      [Infinity, 200],
    ],
  );
  // The 198th of 200 is fast: the cluster's p99 (rank 198) is in the first bucket, though node a's own is 50.5 ms.
  t.true(Math.abs(quantileOf(both, 0.99)! - 0.001) < 1e-12, `${quantileOf(both, 0.99)}`);
  t.true(Math.abs(quantileOf(a, 0.99)! - 0.0505) < 1e-12, `${quantileOf(a, 0.99)}`);
  t.deepEqual(
    [
      ...sumBuckets([
        a,
        new Map([
          [0.001, 5],
          [Infinity, 5],
        ]),
      ]),
    ],
    [
      [0.001, 103],
      [Infinity, 105],
    ],
    'only the bounds every part has',
  );
  t.deepEqual([...sumBuckets([])], []);
  t.is(quantileOf(new Map([[Infinity, 0]]), 0.99), null, 'nothing observed');
});

test("the quantile of histograms added up lies between the parts' own quantiles (property)", (t) => {
  const bounds = [0.001, 0.005, 0.01, 0.05, 0.1, 1, Infinity];
  const histogram = fc.array(fc.nat(50), { minLength: bounds.length, maxLength: bounds.length }).map((counts) => {
    let sum = 0;
    return new Map(bounds.map((b, i) => [b, (sum += counts[i]!)]));
  });
  fc.assert(
    fc.property(fc.array(histogram, { minLength: 1, maxLength: 5 }), fc.double({ min: 0.01, max: 0.999, noNaN: true }), (parts, q) => {
      const own = parts.map((p) => quantileOf(p, q)).filter((x) => x !== null);
      const merged = quantileOf(sumBuckets(parts), q);
      if (own.length === 0) return merged === null;
      return merged !== null && merged >= Math.min(...own) - 1e-12 && merged <= Math.max(...own) + 1e-12;
    }),
  );
  t.pass();
});

test('ring arcs: each node owns (previous token, its token], the smallest token wraps round the top', (t) => {
  const arcs = ringArcs(DEFAULT_TOKENS.map((token, id) => ({ id, token })));
  t.deepEqual(
    arcs.map((a) => [a.id, a.label]),
    [
      [0, '("0x7f", "M"]'],
      [1, '("M", "f"]'],
      [2, '("f", "p"]'],
      [3, '("p", "0x7f"]'],
    ],
  );
  t.is(arcs[0]!.from, tokenTurn('\u007f') - 1);
  t.is(arcs[0]!.to, tokenTurn('M'));
  t.is(arcs[3]!.to, 0x7f / 256);
  t.deepEqual(
    ringArcs([{ id: 0, token: 'k' }]).map((a) => a.to - a.from),
    [1],
    'one node: the whole circle',
  );
  const close = ringArcs([
    { id: 0, token: 'abcdX' },
    { id: 1, token: 'abcdY' },
  ]);
  t.deepEqual(
    close.map((a) => a.to - a.from),
    [1, 0],
    'tokens alike in their first bytes: a sliver, not a second wrap',
  );
});

test('ring arcs tile the circle once, each ending where the next begins (property)', (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => Buffer.from(b).toString('latin1')),
        { minLength: 1, maxLength: 12 },
      ),
      (tokens) => {
        const arcs = ringArcs(tokens.map((token, id) => ({ id, token })));
        const total = arcs.reduce((sum, a) => sum + (a.to - a.from), 0);
        const joined = arcs.every((a, i) => i === 0 || Math.abs(a.from - arcs[i - 1]!.to) < 1e-12);
        return Math.abs(total - 1) < 1e-9 && joined && arcs.every((a) => a.to >= a.from);
      },
    ),
  );
  t.pass();
});

test('a ring buffer keeps the newest items, oldest first, like slicing a full list (property)', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer(), { maxLength: 100 }), (capacity, items) => {
      const b = new RingBuffer<number>(capacity);
      for (const x of items) b.push(x);
      return JSON.stringify(b.toArray()) === JSON.stringify(items.slice(-capacity)) && b.length === Math.min(capacity, items.length);
    }),
  );
  t.throws(() => new RingBuffer(0));
});

function nodes(count: number): NodeAddress[] {
  return DEFAULT_TOKENS.slice(0, count).map((token, id) => ({ id, host: '127.0.0.1', port: 9000 + id, token }));
}

function up(reads: number, writes: number, extra: Partial<Extract<NodeReading, { ok: true }>> = {}): NodeReading {
  return {
    ok: true,
    counters: { 'coordinator.reads': reads, 'coordinator.writes': writes, 'store.keys': 7 },
    hints: new Map(),
    downPeers: [],
    ...extra,
  };
}

const down: NodeReading = { ok: false, error: 'connection refused' };

/** Latency buckets of `fast` requests of at most 1 ms and `slow` ones of at most `slowBound` seconds, cumulative. */
function fastAndSlow(fast: number, slow: number, slowBound: number): Map<number, number> {
  return new Map([
    [0.001, fast],
    [slowBound, fast + slow],
    [Infinity, fast + slow],
  ]);
}

test('the state charts operations per second per node, and a gap while a node is down or just back', (t) => {
  const s = new DashboardState(nodes(2), 2);
  s.record(1000, [up(0, 0), up(5, 5)]);
  s.record(2000, [up(100, 50), up(5, 5)]);
  s.record(3000, [down, up(15, 5, { hints: new Map([[0, 4]]), downPeers: [0] })]);
  s.record(4000, [up(3, 0), up(20, 5)]);
  s.record(5000, [up(13, 0), up(20, 5)]);
  const v = s.view(5000);
  t.deepEqual(v.times, [1, 2, 3, 4, 5]);
  t.deepEqual(v.opsPerSecond, [
    [null, 150, null, null, 10],
    [null, 0, 10, 5, 0],
  ]);
  t.deepEqual(
    v.nodes.map((n) => [n.id, n.up, n.since, n.keys, n.opsPerSecond]),
    [
      [0, true, 4000, 7, 10],
      [1, true, 1000, 7, 0],
    ],
  );
  t.false(v.latency);
  t.deepEqual(v.operations, []);
});

test('a down node shows its error, no keys and no hints; an up node its hints and the peers it sees down', (t) => {
  const s = new DashboardState(nodes(2), 2);
  s.record(1000, [up(0, 0), up(0, 0)]);
  s.record(2000, [down, up(0, 0, { hints: new Map([[0, 4]]), downPeers: [0] })]);
  const [a, b] = s.view(2000).nodes;
  t.like(a, { up: false, since: 2000, error: 'connection refused', keys: null, hintsPending: 0, downPeers: [] });
  t.like(b, { up: true, since: 1000, keys: 7, hintsPending: 4, hints: [{ target: 0, count: 4 }], downPeers: [0] });
  t.is(b!.error, undefined);
});

test('p99 latency comes from the buckets between two polls, in ms', (t) => {
  const s = new DashboardState(nodes(1), 1);
  const buckets = (fast: number, slow: number): Map<number, number> => fastAndSlow(fast, slow, 0.01);
  s.record(1000, [up(0, 0, { buckets: buckets(0, 0) })]);
  s.record(2000, [up(0, 100, { buckets: buckets(0, 100) })]);
  s.record(3000, [up(0, 100, { buckets: buckets(0, 100) })]);
  const v = s.view(3000);
  t.true(v.latency);
  const p99 = v.p99Ms[0]!;
  t.is(p99[0], null);
  t.true(Math.abs(p99[1]! - 9.91) < 1e-9, `${p99[1]}`);
  t.is(p99[2], null, 'no request in that second');
});

test("the cluster row: every node's operations a second added up, and the p99 of their histograms added up", (t) => {
  const s = new DashboardState(nodes(3), 3);
  const buckets = (fast: number, slow: number): Map<number, number> => fastAndSlow(fast, slow, 0.1);
  s.record(1000, [up(0, 0, { buckets: buckets(0, 0) }), up(0, 0, { buckets: buckets(0, 0) }), up(0, 0)]);
  t.deepEqual(s.view(1000).cluster, { opsPerSecond: null, p99Ms: null }, 'nothing from one reading');
  // Node 0: 98 fast, 2 slow; node 1: 100 fast; node 2 serves no histogram but counts 50 operations.
  s.record(2000, [up(100, 0, { buckets: buckets(98, 2) }), up(0, 100, { buckets: buckets(100, 0) }), up(50, 0)]);
  s.record(3000, [down, up(0, 100, { buckets: buckets(100, 0) }), up(50, 0)]);
  const v = s.view(3000);
  t.deepEqual(v.clusterOpsPerSecond, [null, 250, 0]);
  const [first, second, third] = v.clusterP99Ms;
  t.is(first, null);
  t.true(Math.abs(second! - 1) < 1e-9, `${second}: the 198th of 200 requests is a fast one`);
  t.true(Math.abs(v.p99Ms[0]![1]! - 50.5) < 1e-9, `${v.p99Ms[0]![1]}: node 0's own p99 is slow`);
  t.is(third, null, 'node 0 down and node 1 idle: no request observed');
  t.deepEqual(v.cluster, { opsPerSecond: 0, p99Ms: null });
});

test('slow requests a second come from client.slowRequests between two polls; none from a node that has no such counter', (t) => {
  const s = new DashboardState(nodes(2), 2);
  const slow = (n: number): NodeReading =>
    up(0, 0, { counters: { 'coordinator.reads': 0, 'coordinator.writes': 0, 'client.slowRequests': n } });
  s.record(1000, [slow(3), up(0, 0)]);
  t.is(s.view(1000).nodes[0]!.slowPerSecond, null, 'no rate from one reading');
  s.record(3000, [slow(13), up(0, 0)]);
  const [a, b] = s.view(3000).nodes;
  t.is(a!.slowPerSecond, 5);
  t.is(b!.slowPerSecond, null, 'an older node: no counter, no rate');
  s.record(4000, [down, up(0, 0)]);
  t.is(s.view(4000).nodes[0]!.slowPerSecond, null, 'down');
});

test(`the state keeps the newest ${DASHBOARD_SAMPLES_MAX} polls`, (t) => {
  const s = new DashboardState(nodes(1), 1);
  for (let i = 1; i <= DASHBOARD_SAMPLES_MAX + 50; i++) s.record(i * 1000, [up(i, 0)]);
  const v = s.view(0);
  t.is(v.times.length, DASHBOARD_SAMPLES_MAX);
  t.is(v.times[0], 51);
  t.is(v.opsPerSecond[0]!.length, DASHBOARD_SAMPLES_MAX);
});

test('the poller reads every node each interval, takes a failed read as down, and stops cleanly', async (t) => {
  const s = new DashboardState(nodes(2), 2);
  let polls = 0;
  const poller = new Poller(
    s,
    {
      read: async (id) => {
        if (id === 0) polls++;
        if (id === 1) throw new Error('no route to host');
        return up(polls, 0);
      },
    },
    5,
    () => undefined,
  );
  poller.start();
  try {
    await waitFor('three polls', () => s.view(0).times.length >= 3);
  } finally {
    await poller.stop();
  }
  const v = s.view(0);
  t.like(v.nodes[0], { up: true });
  t.like(v.nodes[1], { up: false, error: 'no route to host' });
  // A poll under way when stop() came is read but not recorded.
  t.true(polls === v.times.length || polls === v.times.length + 1, `${polls} reads, ${v.times.length} recorded`);
});

test('the state follows the ring: a node that joins is drawn and charted from its first poll, one that left is dropped, the operation listed', (t) => {
  const [n0, n1] = nodes(2);
  const s = new DashboardState([n0!, n1!], 3);
  s.record(1000, [up(0, 0), up(0, 0)]);
  s.record(2000, [up(10, 0), up(20, 0)]);
  const n4 = { id: 4, host: '127.0.0.1', port: 9004, token: 'k', state: 'JOINING' };
  s.setRing({ nodes: [n4, { ...n0!, state: 'NORMAL' }, { ...n1!, state: 'NORMAL' }], operations: ['join of node 4'] });
  t.deepEqual(s.ids(), [0, 1, 4]);
  s.record(3000, [up(30, 0), up(40, 0), up(0, 0)]);
  s.record(4000, [up(40, 0), up(60, 0), up(5, 0)]);
  let v = s.view(4000);
  t.deepEqual(
    v.nodes.map((n) => [n.id, n.state, n.up]),
    [
      [0, 'NORMAL', true],
      [1, 'NORMAL', true],
      [4, 'JOINING', true],
    ],
  );
  t.deepEqual(v.operations, ['join of node 4']);
  t.deepEqual(v.opsPerSecond[2], [null, null, null, 5], 'nothing before its first poll, then its rate');
  t.is(v.nodes[2]!.arc.label, '("f", "k"]', 'its arc is the range its token ends');
  // Node 1 leaves: no longer polled, drawn or charted; the ring's operation is over.
  s.setRing({
    nodes: [
      { ...n0!, state: 'NORMAL' },
      { ...n4, state: 'NORMAL' },
    ],
    operations: [],
  });
  t.deepEqual(s.ids(), [0, 4]);
  s.record(5000, [up(50, 0), up(10, 0)]);
  v = s.view(5000);
  t.deepEqual(
    v.nodes.map((n) => n.id),
    [0, 4],
  );
  t.is(v.opsPerSecond.length, 2);
  t.deepEqual(v.opsPerSecond[1], [null, null, null, 5, 5]);
  t.deepEqual(v.operations, []);
});

test("the poller learns the ring before each poll when its fetchers can, and polls the ring's nodes", async (t) => {
  const s = new DashboardState(nodes(2), 3);
  const read: number[] = [];
  const ring = { nodes: [...nodes(2), { id: 5, host: '127.0.0.1', port: 9005, token: 'x', state: 'NORMAL' }], operations: [] };
  const poller = new Poller(
    s,
    {
      read: async (id) => {
        read.push(id);
        return up(0, 0);
      },
      ring: async () => ring,
    },
    5,
    () => undefined,
  );
  poller.start();
  try {
    await waitFor('a poll', () => s.view(0).times.length >= 1);
  } finally {
    await poller.stop();
  }
  t.deepEqual(read.slice(0, 3), [0, 1, 5]);
  t.deepEqual(
    s.view(0).nodes.map((n) => n.id),
    [0, 1, 5],
  );
});

test('a node whose last commit failed for a full disk shows so, and stops showing it once it commits again', (t) => {
  const s = new DashboardState(nodes(2), 2);
  const full = (flag: number): NodeReading =>
    up(0, 0, { counters: { 'coordinator.reads': 0, 'coordinator.writes': 0, 'store.keys': 7, 'store.diskFull': flag } });
  s.record(1000, [full(1), up(0, 0)]);
  t.deepEqual(
    s.view(1000).nodes.map((n) => n.diskFull),
    [true, false],
  );
  s.record(2000, [full(0), down]);
  t.deepEqual(
    s.view(2000).nodes.map((n) => n.diskFull),
    [false, false],
  );
});
