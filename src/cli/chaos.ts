/**
 * npm run chaos / scripts/chaos.sh: a four-node cluster, a concurrent
 * workload (QUORUM unless --write-level or --read-level say otherwise), a
 * nemesis injecting faults from a seeded schedule, then a check of the
 * history. Exit code 0 when no property was violated, 1 when one was,
 * 2 on a usage error or when the run itself could not be carried out.
 */
import { writeFileSync } from 'node:fs';
import { ChaosOptions, ChaosReport, runChaos } from '../chaos/runner';
import { DEFAULT_FAULT_KINDS, FAULT_KINDS, FaultKind, JOIN_SPARES_MAX } from '../chaos/nemesis';
import { intFlag, parseArgs, UsageError } from '../common/args';
import { LEVEL_LIST, LevelName, parseLevel, parseWriteLevel, WRITE_LEVEL_LIST, WriteLevelName } from '../coordinator/levels';

const USAGE = `usage: scripts/chaos.sh [options]
  --seed N          random seed (default: random; printed, so a run can be replayed)
  --duration S      seconds of workload under faults (default 60)
  --faults LIST     comma-separated: ${FAULT_KINDS.join(',')}
                    (default ${DEFAULT_FAULT_KINDS.join(',')}); "none" for a fault-free run;
                    membership faults, only when named: join starts a new node joining the ring, decommission
                    makes a node leave it (only while more nodes than the replication factor remain), move
                    moves a node's token to a new one inside one of its neighbour ranges, replace kills a node
                    with kill -9 and starts a new node in its place, remove kills a node with kill -9 and
                    removes it from the ring (admin.sh remove); joins and replacements take ${JOIN_SPARES_MAX} spare
                    nodes in turn. Both modes run all four.
                    After every run each node runs cleanup, and every key must then be held by exactly the
                    replicas the final ring gives it (misplaced=0)
  --keys N          size of the key set the writers and readers share (default 16)
  --writers N       concurrent writers (default 4)
  --readers N       concurrent readers (default 4)
  --mode M          proxy (userspace TCP proxies, no root) or netns (root: namespaces + ip rule blackhole;
                    falls back to proxy when not possible) (default proxy)
  --settle S        how long to wait at most for hints and replicas to settle after healing (default 30)
  --think-ms N      pause between one worker's operations (default 2)
  --workload W      lww (QUORUM puts and gets, default) or cas (writers increment --keys counters
                    through cas, readers read them at SERIAL; checked for linearizability)
  --write-level L   the lww writers' level: ${WRITE_LEVEL_LIST} (default QUORUM); ONE and ANY
                    not with the replace fault, whose lost node may hold a write's only copy
  --read-level L    the lww readers' level: ${LEVEL_LIST} (default QUORUM); the checker binds a read
                    only to writes and reads whose levels overlap its own (counts adding up to more
                    than 3); the final reads after healing are QUORUM
  --out FILE        also write the summary as JSON
  --history FILE    write every operation as JSON lines (for a look at a failing run)
  --no-hints        hints off (hintWindowSeconds 0): only repair on the hash trees converges the replicas,
                    and every restarted node catches up before it serves reads
  --no-watch        no watch (by default, lww runs follow every key with a watch from the start, and each
                    key's settled version must be among what it told within 30 s of settling: watch_behind=0)
  --help`;

/** The command line: the runner's options, less what the CLI supplies itself, plus --out. */
type Parsed = Omit<ChaosOptions, 'log' | 'abort'> & { readonly out?: string };

function parseFaults(raw: string | true | undefined): FaultKind[] {
  if (raw === undefined) return [...DEFAULT_FAULT_KINDS];
  if (raw === true) throw new UsageError('--faults needs a list');
  if (raw === 'none') return [];
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const f of list)
    if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new UsageError(`unknown fault "${f}"; known: ${FAULT_KINDS.join(', ')}`);
  return [...new Set(list)] as FaultKind[];
}

