/**
 * /metrics of real node processes: the client requests a node coordinated
 * show up under their op, level and outcome, the text is valid Prometheus
 * exposition, and every metric read from node counters is there.
 */
import test from 'ava';
import net from 'node:net';
import { KvClient } from '../../src/client/client';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { FROM_COUNTERS } from '../../src/metrics/registry';
import { LATENCY_BUCKETS_SECONDS } from '../../src/metrics/requests';
import { KvNode } from '../../src/node/node';
import { find, one, parseExposition } from '../prom-text';

const PUTS = 20;
const GETS = 10;

async function scrape(url: string): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return parseExposition(await res.text());
}

test.serial('a node counts the QUORUM requests it coordinated, with latencies, in valid exposition text', async (t) => {
  const c = await LocalCluster.start();
  // Node routing to node 1 alone: it coordinates every request, whatever the key.
  const client = new KvClient([c.config.nodes[1]!]);
  try {
    for (let i = 0; i < PUTS; i++) await client.put(`metrics-${i}`, `value-${i}`, 'QUORUM');
    for (let i = 0; i < GETS; i++) t.is((await client.get(`metrics-${i}`, 'QUORUM')).value?.toString(), `value-${i}`);
    const e = await scrape(c.metricsUrl(1));
    t.is(one(e, 'ringkv_client_requests_total', { op: 'put', level: 'QUORUM', outcome: 'ok' }), PUTS);
    t.is(one(e, 'ringkv_client_requests_total', { op: 'get', level: 'QUORUM', outcome: 'ok' }), GETS);
    t.is(one(e, 'ringkv_client_requests_total', { op: 'put', level: 'ONE', outcome: 'ok' }), 0);
    const buckets = find(e, 'ringkv_client_request_duration_seconds_bucket', { op: 'put', level: 'QUORUM' });
    t.deepEqual(
      buckets.map((b) => b.labels.le),
      [...LATENCY_BUCKETS_SECONDS.map(String), '+Inf'],
    );
    t.true(
      buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1]!.value),
      'buckets are cumulative',
    );
    t.is(buckets.at(-1)!.value, PUTS);
    t.true(one(e, 'ringkv_client_request_duration_seconds_sum', { op: 'put', level: 'QUORUM' }) > 0);
    // Every metric read from node counters names a counter the node really has (a rename would fail the scrape).
    for (const m of FROM_COUNTERS) t.is(e.types.get(m.name), m.type, m.name);
    t.true(one(e, 'ringkv_connections_open') >= 1);
    t.deepEqual(
      find(e, 'ringkv_peer_up').map((s) => [s.labels.peer, s.value]),
      [
        ['0', 1],
        ['2', 1],
        ['3', 1],
      ],
    );
    t.is(find(e, 'ringkv_hints_pending').length, 3);
    t.true(one(e, 'process_resident_memory_bytes') > 0);
    t.is(e.types.get('nodejs_eventloop_lag_seconds'), 'gauge');
    // Keys "metrics-…" belong to node 2 (and 3 and 0): it stored them but coordinated nothing. A put was
    // answered once two replicas had it, so node 2's copy of the last ones may still be on its way (or
    // hinted, on a busy machine): its commits are polled until they hold every put.
    const other = await waitFor('node 2 to commit every put', async () => {
      const e2 = await scrape(c.metricsUrl(2));
      return one(e2, 'ringkv_log_rows_committed_total') >= PUTS ? e2 : undefined;
    });
    t.is(one(other, 'ringkv_client_requests_total', { op: 'put', level: 'QUORUM', outcome: 'ok' }), 0);
    // Node 1's writes reached node 2 as replicate calls, each timed until durable there; so do
    // versions that read repair and anti-entropy sent (a write still in flight on a busy machine can
    // look missing), and hints (a replica slower than the hint grace on a busy machine gets one).
    const applies = one(other, 'ringkv_replica_apply_duration_seconds_count');
    let resent = 0;
    for (const n of c.config.nodes) {
      const admin = c.admin(n.id);
      const counters = (await admin.status().finally(() => admin.close())).counters as unknown as Record<string, number>;
      resent +=
        Number(counters['repair.keysSent']) + Number(counters['coordinator.readRepairs']) + Number(counters['hints.hintsDelivered']);
    }
    t.true(applies >= 1 && applies <= PUTS + resent, `${applies} replicate calls timed, ${resent} versions repaired or hinted`);
    t.regex(c.log(1), new RegExp(`metrics at ${c.metricsUrl(1).replace(/[.]/g, '\\.')}`));
  } finally {
    client.close();
    await c.destroy();
  }
});

test.serial('a taken metrics port stops the node with a clear error; metricsPort 0 serves none', async (t) => {
  const c = await LocalCluster.create();
  const self = c.config.nodes[0]!;
  const blocker = net.createServer();
  const lines: string[] = [];
  try {
    await new Promise<void>((r) => blocker.listen(Number(new URL(c.metricsUrl(0)).port), self.host, r));
    await t.throwsAsync(KvNode.start({ config: c.config, id: 0, dataDir: c.dir }), {
      name: 'ConfigError',
      message: /node 0 cannot serve metrics on 127\.0\.0\.1:\d+ .*set nodes\[0\]\.metricsPort/,
    });
    // The node released what it held: it starts on the same port and file without metrics.
    const nodes = c.config.nodes.map((n) => (n.id === 0 ? { ...n, metricsPort: 0 } : n));
    const node = await KvNode.start({ config: { ...c.config, nodes }, id: 0, dataDir: c.dir, log: (line) => lines.push(line) });
    await node.stop();
    t.true(
      lines.some((l) => /node 0 serving .* no metrics \(metricsPort 0\)/.test(l)),
      lines.join('\n'),
    );
  } finally {
    await new Promise((r) => blocker.close(r));
    await c.destroy();
  }
});
