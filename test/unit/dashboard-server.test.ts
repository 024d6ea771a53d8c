/**
 * The dashboard's HTTP server against fake nodes (no cluster): the state
 * pushed as server-sent events after every poll, the limit on followers,
 * the divergent-key scan, and the answers to requests it does not serve.
 */
import test from 'ava';
import http from 'node:http';
import { DASHBOARD_EVENT_CLIENTS_MAX } from '../../src/common/limits';
import { ClusterConfig, DEFAULT_SETTINGS } from '../../src/config/cluster';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { DashboardView, NodeReading } from '../../src/dashboard/poller';
import { DashboardServer } from '../../src/dashboard/server';
import { freePort, waitFor } from '../../src/harness/local-cluster';

/** Four nodes on ports nothing listens on: a scan finds them all down. */
async function config(): Promise<ClusterConfig> {
  const ports = await Promise.all(DEFAULT_TOKENS.map(() => freePort()));
  const nodes = DEFAULT_TOKENS.map((token, id) => ({ id, host: '127.0.0.1', port: ports[id]!, token }));
  return { replicationFactor: 3, secret: 'fake', nodes, settings: DEFAULT_SETTINGS };
}

/** Node 3 is down; the others count one operation more at every poll. */
function fakeNodes(): { read: (id: number) => Promise<NodeReading> } {
  let reads = 0;
  return {
    read: async (id) => {
      if (id === 3) return { ok: false, error: 'connection refused' };
      reads++;
      return { ok: true, counters: { 'coordinator.reads': reads, 'store.keys': 10 * id }, hints: new Map([[3, id]]), downPeers: [3] };
    },
  };
}

/** Follows /events; `views` fills as events arrive. */
function follow(port: number): Promise<{ views: DashboardView[]; status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/events' }, (res) => {
      const views: DashboardView[] = [];
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        const events = buffered.split('\n\n');
        buffered = events.pop()!;
        for (const e of events) if (e.startsWith('data: ')) views.push(JSON.parse(e.slice('data: '.length)) as DashboardView);
      });
      res.on('error', () => undefined);
      resolve({ views, status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

function request(port: number, method: string, path: string, host = `127.0.0.1:${port}`): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('followers get the state at once and after every poll; a follower past the limit is refused', async (t) => {
  const d = await DashboardServer.start({ config: await config(), port: 0, fetchers: fakeNodes(), intervalMs: 20 });
  const followers: { close: () => void }[] = [];
  try {
    const first = await follow(d.port);
    followers.push(first);
    t.is(first.status, 200);
    await waitFor('three polls pushed', () => first.views.some((v) => v.times.length >= 3));
    const v = first.views[first.views.length - 1]!;
    t.deepEqual(
      v.nodes.map((n) => n.up),
      [true, true, true, false],
    );
    t.deepEqual(
      v.nodes.map((n) => n.keys),
      [0, 10, 20, null],
    );
    t.deepEqual(v.nodes[2]!.hints, [{ target: 3, count: 2 }]);
    t.true(
      v.opsPerSecond[0]!.some((x) => x !== null && x > 0),
      'a rate from the counters',
    );
    t.false(v.latency, 'no node served a latency histogram');

    while (followers.length < DASHBOARD_EVENT_CLIENTS_MAX) followers.push(await follow(d.port));
    const refused = await follow(d.port);
    followers.push(refused);
    t.is(refused.status, 503);
  } finally {
    for (const f of followers) f.close();
    await d.close();
  }
});

test('a follower that stops reading is dropped once its backlog passes the limit, and the others go on', async (t) => {
  const d = await DashboardServer.start({ config: await config(), port: 0, fetchers: fakeNodes(), intervalMs: 1 });
  const reading = await follow(d.port);
  // Reads the first bytes, then nothing: its socket's buffers fill, then the server's backlog.
  const stalled = http.get({ host: '127.0.0.1', port: d.port, path: '/events' }, (res) => {
    res.once('data', () => res.pause());
    res.on('error', () => undefined);
  });
  stalled.on('error', () => undefined);
  try {
    await waitFor('both following', () => d.followers === 2);
    await waitFor('the stalled follower to be dropped', () => d.followers === 1, 60_000);
    const seen = reading.views.length;
    await waitFor('the reading follower to get more updates', () => reading.views.length > seen);
    t.pass();
  } finally {
    stalled.destroy();
    reading.close();
    await d.close();
  }
});

test('a divergent-key scan runs on request and its result is pushed', async (t) => {
  const d = await DashboardServer.start({ config: await config(), port: 0, fetchers: fakeNodes(), intervalMs: 20 });
  const f = await follow(d.port);
  try {
    t.is(await request(d.port, 'POST', '/api/divergent'), 202);
    // Every node is down for the scan (nothing listens): nothing to compare, no divergent key.
    await waitFor('the scan result', () => f.views.some((v) => v.divergent !== null && v.divergent.at !== null));
    const done = f.views.find((v) => v.divergent?.at)!.divergent!;
    t.is(done.count, 0);
    t.deepEqual(done.keys, []);
  } finally {
    f.close();
    await d.close();
  }
});

test('the server answers only its own name, GET for pages and POST for the scan', async (t) => {
  const d = await DashboardServer.start({ config: await config(), port: 0, fetchers: fakeNodes(), intervalMs: 20 });
  try {
    t.is(await request(d.port, 'GET', '/'), 200);
    t.is(await request(d.port, 'GET', '/', `localhost:${d.port}`), 200);
    t.is(await request(d.port, 'GET', '/', `rebound.example:${d.port}`), 421);
    t.is(await request(d.port, 'GET', '/nothing-here'), 404);
    t.is(await request(d.port, 'DELETE', '/api/state'), 405);
    t.is(await request(d.port, 'GET', '/vendor/uPlot.min.css'), 200);
  } finally {
    await d.close();
  }
});

test('a taken port is refused with a sentence that says what to do', async (t) => {
  const first = await DashboardServer.start({ config: await config(), port: 0, fetchers: fakeNodes() });
  try {
    await t.throwsAsync(DashboardServer.start({ config: await config(), port: first.port, fetchers: fakeNodes() }), {
      message: `port ${first.port} on 127.0.0.1 is taken: choose another with --port`,
    });
  } finally {
    await first.close();
  }
});
