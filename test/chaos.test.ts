/**
 * A short chaos run through the real CLI (proxy mode, no root needed): four
 * nodes, a QUORUM workload, and a fixed-seed schedule of kill -9, SIGSTOP,
 * partitions and clock skew; the history must check clean.
 *
 * All faults are allowed; this seed's 30 s schedule draws a clock skew of
 * node 1, a kill -9 of node 2 in the middle of a write burst, and a delayed
 * link to node 1 (proxy mode). The burst-kill leaves some unacknowledged
 * writes on one replica only, which anti-entropy has to spread.
 *
 * A third run has membership faults: seed 18's 38 s of moves, replacements,
 * removals and kills draw a kill -9 of node 2 and its replacement by node 4,
 * a move of node 4 (the replacement) from token p to g504, and a kill -9 of
 * node 0 and its removal from the ring, which leaves three nodes holding
 * every key.
 *
 * A fourth writes at ONE and reads at ALL, levels that overlap (1 + 3 > 3),
 * so every ALL read must see every ONE write acknowledged before it began:
 * seed 1's 20 s draw two kills -9 of node 3, the second in a write burst.
 */
import test from 'ava';
import { ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/chaos.js');
/**
 * The lww runs' workers pause 20 ms between operations (the CLI's default is 2 ms): some 200-300
 * operations a second still meet every fault, for a third less CPU (seed 1's 20 s run: 24.8 s of
 * CPU against 38.5 s), which the test files running beside it need. The fault schedule is drawn
 * apart from the workload, so the pause leaves it alone.
 */
const THINK = ['--think-ms', '20'];
const ARGS = ['--seed', '5', '--duration', '30', '--mode', 'proxy', ...THINK];
/** The cas workload: two counters, this seed's 20 s draw a clock skew and a kill -9 in a burst. */
const CAS_ARGS = ['--seed', '5', '--duration', '20', '--mode', 'proxy', '--workload', 'cas', '--keys', '2'];
/** Other levels: see the header. */
const LEVEL_ARGS = ['--seed', '1', '--duration', '20', '--mode', 'proxy', '--write-level', 'ONE', '--read-level', 'ALL', ...THINK];
/** Membership faults: see the header. */
const MEMBERSHIP_ARGS = ['--seed', '18', '--duration', '38', '--mode', 'proxy', '--faults', 'move,replace,kill,remove', ...THINK];
/**
 * A run's 20-38 s of faults, with its start, settling, checks and cleanup, took 32-50 s in full test
 * runs (the membership run 39-40 s alone); on a loaded machine all but the faults' own time stretch.
 */
const RUN_TIMEOUT_MS = 180_000;

let child: ChildProcess | undefined;
test.after.always(() => {
  // SIGTERM makes the CLI stop early, heal and stop every node it started.
  if (child && child.exitCode === null) child.kill('SIGTERM');
});

/** Runs the chaos CLI; resolves with its exit code and output. */
async function chaos(args: string[]): Promise<{ code: number | null; out: string }> {
  const c = spawn(process.execPath, [CLI, ...args], { cwd: ROOT });
  child = c;
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => c.kill('SIGTERM'), RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((r) => c.on('close', (n) => r(n)));
  clearTimeout(timer);
  return { code, out };
}

/** The summary line of a run's output. */
function summaryOf(out: string): string {
  return out
    .split('\n')
    .filter((l) => l.startsWith('ops='))
    .join('\n');
}

test.serial('a chaos run of cas increments and SERIAL reads is linearizable, with every applied increment counted once', async (t) => {
  t.timeout(RUN_TIMEOUT_MS + 30_000);
  const { code, out } = await chaos(CAS_ARGS);
  t.log(summaryOf(out));
  t.is(code, 0, out);
  t.regex(out, / cas_applied=[1-9]\d* .*not_linearizable=0 double_applied=0 lost_increment=0 extra_increment=0 unchecked=0$/m, out);
});

test.serial('a short chaos run finds no lost writes, stale reads, divergence or failed restarts', async (t) => {
  t.timeout(RUN_TIMEOUT_MS + 30_000);
  const { code, out } = await chaos(ARGS);
  t.log(summaryOf(out));
  t.is(code, 0, out);
  t.regex(out, /^ops=\d+ faults=\d+ lost=0 stale=0 divergent=0 misplaced=0 failed_restarts=0 converge_ms=\d+ .*seed=5 mode=proxy$/m, out);
  t.regex(out, /faults=[1-9]/, 'the nemesis injected faults');
});

test.serial(
  'a short chaos run with a replacement, a move and a removal of a killed node loses nothing, and after the cleanup every key sits on exactly its replicas',
  async (t) => {
    t.timeout(RUN_TIMEOUT_MS + 30_000);
    const { code, out } = await chaos(MEMBERSHIP_ARGS);
    t.log(summaryOf(out));
    t.regex(out, /\] kill -9 node 2 and replace it with node 4$/m, 'the nemesis replaced a node');
    t.regex(out, /\] move node 4 to token g504$/m, 'the nemesis moved a node');
    t.regex(out, /\] kill -9 node 0 and remove it from the ring$/m, 'the nemesis removed a node');
    // Three nodes left: the removal completed.
    t.regex(out, /^chaos: cleanup deleted \d+ keys \(\d+ bytes\) on 3 nodes/m, 'the cleanup ran');
    t.regex(
      out,
      /^ops=\d+ faults=3 lost=0 stale=0 divergent=0 misplaced=0 failed_restarts=0 converge_ms=\d+ backwards=0 phantom=0 behind=0 unverified=0 crashed=0 failed_operations=0 .*seed=18 mode=proxy$/m,
      out,
    );
    t.is(code, 0, out);
  },
);

test.serial('a short chaos run writing at ONE and reading at ALL finds every acknowledged write in every later read', async (t) => {
  t.timeout(RUN_TIMEOUT_MS + 30_000);
  const { code, out } = await chaos(LEVEL_ARGS);
  t.log(summaryOf(out));
  t.regex(out, /^chaos: writes at ONE, reads at ALL$/m);
  t.regex(out, /\] kill -9 node 3 \d+ms into a burst of \d+ writes/, 'the nemesis killed a node in a burst');
  t.regex(
    out,
    /^ops=\d+ faults=2 lost=0 stale=0 divergent=0 misplaced=0 failed_restarts=0 converge_ms=\d+ backwards=0 phantom=0 behind=0 unverified=0 crashed=0 failed_operations=0 .* write_level=ONE read_level=ALL seed=1 mode=proxy$/m,
    out,
  );
  t.is(code, 0, out);
});
