/**
 * The metrics endpoint: `GET /metrics` over plain HTTP, on the node's host.
 * Anything else gets 404 (another path) or 405 (another method). It holds
 * few connections and short deadlines (common/limits.ts), so a stray or
 * hostile client costs the node little.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRICS_CONNECTIONS_MAX, METRICS_REQUEST_MS_MAX } from '../common/limits';
import { metricsPortOf, NodeAddress } from '../config/cluster';

export const METRICS_PATH = '/metrics';

/** Where a node serves its metrics; undefined when its cluster-file line turns them off. */
export function metricsUrl(node: NodeAddress): string | undefined {
  const port = metricsPortOf(node);
  return port === 0 ? undefined : `http://${node.host}:${port}${METRICS_PATH}`;
}

/** What the server serves: the exposition text and its content type. */
export interface MetricsText {
  text(): Promise<string>;
  readonly contentType: string;
}

export class MetricsServer {
  private readonly server: http.Server;

  constructor(private readonly metrics: MetricsText) {
    this.server = http.createServer((req, res) => this.serve(req, res));
    this.server.maxConnections = METRICS_CONNECTIONS_MAX;
    this.server.requestTimeout = METRICS_REQUEST_MS_MAX;
    this.server.headersTimeout = METRICS_REQUEST_MS_MAX;
  }

  /** Listens on host:port (0: any free port); rejects if it cannot. */
  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** The port listened on (after listen). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      // A scraper's keep-alive connection would otherwise hold close() open.
      this.server.closeAllConnections();
    });
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== METRICS_PATH) return reply(res, 404, `not found: metrics are at ${METRICS_PATH}\n`);
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return reply(res, 405, `${METRICS_PATH} takes GET only\n`);
    }
    this.metrics.text().then(
      (text) => reply(res, 200, text, this.metrics.contentType),
      (err: Error) => reply(res, 500, `metrics failed: ${err.message}\n`),
    );
  }
}

function reply(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
