/**
 * Running the project's scripts as a user runs them, for the end-to-end
 * tests: a command with its output collected, and a base port whose nodes'
 * ports are free.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join, resolve } from 'node:path';

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

function portFree(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

/**
 * A base port whose next five ports (and their metrics ports, +1000) are free now. Below
 * 32768, where Linux hands out ephemeral ports for outgoing connections: one of those
 * could take a node's port between this check and the node's start.
 */
export async function freeBase(): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 11000);
    const ok = await Promise.all([0, 1, 2, 3, 4, 1000, 1001, 1002, 1003, 1004].map((i) => portFree(base + i)));
    if (ok.every(Boolean)) return base;
  }
}
