/**
 * How the operator tools end: the exit code of `main` (0 when it returns
 * nothing), exit 2 with one line for a usage or cluster-file error, exit 1
 * with one line for an operating error (KvError), and a stack for anything else. Imported only by entry points in this folder.
 */
import { UsageError } from '../common/args';
import { ConfigError } from '../config/cluster';
import { isKvError } from '../common/errors';

export function runTool(name: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => exitOnceWritten(code ?? 0),
    (err) => {
      // An operating error (a node down, a request refused) is one sentence for the user, like a usage error.
      const known = err instanceof UsageError || err instanceof ConfigError || isKvError(err);
      process.stderr.write(`${name}: ${known ? (err as Error).message : (err as Error).stack}\n`);
      exitOnceWritten(isKvError(err) ? 1 : 2);
    },
  );
}

/**
 * Exits once everything written to stdout and stderr is out: writes to a
 * pipe are asynchronous, and process.exit drops what is still queued (past
 * the pipe's 64 KiB, a reader such as `| tail` or a parent process lost the
 * end of the output). A stream calls write callbacks in order.
 */
function exitOnceWritten(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
