/**
 * Where the dashboard's numbers come from: the ring, from the first node
 * that gives its membership log; each node's admin status (its counters,
 * hints and the peers it sees down) over the node's own protocol, with the
 * cluster file's TLS when it has some; and its request latency histogram
 * from its Prometheus /metrics page. A node that does not serve metrics is
 * still up; only its latency is missing.
 */
import http from 'node:http';
import { NodeAdmin } from '../client/client';
import { closeAll, openAll, walk } from '../client/inspect';
import { DASHBOARD_METRICS_BYTES_MAX, DASHBOARD_POLL_TIMEOUT_MS } from '../common/limits';
import { ClusterConfig, metricsUrlOf } from '../config/cluster';
import { int64ToNumber } from '../rpc/thrift';
import { histogramBuckets } from './derive';
import { NodeFetchers, NodeReading, RingNode, RingReading } from './poller';
import { loadTls } from '../config/tls';
import { Membership, replayLog, ringMembers } from '../membership/changes';
import { operationWords } from '../operations/abort';

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

/**
 * Reads nodes through one admin connection each (kept open: a poll a second
 * should not connect each time), made when a node is first polled, at the
 * address the cluster file or the ring gives it, and closed once the node
 * has left the ring.
 */
export class NodeSources implements NodeFetchers {
  private readonly admins = new Map<number, NodeAdmin>();
  /** Where each node listens: the cluster file's nodes, then every node the ring names. */
  private readonly addresses = new Map<number, RingNode>();

  constructor(private readonly config: ClusterConfig) {
    for (const n of config.nodes) this.addresses.set(n.id, n);
  }

  /** The node that gave the ring last: asked first at the next poll. */
  private ringFrom: number | undefined;

  /** The ring from the first node that gives its membership log: the last one that did, the cluster file's nodes, then those learnt since. */
  async ring(): Promise<RingReading | undefined> {
    const first = this.ringFrom === undefined ? [] : [this.ringFrom];
    const order = [...new Set([...first, ...this.addresses.keys()])].filter((id) => this.addresses.has(id));
    for (const id of order) {
      let m: Membership;
      try {
        m = replayLog((await this.admin(id).membership()).entries);
      } catch {
        continue;
      }
      const nodes: RingNode[] = [];
      for (const member of ringMembers(m)) {
        const known = this.config.nodes[member.id];
        const at = known ?? (member.host !== undefined && member.port !== undefined ? member : undefined);
        if (at === undefined) continue;
        nodes.push({ ...(known ?? {}), id: member.id, host: at.host!, port: at.port!, token: member.token, state: member.state });
      }
      this.ringFrom = id;
      for (const n of nodes) this.addresses.set(n.id, n);
      for (const left of m.members.filter((n) => n.state === 'LEFT')) this.forget(left.id);
      return nodes.length === 0 ? undefined : { nodes, operations: m.operation === undefined ? [] : [operationWords(m.operation)] };
    }
    return undefined;
  }

  async read(id: number): Promise<NodeReading> {
    const node = this.addresses.get(id);
    if (node === undefined) return { ok: false, error: `node ${id}'s address is not known` };
    const url = metricsUrlOf(node);
    const [status, metrics] = await Promise.allSettled([
      this.admin(id).status(),
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

  private admin(id: number): NodeAdmin {
    let admin = this.admins.get(id);
    if (admin === undefined) {
      const node = this.addresses.get(id)!;
      admin = new NodeAdmin(node, this.config.secret, DASHBOARD_POLL_TIMEOUT_MS, loadTls(this.config));
      this.admins.set(id, admin);
    }
    return admin;
  }

  /** A node that left: its connection closed; the cluster file's nodes stay known, to learn the ring from. */
  private forget(id: number): void {
    this.admins.get(id)?.close();
    this.admins.delete(id);
    if (this.config.nodes[id] === undefined) this.addresses.delete(id);
  }

  close(): void {
    for (const a of this.admins.values()) a.close();
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
