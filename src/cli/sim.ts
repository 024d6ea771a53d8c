/**
 * npm run sim / scripts/sim.sh: the deterministic simulator (src/sim/). Runs
 * seeds one after another, each a whole cluster on virtual time, and prints
 * every failing seed with the one command that replays it with its trace.
 * Exit code 0 when every seed passed, 1 when one failed, 2 on a usage error.
 */
import { spawn } from 'node:child_process';
import type { KnownBugs } from '../common/known-bugs';
import { intFlag, parseArgs, UsageError } from '../common/args';
import { STREAM_BYTES_PER_SECOND_MAX } from '../common/limits';
import { formatSpeculativeRetry, parseSpeculativeRetry, SPECULATIVE_RETRY_DEFAULT } from '../config/speculative-retry';
import { SEED_MAX } from '../common/random';
import { FAULT_KINDS, NAMED_FAULT_KINDS, parseFaults } from '../sim/faults';
import { DEFAULT_CAS_WORKLOAD, DEFAULT_WORKLOAD, SimOptions, SimResult, simulate } from '../sim/runner';
import { runTool } from './run-tool';

const BUGS = [
  'ackBeforeMark',
  'readSkipsNewest',
  'acceptIgnoresPromise',
  'writesSkipPending',
  'readsSkipPending',
  'paxosRowsStayBehind',
  'removalCopiesOneSurvivor',
] as const;

const USAGE = `usage: npm run sim -- [options]
  --seeds N         how many seeds to run (default 100)
  --seed-start S    the first seed (default 1); seeds S, S+1, … S+N-1 run
  --nodes K         nodes in the cluster, 3 to 7 (default 4)
  --faults LIST     comma-separated: ${FAULT_KINDS.join(',')} (default all), and ${NAMED_FAULT_KINDS.join(',')},
                    which runs only when named (all,${NAMED_FAULT_KINDS.join(',')}: every kind); "none" for none
  --seconds S       simulated seconds per seed (default 10)
  --sync MODE       the simulated SQLite synchronous setting, FULL or NORMAL (default FULL;
                    with NORMAL a power loss may lose acknowledged writes, as it would)
  --cas-clients N   clients running cas increments and SERIAL reads on counters of their own,
                    beside the plain clients (default ${DEFAULT_CAS_WORKLOAD.clients}; 0 for none)
  --keys N          keys the plain clients write and read (default ${DEFAULT_WORKLOAD.keys}; more keys, each written
                    less often, so a write a replica missed is less often overwritten before the end)
  --stream-pace B   the nodes' stream pace in bytes a second (default the real one, ${STREAM_BYTES_PER_SECOND_MAX}, which
                    streams a simulated range in a few ms); slower, more writes fall inside a join's pending window
  --any-writes      a quarter of the plain clients' writes go at ANY (off by default, so that a seed
                    keeps the trace it was found with)
  --batches         a quarter of the plain clients' puts go as batches of two or three keys, a quarter
                    of those unlogged; the checker holds each logged batch to all or nothing (off by
                    default, for the same reason)
  --speculative-retry P  the nodes' speculativeRetry setting (default ${SPECULATIVE_RETRY_DEFAULT}, the real default);
                    NONE replays a seed found before reads asked a third replica when one was slow
  --trace           print each seed's trace: every message, fault and answer (use with --seeds 1)
  --bug NAME        put a known bug back, to see the simulator catch it: ${BUGS.join(', ')}
  --jobs J          run the seeds in J processes at once, each a contiguous part of them (default 1)
  --help`;

/** What a worker process (--jobs) prints last: its seeds' totals, for the parent to add up. */
const WORKER_TOTALS = 'sim-worker-totals';

export interface SimRun {
  readonly seeds: number;
  readonly jobs: number;
  /** This process runs a part of another's seeds (--jobs): it prints its totals for that one to read. */
  readonly worker: boolean;
  readonly options: Omit<SimOptions, 'seed'>;
  readonly seedStart: number;
}

