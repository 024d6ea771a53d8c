/**
 * The dashboard in a real browser: headless Chromium (the system's, driven
 * by puppeteer-core) loads the page against a live four-node cluster, finds
 * four nodes up, sees a killed node go down (and up again once restarted),
 * follows the ring as a node joins and a killed one is removed, and saves a screenshot
 * (to $DASHBOARD_SCREENSHOT when set, else to the cluster's temporary folder, removed with it).
 * Without a Chromium on this machine the test says so and passes.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { launch } from 'puppeteer-core';
import { KvClient } from '../../src/client/client';
import { DashboardServer } from '../../src/dashboard/server';
import { freeNodePort, freePort, LocalCluster, WAIT_DEADLINE_MS, waitFor } from '../../src/harness/local-cluster';
import { removeDeadNode } from '../../src/chaos/membership';
import { runCli } from '../run-cli';

const SCRIPT = resolve(__dirname, '../../../scripts/dashboard.sh');
const CLI = resolve(__dirname, '../../src/cli/dashboard.js');

const BROWSERS = ['chromium', 'chromium-browser', 'google-chrome'];
/** Writers kept busy while the page is watched, so its charts have something to draw. */
const WRITERS = 4;
/** Polls of the page the screenshot waits for, at least: $DASHBOARD_SCREENSHOT_POLLS makes the charts longer. */
const SCREENSHOT_POLLS = Number(process.env.DASHBOARD_SCREENSHOT_POLLS ?? 5);

/** The browser to drive: $CHROMIUM, else the first of BROWSERS on the PATH. */
function findBrowser(): string | undefined {
  const candidates = process.env.CHROMIUM
    ? [process.env.CHROMIUM]
    : BROWSERS.flatMap((name) => (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, name)));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Puts keys spread over every node's range until `stop()`; failures (a node just died) are expected. */
