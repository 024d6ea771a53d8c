/**
 * The inspector: every node's in-memory replica contents and pending hints,
 * with the keys whose replicas disagree.
 *   scripts/inspector.sh [--json] [--cluster FILE] [--max-entries N]
 * Needs the cluster file (it holds the secret the admin call requires).
 * A key is divergent when the live replicas the ring assigns to it do not all
 * hold the same version (a missing copy counts as different). Down nodes are
 * shown as down and left out of that comparison.
 */
import chalk from 'chalk';
import { NodeAdmin } from '../client/client';
import { displayBytes } from '../common/bytes';
import { isKvError } from '../common/errors';
import { ClusterConfig, ConfigError, loadClusterFile } from '../config/cluster';
import { Ring } from '../partitioner/ring';
import { int64ToNumber, types } from '../rpc/thrift';
import { compareVersions, Version } from '../storage/version';
import { clusterFilePath, parseArgs, UsageError } from './args';

const USAGE = `usage: scripts/inspector.sh [--json] [--cluster FILE] [--max-entries N]
  --json           the whole report as JSON: every entry of every node, unless --max-entries is given
  --max-entries N  entries shown per node (default 50 in text)`;

/** Entries or keys turned into JSON text per write to stdout. */
const JSON_ITEMS_PER_WRITE = 1000;

export interface InspectedEntry {
  key: string;
  value: string;
  ts: number;
  deleted: boolean;
}

export interface InspectedNode {
  id: number;
  address: string;
  up: boolean;
  error?: string;
  entries: InspectedEntry[];
  hints: Record<string, number>;
  counters?: Record<string, number>;
}

export interface Inspection {
  nodes: InspectedNode[];
  divergent: string[];
}

async function inspectNode(config: ClusterConfig, id: number): Promise<{ node: InspectedNode; raw: types.NodeDump | null }> {
  const n = config.nodes[id]!;
  const admin = new NodeAdmin(n, config.secret, 3000);
  const address = `${n.host}:${n.port}`;
  try {
    const dump = await admin.dumpAll();
    const hints: Record<string, number> = {};
    for (const h of dump.hints) hints[String(h.target)] = h.count;
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(dump.counters ?? {})) counters[k] = int64ToNumber(v as never);
    const entries = dump.entries.map((m) => ({
      key: displayBytes(m.key),
      value: m.deleted ? '' : displayBytes(m.value),
      ts: int64ToNumber(m.ts),
      deleted: m.deleted,
    }));
    return { node: { id, address, up: true, entries, hints, counters }, raw: dump };
  } catch (err) {
    const message = isKvError(err) ? err.message : String(err);
    return { node: { id, address, up: false, error: message, entries: [], hints: {} }, raw: null };
  } finally {
    admin.close();
  }
}

/** Keys whose live replicas disagree. */
function divergentKeys(config: ClusterConfig, dumps: (types.NodeDump | null)[]): string[] {
  const ring = new Ring(config.nodes, config.replicationFactor);
  const held = dumps.map((d) => {
    const m = new Map<string, Version>();
    for (const e of d?.entries ?? []) {
      m.set(e.key.toString('latin1'), { value: e.value.toString('latin1'), ts: int64ToNumber(e.ts), deleted: e.deleted });
    }
    return m;
  });
  const keys = new Set<string>();
  held.forEach((m) => m.forEach((_, k) => keys.add(k)));
  const out: string[] = [];
  for (const key of [...keys].sort()) {
    const live = ring.replicas(key).filter((id) => dumps[id] !== null);
    const versions = live.map((id) => held[id]!.get(key));
    const first = versions[0];
    const same = versions.every((v) => (v === undefined || first === undefined ? v === first : compareVersions(v, first) === 0));
    if (!same) out.push(displayBytes(Buffer.from(key, 'latin1')));
  }
  return out;
}

export async function inspect(config: ClusterConfig): Promise<Inspection> {
  const results = await Promise.all(config.nodes.map((n) => inspectNode(config, n.id)));
  return { nodes: results.map((r) => r.node), divergent: divergentKeys(config, results.map((r) => r.raw)) };
}

