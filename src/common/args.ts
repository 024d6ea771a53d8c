/**
 * Shared command-line plumbing for the tools: flag parsing and finding the
 * cluster (--node host:port, --cluster FILE, or $KV_DATA_DIR/cluster.json).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ParsedArgs {
  readonly flags: Map<string, string | true>;
  readonly positional: string[];
}

/** Parses --name value and --switch flags; `switches` take no value. */
export function parseArgs(argv: string[], switches: readonly string[], valued: readonly string[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (switches.includes(name)) flags.set(name, true);
    else if (valued.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else throw new UsageError(`unknown option --${name}`);
  }
  return { flags, positional };
}

/** The whole number a flag gives, within [min, max]; `fallback` when the flag is absent. */
export function intFlag(flags: ReadonlyMap<string, string | true>, name: string, fallback: number, min: number, max: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The cluster file to use: --cluster, else $KV_DATA_DIR/cluster.json, else ./data/cluster.json. */
export function clusterFilePath(flag: string | true | undefined): string {
  if (typeof flag === 'string') return flag;
  const dir = process.env.KV_DATA_DIR ?? 'data';
  const path = join(dir, 'cluster.json');
  if (!existsSync(path)) {
    throw new UsageError(
      `no cluster file at ${path}; start the cluster with scripts/server.sh, or pass --cluster FILE or --node HOST:PORT`,
    );
  }
  return path;
}

export function parseEndpoint(text: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`"${text}" is not HOST:PORT`);
  return { host: m[1]!, port };
}