export function parseSimArgs(argv: string[]): SimRun | 'help' {
  const { flags, positional } = parseArgs(
    argv,
    ['help', 'trace', 'worker', 'any-writes', 'batches'],
    ['seeds', 'seed-start', 'nodes', 'faults', 'seconds', 'sync', 'bug', 'jobs', 'cas-clients', 'keys', 'stream-pace', 'speculative-retry'],
  );
  if (flags.has('help')) return 'help';
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const sync = flags.get('sync') ?? 'FULL';
  if (sync !== 'FULL' && sync !== 'NORMAL') throw new UsageError('--sync must be FULL or NORMAL');
  const bug = flags.get('bug');
  if (bug !== undefined && !(BUGS as readonly unknown[]).includes(bug)) throw new UsageError(`--bug must be one of ${BUGS.join(', ')}`);
  const faultsRaw = flags.get('faults') ?? 'all';
  if (faultsRaw === true) throw new UsageError('--faults needs a list');
  let faults;
  try {
    faults = parseFaults(faultsRaw);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const bugs: KnownBugs = typeof bug === 'string' ? { [bug]: true } : {};
  const speculativeRetry = speculativeRetryFlag(flags.get('speculative-retry'));
  return {
    seeds: intFlag(flags, 'seeds', 100, 1, 10_000_000),
    jobs: intFlag(flags, 'jobs', 1, 1, 64),
    worker: flags.has('worker'),
    seedStart: intFlag(flags, 'seed-start', 1, 0, SEED_MAX),
    options: {
      nodes: intFlag(flags, 'nodes', 4, 3, 7),
      faults,
      durationMs: intFlag(flags, 'seconds', 10, 2, 3600) * 1000,
      trace: flags.has('trace'),
      bugs,
      sync,
      casClients: intFlag(flags, 'cas-clients', DEFAULT_CAS_WORKLOAD.clients, 0, 64),
      keys: intFlag(flags, 'keys', DEFAULT_WORKLOAD.keys, 1, 100_000),
      ...(flags.has('any-writes') ? { anyWrites: true } : {}),
      ...(flags.has('batches') ? { batches: true } : {}),
      ...(speculativeRetry === undefined ? {} : { speculativeRetry }),
      ...(!flags.has('stream-pace')
        ? {}
        : { streamBytesPerSecond: intFlag(flags, 'stream-pace', STREAM_BYTES_PER_SECOND_MAX, 100, STREAM_BYTES_PER_SECOND_MAX) }),
    },
  };
}

/** --speculative-retry checked as the setting is, in the setting's form; undefined when not given. */
function speculativeRetryFlag(raw: string | true | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const parsed = typeof raw === 'string' ? parseSpeculativeRetry(raw) : undefined;
  if (parsed === undefined) throw new UsageError('--speculative-retry must be a percentile (99p), a wait (20ms), ALWAYS or NONE');
  return formatSpeculativeRetry(parsed);
}

/** The command that replays one seed with its trace. */
export function replayCommand(seed: number, o: Omit<SimOptions, 'seed'>): string {
  const bug = Object.keys(o.bugs).find((b) => o.bugs[b as keyof KnownBugs]);
  const cas = o.casClients ?? DEFAULT_CAS_WORKLOAD.clients;
  const keys = o.keys ?? DEFAULT_WORKLOAD.keys;
  return (
    `npm run sim -- --seed-start ${seed} --seeds 1 --nodes ${o.nodes} --faults ${o.faults.join(',') || 'none'} ` +
    `--seconds ${o.durationMs / 1000} --sync ${o.sync}${cas === DEFAULT_CAS_WORKLOAD.clients ? '' : ` --cas-clients ${cas}`}` +
    `${keys === DEFAULT_WORKLOAD.keys ? '' : ` --keys ${keys}`}` +
    `${o.streamBytesPerSecond === undefined ? '' : ` --stream-pace ${o.streamBytesPerSecond}`}` +
    `${o.anyWrites ? ' --any-writes' : ''}` +
    `${o.batches ? ' --batches' : ''}` +
    `${o.speculativeRetry === undefined ? '' : ` --speculative-retry ${o.speculativeRetry}`}` +
    `${bug ? ` --bug ${bug}` : ''} --trace`
  );
}

function report(r: SimResult, o: Omit<SimOptions, 'seed'>): void {
  if (r.traceLines) for (const line of r.traceLines) process.stdout.write(`${line}\n`);
  const c = r.counts;
  if (r.traceLines || !r.ok)
    process.stdout.write(
      `seed ${r.seed}: ${r.ok ? 'ok' : 'FAILED'} trace=${r.hash} ops=${c.ops} acked=${c.acked}/${c.writes} reads_ok=${c.readsOk}/${c.reads} ` +
        `cas=${r.cas.casApplied}/${r.cas.casOps} cas_unknown=${r.cas.casUnknown} cas_retried=${r.cas.retried} serial=${r.cas.serialReads} ` +
        `membership=${r.membership.started}/${r.membership.refused}/${r.membership.stopped} aborted=${r.membership.aborted} cleanups=${r.membership.cleanups} epoch=${r.membership.epoch} ring=${r.membership.members} ` +
        `stale_refusals=${r.staleRefusals} events=${r.events} messages=${r.messages}\n`,
    );
  if (r.ok) return;
  for (const line of r.problems) process.stdout.write(`${line}\n`);
  process.stdout.write(`replay: ${replayCommand(r.seed, o)}\n`);
}

/** What a run of seeds came to: failed seeds, events run, internode calls refused as placed by a stale epoch. */
interface Totals {
  failed: number;
  events: number;
  stale: number;
}

/** Runs `count` seeds from `start` here; resolves with their totals. */
async function runHere(run: SimRun, start: number, count: number): Promise<Totals> {
  const totals = { failed: 0, events: 0, stale: 0 };
  for (let seed = start; seed < start + count; seed++) {
    const r = await simulate({ ...run.options, seed });
    totals.events += r.events;
    totals.stale += r.staleRefusals;
    if (!r.ok) totals.failed++;
    report(r, run.options);
  }
  return totals;
}

/** One worker process for seeds [start, start + count); resolves with its output and totals. */
function worker(argv: string[], start: number, count: number): Promise<Totals & { out: string }> {
  const args = argv.filter(
    (a, i) => !['--jobs', '--seeds', '--seed-start'].includes(a) && !['--jobs', '--seeds', '--seed-start'].includes(argv[i - 1] ?? ''),
  );
  const child = spawn(process.execPath, [__filename, ...args, '--seeds', String(count), '--seed-start', String(start), '--worker'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => {
      const last = out.trimEnd().split('\n').pop() ?? '';
      if (!last.startsWith(WORKER_TOTALS)) return reject(new Error(`a worker for seeds ${start}.. ended without its totals`));
      const [failed, events, stale] = last.slice(WORKER_TOTALS.length).trim().split(' ').map(Number) as [number, number, number];
      resolve({ out: out.slice(0, out.lastIndexOf(WORKER_TOTALS)), failed, events, stale });
    });
  });
}

