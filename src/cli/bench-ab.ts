/**
 * scripts/bench-ab.sh: two builds' benches at the same time, round by round
 * (see bench/ab.ts for why). Exit 0 when every round ran, 1 when a bench
 * failed (its last lines are printed), 2 on a usage error.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../common/args';
import { AB_USAGE, AbOptions, abRatio, abSide, AbSide, formatRound, formatSummary, parseAbArgs } from '../bench/ab';
import { runTool } from './run-tool';

/** Lines of a failed bench's stderr shown: its own sentences ("bench: …"), else its last lines. */
const FAILED_STDERR_LINES = 5;

interface BenchExit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The children running now, stopped by pid if this tool is asked to stop. */
const running = new Set<ChildProcess>();
/** Set by SIGINT or SIGTERM: the round under way is not reported, and no other starts. */
let stopping = false;

function runBench(script: string, args: readonly string[]): Promise<BenchExit> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', fail);
    child.once('close', (code) => {
      running.delete(child);
      done({ code, stdout, stderr });
    });
  });
}

function side(label: string, exit: BenchExit): AbSide {
  if (exit.code !== 0) {
    const lines = exit.stderr.trim().split('\n');
    const own = lines.filter((l) => l.startsWith('bench: '));
    const tail = (own.length > 0 ? own : lines).slice(-FAILED_STDERR_LINES).join('\n');
    throw new Error(`build ${label}'s bench exited with code ${exit.code}:\n${tail}`);
  }
  return abSide(label, exit.stdout);
}

function benchScript(dir: string): string {
  const script = join(resolve(dir), 'dist/src/cli/bench.js');
  if (!existsSync(script))
    throw new UsageError(`${dir} has no built bench (dist/src/cli/bench.js): run npm install (or npm run build) there`);
  return script;
}

async function compare(opts: AbOptions): Promise<number> {
  const scripts = { A: benchScript(opts.base), B: resolve(__dirname, 'bench.js') };
  const ratios: number[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const args = ['--spawn', '--seed', String(round), '--json', ...opts.benchArgs];
    const [a, b] = await Promise.all([runBench(scripts.A, args), runBench(scripts.B, args)]);
    if (stopping) return 1;
    let sides: [AbSide, AbSide];
    try {
      sides = [side('A', a), side('B', b)];
    } catch (err) {
      process.stderr.write(`bench-ab: round ${round}: ${(err as Error).message}\n`);
      return 1;
    }
    ratios.push(abRatio(...sides));
    process.stdout.write(`${formatRound(round, ...sides)}\n`);
  }
  process.stdout.write(`${formatSummary(ratios)}\n`);
  return 0;
}

function stopChildren(sig: NodeJS.Signals): void {
  process.stderr.write(`bench-ab: ${sig}: stopping both benches…\n`);
  stopping = true;
  for (const child of running) child.kill('SIGTERM');
}

runTool('bench-ab', async () => {
  const opts = parseAbArgs(process.argv.slice(2));
  if (opts === 'help') {
    process.stdout.write(`${AB_USAGE}\n`);
    return 0;
  }
  process.once('SIGINT', stopChildren);
  process.once('SIGTERM', stopChildren);
  return compare(opts);
});
