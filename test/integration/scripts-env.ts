/**
 * Running the project's scripts as a user runs them, for the end-to-end
 * tests: a command with its output collected, and a base port whose nodes'
 * ports are free.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { METRICS_PORT_OFFSET } from '../../src/config/cluster';
import { claimIfFree } from '../../src/harness/local-cluster';
import { releasePort } from '../../src/harness/port-claims';

export const ROOT = resolve(__dirname, '../../..');

/** The path of scripts/NAME. */
export const script = (name: string): string => join(ROOT, 'scripts', name);

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
    // A command that exits before reading its input (a bad flag, say) closes the pipe: not a failure of the test.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** The ports of a scripts cluster at `base`: nodes 0 to 4 (a fifth joins or replaces) and their metrics ports. */
const basePorts = (base: number): number[] => [0, 1, 2, 3, 4].flatMap((i) => [base + i, base + METRICS_PORT_OFFSET + i]);

/**
 * A base port whose next five ports (and their metrics ports, +1000) are free now, and
 * claimed for this process (src/harness/port-claims.ts) until `releaseBase`: the scripts
 * kill and restart nodes, and a node joins or replaces on base + 4 later, so another test
 * process's freePort must not hand out any of these meanwhile. Below 32768, where Linux
 * hands out ephemeral ports for outgoing connections: one of those could take a node's
 * port between this check and the node's start.
 */
export async function freeBase(): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 11000);
    const ports = basePorts(base);
    const free = await Promise.all(ports.map(claimIfFree));
    if (free.every(Boolean)) return base;
    for (const [i, p] of ports.entries()) if (free[i]) releasePort(p);
  }
}

/** Gives up the claims freeBase took, once the scripts cluster at `base` is stopped. */
export function releaseBase(base: number): void {
  for (const p of basePorts(base)) releasePort(p);
}
