/**
 * Ports handed out for test nodes, noted in files that every process of the
 * same user on this machine sees, so that no two of them hand out the same
 * port.
 *
 * A port that is free now is not free for good: when a test kills a node to
 * restart it, its port is free until the restart, and another test file (ava
 * runs two at once), or another process's probe of a random port, may take
 * it in that gap. The node then fails to listen with EADDRINUSE. A claim
 * closes the gap: a port is claimed before it is probed, and a claimed port
 * is never probed or handed out again while the process holding it lives.
 *
 * A claim is a file named after the port that holds its owner's pid. The
 * owner removes its claims when it exits; a claim whose owner is dead (a
 * crashed run) is taken over.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processRunning } from '../common/procfs';

/**
 * Where the claims live: one folder for every process of this user that
 * uses this machine's temporary folder. Per user, because a folder another
 * user made is not ours to write in.
 */
export const CLAIMS_DIR = join(tmpdir(), `ringkv-port-claims-${process.getuid?.() ?? 'any'}`);

/** The ports this process has claimed, released when it exits. */
const mine = new Set<number>();
let releaseOnExit = false;

function claimFile(port: number): string {
  return join(CLAIMS_DIR, String(port));
}

function ownerOf(port: number): number | undefined {
  try {
    const pid = Number(readFileSync(claimFile(port), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function create(port: number): boolean {
  try {
    writeFileSync(claimFile(port), String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Claims `port` for this process: true if it is now this process's and no
 * other process held it; false if some living process (this one included)
 * already claimed it.
 */
export function claimPort(port: number): boolean {
  mkdirSync(CLAIMS_DIR, { recursive: true });
  if (!create(port)) {
    const owner = ownerOf(port);
    if (owner !== undefined && processRunning(owner)) return false;
    // A dead owner's claim (or one cut short while being written): take it over.
    try {
      unlinkSync(claimFile(port));
    } catch {
      // Someone else removed it first; whoever creates it next has it.
    }
    if (!create(port)) return false;
  }
  mine.add(port);
  if (!releaseOnExit) {
    releaseOnExit = true;
    process.once('exit', releaseAllPorts);
  }
  return true;
}

/** Gives up this process's claim on `port`, if it holds one. */
export function releasePort(port: number): void {
  if (!mine.delete(port)) return;
  if (ownerOf(port) !== process.pid) return;
  try {
    unlinkSync(claimFile(port));
  } catch {
    // Already gone.
  }
}

/** Gives up every claim this process holds. */
export function releaseAllPorts(): void {
  for (const port of [...mine]) releasePort(port);
}
