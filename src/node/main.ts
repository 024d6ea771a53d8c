/**
 * Entry point of a node process:
 *   node dist/src/node/main.js --cluster FILE --id N --data DIR [--clock-offset-ms MS]
 * Logs to stdout; SIGTERM or SIGINT shut it down cleanly.
 */
import { ConfigError, loadClusterFile } from '../config/cluster';
import { wallClockMicros } from '../clock/hlc';
import { consoleLogger } from './log';
import { KvNode } from './node';

const USAGE = 'usage: node dist/src/node/main.js --cluster FILE --id N --data DIR [--clock-offset-ms MS]';

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!;
    const value = argv[i + 1];
    if (!name.startsWith('--') || value === undefined) throw new ConfigError(USAGE);
    out[name.slice(2)] = value;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!args.cluster || args.id === undefined || !args.data) throw new ConfigError(USAGE);
  const id = Number(args.id);
  const config = loadClusterFile(args.cluster);
  if (!Number.isInteger(id) || !config.nodes[id]) throw new ConfigError(`--id must be a node id from 0 to ${config.nodes.length - 1}`);
  const offsetMs = Number(args['clock-offset-ms'] ?? 0);
  if (!Number.isFinite(offsetMs)) throw new ConfigError('--clock-offset-ms must be a number');
  const log = consoleLogger(`[node ${id}]`);
  const node = await KvNode.start({ config, id, dataDir: args.data, log, physicalClock: wallClockMicros(offsetMs) });
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
}

main().catch((err) => {
  const message = err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err);
  process.stderr.write(`node failed to start: ${message}\n`);
  process.exit(1);
});
