/**
 * Runs one of the project's command-line tools as a child process and
 * collects what it printed, for the end-to-end tests of those tools.
 */
import { spawn } from 'node:child_process';

export interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(script: string, args: string[], cwd?: string): Promise<Exit> {
  return new Promise((resolveExit, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolveExit({ code, stdout, stderr }));
  });
}
