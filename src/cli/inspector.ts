/**
 * The inspector: every node's in-memory replica contents and pending hints,
 * with the keys whose replicas disagree.
 *   scripts/inspector.sh [--json] [--cluster FILE] [--max-entries N]
 * Needs the cluster file (it holds the secret the admin call requires).
 * Reads each node's dump a page at a time: its memory does not grow with the
 * nodes' data.
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

/** Entries per dump page the inspector asks for. */
const DUMP_PAGE_ENTRIES = 5000;

/**
 * One node's dump read page by page, in key order: the inspector holds a page
 * per node, not the node's whole state.
 */
class DumpCursor {
  private page: types.Mutation[] = [];
  private i = 0;
  private more = true;
  private after: Buffer = Buffer.alloc(0);

  private constructor(private readonly admin: NodeAdmin) {}

  /** Opens a cursor; resolves with it and the first page (which carries the node's hints and counters). */
  static async open(config: ClusterConfig, id: number): Promise<{ cursor: DumpCursor; first: types.NodeDump }> {
    const n = config.nodes[id]!;
    const cursor = new DumpCursor(new NodeAdmin(n, config.secret, 3000));
    try {
      const first = await cursor.admin.dumpPage(cursor.after, DUMP_PAGE_ENTRIES);
      cursor.take(first);
      return { cursor, first };
    } catch (err) {
      cursor.close();
      throw err;
    }
  }

  private take(d: types.NodeDump): void {
    this.page = d.entries;
    this.i = 0;
    this.more = d.more && d.entries.length > 0;
    if (d.entries.length > 0) this.after = d.entries[d.entries.length - 1]!.key;
  }

  /** True when head() needs fetch() first. */
  get needsFetch(): boolean {
    return this.i >= this.page.length && this.more;
  }

  async fetch(): Promise<void> {
    while (this.needsFetch) this.take(await this.admin.dumpPage(this.after, DUMP_PAGE_ENTRIES));
  }

  /** The next entry, or undefined at the end (call fetch() first when needsFetch). */
  head(): types.Mutation | undefined {
    return this.page[this.i];
  }

  advance(): void {
    this.i++;
  }

  /** The next entry, fetching a page when needed; undefined at the end. */
  async next(): Promise<types.Mutation | undefined> {
    await this.fetch();
    const m = this.head();
    if (m !== undefined) this.advance();
    return m;
  }

  close(): void {
    this.admin.close();
  }
}

function shown(m: types.Mutation): InspectedEntry {
  return { key: displayBytes(m.key), value: m.deleted ? '' : displayBytes(m.value), ts: int64ToNumber(m.ts), deleted: m.deleted };
}

/** A node as the inspector shows it, without its entries (`keys` counts them); a down node has `error`. */
interface NodeHead {
  id: number;
  address: string;
  up: boolean;
  error?: string;
  hints: Record<string, number>;
  counters?: Record<string, number>;
  keys: number;
}

/** Opens a cursor on every node; a node that does not answer is down (null cursor). */
async function openAll(config: ClusterConfig): Promise<{ heads: NodeHead[]; cursors: (DumpCursor | null)[] }> {
  const opened = await Promise.all(
    config.nodes.map(async (n): Promise<{ head: NodeHead; cursor: DumpCursor | null }> => {
      const address = `${n.host}:${n.port}`;
      try {
        const { cursor, first } = await DumpCursor.open(config, n.id);
        const hints: Record<string, number> = {};
        for (const h of first.hints) hints[String(h.target)] = h.count;
        const counters: Record<string, number> = {};
        for (const [k, v] of Object.entries(first.counters ?? {})) counters[k] = int64ToNumber(v as never);
        return { head: { id: n.id, address, up: true, hints, counters, keys: counters.keys ?? 0 }, cursor };
      } catch (err) {
        const message = isKvError(err) ? err.message : String(err);
        return { head: { id: n.id, address, up: false, error: message, hints: {}, keys: 0 }, cursor: null };
      }
    }),
  );
  return { heads: opened.map((o) => o.head), cursors: opened.map((o) => o.cursor) };
}

function closeAll(cursors: (DumpCursor | null)[]): void {
  for (const c of cursors) c?.close();
}

/**
 * Walks every up node's dump at once in key order (a merge of sorted
 * streams), calling `entry` for each entry of each node, and `found` for each
 * key whose live replicas, as the ring assigns them, do not all hold the same
 * version (a missing copy counts as different). Down nodes are left out of
 * the comparison.
 */
