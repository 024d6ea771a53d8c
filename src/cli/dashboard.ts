/**
 * The dashboard: a web page showing the cluster live.
 *   scripts/dashboard.sh [--port P] [--cluster FILE]
 * The page and its data are served by dashboard/server.ts; this file reads
 * the flags, starts it and stops it on Ctrl-C.
 */
import { clusterFilePath, parseArgs, UsageError } from '../common/args';
import { runTool } from './run-tool';
import { loadClusterFile } from '../config/cluster';
import { DASHBOARD_HOST, DashboardServer } from '../dashboard/server';

const DEFAULT_PORT = 8080;

const USAGE = `usage: scripts/dashboard.sh [--port P] [--cluster FILE]
  Serves a live page for the cluster at http://${DASHBOARD_HOST}:P/ (only on this machine):
  the ring and each node's range and state, operations per second and p99
  latency per node over the last ten minutes, hints pending, keys per node.
  --port P        the port to listen on (default ${DEFAULT_PORT})
  --cluster FILE  the cluster file (default $KV_DATA_DIR/cluster.json, else ./data/cluster.json)`;

function portOf(flag: string | true | undefined): number {
  if (flag === undefined) return DEFAULT_PORT;
  const port = Number(flag);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--port must be a port number from 1 to 65535, got ${String(flag)}`);
  return port;
}

async function main(): Promise<void> {
  const argv = parseArgs(process.argv.slice(2), ['help'], ['port', 'cluster']);
  if (argv.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (argv.positional.length > 0) throw new UsageError(`unexpected argument "${argv.positional[0]}"\n${USAGE}`);
  const port = portOf(argv.flags.get('port'));
  const config = loadClusterFile(clusterFilePath(argv.flags.get('cluster')));
  const dashboard = await DashboardServer.start({ config, port });
  process.stdout.write(`dashboard for ${config.nodes.length} nodes at ${dashboard.url} (Ctrl-C stops it)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.close();
}

if (require.main === module) runTool('dashboard', main);
