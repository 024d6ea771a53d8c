/**
 * A node started with --log-format json writes one JSON object per line,
 * and nothing it logs carries the cluster secret.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';

test('json logs: every line parses, carries time, level, node and event, and never the secret', async (t) => {
  const c = await LocalCluster.create();
  try {
    await Promise.all(c.config.nodes.map((n) => c.startNode(n.id, ['--log-format', 'json'])));
    const client = c.client();
    try {
      await client.put('apple', 'red', 'QUORUM');
    } finally {
      client.close();
    }
    // Node 0 logs a peer going down, not one it never saw up: it must have heard from node 3 first.
    await waitFor('node 0 to see node 3 up', async () => !(await c.downPeers(0)).includes(3));
    await c.kill(3);
    // Node 0 notices the dead peer and logs it as a warning.
    await waitFor('node 0 to log node 3 down', () => c.log(0).includes('node 3 is down'));
    await c.stopNode(0);
    const lines = c.log(0).trim().split('\n');
    t.true(lines.length >= 3, `node 0 logged ${lines.length} lines`);
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      t.deepEqual(Object.keys(entry), ['time', 'level', 'node', 'event'], line);
      t.is(entry.node, 0);
      t.false(Number.isNaN(Date.parse(String(entry.time))), line);
    }
    t.true(lines.some((l) => (JSON.parse(l) as { level: string; event: string }).level === 'warn' && l.includes('node 3 is down')));
    for (const n of c.config.nodes) t.false(c.log(n.id).includes(c.config.secret), `node ${n.id}'s log holds no secret`);
  } finally {
    await c.destroy();
  }
});

test('an unknown log format stops the node with one clear sentence', async (t) => {
  const c = await LocalCluster.create();
  try {
    const main = resolve(__dirname, '../../src/node/main.js');
    const args = [main, '--cluster', c.clusterFile, '--id', '0', '--data', c.dir, '--log-format', 'xml'];
    const err = await t.throwsAsync(promisify(execFile)(process.execPath, args));
    t.regex(String((err as { stderr?: string }).stderr), /--log-format must be text or json, not "xml"/);
  } finally {
    await c.destroy();
  }
});