function renderText(ins: Inspection, maxEntries: number, colour: boolean): string {
  const c = colour ? chalk : new chalk.Instance({ level: 0 });
  const divergent = new Set(ins.divergent);
  const lines: string[] = [];
  for (const n of ins.nodes) {
    if (!n.up) {
      lines.push(c.red(`node ${n.id}  ${n.address}  DOWN`) + c.dim(`  (${n.error})`));
      continue;
    }
    const hints = Object.entries(n.hints).map(([t, k]) => `${k} for node ${t}`);
    lines.push(c.bold(`node ${n.id}  ${n.address}  up  ${n.entries.length} keys`) + (hints.length ? c.yellow(`  hints: ${hints.join(', ')}`) : ''));
    for (const e of n.entries.slice(0, maxEntries)) {
      const mark = divergent.has(e.key) ? c.yellow('* ') : '  ';
      const body = e.deleted ? c.dim(`${e.key}  (deleted)`) : `${e.key} = ${e.value}`;
      lines.push(`  ${mark}${body}  ${c.dim(`ts ${e.ts}`)}`);
    }
    if (n.entries.length > maxEntries) lines.push(c.dim(`    … ${n.entries.length - maxEntries} more (use --max-entries)`));
  }
  lines.push(
    ins.divergent.length === 0
      ? c.green('all live replicas agree')
      : c.yellow(`${ins.divergent.length} divergent key(s) (marked *): ${ins.divergent.slice(0, 20).join(', ')}${ins.divergent.length > 20 ? ', …' : ''}`),
  );
  return lines.join('\n');
}

/**
 * The report as JSON: `{"nodes":[{id, address, up, error?, hints, keys,
 * entries}], "divergent":[…]}`, where `keys` counts all the node's entries
 * and `entries` lists up to `maxEntries` of them. Written in pieces: the
 * dump of a node holding a million keys is longer than the longest string
 * V8 can build.
 */
export function writeJson(ins: Inspection, maxEntries: number, out: (text: string) => void): void {
  out('{"nodes":[');
  ins.nodes.forEach((n, i) => {
    const head = { id: n.id, address: n.address, up: n.up, ...(n.error !== undefined ? { error: n.error } : {}), hints: n.hints, keys: n.entries.length };
    out(`${i > 0 ? ',' : ''}${JSON.stringify(head).slice(0, -1)},"entries":`);
    writeJsonArray(n.entries, Math.min(maxEntries, n.entries.length), out);
    out('}');
  });
  out('],"divergent":');
  writeJsonArray(ins.divergent, ins.divergent.length, out);
  out('}\n');
}

function writeJsonArray(items: readonly unknown[], count: number, out: (text: string) => void): void {
  out('[');
  for (let from = 0; from < count; from += JSON_ITEMS_PER_WRITE) {
    const to = Math.min(count, from + JSON_ITEMS_PER_WRITE);
    const parts: string[] = [];
    for (let j = from; j < to; j++) parts.push(JSON.stringify(items[j]));
    out((from > 0 ? ',' : '') + parts.join(','));
  }
  out(']');
}

async function main(): Promise<void> {
  const argv = parseArgs(process.argv.slice(2), ['json', 'help'], ['cluster', 'max-entries']);
  if (argv.flags.has('help')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const max = Number(argv.flags.get('max-entries') ?? 50);
  if (!Number.isInteger(max) || max < 0) throw new UsageError('--max-entries must be a whole number');
  const config = loadClusterFile(clusterFilePath(argv.flags.get('cluster')));
  const ins = await inspect(config);
  if (argv.flags.has('json')) {
    writeJson(ins, argv.flags.has('max-entries') ? max : Infinity, (text) => process.stdout.write(text));
  } else {
    process.stdout.write(renderText(ins, max, process.stdout.isTTY === true) + '\n');
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      const known = err instanceof UsageError || err instanceof ConfigError;
      process.stderr.write(`inspector: ${known ? (err as Error).message : (err as Error).stack}\n`);
      process.exit(2);
    },
  );
}