export function parseChaosArgs(argv: string[]): Parsed | 'help' {
  const { flags, positional } = parseArgs(
    argv,
    ['help', 'no-hints', 'no-watch'],
    [
      'seed',
      'duration',
      'faults',
      'keys',
      'writers',
      'readers',
      'mode',
      'settle',
      'think-ms',
      'out',
      'history',
      'workload',
      'write-level',
      'read-level',
    ],
  );
  if (flags.has('help')) return 'help';
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const mode = flags.get('mode') ?? 'proxy';
  if (mode !== 'proxy' && mode !== 'netns') throw new UsageError('--mode must be proxy or netns');
  const workload = flags.get('workload') ?? 'lww';
  if (workload !== 'lww' && workload !== 'cas') throw new UsageError('--workload must be lww or cas');
  const out = flags.get('out');
  const history = flags.get('history');
  const faults = parseFaults(flags.get('faults'));
  const { writeLevel, readLevel } = parseLevels(flags, workload, faults);
  return {
    seed: intFlag(flags, 'seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1),
    durationS: intFlag(flags, 'duration', 60, 1, 24 * 3600),
    faults,
    keys: intFlag(flags, 'keys', 16, 1, 1_000_000),
    writers: intFlag(flags, 'writers', 4, 0, 256),
    readers: intFlag(flags, 'readers', 4, 0, 256),
    mode,
    settleS: intFlag(flags, 'settle', 30, 0, 3600),
    thinkMs: intFlag(flags, 'think-ms', 2, 0, 60_000),
    workload,
    out: typeof out === 'string' ? out : undefined,
    historyFile: typeof history === 'string' ? history : undefined,
    hintsOff: flags.has('no-hints'),
    watch: !flags.has('no-watch'),
    ...(writeLevel !== undefined ? { writeLevel } : {}),
    ...(readLevel !== undefined ? { readLevel } : {}),
  };
}

/** Levels where one copy answers the write: the replace fault loses a node, and with it maybe that copy. */
const ONE_COPY_LEVELS: readonly WriteLevelName[] = ['ONE', 'ANY'];

/** --write-level and --read-level, checked against the workload and the faults. */
function parseLevels(
  flags: ReadonlyMap<string, string | true>,
  workload: string,
  faults: readonly FaultKind[],
): { writeLevel?: WriteLevelName; readLevel?: LevelName } {
  const writeText = flags.get('write-level');
  const readText = flags.get('read-level');
  if (writeText === undefined && readText === undefined) return {};
  if (workload !== 'lww') throw new UsageError('--write-level and --read-level are for the lww workload; a cas commits at QUORUM');
  const writeLevel = typeof writeText === 'string' ? parseWriteLevel(writeText) : undefined;
  if (writeText !== undefined && writeLevel === undefined)
    throw new UsageError(`--write-level must be ${WRITE_LEVEL_LIST}, not "${String(writeText)}"`);
  const readLevel = typeof readText === 'string' ? parseLevel(readText) : undefined;
  if (readText !== undefined && readLevel === undefined)
    throw new UsageError(`--read-level must be ${LEVEL_LIST}, not "${String(readText)}"`);
  const loses = faults.find((k) => k === 'replace' || k === 'remove');
  if (writeLevel !== undefined && ONE_COPY_LEVELS.includes(writeLevel) && loses !== undefined)
    throw new UsageError(
      `--write-level ${writeLevel} and the ${loses} fault do not go together: a ${writeLevel} write's only copy may be on the node a ${loses} loses for good, which the checker cannot tell from a lost write`,
    );
  return { ...(writeLevel !== undefined ? { writeLevel } : {}), ...(readLevel !== undefined ? { readLevel } : {}) };
}

/** The cas workload's part of the summary line. */
function casSummary(r: ChaosReport): string {
  const c = r.cas;
  if (c === undefined) return '';
  return (
    ` cas=${c.casOps} cas_applied=${c.casApplied} cas_not_applied=${c.casNotApplied} cas_unknown=${c.casUnknown} serial_reads=${c.serialReads} ` +
    `not_linearizable=${c.notLinearizable} double_applied=${c.doubleApplied} lost_increment=${c.lostIncrement} extra_increment=${c.extraIncrement} unchecked=${c.unchecked}`
  );
}

/** The lww workload's levels, when they are not QUORUM both. */
function levelsSummary(r: ChaosReport): string {
  return r.writeLevel === 'QUORUM' && r.readLevel === 'QUORUM' ? '' : ` write_level=${r.writeLevel} read_level=${r.readLevel}`;
}

export function summaryLine(r: ChaosReport): string {
  const c = r.counts;
  return (
    `ops=${c.ops} faults=${r.faults.length} lost=${c.lost} stale=${c.stale} divergent=${c.divergent} misplaced=${c.misplaced} failed_restarts=${c.failedRestarts} ` +
    `converge_ms=${r.convergeMs} backwards=${c.backwards} phantom=${c.phantom} behind=${c.behind} unverified=${c.unverified} ` +
    `crashed=${c.crashed} failed_operations=${c.failedOperations} watch_behind=${c.watchBehind} lww_lost=${c.lwwLost} acked=${c.acked}/${c.writes} reads_ok=${c.readsOk}/${c.reads}${levelsSummary(r)} seed=${r.seed} mode=${r.mode}` +
    casSummary(r)
  );
}

async function main(): Promise<number> {
  const parsed = parseChaosArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const log = (line: string): void => void process.stdout.write(`chaos: ${line}\n`);
  const abort = new AbortController();
  // First Ctrl-C ends the workload early (the run still heals, checks and cleans up).
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  log(
    `seed=${parsed.seed} duration=${parsed.durationS}s mode=${parsed.mode} faults=${parsed.faults.join(',') || 'none'} ` +
      `keys=${parsed.keys} writers=${parsed.writers} readers=${parsed.readers} workload=${parsed.workload}`,
  );
  const report = await runChaos({ ...parsed, log, abort: abort.signal });
  for (const line of report.violations) process.stdout.write(line + '\n');
  if (report.dataDir) log(`data and node logs kept in ${report.dataDir}`);
  if (parsed.out) writeFileSync(parsed.out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(summaryLine(report) + '\n');
  if (!report.ok) log(`FAILED; replay with --seed ${report.seed}`);
  return report.ok ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      const usage = err instanceof UsageError;
      process.stderr.write(`chaos: ${usage ? (err as Error).message + '\n' + USAGE : (err as Error).stack}\n`);
      process.exit(2);
    },
  );
}
