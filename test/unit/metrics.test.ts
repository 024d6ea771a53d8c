import test from 'ava';
import { KvError } from '../../src/common/errors';
import { MetricsServer } from '../../src/metrics/http';
import { FROM_COUNTERS, MetricsSource, NodeMetrics } from '../../src/metrics/registry';
import { CLIENT_OPS, LATENCY_BUCKETS_SECONDS, LEVEL_LABELS, OUTCOMES } from '../../src/metrics/requests';
import { find, one, parseExposition } from '../prom-text';

/** Every counter name the metrics read, each with its own value (1, 2, 3, ...), in a fake node's snapshot. */
function fakeCounters(): Record<string, number> {
  const names = FROM_COUNTERS.flatMap((m) => (typeof m.from === 'string' ? [m.from] : Object.values(m.from.values)));
  return {
    ...Object.fromEntries(names.map((n, i) => [n, i + 1])),
    'node.hintExpiryFailures': 7,
    'store.compactionFailures': 2,
    'memory.rssBytes': 1,
  };
}

function fakeSource(counters: Record<string, number> = fakeCounters()): MetricsSource {
  return {
    counters: () => counters,
    hintsPending: () => new Map([[2, 5]]),
    hintOutcomes: () => new Map([[1, { delivered: 4, dropped: 1 }]]),
    peers: [1, 2, 3],
    isUp: (peer) => peer !== 3,
  };
}

test('every metric from the node counters has its name, type, help and the counter value', async (t) => {
  const counters = fakeCounters();
  const e = parseExposition(await new NodeMetrics(fakeSource(counters), { processMetrics: false }).text());
  for (const m of FROM_COUNTERS) {
    t.is(e.types.get(m.name), m.type, m.name);
    t.true((e.help.get(m.name) ?? '').length > 10, `help of ${m.name}`);
    t.is(m.name.endsWith('_total'), m.type === 'counter', `${m.name}: counters and only counters end in _total`);
    if (typeof m.from === 'string') t.is(one(e, m.name), counters[m.from]!, m.name);
    else
      for (const [value, name] of Object.entries(m.from.values))
        t.is(one(e, m.name, { [m.from.label]: value }), counters[name]!, `${m.name} ${value}`);
  }
  t.is(one(e, 'ringkv_background_failures_total', { kind: 'hintExpiry' }), 7);
  t.is(one(e, 'ringkv_background_failures_total', { kind: 'compaction' }), 2);
  t.deepEqual(
    find(e, 'ringkv_hints_delivered_total').map((s) => [s.labels.target, s.value]),
    [
      ['1', 4],
      ['2', 0],
      ['3', 0],
    ],
  );
  t.is(one(e, 'ringkv_hints_dropped_total', { target: '1' }), 1);
  t.deepEqual(
    find(e, 'ringkv_hints_pending').map((s) => [s.labels.target, s.value]),
    [
      ['1', 0],
      ['2', 5],
      ['3', 0],
    ],
  );
  t.deepEqual(
    find(e, 'ringkv_peer_up').map((s) => [s.labels.peer, s.value]),
    [
      ['1', 1],
      ['2', 1],
      ['3', 0],
    ],
  );
  t.false(
    e.samples.some((s) => s.name.startsWith('ringkv_memory')),
    'process memory comes from the default metrics',
  );
});

test('a scrape reads new counter values each time', async (t) => {
  const counters = fakeCounters();
  const metrics = new NodeMetrics(fakeSource(counters), { processMetrics: false });
  t.is(one(parseExposition(await metrics.text()), 'ringkv_read_repairs_total'), counters['coordinator.readRepairs']!);
  counters['coordinator.readRepairs'] = 1000;
  counters['server.connectionsOpen'] = 3;
  const e = parseExposition(await metrics.text());
  t.is(one(e, 'ringkv_read_repairs_total'), 1000);
  t.is(one(e, 'ringkv_connections_open'), 3);
});

test('a counter the metrics expect but the node lacks fails the scrape loudly', async (t) => {
  const counters = fakeCounters();
  delete counters['store.compactions'];
  await t.throwsAsync(new NodeMetrics(fakeSource(counters), { processMetrics: false }).text(), { message: /store\.compactions/ });
});

