/**
 * Reading every node's replica contents, as the inspector and the chaos
 * checker do: each node's dump a page at a time (so the reader's memory does
 * not grow with the nodes' data), merged in key order, finding the keys whose
 * replicas disagree. A key is divergent when the live replicas the ring
 * assigns to it do not all hold the same version (a missing copy counts as
 * different); down nodes are left out of that comparison.
 */
import { NodeAdmin } from './client';
import { displayBytes, toByteString } from '../common/bytes';
import { isKvError } from '../common/errors';
import { DUMP_PAGE_ENTRIES_MAX } from '../common/limits';
import { ClusterConfig } from '../config/cluster';
import { Ring } from '../partitioner/ring';
import { int64ToNumber, types } from '../rpc/thrift';
import { compareVersions, Version } from '../storage/version';

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

/**
 * One node's dump read page by page, in key order: the inspector holds a page
 * per node, not the node's whole state.
 */
export class DumpCursor {
  private page: types.Mutation[] = [];
  private i = 0;
  private more = true;
  private after: Buffer = Buffer.alloc(0);

  private constructor(private readonly admin: NodeAdmin) {}

  /** Opens a cursor; resolves with it and the first page (which carries the node's hints and counters). */
  static async open(config: ClusterConfig, id: number): Promise<{ cursor: DumpCursor; first: types.NodeDump }> {
    const cursor = new DumpCursor(NodeAdmin.fromConfig(config, id, 3000));
    try {
      const first = await cursor.admin.dumpPage(cursor.after, DUMP_PAGE_ENTRIES_MAX);
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
    while (this.needsFetch) this.take(await this.admin.dumpPage(this.after, DUMP_PAGE_ENTRIES_MAX));
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

export function shown(m: types.Mutation): InspectedEntry {
  return { key: displayBytes(m.key), value: m.deleted ? '' : displayBytes(m.value), ts: int64ToNumber(m.ts), deleted: m.deleted };
}

/** A node as the inspector shows it, without its entries (`keys` counts them); a down node has `error`. */
export interface NodeHead {
  id: number;
  address: string;
  up: boolean;
  error?: string;
  hints: Record<string, number>;
  counters?: Record<string, number>;
  keys: number;
}

/** Opens a cursor on every node; a node that does not answer is down (null cursor). */
export async function openAll(config: ClusterConfig): Promise<{ heads: NodeHead[]; cursors: (DumpCursor | null)[] }> {
  const opened = await Promise.all(
    config.nodes.map(async (n): Promise<{ head: NodeHead; cursor: DumpCursor | null }> => {
      const address = `${n.host}:${n.port}`;
      try {
        const { cursor, first } = await DumpCursor.open(config, n.id);
        const hints: Record<string, number> = {};
        for (const h of first.hints) hints[String(h.target)] = h.count;
        const counters: Record<string, number> = {};
        for (const [k, v] of Object.entries(first.counters ?? {})) counters[k] = int64ToNumber(v as never);
        return { head: { id: n.id, address, up: true, hints, counters, keys: counters['store.keys'] ?? 0 }, cursor };
      } catch (err) {
        const message = isKvError(err) ? err.message : String(err);
        return { head: { id: n.id, address, up: false, error: message, hints: {}, keys: 0 }, cursor: null };
      }
    }),
  );
  return { heads: opened.map((o) => o.head), cursors: opened.map((o) => o.cursor) };
}

export function closeAll(cursors: (DumpCursor | null)[]): void {
  for (const c of cursors) c?.close();
}

/**
 * Walks every up node's dump at once in key order (a merge of sorted
 * streams), calling `entry` for each entry of each node, and `found` for each
 * key whose live replicas, as the ring assigns them, do not all hold the same
 * version (a missing copy counts as different). Down nodes are left out of
 * the comparison.
 */
export async function walk(
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
      held.set(id, { value: toByteString(h.value), ts: int64ToNumber(h.ts), deleted: h.deleted });
      entry(id, h);
      c!.advance();
    });
    const versions = ring
      .replicas(toByteString(min))
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