async function walk(
  config: ClusterConfig,
  cursors: (DumpCursor | null)[],
  found: (key: string) => void,
  entry: (id: number, m: types.Mutation) => void = () => undefined,
): Promise<void> {
  const ring = new Ring(config.nodes, config.replicationFactor);
  for (;;) {
    for (const c of cursors) if (c?.needsFetch) await c.fetch();
    let min: Buffer | undefined;
    for (const c of cursors) {
      const h = c?.head();
      if (h !== undefined && (min === undefined || Buffer.compare(h.key, min) < 0)) min = h.key;
    }
    if (min === undefined) return;
    const held = new Map<number, Version>();
    cursors.forEach((c, id) => {
      const h = c?.head();
      if (h === undefined || !h.key.equals(min!)) return;
      held.set(id, { value: h.value.toString('latin1'), ts: int64ToNumber(h.ts), deleted: h.deleted });
      entry(id, h);
      c!.advance();
    });
    const versions = ring
      .replicas(min.toString('latin1'))
      .filter((id) => cursors[id] !== null)
      .map((id) => held.get(id));
    const first = versions[0];
    const same = versions.every((v) => (v === undefined || first === undefined ? v === first : compareVersions(v, first) === 0));
    if (!same) found(displayBytes(min));
  }
}

function inspected(head: NodeHead, entries: InspectedEntry[]): InspectedNode {
  const { keys: _count, ...rest } = head;
  return { ...rest, entries };
}

/** Every node's whole state and the divergent keys, in memory: for tests and small clusters. */
export async function inspect(config: ClusterConfig): Promise<Inspection> {
  const { heads, cursors } = await openAll(config);
  const entries: InspectedEntry[][] = heads.map(() => []);
  const divergent: string[] = [];
  try {
    await walk(
      config,
      cursors,
      (k) => divergent.push(k),
      (id, m) => entries[id]!.push(shown(m)),
    );
  } finally {
    closeAll(cursors);
  }
  return { nodes: heads.map((h, id) => inspected(h, entries[id]!)), divergent };
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
  const firsts: InspectedEntry[][] = listed.heads.map(() => []);
  const kept = new Set<string>();
  const marked = new Set<string>();
  const some: string[] = [];
  let count = 0;
  try {
    await walk(
      config,
      listed.cursors,
      (key) => {
        count++;
        if (some.length < DIVERGENT_SHOWN) some.push(key);
        if (kept.has(key)) marked.add(key);
      },
      (id, m) => {
        if (firsts[id]!.length >= maxEntries) return;
        const e = shown(m);
        firsts[id]!.push(e);
        kept.add(e.key);
      },
    );
  } finally {
    closeAll(listed.cursors);
  }
  listed.heads.forEach((n, id) => {
    if (!n.up) {
      out(c.red(`node ${n.id}  ${n.address}  DOWN`) + c.dim(`  (${n.error})`) + '\n');
      return;
    }
    const hints = Object.entries(n.hints).map(([t, k]) => `${k} for node ${t}`);
    out(
      c.bold(`node ${n.id}  ${n.address}  up  ${n.keys} ${n.keys === 1 ? 'key' : 'keys'}`) +
        (hints.length ? c.yellow(`  hints: ${hints.join(', ')}`) : '') +
        '\n',
    );
    for (const e of firsts[id]!) {
      const mark = marked.has(e.key) ? c.yellow('* ') : '  ';
      const body = e.deleted ? c.dim(`${e.key}  (deleted)`) : `${e.key} = ${e.value}`;
      out(`  ${mark}${body}  ${c.dim(`ts ${e.ts}`)}\n`);
    }
    if (n.keys > firsts[id]!.length) out(c.dim(`    … ${n.keys - firsts[id]!.length} more (use --max-entries)`) + '\n');
  });
  out(
    (count === 0
      ? c.green('all live replicas agree')
      : c.yellow(`${count} divergent key(s) (marked *): ${some.join(', ')}${count > some.length ? ', …' : ''}`)) + '\n',
  );
}

/**
 * The report as JSON: `{"nodes":[{id, address, up, error?, hints, keys,
 * entries}], "divergent":[…]}`, where `keys` counts the node's entries and
 * `entries` lists up to `maxEntries` of them. Written as it is read, a page
 * at a time: the dump of a node holding a million keys is longer than the
 * longest string V8 can build, and four of them would not fit in memory.
 */
async function writeJson(config: ClusterConfig, maxEntries: number, out: (text: string) => void): Promise<void> {
  const listed = await openAll(config);
  try {
    out('{"nodes":[');
    for (const [id, head] of listed.heads.entries()) {
      const { counters: _counters, ...shownHead } = head;
      out(`${id > 0 ? ',' : ''}${JSON.stringify(shownHead).slice(0, -1)},"entries":[`);
      const cursor = listed.cursors[id];
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
    await walk(config, walked.cursors, (key) => out((n++ > 0 ? ',' : '') + JSON.stringify(key)));
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
