/**
 * The inspector: every node's in-memory replica contents and pending hints,
 * with the keys whose replicas disagree. The nodes are those of the ring the
 * nodes give (joined ones included; those that left shown as left).
 *   scripts/inspector.sh [--json] [--cluster FILE] [--max-entries N]
 * Needs the cluster file (it holds the secret the admin call requires).
 * The reading and comparing is client/inspect.ts; this file prints.
 */
import chalk from 'chalk';
import { closeAll, InspectedEntry, openAll, shown, walk } from '../client/inspect';
import { clusterFilePath, parseArgs, UsageError } from '../common/args';
import { runTool } from './run-tool';
import { ClusterConfig, loadClusterFile } from '../config/cluster';

const USAGE = `usage: scripts/inspector.sh [--json] [--cluster FILE] [--max-entries N]
  --json           the whole report as JSON: every entry of every node, unless --max-entries is given
  --max-entries N  entries shown per node (default 50 in text)`;

/** A node's state beside up or DOWN, when it is not the usual NORMAL. */
function stateNote(state: string): string {
  return state === 'NORMAL' ? '' : `  ${state}`;
}

/** Divergent keys shown in text: the first few and how many. */
const DIVERGENT_SHOWN = 20;

/**
 * The text report: per node its first `maxEntries` entries (divergent keys
 * marked *), then the divergent keys.
 */
async function writeText(config: ClusterConfig, maxEntries: number, colour: boolean, out: (text: string) => void): Promise<void> {
  const c = colour ? chalk : new chalk.Instance({ level: 0 });
  // One walk over every dump: it keeps each node's first entries, and marks
  // those whose key turns out divergent (a key's entries come before its verdict).
  const listed = await openAll(config);
  const firsts = new Map<number, InspectedEntry[]>(listed.heads.map((h) => [h.id, []]));
  const kept = new Set<string>();
  const marked = new Set<string>();
  const some: string[] = [];
  let count = 0;
  try {
    await walk(
      listed,
      (key) => {
        count++;
        if (some.length < DIVERGENT_SHOWN) some.push(key);
        if (kept.has(key)) marked.add(key);
      },
      (id, m) => {
        const first = firsts.get(id)!;
        if (first.length >= maxEntries) return;
        const e = shown(m);
        first.push(e);
        kept.add(e.key);
      },
    );
  } finally {
    closeAll(listed.cursors);
  }
  for (const n of listed.heads) {
    if (n.state === 'LEFT') {
      out(c.dim(`node ${n.id}  LEFT the ring`) + '\n');
      continue;
    }
    if (!n.up) {
      out(c.red(`node ${n.id}  ${n.address}  DOWN${stateNote(n.state)}`) + c.dim(`  (${n.error})`) + '\n');
      continue;
    }
    const first = firsts.get(n.id)!;
    const hints = Object.entries(n.hints).map(([t, k]) => `${k} for node ${t}`);
    out(
      c.bold(`node ${n.id}  ${n.address}  up${stateNote(n.state)}  ${n.keys} ${n.keys === 1 ? 'key' : 'keys'}`) +
        (n.counters?.['repair.catchingUp'] === 1 ? c.yellow('  CATCHING UP (serves no reads until repaired)') : '') +
        (hints.length ? c.yellow(`  hints: ${hints.join(', ')}`) : '') +
        '\n',
    );
    for (const e of first) {
      const mark = marked.has(e.key) ? c.yellow('* ') : '  ';
      const body = e.deleted ? c.dim(`${e.key}  (deleted)`) : `${e.key} = ${e.value}`;
      out(`  ${mark}${body}  ${c.dim(`ts ${e.ts}`)}\n`);
    }
    if (n.keys > first.length) out(c.dim(`    … ${n.keys - first.length} more (use --max-entries)`) + '\n');
  }
  out(
    (count === 0
      ? c.green('all live replicas agree')
      : c.yellow(`${count} divergent key(s) (marked *): ${some.join(', ')}${count > some.length ? ', …' : ''}`)) + '\n',
  );
}

/**
 * The report as JSON: `{"nodes":[{id, address, state, up, error?, hints, keys,
 * entries}], "divergent":[…]}`, where `keys` counts the node's entries and
 * `entries` lists up to `maxEntries` of them. Written as it is read, a page
 * at a time: the dump of a node holding a million keys is longer than the
 * longest string V8 can build, and four of them would not fit in memory.
 */
async function writeJson(config: ClusterConfig, maxEntries: number, out: (text: string) => void): Promise<void> {
  const listed = await openAll(config);
  try {
    out('{"nodes":[');
    for (const [i, head] of listed.heads.entries()) {
      const { counters: _counters, ...shownHead } = head;
      out(`${i > 0 ? ',' : ''}${JSON.stringify(shownHead).slice(0, -1)},"entries":[`);
      const cursor = listed.cursors[head.id];
      let n = 0;
      for (let m = await cursor?.next(); m !== undefined && n < maxEntries; m = await cursor!.next()) {
        out((n++ > 0 ? ',' : '') + JSON.stringify(shown(m)));
      }
      out(']}');
    }
  } finally {
    closeAll(listed.cursors);
  }
  out('],"divergent":[');
  const walked = await openAll(config);
  let n = 0;
  try {
    await walk(walked, (key) => out((n++ > 0 ? ',' : '') + JSON.stringify(key)));
  } finally {
    closeAll(walked.cursors);
  }
  out(']}\n');
}

/** Bytes of output gathered before each write to stdout (a write per entry would be a system call per entry). */
const OUTPUT_CHUNK_CHARS = 64 * 1024;

/** Gathers output into chunks of about OUTPUT_CHUNK_CHARS; `flush` writes the rest. */
function chunked(write: (text: string) => void): { out: (text: string) => void; flush: () => void } {
  let parts: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (parts.length > 0) write(parts.join(''));
    parts = [];
    size = 0;
  };
  const out = (text: string): void => {
    parts.push(text);
    size += text.length;
    if (size >= OUTPUT_CHUNK_CHARS) flush();
  };
  return { out, flush };
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
  const { out, flush } = chunked((text) => void process.stdout.write(text));
  try {
    if (argv.flags.has('json')) await writeJson(config, argv.flags.has('max-entries') ? max : Infinity, out);
    else await writeText(config, max, process.stdout.isTTY === true, out);
  } finally {
    flush();
  }
}

if (require.main === module) runTool('inspector', main);
