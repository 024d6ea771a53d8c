/**
 * Entry point of a node process:
 *   node dist/src/node/main.js --cluster FILE --id N --data DIR [--clock-offset-ms MS] [--log-format text|json]
 *     [--host H --port P] [--join-token-hex HEX | --replace-node N] [--parent-pid PID]
 * A node that is not in the cluster file gives its address (--host, --port)
 * when it first starts, with --join-token-hex to join the ring at that token,
 * or --replace-node to take the place (token and ranges) of dead node N;
 * once joined, its log names its address and a restart needs neither.
 * Logs to stdout; SIGTERM or SIGINT shut it down cleanly. With --parent-pid
 * (the test harness, the bench and the chaos checker give their own pid) it
 * also shuts down once its parent is gone, so that a tool killed before it
 * could stop its cluster leaves no node behind.
 */
import { ConfigError, loadClusterFile } from '../config/cluster';
import { CLOCK_OFFSET_MS_MAX } from '../common/limits';
import { consoleLogger, LOG_FORMATS, LogFormat } from './log';
import { KvNode } from './node';

const USAGE =
  'usage: node dist/src/node/main.js --cluster FILE --id N --data DIR [--clock-offset-ms MS] [--log-format text|json] [--peer ID=HOST:PORT ...] [--host H --port P] [--join-token-hex HEX | --replace-node N] [--parent-pid PID]';

/** How often a node started with --parent-pid looks whether its parent is still there. */
const PARENT_CHECK_INTERVAL_MS = 1000;

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

/** --host and --port, given together or not at all. */
function selfOf(args: Record<string, string>): { host: string; port: number } | undefined {
  if (args.host === undefined && args.port === undefined) return undefined;
  const port = Number(args.port);
  if (!args.host || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new ConfigError('--host and --port go together: a host name and a port from 1 to 65535');
  return { host: args.host, port };
}

/**
 * Calls `gone` once this process's parent is no longer `parentPid`. An
 * orphan is adopted by init (or a subreaper), so its parent pid changes;
 * comparing it cannot be fooled by the old pid being reused.
 */
function watchParent(parentPid: number, gone: () => void): void {
  const timer = setInterval(() => {
    if (process.ppid === parentPid) return;
    clearInterval(timer);
    gone();
  }, PARENT_CHECK_INTERVAL_MS);
  timer.unref();
}

async function main(): Promise<void> {
  const { args, peers } = parseArgs(process.argv.slice(2));
  if (!args.cluster || args.id === undefined || !args.data) throw new ConfigError(USAGE);
  const parentPid = args['parent-pid'] === undefined ? undefined : Number(args['parent-pid']);
  if (parentPid !== undefined && !(Number.isInteger(parentPid) && parentPid > 0))
    throw new ConfigError('--parent-pid must be a process id');
  const id = Number(args.id);
  const config = loadClusterFile(args.cluster);
  if (!Number.isInteger(id) || id < 0) throw new ConfigError('--id must be a node id (0 or more)');
  const self = selfOf(args);
  const join = args['join-token-hex'];
  if (join !== undefined && !/^([0-9a-fA-F]{2})+$/.test(join)) throw new ConfigError('--join-token-hex must be the token as hex bytes');
  if (join !== undefined && self === undefined) throw new ConfigError('a joining node needs --host and --port');
  const replace = args['replace-node'] === undefined ? undefined : Number(args['replace-node']);
  if (replace !== undefined && !(Number.isInteger(replace) && replace >= 0))
    throw new ConfigError('--replace-node must be the id of the node to replace (0 or more)');
  if (replace !== undefined && (self === undefined || join !== undefined))
    throw new ConfigError('a replacing node needs --host and --port, and no --join-token-hex');
  const offsetMs = Number(args['clock-offset-ms'] ?? 0);
  if (!Number.isFinite(offsetMs) || Math.abs(offsetMs) > CLOCK_OFFSET_MS_MAX) {
    throw new ConfigError(`--clock-offset-ms must be a number of ms within ±${CLOCK_OFFSET_MS_MAX}`);
  }
  const format = args['log-format'] ?? process.env.KV_LOG_FORMAT ?? 'text';
  if (!(LOG_FORMATS as readonly string[]).includes(format))
    throw new ConfigError(`--log-format must be ${LOG_FORMATS.join(' or ')}, not "${format}"`);
  const log = consoleLogger(id, format as LogFormat);
  let shutdown = (reason: string): void => {
    log(`${reason} before the node started, exiting`);
    process.exit(0);
  };
  if (parentPid !== undefined) watchParent(parentPid, () => shutdown(`parent process ${parentPid} gone`));
  const node = await KvNode.start({
    config,
    id,
    dataDir: args.data,
    log,
    clockOffsetMs: offsetMs,
    peerEndpoints: peers,
    ...(self !== undefined && { self }),
    ...(join !== undefined && { join: { token: Buffer.from(join, 'hex').toString('latin1') } }),
    ...(replace !== undefined && { replace: { node: replace } }),
    // A decommissioned node has stopped itself; its process ends with it.
    onLeft: () => process.exit(0),
  });
  let stopping = false;
  shutdown = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${reason}, shutting down`);
    node.stop().then(
      () => process.exit(0),
      (err) => {
        log(`shutdown failed: ${(err as Error).message}`, 'error');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM received'));
  process.once('SIGINT', () => shutdown('SIGINT received'));
  // Node.js resets SIGHUP to its default (exit) at start, undoing nohup: a
  // node outlives the terminal that started it.
  process.on('SIGHUP', () => log('SIGHUP ignored'));
}

main().catch((err) => {
  const message = err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err));
  process.stderr.write(`node failed to start: ${message}\n`);
  process.exit(1);
});
