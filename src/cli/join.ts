/**
 * scripts/server.sh --join's helper (not a tool of its own):
 *   join.js plan --cluster FILE [--token TEXT]
 *       prints "ID TOKENHEX": the next node id and the token to join at
 *       (the one given, else the median key of the busiest node's primary range)
 *   join.js wait --cluster FILE --host H --port P --pid PID --id N
 *       follows the new node's join until it is NORMAL, with a progress line
 *       on a terminal; exits 1 with the node's sentence when the join stopped
 */
import { planJoin } from '../client/operations';
import { clusterFilePath, intFlag, parseArgs, UsageError } from '../common/args';
import { fromByteString, toByteString } from '../common/bytes';
import { isKvError } from '../common/errors';
import { loadClusterFile } from '../config/cluster';
import { runTool } from './run-tool';
import { followNewNode } from './follow-new-node';

async function plan(config: ReturnType<typeof loadClusterFile>, token: string | undefined): Promise<number> {
  const given = token === undefined ? undefined : toByteString(Buffer.from(token, 'utf8'));
  const p = await planJoin(config, given);
  process.stderr.write(`node ${p.id} joins at token ${JSON.stringify(fromByteString(p.token).toString('latin1'))} (${p.why})\n`);
  process.stdout.write(`${p.id} ${fromByteString(p.token).toString('hex')}\n`);
  return 0;
}

function wait(config: ReturnType<typeof loadClusterFile>, host: string, port: number, pid: number, id: number): Promise<number> {
  return followNewNode(config, { host, port }, pid, {
    doing: `node ${id} joining`,
    done: (keys, bytes) => `node ${id} joined the ring on ${host}:${port} (streamed ${keys} keys, ${bytes} bytes)`,
    failed: `node ${id} did not join`,
  });
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [], ['cluster', 'token', 'host', 'port', 'pid', 'id']);
  const config = loadClusterFile(clusterFilePath(args.flags.get('cluster')));
  const token = args.flags.get('token');
  switch (args.positional[0]) {
    case 'plan':
      try {
        return await plan(config, typeof token === 'string' ? token : undefined);
      } catch (err) {
        if (!isKvError(err)) throw err;
        process.stderr.write(`cannot join: ${err.message}\n`);
        return 1;
      }
    case 'wait': {
      const host = args.flags.get('host');
      if (typeof host !== 'string') throw new UsageError('wait needs --host');
      return wait(
        config,
        host,
        intFlag(args.flags, 'port', 0, 1, 65535),
        intFlag(args.flags, 'pid', 0, 1, 2 ** 31),
        intFlag(args.flags, 'id', 0, 0, 2 ** 31),
      );
    }
    default:
      throw new UsageError('usage: join.js plan|wait ...');
  }
}

if (require.main === module) runTool('join', () => main(process.argv.slice(2)));