/** The seeds split into `jobs` contiguous parts, each run by a process of its own; output in seed order. */
async function runInWorkers(run: SimRun, argv: string[]): Promise<Totals> {
  const parts: Promise<Totals & { out: string }>[] = [];
  const per = Math.ceil(run.seeds / run.jobs);
  for (let start = run.seedStart; start < run.seedStart + run.seeds; start += per) {
    parts.push(worker(argv, start, Math.min(per, run.seedStart + run.seeds - start)));
  }
  const totals = { failed: 0, events: 0, stale: 0 };
  for (const part of await Promise.all(parts)) {
    process.stdout.write(part.out);
    totals.failed += part.failed;
    totals.events += part.events;
    totals.stale += part.stale;
  }
  return totals;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const run = parseSimArgs(argv);
  if (run === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const started = performance.now();
  const { failed, events, stale } =
    run.jobs > 1 && !run.worker ? await runInWorkers(run, argv) : await runHere(run, run.seedStart, run.seeds);
  if (run.worker) {
    process.stdout.write(`${WORKER_TOTALS} ${failed} ${events} ${stale}\n`);
    return 0;
  }
  const wallS = (performance.now() - started) / 1000;
  process.stdout.write(
    `sim: ${run.seeds} seeds (${run.seedStart}..${run.seedStart + run.seeds - 1}) of ${run.options.durationMs / 1000} simulated s, ` +
      `${run.options.nodes} nodes, faults ${run.options.faults.join(',') || 'none'}: ${failed} failed; ` +
      `${wallS.toFixed(1)} s wall in ${run.worker ? 1 : run.jobs} process(es), ${events} events, ${stale} stale-epoch refusals\n`,
  );
  return failed === 0 ? 0 : 1;
}

if (require.main === module) runTool('sim', main);
