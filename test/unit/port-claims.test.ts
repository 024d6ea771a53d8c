/**
 * A port handed out for a test node stays this process's until it gives it
 * up or exits: no other process hands it out in the gap while its node is
 * down between a kill and a restart.
 */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { METRICS_PORT_OFFSET } from '../../src/config/cluster';
import { freeNodePort, freePort } from '../../src/harness/local-cluster';
import { claimPort, CLAIMS_DIR, releasePort } from '../../src/harness/port-claims';

const CLAIMS_MODULE = join(__dirname, '../../src/harness/port-claims.js');

/** Whether another process, which then exits, could claim `port`. */
async function otherProcessClaims(port: number): Promise<boolean> {
  const script = `process.stdout.write(String(require(${JSON.stringify(CLAIMS_MODULE)}).claimPort(${port})))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script]);
  return stdout === 'true';
}

test('a port freePort handed out is claimed: neither this process nor another one gets it again until it is released', async (t) => {
  const port = await freePort();
  t.false(claimPort(port), 'this process already holds it');
  t.false(await otherProcessClaims(port), 'another process is refused while this one holds it');
  releasePort(port);
  t.true(await otherProcessClaims(port), 'once released, another process gets it');
  // That process has exited, and its exit gave the claim up.
  t.false(existsSync(join(CLAIMS_DIR, String(port))));
  t.true(claimPort(port));
  releasePort(port);
});

test('a claim whose process is dead is taken over', async (t) => {
  const port = await freePort();
  releasePort(port);
  const gone = spawn(process.execPath, ['-e', '']);
  await once(gone, 'exit');
  writeFileSync(join(CLAIMS_DIR, String(port)), String(gone.pid));
  t.true(claimPort(port));
  t.false(await otherProcessClaims(port));
  releasePort(port);
});

test('a port freeNodePort handed out is claimed with its metrics port beside it, where a node outside the cluster file serves metrics', async (t) => {
  const port = await freeNodePort();
  const metrics = port + METRICS_PORT_OFFSET;
  t.false(await otherProcessClaims(port), 'the node port is claimed');
  t.false(await otherProcessClaims(metrics), 'and so is its metrics port');
  releasePort(port);
  releasePort(metrics);
});
