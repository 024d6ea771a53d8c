/**
 * Two builds measured at the same moment (scripts/bench-ab.sh): the
 * options, and what a round's two results say.
 *
 * Why: on a shared machine the speed moves within the hour by more than
 * most changes save, and runs one after another favour the second build
 * (docs/benchmarks.md, Getting trustworthy numbers). Both benches started
 * together, each with its own --spawn cluster at a --rate both hold, see the
 * same machine; the ratio of their node CPU per operation is far steadier
 * than either figure, and a change shows as a median of such ratios.
 */
import { intFlag, parseArgs, UsageError } from '../common/args';

/** Rounds when --rounds is not given: enough for a median to mean something. */
export const AB_ROUNDS_DEFAULT = 6;
/** Each round runs two clusters; more than this many is a mistake, not a measurement. */
export const AB_ROUNDS_MAX = 50;

/** Options bench-ab sets itself, or that give no single run's CPU per op to compare. */
const OWN_OPTIONS = ['spawn', 'seed', 'json', 'out', 'plot', 'profile', 'compare', 'cluster', 'node', 'help'];
/** Workloads whose result is not a run of operations (no CPU per op). */
const NOT_RUNS = ['restart', 'repair', 'join'];

export interface AbOptions {
  /** The project directory of build A, the one compared against (built). */
  readonly base: string;
  readonly rounds: number;
  /** Passed to both benches, after `--spawn --seed R --json`. */
  readonly benchArgs: readonly string[];
}

export const AB_USAGE = `usage: scripts/bench-ab.sh --base DIR [--rounds N] -- BENCH_OPTIONS
  Runs the bench of the built project in DIR (A) and this project's (B) at
  the same time, each with its own --spawn cluster, for N rounds (default
  ${AB_ROUNDS_DEFAULT}, at most ${AB_ROUNDS_MAX}); round R uses --seed R. Prints each round's op/s and
  node CPU per op of both, B/A, and the median of B/A.
  BENCH_OPTIONS are scripts/bench.sh's, without ${OWN_OPTIONS.map((o) => `--${o}`).join(' ')};
  give a --rate both clusters can hold, so both do the same work.
  Example: scripts/bench-ab.sh --base ../old -- --workload read --level ONE --keys 1000 --duration 10 --rate 30000`;

/** Parses bench-ab's own options (before `--`) and checks the bench's (after it). */
export function parseAbArgs(argv: readonly string[]): AbOptions | 'help' {
  const cut = argv.indexOf('--');
  const own = cut < 0 ? [...argv] : argv.slice(0, cut);
  const benchArgs = cut < 0 ? [] : argv.slice(cut + 1);
  const { flags, positional } = parseArgs(own, ['help'], ['base', 'rounds']);
  if (flags.has('help')) return 'help';
  if (positional.length > 0) throw new UsageError(`unexpected "${positional[0]}": the bench's options go after --`);
  const base = flags.get('base');
  if (typeof base !== 'string' || base === '')
    throw new UsageError('--base DIR is needed: the project directory of the build to compare against');
  const rounds = intFlag(flags, 'rounds', AB_ROUNDS_DEFAULT, 1, AB_ROUNDS_MAX);
  for (const a of benchArgs) {
    const name = a.startsWith('--') ? a.slice(2).split('=')[0]! : undefined;
    if (name !== undefined && OWN_OPTIONS.includes(name))
      throw new UsageError(`--${name} does not apply: bench-ab runs each bench with --spawn --seed R --json`);
  }
  const workload = optionValue(benchArgs, 'workload');
  if (workload !== undefined && NOT_RUNS.includes(workload))
    throw new UsageError(`--workload ${workload} gives no CPU per operation to compare`);
  return { base, rounds, benchArgs };
}

/** The value of --name in an argument list (`--name V` or `--name=V`). */
function optionValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i]!.startsWith(`--${name}=`)) return args[i]!.slice(name.length + 3);
  }
  return undefined;
}

/** What one side of a round reports (from the bench's --json). */
export interface AbSide {
  readonly opsPerSec: number;
  readonly nodeMicrosPerOp: number;
}

/** Reads a bench's --json output; throws a sentence naming the side when it is not a run's result. */
export function abSide(label: string, json: string): AbSide {
  let r: { opsPerSec?: unknown; cpu?: { nodeMicrosPerOp?: unknown } };
  try {
    r = JSON.parse(json) as typeof r;
  } catch {
    throw new Error(`build ${label}'s bench printed no JSON result`);
  }
  const opsPerSec = r.opsPerSec;
  const cpu = r.cpu?.nodeMicrosPerOp;
  if (typeof opsPerSec !== 'number' || typeof cpu !== 'number' || !(cpu > 0))
    throw new Error(`build ${label}'s bench result has no node CPU per operation`);
  return { opsPerSec, nodeMicrosPerOp: cpu };
}

export function abRatio(a: AbSide, b: AbSide): number {
  return b.nodeMicrosPerOp / a.nodeMicrosPerOp;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function formatRound(round: number, a: AbSide, b: AbSide): string {
  const side = (s: AbSide): string => `${Math.round(s.opsPerSec).toLocaleString('en-US')} op/s ${s.nodeMicrosPerOp} µs`;
  return `round ${round}: A ${side(a)}, B ${side(b)}, B/A ${abRatio(a, b).toFixed(3)}`;
}

export function formatSummary(ratios: readonly number[]): string {
  return `node CPU per op B/A: ${ratios.map((r) => r.toFixed(3)).join(' / ')} (median ${median(ratios).toFixed(3)})`;
}
