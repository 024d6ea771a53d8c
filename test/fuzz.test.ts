/**
 * The wire fuzzer end to end, short version: the real CLI as a child process,
 * with its own cluster, a fixed seed, 5000 hostile frames and 300 idle
 * connections. Asserts the outcome (no node died, the legitimate client was
 * always served, every frame got the answer it should, memory was measured),
 * never how fast it went. The full run is `scripts/fuzz.sh` (100,000 frames,
 * 3000 idle connections).
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Exit, runCli } from './run-cli';

const FUZZ_JS = resolve(__dirname, '../src/cli/fuzz.js');
const SEED = 20240601;
const SHORT = ['--frames', '5000', '--idle-connections', '300', '--seed', String(SEED)];
const SUMMARY = /^frames=(\d+) connections=(\d+) crashes=(\d+) peak_rss_mb=([\d.]+|n\/a) legit_failures=(\d+) seed=(\d+)$/m;

function runFuzz(args: string[], cwd: string): Promise<Exit> {
  return runCli(FUZZ_JS, args, cwd);
}

test('a short fuzz run: no crash, the legitimate client always served, every frame answered right', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-fuzz-test-'));
  try {
    const out = join(dir, 'fuzz.json');
    const exit = await runFuzz([...SHORT, '--out', out], dir);
    t.is(exit.code, 0, `${exit.stdout}\n${exit.stderr}`);
    const m = SUMMARY.exec(exit.stdout);
    t.truthy(m, exit.stdout);
    t.true(Number(m![1]) >= 5000, 'at least the frames asked for were sent');
    t.is(Number(m![3]), 0, 'crashes');
    t.regex(m![4]!, /^\d+(\.\d)?$/, 'a numeric peak RSS');
    t.is(Number(m![5]), 0, 'legit_failures');
    t.is(Number(m![6]), SEED);

    const s = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
    t.is(s.crashes, 0);
    t.is(s.legit_failures, 0);
    t.is(s.violations, 0, JSON.stringify(s.violation_examples, null, 2));
    t.true(typeof s.peak_rss_mb === 'number' && s.peak_rss_mb > 0, `peak_rss_mb ${s.peak_rss_mb}`);
    t.true(s.frames >= 5000);
    t.is(s.seed, SEED);
    // Every category was sent, and the checks really ran.
    for (const c of ['random', 'call', 'mutation', 'length']) t.true(s.frames_by_category[c] > 0, `category ${c}`);
    t.true(
      s.replies > 0 && s.sentinels_answered > 0 && s.closed_by_node > 0,
      JSON.stringify({ r: s.replies, a: s.sentinels_answered, c: s.closed_by_node }),
    );
    t.true(s.legit_checks >= 4 * 3, `legit checks ${s.legit_checks}`);
    // The idle connections were opened (this machine's open-file limits allow 300) and held.
    t.is(s.idle_opened, 300, String(s.idle_capped_by));
    t.is(s.idle_held, 300);
    t.is(s.connections, s.fuzz_connections + s.idle_opened);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options get one clear line and exit status 2; --help prints usage', async (t) => {
  const dir = tmpdir();
  for (const args of [['--frames', 'many'], ['--seed', '-1'], ['--bogus'], ['stray'], ['--cluster', '/nonexistent/cluster.json']]) {
    const exit = await runFuzz(args, dir);
    t.is(exit.code, 2, args.join(' '));
    t.is(exit.stderr.trim().split('\n').length, 1, exit.stderr);
    t.regex(exit.stderr, /^fuzz: /);
  }
  const help = await runFuzz(['--help'], dir);
  t.is(help.code, 0);
  t.regex(help.stdout, /usage: scripts\/fuzz\.sh/);
});
