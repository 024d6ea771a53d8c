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
import { EPOCH_PLACEMENTS_CACHED_MAX, MEMBERSHIP_ENTRIES_MAX } from '../common/limits';
import { ConfigError } from '../config/cluster';
import { applyChange, Change, ChangeKind, EpochEntry, Membership, replayLog } from './changes';
import { Departure, departureOf } from './departure';
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
  'reads-back',
  'abort',
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

export { EPOCH_SLOT_KEY_PREFIX, epochSlotKey } from './reserved-keys';

export class EpochLog {
  private current: Membership;
  private currentPlacement: Placement;
  /** Appends run one after another: each needs the epoch the previous one made. */
  private appending: Promise<unknown> = Promise.resolve();
  private readonly listeners: ((m: Membership) => void)[] = [];
  /** Placements of past epochs, oldest asked first (see placementAt). */
  private readonly pastPlacements = new Map<number, Placement>();

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
    return this.serially(() => this.store({ epoch: this.current.epoch + 1, change }));
  }

  /**
   * Takes up entries another node sent (its log, or the part after some
   * epoch): those this log already holds are skipped, the rest appended in
   * order. Entries that leave a gap after this log's last epoch are left for
   * a later fetch. Resolves with the epoch reached.
   */
  learn(entries: readonly EpochEntry[]): Promise<number> {
    return this.serially(async () => {
      for (const entry of entries) {
        if (entry.epoch <= this.current.epoch) continue;
        if (entry.epoch > this.current.epoch + 1) break;
        await this.store(entry);
      }
      return this.current.epoch;
    });
  }

  /** The membership at an epoch of this log (its begin epoch, for an operation that resumes). */
  membershipAt(epoch: number): Membership {
    assert(epoch >= 1 && epoch <= this.entries.length, `epoch ${epoch} is in the log`);
    return replayLog(this.entries.slice(0, epoch));
  }

  /**
   * The placement at an epoch of this log (the current one, or one a peer's
   * request was placed by); the last few are kept, so a peer that lags
   * costs one replay of the log, not one per request.
   */
  placementAt(epoch: number): Placement {
    if (epoch === this.current.epoch) return this.currentPlacement;
    const kept = this.pastPlacements.get(epoch);
    if (kept !== undefined) return kept;
    const placement = Placement.of(this.membershipAt(epoch));
    if (this.pastPlacements.size >= EPOCH_PLACEMENTS_CACHED_MAX) this.pastPlacements.delete(this.pastPlacements.keys().next().value!);
    this.pastPlacements.set(epoch, placement);
    return placement;
  }

  /** How node `id` left the ring, when this log has it LEFT (a node started again after it left). */
  departureOf(id: number): Departure | undefined {
    return departureOf(this.entries, id);
  }

  /** The epoch at which the operation under way began (its `*-begin` entry). */
  operationBeganAt(): number | undefined {
    if (this.current.operation === undefined) return undefined;
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.change.kind.endsWith('-begin')) return this.entries[i]!.epoch;
    return undefined;
  }

  /** Called after every new epoch is in effect (before anything else runs), with its membership. */
  onChange(listener: (m: Membership) => void): void {
    this.listeners.push(listener);
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.appending.then(work);
    this.appending = next.catch(() => undefined);
    return next;
  }

  private async store(entry: EpochEntry): Promise<EpochEntry> {
    const membership = applyChange(this.current, entry);
    const placement = Placement.of(membership);
    await this.storage.append([entry]);
    this.entries.push(entry);
    this.current = membership;
    this.currentPlacement = placement;
    for (const listener of this.listeners) listener(membership);
    return entry;
  }
}