test('client requests are counted by op, level and outcome, and the label sets stay bounded', async (t) => {
  const metrics = new NodeMetrics(fakeSource(), { processMetrics: false });
  const r = metrics.requests;
  const run = (op: 'get' | 'put' | 'remove', level: number | null | undefined, error: unknown): void =>
    r.finished(op, level, error, r.started());
  for (let i = 0; i < 3; i++) run('put', 2, undefined);
  run('put', 2, new KvError('TimedOut', 'slow'));
  run('get', 1, new KvError('Unavailable', 'down'));
  run('remove', 3, new Error('a bug'));
  run('put', 3, new KvError('StorageFull', 'full'));
  run('put', 5, undefined);
  run('get', 6, new KvError('Unavailable', 'down'));
  run('remove', 7, undefined);
  // Levels and errors from a hostile client must not make new series.
  for (const level of [0, 8, -1, 2.5, 1e9, null, undefined]) run('get', level, new KvError('InvalidRequest', 'bad level'));
  t.is(r.inFlight, 0);
  const e = parseExposition(await metrics.text());
  t.is(e.types.get('ringkv_client_requests_total'), 'counter');
  t.is(one(e, 'ringkv_client_requests_total', { op: 'put', level: 'QUORUM', outcome: 'ok' }), 3);
  t.is(one(e, 'ringkv_client_requests_total', { op: 'put', level: 'QUORUM', outcome: 'timed_out' }), 1);
  t.is(one(e, 'ringkv_client_requests_total', { op: 'get', level: 'ONE', outcome: 'unavailable' }), 1);
  t.is(one(e, 'ringkv_client_requests_total', { op: 'remove', level: 'ALL', outcome: 'error' }), 1);
  t.is(one(e, 'ringkv_client_requests_total', { op: 'put', level: 'ALL', outcome: 'storage_full' }), 1);
  t.is(one(e, 'ringkv_client_requests_total', { op: 'put', level: 'TWO', outcome: 'ok' }), 1);
  t.is(one(e, 'ringkv_client_requests_total', { op: 'get', level: 'THREE', outcome: 'unavailable' }), 1);
  t.is(one(e, 'ringkv_client_requests_total', { op: 'remove', level: 'ANY', outcome: 'ok' }), 1);
  t.is(one(e, 'ringkv_client_requests_total', { op: 'get', level: 'invalid', outcome: 'invalid' }), 7);
  const series = find(e, 'ringkv_client_requests_total');
  // Every combination from the start (at zero), and no other.
  t.is(series.length, CLIENT_OPS.length * LEVEL_LABELS.length * OUTCOMES.length);
  t.is(new Set(series.map((s) => JSON.stringify(s.labels))).size, series.length);
  for (const s of series) {
    t.true((CLIENT_OPS as readonly string[]).includes(s.labels.op!));
    t.true((LEVEL_LABELS as readonly string[]).includes(s.labels.level!));
    t.true((OUTCOMES as readonly string[]).includes(s.labels.outcome!));
  }
  // Latency only for the requests with a real level: 4 puts at QUORUM, one at ALL and one at TWO, gets at ONE and THREE, removes at ALL and ANY.
  t.is(e.types.get('ringkv_client_request_duration_seconds'), 'histogram');
  const buckets = find(e, 'ringkv_client_request_duration_seconds_bucket', { op: 'put', level: 'QUORUM' });
  t.is(buckets.length, LATENCY_BUCKETS_SECONDS.length + 1);
  t.is(buckets.at(-1)!.labels.le, '+Inf');
  t.is(buckets.at(-1)!.value, 4);
  t.is(one(e, 'ringkv_client_request_duration_seconds_count', { op: 'put', level: 'QUORUM' }), 4);
  t.deepEqual(
    find(e, 'ringkv_client_request_duration_seconds_count')
      .map((s) => `${s.labels.op} ${s.labels.level}`)
      .sort(),
    ['get ONE', 'get THREE', 'put ALL', 'put QUORUM', 'put TWO', 'remove ALL', 'remove ANY'],
  );
  t.false(find(e, 'ringkv_client_request_duration_seconds_count').some((s) => s.labels.level === 'invalid'));
});

test('requests in flight are those started and not finished', async (t) => {
  const metrics = new NodeMetrics(fakeSource(), { processMetrics: false });
  const a = metrics.requests.started();
  metrics.requests.started();
  metrics.requests.finished('put', 2, undefined, a);
  t.is(one(parseExposition(await metrics.text()), 'ringkv_client_requests_in_flight'), 1);
});

test('with process metrics on, memory, CPU and event-loop lag are there under their usual names', async (t) => {
  const metrics = new NodeMetrics(fakeSource());
  try {
    await new Promise((r) => setTimeout(r, 50));
    const e = parseExposition(await metrics.text());
    t.true(one(e, 'process_resident_memory_bytes') > 0);
    t.true(one(e, 'nodejs_heap_size_used_bytes') > 0);
    t.is(e.types.get('process_cpu_seconds_total'), 'counter');
    t.true(one(e, 'process_cpu_seconds_total') > 0);
    t.true(Math.abs(one(e, 'process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 5);
    t.true(one(e, 'nodejs_eventloop_lag_seconds') >= 0);
    t.true(Number.isFinite(one(e, 'nodejs_eventloop_lag_p99_seconds')));
    t.true(Number.isFinite(one(e, 'nodejs_eventloop_lag_max_seconds')));
    t.false(e.types.has('nodejs_gc_duration_seconds'), 'no observer on every garbage collection');
  } finally {
    metrics.close();
  }
});

test('the HTTP server serves GET /metrics, 404 elsewhere, 405 for other methods', async (t) => {
  const server = new MetricsServer({
    text: async () => '# TYPE x counter\nx 1\n',
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
  });
  await server.listen('127.0.0.1', 0);
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const ok = await fetch(`${base}/metrics`);
    t.is(ok.status, 200);
    t.is(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    t.is(await ok.text(), '# TYPE x counter\nx 1\n');
    t.is((await fetch(`${base}/metrics?name=x`)).status, 200);
    t.is((await fetch(`${base}/`)).status, 404);
    t.is((await fetch(`${base}/metricsx`)).status, 404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    t.is(post.status, 405);
    t.is(post.headers.get('allow'), 'GET');
  } finally {
    await server.close();
  }
});

test('a failing scrape answers 500 with the reason', async (t) => {
  const server = new MetricsServer({
    text: async () => {
      throw new Error('counter gone');
    },
    contentType: 'text/plain',
  });
  await server.listen('127.0.0.1', 0);
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    t.is(res.status, 500);
    t.regex(await res.text(), /counter gone/);
  } finally {
    await server.close();
  }
});
