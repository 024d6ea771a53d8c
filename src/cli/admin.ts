/**
 * The operator's tool: scripts/admin.sh COMMAND [options].
 *   status [--json]   every node: address, up/down, state, token, keys, bytes, disk full or not, ownership, hints
 * Needs the cluster file (it holds the secret the admin calls require).
 */
import chalk from 'chalk';
import { ClusterStatus, clusterStatus } from '../client/status';
import { clusterFilePath, parseArgs, UsageError } from '../common/args';
import { runTool } from './run-tool';
import { loadClusterFile } from '../config/cluster';

const USAGE = `usage: scripts/admin.sh COMMAND [--cluster FILE] [--json]
commands:
  status    every node of the cluster: address, up or down, state, token, keys,
            bytes on disk, the share of the keys it replicates, hints it holds for others
options:
  --cluster FILE  the cluster file (default $KV_DATA_DIR/cluster.json, KV_DATA_DIR defaults to ./data)
  --json          one JSON object instead of a table`;

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The status as a table, one row per node, columns padded to their widest cell. */
function statusTable(s: ClusterStatus, colour: boolean): string {
  const c = colour ? chalk : new chalk.Instance({ level: 0 });
  const header = ['node', 'address', 'up', 'state', 'token', 'keys', 'bytes', 'disk', 'owns', 'hints'];
  const rows = s.nodes.map((n) =>
    n.up
      ? [
          String(n.id),
          n.address,
          'up',
          n.state,
          n.token,
          String(n.keys),
          megabytes(n.bytes),
          n.diskFull ? 'FULL' : 'ok',
          `${(n.ownership * 100).toFixed(1)}%`,
          String(n.hints),
        ]
      : [String(n.id), n.address, 'DOWN', n.state, n.token, '?', '?', '?', '?', '?'],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const up = s.nodes.filter((n) => n.up).length;
  const out = [`${s.nodes.length} nodes, ${up} up, replication factor ${s.replicationFactor}`, c.bold(line(header))];
  for (const [i, r] of rows.entries()) out.push(s.nodes[i]!.up ? line(r) : c.red(line(r)) + c.dim(`  (${s.nodes[i]!.error})`));
  return out.join('\n') + '\n';
}

/** The JSON form: what a script reads; counters stay out (the inspector and metrics carry them). */
function statusJson(s: ClusterStatus): string {
  const nodes = s.nodes.map(({ counters: _counters, ...n }) => n);
  return JSON.stringify({ replicationFactor: s.replicationFactor, nodes }) + '\n';
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'help'], ['cluster']);
  const [command, ...rest] = args.positional;
  if (args.flags.has('help') || command === 'help' || command === undefined) {
    process.stdout.write(USAGE + '\n');
    return command === undefined && !args.flags.has('help') ? 2 : 0;
  }
  if (rest.length > 0) throw new UsageError(`${command} takes no arguments, got "${rest.join(' ')}"`);
  const config = loadClusterFile(clusterFilePath(args.flags.get('cluster')));
  switch (command) {
    case 'status': {
      const status = await clusterStatus(config);
      process.stdout.write(args.flags.has('json') ? statusJson(status) : statusTable(status, process.stdout.isTTY === true));
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"; see scripts/admin.sh --help`);
  }
}

if (require.main === module) runTool('admin', () => main(process.argv.slice(2)));
