/**
 * Calls the integration tests make past the client library: one RPC sent as
 * it is to a cluster's first node, the console fed a script of commands, and
 * scripts/admin.sh's program.
 */
import { execFile, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { LocalCluster } from '../../src/harness/local-cluster';
import { RpcConnection } from '../../src/rpc/connection';
import { toKvError } from '../../src/rpc/errors';

const CONSOLE = join(resolve(__dirname, '../../..'), 'dist/src/cli/console.js');
const ADMIN = join(resolve(__dirname, '../../..'), 'dist/src/cli/admin.js');

export interface AdminRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** scripts/admin.sh's program on the test cluster (not on a terminal: no progress line). */
export function runAdmin(c: LocalCluster, ...args: string[]): Promise<AdminRun> {
  return new Promise((done) =>
    execFile(process.execPath, [ADMIN, ...args, '--cluster', c.clusterFile], { timeout: 300_000 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** One call to the cluster's first node as the generated client makes it: its answer, or its error as a KvError. */
export async function rawCall(cluster: LocalCluster, call: Parameters<RpcConnection['call']>[0]): Promise<unknown> {
  const node = cluster.config.nodes[0]!;
  const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 24 });
  try {
    return await conn.call(call, 5000).catch((e: unknown) => toKvError(e));
  } finally {
    conn.close();
  }
}

/** The console's output for `input` (one command a line), with or without --json. */
export function runConsole(cluster: LocalCluster, input: string, json = false): Promise<string> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CONSOLE, ...(json ? ['--json'] : []), '--cluster', cluster.clusterFile]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => done(out));
    child.stdin.end(input);
  });
}
