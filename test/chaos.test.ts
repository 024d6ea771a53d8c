/**
 * A short chaos run through the real CLI (proxy mode, no root needed): four
 * nodes, a QUORUM workload, and a fixed-seed schedule of kill -9, SIGSTOP,
 * partitions and clock skew; the history must check clean.
 *
 * All faults are allowed; this seed's 30 s schedule draws a clock skew of
 * node 1, a kill -9 of node 2 in the middle of a write burst, and a delayed
 * link to node 1 (proxy mode). The burst-kill leaves some unacknowledged
 * writes on one replica only, which anti-entropy has to spread.
 */
import test from 'ava';
import { ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/chaos.js');
const ARGS = ['--seed', '5', '--duration', '30', '--mode', 'proxy'];
const RUN_TIMEOUT_MS = 90_000;

let child: ChildProcess | undefined;
test.after.always(() => {
  // SIGTERM makes the CLI stop early, heal and stop every node it started.
  if (child && child.exitCode === null) child.kill('SIGTERM');
});

test('a short chaos run finds no lost writes, stale reads, divergence or failed restarts', async (t) => {
  t.timeout(RUN_TIMEOUT_MS + 30_000);
  const c = spawn(process.execPath, [CLI, ...ARGS], { cwd: ROOT });
  child = c;
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => c.kill('SIGTERM'), RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((r) => c.on('close', (n) => r(n)));
  clearTimeout(timer);
  t.log(
    out
      .split('\n')
      .filter((l) => l.startsWith('ops='))
      .join('\n'),
  );
  t.is(code, 0, out);
  t.regex(out, /^ops=\d+ faults=\d+ lost=0 stale=0 divergent=0 failed_restarts=0 converge_ms=\d+ .*seed=5 mode=proxy$/m, out);
  t.regex(out, /faults=[1-9]/, 'the nemesis injected faults');
});
