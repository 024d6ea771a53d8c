/**
 * Reading every node's replica contents, as the inspector and the chaos
 * checker do: each node's dump a page at a time (so the reader's memory does
 * not grow with the nodes' data), merged in key order, finding the keys whose
 * replicas disagree. A key is divergent when the live replicas the ring
 * assigns to it do not all hold the same version (a missing copy counts as
 * different); down nodes are left out of that comparison.
 *
 * The nodes are every member of the ring the nodes' membership log gives
 * (client/ring.ts), those that joined after the cluster file was written
 * included; a node that LEFT is shown as left, not asked and not an error.
 * A key's replicas are its range's read replicas in the current placement:
 * a node still receiving a range (pending) is not expected to hold it yet.
 */
import { NodeAdmin } from './client';
import { displayBytes, toByteString } from '../common/bytes';
import { isKvError } from '../common/errors';
import { DUMP_PAGE_ENTRIES_MAX } from '../common/limits';
import { ClusterConfig } from '../config/cluster';
import type { NodeState } from '../membership/changes';
import { EPOCH_SLOT_KEY_PREFIX } from '../membership/epoch-log';
import type { Placement } from '../membership/placement';
import { adminAt, learnedOrFileRing } from './ring';
import type { NodeLocation } from './topology';
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
  /** The node's state in the ring (NORMAL, JOINING, LEAVING, MOVING, LEFT). */
  state: NodeState;
  up: boolean;
  error?: string;
  entries: InspectedEntry[];
  hints: Record<string, number>;
  counters?: Record<string, number>;
}

export interface Inspection {
  nodes: InspectedNode[];
  divergent: string[];
  /** The placement the keys were compared by: the current epoch's, as the nodes gave it. */
  placement: Placement;
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
  static async open(config: ClusterConfig, at: NodeLocation): Promise<{ cursor: DumpCursor; first: types.NodeDump }> {
    const cursor = new DumpCursor(adminAt(config, at, 3000));
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
  state: NodeState;
  up: boolean;
  error?: string;
  hints: Record<string, number>;
  counters?: Record<string, number>;
  keys: number;
}

/** Every member's head, and a cursor by node id (null: down, left, or no address known). */
export interface Opened {
  readonly heads: NodeHead[];
  readonly cursors: (DumpCursor | null)[];
  /** The placement keys are compared by. */
  readonly placement: Placement;
}

function addressText(at: NodeLocation | undefined): string {
  return at === undefined ? 'address unknown' : `${at.host}:${at.port}`;
}

async function openOne(config: ClusterConfig, id: number, state: NodeState, at: NodeLocation | undefined) {
  const address = addressText(at);
  const down = (error?: string): { head: NodeHead; cursor: null } => ({
    head: { id, address, state, up: false, ...(error !== undefined && { error }), hints: {}, keys: 0 },
    cursor: null,
  });
  if (state === 'LEFT') return down();
  if (at === undefined) return down('neither the cluster file nor the membership log says where it listens');
  try {
    const { cursor, first } = await DumpCursor.open(config, at);
    const hints: Record<string, number> = {};
    for (const h of first.hints) hints[String(h.target)] = h.count;
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(first.counters ?? {})) counters[k] = int64ToNumber(v as never);
    return { head: { id, address, state, up: true, hints, counters, keys: counters['store.keys'] ?? 0 }, cursor };
  } catch (err) {
    return down(isKvError(err) ? err.message : String(err));
  }
}

/** Opens a cursor on every member of the ring; a node that does not answer is down (null cursor). */
export async function openAll(config: ClusterConfig): Promise<Opened> {
  const topology = await learnedOrFileRing(config);
  const opened = await Promise.all(topology.members.map((m) => openOne(config, m.id, m.state, m.location)));
  const cursors: (DumpCursor | null)[] = [];
  opened.forEach((o, i) => {
    cursors[topology.members[i]!.id] = o.cursor;
  });
  return { heads: opened.map((o) => o.head), cursors, placement: topology.placement };
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
  { cursors, placement }: Pick<Opened, 'cursors' | 'placement'>,
  found: (key: string) => void,
  entry: (id: number, m: types.Mutation) => void = () => undefined,
): Promise<void> {
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
    // An epoch slot's key is the ring's own record, not data (scans and counts pass over it too): its
    // copies are the Paxos acceptors' business, and are left out of the data's divergence check.
    if (isSlotKey(min)) continue;
    const versions = placement
      .rangeOf(toByteString(min))
      .reads.filter((id) => cursors[id] !== null && cursors[id] !== undefined)
      .map((id) => held.get(id));
    const first = versions[0];
    const same = versions.every((v) => (v === undefined || first === undefined ? v === first : compareVersions(v, first) === 0));
    if (!same) found(displayBytes(min));
  }
}

const SLOT_KEY_PREFIX = Buffer.from(EPOCH_SLOT_KEY_PREFIX, 'latin1');

function isSlotKey(key: Buffer): boolean {
  return key.length >= SLOT_KEY_PREFIX.length && key.subarray(0, SLOT_KEY_PREFIX.length).equals(SLOT_KEY_PREFIX);
}

function inspected(head: NodeHead, entries: InspectedEntry[]): InspectedNode {
  const { keys: _count, ...rest } = head;
  return { ...rest, entries };
}

/** Every node's whole state and the divergent keys, in memory: for tests and small clusters. */
export async function inspect(config: ClusterConfig): Promise<Inspection> {
  const opened = await openAll(config);
  const entries = new Map<number, InspectedEntry[]>(opened.heads.map((h) => [h.id, []]));
  const divergent: string[] = [];
  try {
    await walk(
      opened,
      (k) => divergent.push(k),
      (id, m) => entries.get(id)!.push(shown(m)),
    );
  } finally {
    closeAll(opened.cursors);
  }
  return { nodes: opened.heads.map((h) => inspected(h, entries.get(h.id)!)), divergent, placement: opened.placement };
}
