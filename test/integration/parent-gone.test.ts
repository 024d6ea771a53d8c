/**
 * A node started with --parent-pid stops itself once that process is gone:
 * a test file or tool killed before it could stop its cluster (a test
 * runner's timeout, kill -9) leaves no node running.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processRunning as alive } from '../../src/common/procfs';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';

const NODE_MAIN = join(__dirname, '../../src/node/main.js');

/** A process that starts node 0 of `cluster` as its own child, with itself as --parent-pid, and says the node's pid. */
function spawnParent(cluster: LocalCluster, logFile: string) {
  const script = `
    const { spawn } = require('node:child_process');
    const { openSync } = require('node:fs');
    const out = openSync(${JSON.stringify(logFile)}, 'a');
    const node = spawn(process.execPath, [${JSON.stringify(NODE_MAIN)}, '--cluster', ${JSON.stringify(cluster.clusterFile)},
      '--id', '0', '--data', ${JSON.stringify(cluster.dir)}, '--parent-pid', String(process.pid)], { stdio: ['ignore', out, out] });
    process.stdout.write(node.pid + '\\n');
    setInterval(() => {}, 1000);`;
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
}

test('a node whose parent process is killed with -9 shuts itself down and says why', async (t) => {
  const cluster = await LocalCluster.create();
  const logFile = join(cluster.dir, 'orphan.log');
  const parent = spawnParent(cluster, logFile);
  let nodePid: number | undefined;
  try {
    const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
    nodePid = Number(line.toString().trim());
    t.true(Number.isInteger(nodePid) && nodePid > 0);
    // Started: its log has a first line (the node logs as it opens its data).
    await waitFor('the node to log', () => readFileSync(logFile, 'utf8').length > 0);
    t.true(alive(nodePid));

    const exited = once(parent, 'exit');
    parent.kill('SIGKILL');
    await exited;
    await waitFor('the orphaned node to exit', () => !alive(nodePid!));
    t.regex(readFileSync(logFile, 'utf8'), new RegExp(`parent process ${parent.pid} gone`));
  } finally {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    if (nodePid !== undefined && alive(nodePid)) process.kill(nodePid, 'SIGKILL');
    await cluster.destroy();
  }
});
