/**
 * The dashboard's web server: Node's own http module, bound to 127.0.0.1.
 * It serves the page (static/), the charting library from node_modules (so
 * the page works offline), the cluster's state as JSON at /api/state, and
 * the same state pushed after every poll as server-sent events at /events.
 * POST /api/divergent starts a divergent-key scan (one at a time).
 *
 * Requests must name this server in their Host header (127.0.0.1:PORT or
 * localhost:PORT): a web page elsewhere that rebinds its own name to
 * 127.0.0.1 cannot read the cluster's state through a visitor's browser.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { UsageError } from '../common/args';
import {
  DASHBOARD_DIVERGENT_SHOWN_MAX,
  DASHBOARD_EVENT_BACKLOG_BYTES_MAX,
  DASHBOARD_EVENT_CLIENTS_MAX,
  DASHBOARD_POLL_INTERVAL_MS,
} from '../common/limits';
import { ClusterConfig } from '../config/cluster';
import { DashboardState, NodeFetchers, Poller } from './poller';
import { NodeSources, scanDivergent } from './sources';

export const DASHBOARD_HOST = '127.0.0.1';

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** Every file the page needs, read once at start: a handful of small files. */
function loadAssets(): Map<string, Asset> {
  const own = join(__dirname, 'static');
  const files: [string, string, string][] = [
    ['/', join(own, 'index.html'), 'text/html; charset=utf-8'],
    ['/app.js', join(own, 'app.js'), 'text/javascript; charset=utf-8'],
    ['/style.css', join(own, 'style.css'), 'text/css; charset=utf-8'],
    ['/vendor/uPlot.iife.min.js', require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['/vendor/uPlot.min.css', require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  return new Map(files.map(([path, file, type]) => [path, { type, body: readFileSync(file) }]));
}

export interface DashboardOptions {
  readonly config: ClusterConfig;
  /** 0: any free port. */
  readonly port: number;
  /** How the nodes are read; by default over the network (NodeSources). */
  readonly fetchers?: NodeFetchers & { close?: () => void };
  readonly intervalMs?: number;
}

export class DashboardServer {
  private readonly events = new Set<http.ServerResponse>();
  private readonly state: DashboardState;
  private readonly poller: Poller;
  private readonly fetchers: NodeFetchers & { close?: () => void };
  private readonly assets = loadAssets();
  private readonly server: http.Server;
  private scan: Promise<void> | undefined;
  port = 0;

  private constructor(private readonly options: DashboardOptions) {
    const { config } = options;
    this.state = new DashboardState(config.nodes, config.replicationFactor);
    this.fetchers = options.fetchers ?? new NodeSources(config);
    this.poller = new Poller(this.state, this.fetchers, options.intervalMs ?? DASHBOARD_POLL_INTERVAL_MS, () => this.broadcast());
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  /** Listens and starts polling; a taken port is a UsageError that says so. */
  static async start(options: DashboardOptions): Promise<DashboardServer> {
    const d = new DashboardServer(options);
    await new Promise<void>((resolve, reject) => {
      d.server.once('error', (err: NodeJS.ErrnoException) => {
        d.fetchers.close?.();
        if (err.code === 'EADDRINUSE')
          reject(new UsageError(`port ${options.port} on ${DASHBOARD_HOST} is taken: choose another with --port`));
        else reject(err);
      });
      d.server.listen(options.port, DASHBOARD_HOST, () => resolve());
    });
    d.port = (d.server.address() as AddressInfo).port;
    d.poller.start();
    return d;
  }

  /** Pages following the live updates now. */
  get followers(): number {
    return this.events.size;
  }

  get url(): string {
    return `http://${DASHBOARD_HOST}:${this.port}/`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const host = req.headers.host ?? '';
    if (host !== `${DASHBOARD_HOST}:${this.port}` && host !== `localhost:${this.port}`) {
      this.reply(res, 421, 'text/plain', 'this dashboard answers only at 127.0.0.1 or localhost\n');
      return;
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'POST' && path === '/api/divergent') return this.startScan(res);
    if (req.method !== 'GET') return this.reply(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/events') return this.follow(req, res);
    if (path === '/api/state') return this.reply(res, 200, 'application/json', JSON.stringify(this.state.view(Date.now())));
    const asset = this.assets.get(path);
    if (asset === undefined) return this.reply(res, 404, 'text/plain', 'not found\n');
    this.reply(res, 200, asset.type, asset.body);
  }

  private reply(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
    res.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      // Everything the page uses comes from here: no inline script, nothing from elsewhere.
      'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'",
    });
    res.end(body);
  }

  /** Server-sent events: the state now, then after every poll. */
  private follow(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.events.size >= DASHBOARD_EVENT_CLIENTS_MAX) {
      this.reply(res, 503, 'text/plain', `at most ${DASHBOARD_EVENT_CLIENTS_MAX} pages can follow this dashboard at once\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    // After a lost stream the browser reconnects this many ms later.
    res.write(`retry: ${DASHBOARD_POLL_INTERVAL_MS}\n\n`);
    this.events.add(res);
    req.on('close', () => this.events.delete(res));
    this.send(res, JSON.stringify(this.state.view(Date.now())));
  }

  private send(res: http.ServerResponse, data: string): void {
    if (res.writableLength > DASHBOARD_EVENT_BACKLOG_BYTES_MAX) {
      this.events.delete(res);
      res.destroy();
      return;
    }
    res.write(`data: ${data}\n\n`);
  }

  private broadcast(): void {
    if (this.events.size === 0) return;
    const data = JSON.stringify(this.state.view(Date.now()));
    for (const res of this.events) this.send(res, data);
  }

  private startScan(res: http.ServerResponse): void {
    if (this.state.scanning) return this.reply(res, 409, 'text/plain', 'a scan is under way\n');
    this.state.setDivergent(undefined, Date.now());
    this.broadcast();
    this.scan = scanDivergent(this.options.config, DASHBOARD_DIVERGENT_SHOWN_MAX)
      .then(
        (found) => this.state.setDivergent(found, Date.now()),
        (err: Error) => this.state.setDivergent({ count: 0, keys: [], error: err.message }, Date.now()),
      )
      .then(() => this.broadcast());
    this.reply(res, 202, 'text/plain', 'scan started\n');
  }

  /** Stops polling, ends every event stream and closes the server. */
  async close(): Promise<void> {
    await this.poller.stop();
    await this.scan;
    for (const res of this.events) res.end();
    this.events.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.fetchers.close?.();
  }
}
