/**
 * A node's epoch log: the membership changes it knows, in epoch order, kept
 * durably (EpochStorage: a SQLite table on a real node, memory in the
 * simulator), with the membership and placement of the last epoch derived
 * from them (changes.ts, placement.ts).
 *
 * On a node's first start the log is empty and gets its bootstrap (epoch 1)
 * from the cluster file's nodes and tokens; from then on the log, not the
 * cluster file, says what the ring is. A cluster file whose ring differs
 * from a log's bootstrap is refused: it most likely belongs to another
 * cluster, and serving with two rings in play would place keys wrongly.
 */
import { assert } from '../common/assert';
import { MEMBERSHIP_ENTRIES_MAX } from '../common/limits';
import { ConfigError } from '../config/cluster';
import { applyChange, Change, ChangeKind, EpochEntry, Membership, replayLog } from './changes';
import { Placement } from './placement';

export interface EpochStorage {
  /** Every stored entry, in epoch order. */
  load(): Promise<EpochEntry[]>;
  /** Stores entries after the last one; resolves once they are durable. */
  append(entries: readonly EpochEntry[]): Promise<void>;
}

const CHANGE_KINDS: ReadonlySet<ChangeKind> = new Set<ChangeKind>([
  'bootstrap',
  'join-begin',
  'leave-begin',
  'move-begin',
  'replace-begin',
  'reads-switch',
  'join-complete',
  'leave-complete',
  'move-complete',
  'replace-complete',
]);

export function isChangeKind(kind: unknown): kind is ChangeKind {
  return typeof kind === 'string' && CHANGE_KINDS.has(kind as ChangeKind);
}

/** A change as stored and sent: JSON text (tokens are latin1 strings, which JSON holds exactly). */
export function encodeChange(change: Change): string {
  return JSON.stringify(change);
}

/** The change from its stored text; a kind this build does not know means a newer build wrote it. */
export function decodeChange(text: string, epoch: number): Change {
  const change = JSON.parse(text) as Change;
  if (typeof change !== 'object' || change === null || !isChangeKind(change.kind))
    throw new ConfigError(
      `epoch ${epoch} of the membership log holds a change this build does not know (${text.slice(0, 80)}); it was written by a newer build`,
    );
  return change;
}

/** The cluster file's ring and a log's bootstrap, compared by ids, tokens and replication factor. */
function sameBootstrap(a: Change, b: Change): boolean {
  if (a.kind !== 'bootstrap' || b.kind !== 'bootstrap') return false;
  const ring = (c: typeof a): string =>
    JSON.stringify([c.replicationFactor, [...c.nodes].sort((x, y) => x.id - y.id).map((n) => [n.id, n.token])]);
  return ring(a) === ring(b);
}

export class EpochLog {
  private current: Membership;
  private currentPlacement: Placement;
  /** Appends run one after another: each needs the epoch the previous one made. */
  private appending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly storage: EpochStorage,
    private readonly entries: EpochEntry[],
  ) {
    this.current = replayLog(entries);
    this.currentPlacement = Placement.of(this.current);
  }

  /** The stored log, or a new one holding `bootstrap` (written before this resolves). */
  static async open(storage: EpochStorage, bootstrap: EpochEntry): Promise<EpochLog> {
    assert(bootstrap.epoch === 1 && bootstrap.change.kind === 'bootstrap', 'a bootstrap entry is epoch 1');
    const entries = await storage.load();
    if (entries.length === 0) {
      replayLog([bootstrap]); // refuses a ring the reducer does not allow before anything is stored
      await storage.append([bootstrap]);
      return new EpochLog(storage, [bootstrap]);
    }
    if (!sameBootstrap(entries[0]!.change, bootstrap.change))
      throw new ConfigError(
        "the cluster file's nodes, tokens or replication factor differ from the ring this node's data was first started with; use the cluster file it was started with, or move the data away to start this node empty",
      );
    return new EpochLog(storage, entries);
  }

  get epoch(): number {
    return this.current.epoch;
  }

  get membership(): Membership {
    return this.current;
  }

  /** The placement of the last epoch: what the coordinator places requests with. */
  get placement(): Placement {
    return this.currentPlacement;
  }

  /** The entries after `epoch`, at most MEMBERSHIP_ENTRIES_MAX of them: what a node or client behind needs. */
  after(epoch: number): EpochEntry[] {
    const from = Math.max(0, Math.min(epoch, this.entries.length));
    return this.entries.slice(from, from + MEMBERSHIP_ENTRIES_MAX);
  }

  /**
   * Appends the next change: checked by the reducer (a KvError when the
   * membership does not allow it), stored, and only then in effect.
   */
  append(change: Change): Promise<EpochEntry> {
    const next = this.appending.then(async () => {
      const entry = { epoch: this.current.epoch + 1, change };
      const membership = applyChange(this.current, entry);
      const placement = Placement.of(membership);
      await this.storage.append([entry]);
      this.entries.push(entry);
      this.current = membership;
      this.currentPlacement = placement;
      return entry;
    });
    this.appending = next.catch(() => undefined);
    return next;
  }
}
