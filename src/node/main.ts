/**
 * Entry point of a node process:
 *   node dist/src/node/main.js --cluster FILE --id N --data DIR [--clock-offset-ms MS]
 * Logs to stdout; SIGTERM or SIGINT shut it down cleanly.
 */
import { ConfigError, loadClusterFile } from '../config/cluster';
import { consoleLogger } from './log';
import { CLOCK_OFFSET_MS_MAX, KvNode } from './node';

const USAGE = 'usage: node dist/src/node/main.js --cluster FILE --id N --data DIR [--clock-offset-ms MS] [--peer ID=HOST:PORT ...]';

function parseArgs(argv: string[]): { args: Record<string, string>; peers: Map<number, { host: string; port: number }> } {
  const args: Record<string, string> = {};
  const peers = new Map<number, { host: string; port: number }>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!;
    const value = argv[i + 1];
    if (!name.startsWith('--') || value === undefined) throw new ConfigError(USAGE);
    if (name === '--peer') {
      const m = /^(\d+)=(.+):(\d+)$/.exec(value);
      if (!m) throw new ConfigError(`--peer takes ID=HOST:PORT, got "${value}"`);
      peers.set(Number(m[1]), { host: m[2]!, port: Number(m[3]) });
    } else args[name.slice(2)] = value;
  }
  return { args, peers };
}

async function main(): Promise<void> {
  const { args, peers } = parseArgs(process.argv.slice(2));
  if (!args.cluster || args.id === undefined || !args.data) throw new ConfigError(USAGE);
  const id = Number(args.id);
  const config = loadClusterFile(args.cluster);
  if (!Number.isInteger(id) || !config.nodes[id]) throw new ConfigError(`--id must be a node id from 0 to ${config.nodes.length - 1}`);
  const offsetMs = Number(args['clock-offset-ms'] ?? 0);
  if (!Number.isFinite(offsetMs) || Math.abs(offsetMs) > CLOCK_OFFSET_MS_MAX) {
    throw new ConfigError(`--clock-offset-ms must be a number of ms within ±${CLOCK_OFFSET_MS_MAX}`);
  }
  const log = consoleLogger(`[node ${id}]`);
  const node = await KvNode.start({ config, id, dataDir: args.data, log, clockOffsetMs: offsetMs, peerEndpoints: peers });
  const shutdown = (signal: string): void => {
    log(`${signal} received, shutting down`);
    node.stop().then(
      () => process.exit(0),
      (err) => {
        log(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // Node.js resets SIGHUP to its default (exit) at start, undoing nohup: a
  // node outlives the terminal that started it.
  process.on('SIGHUP', () => log('SIGHUP ignored'));
}

main().catch((err) => {
  const message = err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err));
  process.stderr.write(`node failed to start: ${message}\n`);
  process.exit(1);
});
