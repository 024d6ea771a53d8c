/**
 * What scripts/server.sh's helpers for a new node (--join, --replace) share:
 * following its operation until it is NORMAL, with a progress line on a
 * terminal, then one line saying how it ended. Not a tool of its own.
 */
import { adminAt, followOperation, progressLine } from '../client/operations';
import { isKvError } from '../common/errors';
import { processAlive as alive } from '../common/procfs';
import type { ClusterConfig } from '../config/cluster';

export interface NewNodeWords {
  /** The progress line's subject: "node 4 joining". */
  readonly doing: string;
  /** The line once it is done, given the keys and bytes it streamed. */
  readonly done: (keys: number, bytes: number) => string;
  /** The start of the line when it stopped: "node 4 did not join". */
  readonly failed: string;
}

/** Follows the new node's operation at `at` (process `pid`); 0 once it is NORMAL, 1 with the node's sentence when it stopped. */
export async function followNewNode(
  config: ClusterConfig,
  at: { host: string; port: number },
  pid: number,
  words: NewNodeWords,
): Promise<number> {
  const admin = adminAt(config, at);
  const tty = process.stdout.isTTY === true;
  try {
    const end = await followOperation(
      admin,
      (p) => p.done && p.state === 'NORMAL',
      (v) => tty && process.stdout.write(`\r\x1b[K${progressLine(words.doing, v)}`),
      () => alive(pid),
    );
    if (tty) process.stdout.write('\n');
    process.stdout.write(`${words.done(Number(end.keys), Number(end.bytes))}\n`);
    return 0;
  } catch (err) {
    if (!isKvError(err)) throw err;
    if (tty) process.stdout.write('\n');
    process.stderr.write(`${words.failed}: ${err.message}\n`);
    return 1;
  } finally {
    admin.close();
  }
}
