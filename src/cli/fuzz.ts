/**
 * The wire fuzzer:
 *   scripts/fuzz.sh                                  # own 4-node cluster, 100,000 frames, 3000 idle connections
 *   scripts/fuzz.sh --frames 5000 --idle-connections 300 --seed 7 --out fuzz.json
 *   scripts/fuzz.sh --cluster data/cluster.json      # attack a running cluster
 * See src/fuzz/runner.ts for what a run does and checks.
 *
 * Status lines go to stderr; stdout ends with the summary line
 *   frames=… connections=… crashes=0 peak_rss_mb=… legit_failures=0 seed=…
 * Exit status: 0 when no node died, every legitimate request worked and every
 * frame got the answer it should; 1 otherwise; 2 for a bad command line;
 * 130 when interrupted.
 */
import { randomInt } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SEED_MAX } from '../common/random';
import { FRAMES_PER_BATCH, FRAMES_PER_CONNECTION_MAX, PARALLEL_CONNECTIONS, runFailed, runFuzz, summaryLine } from '../fuzz/runner';
import { parseArgs, UsageError } from './args';

const DEFAULT_FRAMES = 100_000;
const DEFAULT_IDLE_CONNECTIONS = 3000;
/** Upper bounds for the counts, against typos that would run for days. */
const FRAMES_MAX = 100_000_000;
const IDLE_CONNECTIONS_MAX = 1_000_000;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/** 128 + SIGINT, as shells report an interrupted command. */
const EXIT_INTERRUPTED = 130;

export const USAGE = `usage: scripts/fuzz.sh [--frames N] [--idle-connections N] [--seed S] [--cluster FILE] [--no-secret] [--out FILE]

Sends hostile Thrift frames to every node (random bytes, 2 GB and negative
length prefixes, truncated frames, unknown methods, wrong field types, missing
fields, oversize keys and values, empty keys, bad levels, wrong secrets, bit
flips ...), then holds many idle connections to one node. Between batches of
${FRAMES_PER_BATCH} frames it checks that every node process is alive, that a legitimate
client's put and get work on every node, and samples each node's memory.

  --frames N             frames to send (default ${DEFAULT_FRAMES}); ${PARALLEL_CONNECTIONS} connections at a time,
                         1 to ${FRAMES_PER_CONNECTION_MAX} pipelined frames each
  --idle-connections N   idle sockets to hold open, on node 0 first (default ${DEFAULT_IDLE_CONNECTIONS});
                         capped by open-file limits and the node's connection limit
  --seed S               0..${SEED_MAX}; the same seed sends the same frames (default: random, printed)
  --cluster FILE         attack the running cluster of this file instead of starting
                         one; node memory is read through $KV_DATA_DIR/node-N.pid if present
  --no-secret            never send the real cluster secret (by default some internode
                         calls carry it, to reach the validation behind the secret check)
  --out FILE             also write the summary as JSON
  --help                 this text

Prints: frames=… connections=… crashes=… peak_rss_mb=… legit_failures=… seed=…
Exit status 1 if a node died, a legitimate request failed, or a node answered a
frame wrongly (see "violations" in the JSON).`;

interface FuzzCliOptions {
  readonly frames: number;
  readonly idleConnections: number;
  readonly seed: number;
  readonly clusterFile?: string;
  readonly useSecret: boolean;
  readonly out?: string;
}

function count(flags: Map<string, string | true>, name: string, fallback: number, max: number): number {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) > max)
    throw new UsageError(`--${name} must be a whole number from 0 to ${max}, got "${v}"`);
  return Number(v);
}

export function parseFuzzArgs(argv: string[]): FuzzCliOptions | 'help' {
  const { flags, positional } = parseArgs(argv, ['help', 'no-secret'], ['frames', 'idle-connections', 'seed', 'cluster', 'out']);
  if (flags.has('help')) return 'help';
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}" (see --help)`);
  const seedFlag = flags.get('seed');
  const seed = seedFlag === undefined ? randomInt(0, SEED_MAX + 1) : count(flags, 'seed', 0, SEED_MAX);
  const cluster = flags.get('cluster');
  if (typeof cluster === 'string' && !existsSync(cluster)) throw new UsageError(`no cluster file at ${cluster}`);
  const out = flags.get('out');
  return {
    frames: count(flags, 'frames', DEFAULT_FRAMES, FRAMES_MAX),
    idleConnections: count(flags, 'idle-connections', DEFAULT_IDLE_CONNECTIONS, IDLE_CONNECTIONS_MAX),
    seed,
    ...(typeof cluster === 'string' ? { clusterFile: cluster } : {}),
    useSecret: !flags.has('no-secret'),
    ...(typeof out === 'string' ? { out } : {}),
  };
}

const started = Date.now();
const MS_PER_S = 1000;
const status = (line: string): void => {
  process.stderr.write(`fuzz: [${((Date.now() - started) / MS_PER_S).toFixed(1)}s] ${line}\n`);
};

async function main(): Promise<number> {
  let opts: FuzzCliOptions | 'help';
  try {
    opts = parseFuzzArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fuzz: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    status('interrupted: finishing the open connections and stopping');
  });
  status(`seed ${opts.seed}; ${opts.frames} frames, ${opts.idleConnections} idle connections`);
  const summary = await runFuzz({
    frames: opts.frames,
    idleConnections: opts.idleConnections,
    seed: opts.seed,
    useSecret: opts.useSecret,
    crashDir: opts.out ? dirname(resolve(opts.out)) : process.cwd(),
    status,
    stopRequested: () => interrupted,
    ...(opts.clusterFile ? { clusterFile: opts.clusterFile } : {}),
  });
  for (const v of summary.violation_examples)
    status(
      `violation: ${v.what}${v.frame ? `\n  frame #${v.index} ${v.frame}\n  expected ${v.expect}; bytes ${v.hex}` : v.hex ? `\n  bytes ${v.hex}` : ''}`,
    );
  for (const f of summary.legit_failure_examples) status(`legitimate client failed: ${f}`);
  if (opts.out) writeFileSync(opts.out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(
    `details: frames_generated=${summary.frames_generated} fuzz_connections=${summary.fuzz_connections} closed_by_node=${summary.closed_by_node} ` +
      `replies=${summary.replies} sentinels_answered=${summary.sentinels_answered} violations=${summary.violations} connect_errors=${summary.connect_errors} ` +
      `idle_opened=${summary.idle_opened}/${summary.idle_requested} idle_held=${summary.idle_held} legit_checks=${summary.legit_checks} ` +
      `seconds=${summary.seconds}\n`,
  );
  process.stdout.write(`${summaryLine(summary)}\n`);
  if (interrupted) return EXIT_INTERRUPTED;
  return runFailed(summary) ? EXIT_FAILED : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT_FAILED);
  },
);
