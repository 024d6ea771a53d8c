/**
 * What the tools (fuzzer, benchmark, test clusters) read from /proc: a node's
 * resident memory, the open-file limits (which cap how many idle sockets can
 * be held), the pids a running cluster's scripts left in $KV_DATA_DIR, and the
 * kernel's range of ephemeral ports (which test clusters keep their ports out
 * of), and the CPU time a process has used (the benchmark's CPU per
 * operation). Everything returns undefined where /proc cannot tell (another
 * OS, a process gone).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const KB_PER_MB = 1024;

/** VmRSS in kB from the text of /proc/<pid>/status. */
export function parseVmRssKb(status: string): number | undefined {
  const m = /^VmRSS:\s*(\d+)\s*kB/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

/** Resident memory of a process in MB, or undefined. */
export function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = parseVmRssKb(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb === undefined ? undefined : kb / KB_PER_MB;
  } catch {
    return undefined;
  }
}

/** The soft "Max open files" limit from the text of /proc/<pid>/limits. */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/**
 * The soft open-file limit of a process ('self' for this one). Node.js raises
 * its own soft limit to the hard limit at start-up, so for a node process this
 * already is the most it can have without privileges.
 */
export function openFilesLimit(pid: number | 'self'): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Whether a process is running. A killed process stays in /proc as a zombie
 * until its parent reaps it, so its state letter is checked too.
 */
export function processRunning(pid: number): boolean {
  try {
    const state = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[0];
    return state !== undefined && state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * The pid in `dir`/node-<id>.pid, if that process is running and really is a
 * ringkv node (a recycled pid must not be taken for one), as scripts/common.sh checks.
 */
export function nodePidFromFile(dir: string, id: number): number | undefined {
  try {
    const text = readFileSync(join(dir, `node-${id}.pid`), 'utf8').trim();
    if (!/^\d+$/.test(text)) return undefined;
    const pid = Number(text);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    return cmdline.includes('dist/src/node/main.js') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The first and last port of the text of /proc/sys/net/ipv4/ip_local_port_range. */
export function parsePortRange(text: string): [number, number] | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const [low, high] = [Number(m[1]), Number(m[2])];
  return low >= 1 && low <= high && high <= 65535 ? [low, high] : undefined;
}

/** The ports the kernel hands to outgoing connections, or undefined. */
export function ephemeralPortRange(): [number, number] | undefined {
  try {
    return parsePortRange(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The fields after the command in the text of a /proc stat file: "pid
 * (command) state ppid …". The command may contain spaces and ')', so the
 * fields start after the last ')'. Index 0 is the state (field 3 of proc(5)).
 */
function statFields(stat: string): string[] | undefined {
  const close = stat.lastIndexOf(')');
  return close < 0
    ? undefined
    : stat
        .slice(close + 2)
        .trim()
        .split(/\s+/);
}

/** Index of utime (field 14 of proc(5)) among statFields; stime follows it. */
const STAT_UTIME_INDEX = 11;

/** utime + stime, in clock ticks, from the text of /proc/<pid>/stat (all threads, ended ones too) or of one thread's. */
export function parseStatCpuTicks(stat: string): number | undefined {
  const f = statFields(stat);
  if (f === undefined || f.length <= STAT_UTIME_INDEX + 1) return undefined;
  const [user, system] = [f[STAT_UTIME_INDEX]!, f[STAT_UTIME_INDEX + 1]!];
  return /^\d+$/.test(user) && /^\d+$/.test(system) ? Number(user) + Number(system) : undefined;
}

/** Time on a CPU in ns (the first field) from the text of /proc/<pid>/task/<tid>/schedstat. */
export function parseSchedstatNs(schedstat: string): number | undefined {
  const m = /^(\d+)\s+\d+\s+\d+\s*$/.exec(schedstat);
  return m ? Number(m[1]) : undefined;
}

/** Clock ticks per second of /proc stat files (USER_HZ); 100 on every common Linux build. */
const USER_HZ_DEFAULT = 100;
let userHz: number | undefined;

/** USER_HZ, from `getconf CLK_TCK` once, else the usual 100. */
export function clockTicksPerSecond(): number {
  if (userHz === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      userHz = Number.isInteger(n) && n > 0 ? n : USER_HZ_DEFAULT;
    } catch {
      userHz = USER_HZ_DEFAULT;
    }
  }
  return userHz;
}

/** The CPU time of the whole machine so far, all CPUs together, in clock ticks. */
export interface MachineCpu {
  /** Time not idle: user, nice, system, interrupts and steal (taken by the hypervisor for others). */
  readonly busyTicks: number;
  /** That and the idle and iowait time. */
  readonly totalTicks: number;
}

/** The first line of /proc/stat: "cpu user nice system idle iowait irq softirq steal …" (guest time is in user already). */
export function parseMachineCpu(stat: string): MachineCpu | undefined {
  const m = /^cpu\s+(\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)(?: (\d+))?/.exec(stat);
  if (!m) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = m.slice(1).map((v) => Number(v ?? 0)) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busyTicks: busy, totalTicks: busy + idle! + iowait! };
}

/** The machine's CPU time so far, or undefined. */
export function machineCpu(): MachineCpu | undefined {
  try {
    return parseMachineCpu(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU time of a process so far, in ns. */
export interface ProcessCpu {
  /** User + system time of all its threads. */
  readonly totalNs: number;
  /** Of its main thread alone (where a Node.js process runs JavaScript). */
  readonly mainThreadNs: number;
}

/**
 * How much CPU a process has used, or undefined where /proc cannot tell.
 * The sum of its threads' schedstat, in ns: /proc/<pid>/stat says the same
 * (utime + stime of all threads) but in ticks of 10 ms, too coarse for a
 * short run. A thread that ends between two readings takes its time out of
 * the sum; a node's threads (V8's, libuv's) live as long as the process.
 * Without schedstat (a kernel built without it), the stat ticks.
 */
export function processCpu(pid: number): ProcessCpu | undefined {
  try {
    const threads = threadsCpuNs(pid);
    if (threads !== undefined) return { totalNs: threads.sum, mainThreadNs: threads.main };
    const nsPerTick = 1e9 / clockTicksPerSecond();
    const total = parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const main = parseStatCpuTicks(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
    return total === undefined || main === undefined ? undefined : { totalNs: total * nsPerTick, mainThreadNs: main * nsPerTick };
  } catch {
    return undefined;
  }
}

/** The schedstat time of each live thread of a process, summed, and of its main thread; undefined without schedstat. */
function threadsCpuNs(pid: number): { sum: number; main: number } | undefined {
  let sum = 0;
  let main: number | undefined;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let ns: number | undefined;
    try {
      ns = parseSchedstatNs(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'));
    } catch {
      continue; // the thread ended meanwhile
    }
    if (ns === undefined) return undefined;
    sum += ns;
    if (tid === String(pid)) main = ns;
  }
  return main === undefined ? undefined : { sum, main };
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
