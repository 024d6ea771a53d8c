/**
 * The watch tool: prints the changes of a key range as they reach the
 * cluster, one line each, until interrupted (client/watch.ts does the
 * following; this file prints).
 *   scripts/watch.sh [--cluster FILE] [--from-start] [--json] [--count N] [START [END]]
 */
import { KvClient } from '../client/client';
import type { WatchEvent } from '../client/watch';
import { clusterFilePath, intFlag, parseArgs, UsageError } from '../common/args';
import { displayBytes, displayKey } from '../common/bytes';
import { runTool } from './run-tool';

const USAGE = `usage: scripts/watch.sh [--cluster FILE] [--from-start] [--json] [--count N] [START [END]]
  Prints the changes of the keys in [START, END) as they reach the cluster
  (every key when no range is given; an empty END: no end), until Ctrl-C.
  --from-start  every key's newest version first, then the changes
  --json        one JSON object a line: {"type":"change","key","value","deleted","ts","expiresUs","node"},
                and {"type":"resync"|"synced","start","end","node"} around a range read again
  --count N     stop after N changes`;

/** Most changes --count may ask for. */
const COUNT_MAX = 1_000_000_000;

const rangeText = (start: Buffer, end: Buffer | undefined): string =>
  `[${displayKey(start)}, ${end === undefined ? 'the end' : displayKey(end)})`;

/** One event as the tool prints it. */
export function eventLine(e: WatchEvent, json: boolean): string {
  if (json) {
    if (e.type === 'change') {
      const { key, value, deleted, ts, expiresUs, node } = e;
      return JSON.stringify({
        type: 'change',
        key: displayBytes(key),
        value: deleted ? null : displayBytes(value),
        deleted,
        ts,
        expiresUs,
        node,
      });
    }
    const end = e.end === undefined ? null : displayBytes(e.end);
    return JSON.stringify({
      type: e.type,
      start: displayBytes(e.start),
      end,
      node: e.node,
      ...(e.type === 'resync' ? { reason: e.reason } : {}),
    });
  }
  switch (e.type) {
    case 'change': {
      const expiry = e.expiresUs > 0 ? `  expires ${new Date(e.expiresUs / 1000).toISOString()}` : '';
      const body = e.deleted ? `delete ${displayBytes(e.key)}` : `put ${displayBytes(e.key)} = ${displayBytes(e.value)}`;
      return `${body}  ts ${e.ts}${expiry}  (node ${e.node})`;
    }
    case 'resync':
      return `-- reading ${rangeText(e.start, e.end)} from the beginning of node ${e.node}'s log: ${e.reason}`;
    case 'synced':
      return `-- ${rangeText(e.start, e.end)} read from node ${e.node}; its changes follow`;
  }
}

async function main(): Promise<number> {
  const argv = parseArgs(process.argv.slice(2), ['json', 'from-start', 'help'], ['cluster', 'count']);
  if (argv.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (argv.positional.length > 2) throw new UsageError(`too many arguments: ${argv.positional.slice(2).join(' ')}\n${USAGE}`);
  const count = intFlag(argv.flags, 'count', COUNT_MAX, 1, COUNT_MAX);
  const [start = '', end = ''] = argv.positional;
  const client = await KvClient.connect(clusterFilePath(argv.flags.get('cluster')));
  const json = argv.flags.has('json');
  let watch;
  try {
    watch = client.watch(start, end, { from: argv.flags.has('from-start') ? 'start' : 'now' });
  } catch (err) {
    client.close();
    throw err;
  }
  const stop = (): void => watch.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let seen = 0;
  try {
    for await (const e of watch) {
      process.stdout.write(`${eventLine(e, json)}\n`);
      if (e.type === 'change' && ++seen >= count) break;
    }
  } finally {
    watch.close();
    client.close();
  }
  return 0;
}

if (require.main === module) runTool('watch', main);