function keepWriting(client: KvClient): { stop: () => Promise<void> } {
  let running = true;
  const loops = Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; running; i++) {
      const key = `${'AMZafgpqz'[i % 9]}-${w}-${i % 500}`;
      await client.put(key, `v${i}`, 'QUORUM').catch(() => undefined);
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

test('the dashboard shows four nodes up, a killed node down and up again once restarted, and the ring as a node joins and another is removed, in a real browser', async (t) => {
  const executablePath = findBrowser();
  if (executablePath === undefined) {
    const looked = process.env.CHROMIUM
      ? `$CHROMIUM (${process.env.CHROMIUM}) is not an executable`
      : `none of ${BROWSERS.join(', ')} on the PATH`;
    t.log(`skipped: no browser (${looked}); Debian's chromium package provides one`);
    t.pass();
    return;
  }
  const cluster = await LocalCluster.start();
  const client = cluster.client({ routing: 'token' });
  let dashboard: DashboardServer | undefined;
  let browser: Awaited<ReturnType<typeof launch>> | undefined;
  const writing = keepWriting(client);
  try {
    dashboard = await DashboardServer.start({ config: cluster.config, port: 0 });
    browser = await launch({ executablePath, headless: true, args: ['--no-sandbox', '--headless=new'] });
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    await page.goto(dashboard.url);

    const rowStates = (): Promise<string[]> => page.$$eval('#nodes tr', (rows) => rows.map((r) => r.getAttribute('data-state') ?? ''));
    await waitFor('the page to show four nodes up', async () => (await rowStates()).join() === 'up,up,up,up');
    t.is(await page.$$eval('#ring path.arc.up', (arcs) => arcs.length), 4, 'the ring draws four arcs, all up');
    // Columns 4, 5, 6: keys, operations per second, p99 latency ("1.5 ms").
    await waitFor('the page to show keys, operations and latency on every node', () =>
      page.$$eval('#nodes tr', (rows) =>
        rows.every((r) => [4, 5, 6].every((col) => Number.parseFloat((r.children[col]?.textContent ?? '').replace(/,/g, '')) > 0)),
      ),
    );
    t.true(await page.$eval('#p99-none', (p) => p.hasAttribute('hidden')), 'the latency chart has data: the nodes serve /metrics');
    // The footer row: the cluster's operations a second and the p99 of every node's requests together ("1.5 ms").
    await waitFor("the page to show the whole cluster's operations and latency", () =>
      page.$$eval(
        '#cluster-ops, #cluster-p99',
        (cells) => cells.length === 2 && cells.every((c) => Number.parseFloat((c.textContent ?? '').replace(/,/g, '')) > 0),
      ),
    );
    t.true(
      await page.$$eval('#p99 .u-legend .u-label', (labels) => labels.some((l) => l.textContent === 'all nodes')),
      'the latency chart draws the cluster as one more line',
    );
    // Column 7: slow requests a second, a number once two polls were made (none are slow here).
    t.is(await page.$eval('thead th:nth-child(8)', (th) => th.textContent), 'slow/s');
    await waitFor('the page to show slow requests a second on every node', () =>
      page.$$eval('#nodes tr', (rows) => rows.every((r) => /^\d[\d,.]*$/.test(r.children[7]?.textContent ?? ''))),
    );
    t.is(await page.$eval('#operations', (ul) => ul.textContent?.trim()), 'none', 'no operation is in progress');

    const killedAt = Date.now();
    await cluster.kill(2);
    await waitFor('the page to show node 2 down', async () => (await rowStates()).join() === 'up,up,down,up');
    t.log(`node 2 showed down ${Date.now() - killedAt} ms after it was killed`);
    t.is(await page.$eval('#ring path.arc[data-node="2"]', (arc) => arc.getAttribute('data-state')), 'down');
    t.is(await page.$eval('#ring .centre', (c) => c.textContent), '3 of 4 up');

    await page.click('#scan');
    await waitFor('the divergent-key scan to finish', () =>
      page.$eval('#divergent', (p) => /^\d+ divergent key\(s\)/.test(p.textContent ?? '')),
    );

    await waitFor(
      'enough history for the screenshot',
      async () => {
        const polls = await page.evaluate(() =>
          fetch('/api/state')
            .then((r) => r.json() as Promise<{ times: number[] }>)
            .then((v) => v.times.length),
        );
        return polls >= SCREENSHOT_POLLS;
      },
      WAIT_DEADLINE_MS + SCREENSHOT_POLLS * 2000,
    );
    // Kept only where $DASHBOARD_SCREENSHOT says; else in the cluster's folder, which goes with it.
    const file = process.env.DASHBOARD_SCREENSHOT ?? join(cluster.dir, 'dashboard.png');
    await page.screenshot({ path: file as `${string}.png`, fullPage: true });
    t.true(statSync(file).size > 0, 'the screenshot was written');
    if (process.env.DASHBOARD_SCREENSHOT) t.log(`screenshot: ${file}`);

    await cluster.restart(2);
    await waitFor('the page to show node 2 up again', async () => (await rowStates()).join() === 'up,up,up,up');

    // The ring changes under the page: a node joins, then a killed node is removed; the page follows the ring.
    const rowIds = (): Promise<string> => page.$$eval('#nodes tr', (rows) => rows.map((r) => r.getAttribute('data-node')).join());
    cluster.spawnJoining(4, await freeNodePort(), 'k');
    await waitFor('the page to show node 4, which joins', async () => (await rowIds()) === '0,1,2,3,4');
    await waitFor('node 4 to be up and NORMAL on the page', () =>
      page.$eval('#nodes tr[data-node="4"]', (r) => r.getAttribute('data-state') === 'up' && !/JOINING/.test(r.textContent ?? '')),
    );
    t.is(await page.$$eval('#ring path.arc', (arcs) => arcs.length), 5, 'the ring draws five arcs');
    await cluster.kill(3);
    await removeDeadNode(cluster.config, 3);
    await waitFor('the page to drop node 3, removed', async () => (await rowIds()) === '0,1,2,4');
    await waitFor('every node of the ring up on the page', async () => (await rowStates()).join() === 'up,up,up,up');
    t.is(await page.$eval('#operations', (ul) => ul.textContent?.trim()), 'none', 'the removal is over');
  } finally {
    await writing.stop();
    client.close();
    await browser?.close();
    await dashboard?.close();
    await cluster.destroy();
  }
});

test('scripts/dashboard.sh serves the page for $KV_DATA_DIR, stops on SIGTERM, and says so plainly when its port is taken', async (t) => {
  // Not started: the dashboard needs only the cluster file to serve its page (every node shows down).
  const cluster = await LocalCluster.create();
  const taken = net.createServer();
  try {
    const help = await runCli(CLI, ['--help']);
    t.is(help.code, 0);
    t.regex(help.stdout, /--port P/);

    await new Promise<void>((listening) => taken.listen(0, '127.0.0.1', listening));
    const busy = await runCli(CLI, ['--cluster', cluster.clusterFile, '--port', String((taken.address() as net.AddressInfo).port)]);
    t.is(busy.code, 2);
    t.regex(busy.stderr, /^dashboard: port \d+ on 127\.0\.0\.1 is taken: choose another with --port\n$/);

    const port = await freePort();
    const child = spawn(SCRIPT, ['--port', String(port)], {
      env: { ...process.env, KV_DATA_DIR: cluster.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the dashboard to say where it is', () => out.includes(`http://127.0.0.1:${port}/`));
      const page = await fetch(`http://127.0.0.1:${port}/`);
      t.is(page.status, 200);
      t.regex(await page.text(), /<title>ringkv dashboard<\/title>/);
      t.is((await fetch(`http://127.0.0.1:${port}/vendor/uPlot.iife.min.js`)).status, 200, 'the charting library is served from here');
      const state = (await (await fetch(`http://127.0.0.1:${port}/api/state`)).json()) as { nodes: unknown[] };
      t.is(state.nodes.length, 4);
    } finally {
      child.kill('SIGTERM');
    }
    t.is(await exited, 0);
  } finally {
    taken.close();
    await cluster.destroy();
  }
});
