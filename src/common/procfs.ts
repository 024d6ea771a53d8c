/**
 * What the tools (fuzzer, benchmark, test clusters) read from /proc: a node's
 * resident memory, the open-file limits (which cap how many idle sockets can
 * be held), the pids a running cluster's scripts left in $KV_DATA_DIR, and the
 * kernel's range of ephemeral ports (which test clusters keep their ports out
 * of). Everything returns undefined where /proc cannot tell (another OS, a
 * process gone).
 */
import { readFileSync } from 'node:fs';
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
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (command) S ...": the state follows the last ')', since the command may contain one.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
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
