/**
 * scripts/server.sh --replace's helper (not a tool of its own):
 *   replace.js plan --cluster FILE --node N
 *       prints the id of the node that replaces dead node N; refuses, in one
 *       sentence, an unknown node, one that answers, or a ring busy with
 *       another operation
 *   replace.js wait --cluster FILE --host H --port P --pid PID --id R --node N
 *       follows the replacement until node R is NORMAL (node N then LEFT),
 *       with a progress line on a terminal; exits 1 with the node's sentence
 *       when it stopped
 */
import { planReplace } from '../client/replacement';
import { clusterFilePath, intFlag, parseArgs, UsageError } from '../common/args';
import { fromByteString } from '../common/bytes';
import { isKvError } from '../common/errors';
import { ClusterConfig, loadClusterFile } from '../config/cluster';
import { followNewNode } from './follow-new-node';
import { runTool } from './run-tool';

async function plan(config: ClusterConfig, dead: number): Promise<number> {
  try {
    const p = await planReplace(config, dead);
    process.stderr.write(`node ${p.id} replaces node ${dead} at its token ${JSON.stringify(fromByteString(p.token).toString('latin1'))}\n`);
    process.stdout.write(`${p.id}\n`);
    return 0;
  } catch (err) {
    if (!isKvError(err)) throw err;
    process.stderr.write(`cannot replace node ${dead}: ${err.message}\n`);
    return 1;
  }
}

function wait(config: ClusterConfig, at: { host: string; port: number }, pid: number, id: number, dead: number): Promise<number> {
  return followNewNode(config, at, pid, {
    doing: `node ${id} replacing node ${dead}`,
    done: (keys, bytes) =>
      `node ${id} replaced node ${dead} on ${at.host}:${at.port} (streamed ${keys} keys, ${bytes} bytes, from every surviving replica); node ${dead} has left the ring`,
    failed: `node ${id} did not replace node ${dead}`,
  });
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [], ['cluster', 'node', 'host', 'port', 'pid', 'id']);
  const config = loadClusterFile(clusterFilePath(args.flags.get('cluster')));
  const dead = intFlag(args.flags, 'node', -1, 0, 2 ** 31);
  if (dead < 0) throw new UsageError('--node N names the node to replace');
  switch (args.positional[0]) {
    case 'plan':
      return plan(config, dead);
    case 'wait': {
      const host = args.flags.get('host');
      if (typeof host !== 'string') throw new UsageError('wait needs --host');
      const port = intFlag(args.flags, 'port', 0, 1, 65535);
      return wait(config, { host, port }, intFlag(args.flags, 'pid', 0, 1, 2 ** 31), intFlag(args.flags, 'id', 0, 0, 2 ** 31), dead);
    }
    default:
      throw new UsageError('usage: replace.js plan|wait ...');
  }
}

if (require.main === module) runTool('replace', () => main(process.argv.slice(2)));
