/**
 * Where the dashboard's numbers come from: each node's admin status (its
 * counters, hints and the peers it sees down) over the node's own protocol,
 * and its request latency histogram from its Prometheus /metrics page. A
 * node that does not serve metrics is still up; only its latency is missing.
 */
import http from 'node:http';
import { NodeAdmin } from '../client/client';
import { closeAll, openAll, walk } from '../client/inspect';
import { DASHBOARD_METRICS_BYTES_MAX, DASHBOARD_POLL_TIMEOUT_MS } from '../common/limits';
import { ClusterConfig, metricsUrlOf } from '../config/cluster';
import { int64ToNumber } from '../rpc/thrift';
import { histogramBuckets } from './derive';
import { NodeFetchers, NodeReading } from './poller';

/** The histogram of client request durations every node's /metrics serves. */
export const LATENCY_HISTOGRAM = 'ringkv_client_request_duration_seconds';

/** The body of a GET, or undefined on any failure: an error status, no answer in time, a body too large. */
export function fetchText(url: string, timeoutMs: number, bytesMax: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(undefined);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > bytesMax) req.destroy();
        else chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.on('close', () => resolve(undefined));
  });
}

/** Reads nodes through one admin connection each (kept open: a poll a second should not connect each time). */
export class NodeSources implements NodeFetchers {
  private readonly admins: NodeAdmin[];

  constructor(private readonly config: ClusterConfig) {
    this.admins = config.nodes.map((n) => new NodeAdmin(n, config.secret, DASHBOARD_POLL_TIMEOUT_MS));
  }

  async read(id: number): Promise<NodeReading> {
    const url = metricsUrlOf(this.config.nodes[id]!);
    const [status, metrics] = await Promise.allSettled([
      this.admins[id]!.status(),
      url === null ? Promise.resolve(undefined) : fetchText(url, DASHBOARD_POLL_TIMEOUT_MS, DASHBOARD_METRICS_BYTES_MAX),
    ]);
    if (status.status === 'rejected') return { ok: false, error: (status.reason as Error).message };
    const dump = status.value;
    const counters: Record<string, number> = {};
    for (const [name, value] of Object.entries(dump.counters ?? {})) counters[name] = int64ToNumber(value as never);
    const text = metrics.status === 'fulfilled' ? metrics.value : undefined;
    return {
      ok: true,
      counters,
      hints: new Map(dump.hints.map((h) => [h.target, h.count])),
      downPeers: dump.downPeers,
      buckets: text === undefined ? undefined : histogramBuckets(text, LATENCY_HISTOGRAM),
    };
  }

  close(): void {
    for (const a of this.admins) a.close();
  }
}

/**
 * Walks every live node's replica contents once (as the inspector does) and
 * counts the keys whose live replicas disagree, keeping the first `shownMax`.
 * Its cost grows with the data, so the page runs it on request only.
 */
export async function scanDivergent(config: ClusterConfig, shownMax: number): Promise<{ count: number; keys: string[] }> {
  const opened = await openAll(config);
  const { cursors } = opened;
  const keys: string[] = [];
  let count = 0;
  try {
    await walk(opened, (key) => {
      count++;
      if (keys.length < shownMax) keys.push(key);
    });
  } finally {
    closeAll(cursors);
  }
  return { count, keys };
}
