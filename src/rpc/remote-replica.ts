/**
 * Talking to one peer as a replica. Mutations and reads addressed to the same
 * peer in the same event-loop turn are coalesced into one `replicate` or
 * `readLocal` call (up to BATCH_ITEMS_MAX items / BATCH_BYTES_MAX bytes), and
 * up to PEER_CALLS_IN_FLIGHT_MAX such calls are pipelined on one long-lived
 * connection. The queue is bounded: past PEER_QUEUE_ITEMS_MAX a request fails
 * at once, which the coordinator treats like any failed replica.
 */
import { fromByteString, toByteString } from '../common/bytes';
import { KvError } from '../common/errors';
import { BATCH_BYTES_MAX, BATCH_ITEMS_MAX, PEER_CALLS_IN_FLIGHT_MAX, PEER_QUEUE_ITEMS_MAX } from '../common/limits';
import type { RangeReplica } from '../coordinator/range-scan';
import type { ReplicaPage } from '../coordinator/scan-merge';
import { KeyedVersion, keyedBytes, Version } from '../storage/version';
import { RpcConnection } from './connection';
import { KeyDigest } from '../repair/compare';
import type { SyncAnswer, SyncPeer } from '../repair/anti-entropy';
import type { Level } from '../repair/hash-tree';
import type { RepairPeer } from '../repair/repairer';
import type { TreeRange } from '../repair/range-trees';
import { toKvError } from './errors';
import { Int64, int64ToNumber, types } from './thrift';

interface Waiter<T> {
  readonly items: T[];
  readonly bytes: number;
  /** Resolve with the one item's result instead of a list (see pushOne). */
  readonly one: boolean;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** How much one batched call may carry: items, and bytes of keys and values. */
export interface BatchLimits {
  readonly items: number;
  readonly bytes: number;
}

const REPLICA_CALL_LIMITS: BatchLimits = { items: BATCH_ITEMS_MAX, bytes: BATCH_BYTES_MAX };

/** A bounded FIFO of requests that drains as batched calls. */
export class BatchQueue<T> {
  private readonly waiting: Waiter<T>[] = [];
  private queuedItems = 0;
  private inFlight = 0;
  private scheduled = false;
  /** Calls sent and items in them: their ratio is the coalescing achieved. */
  readonly stats = { calls: 0, items: 0 };

  constructor(
    private readonly what: string,
    private readonly send: (items: T[]) => Promise<unknown[] | void>,
    private readonly limits: BatchLimits = REPLICA_CALL_LIMITS,
  ) {}

  /** Queues `items`; resolves with their results, in order (undefined if the call returns none). */
  push(items: T[], bytes: number): Promise<unknown> {
    return this.enqueue(items, bytes, false);
  }

  /** Queues one item; resolves with its result alone, with no list in between (every QUORUM read comes here). */
  pushOne(item: T, bytes: number): Promise<unknown> {
    return this.enqueue([item], bytes, true);
  }

  private enqueue(items: T[], bytes: number, one: boolean): Promise<unknown> {
    if (this.queuedItems + items.length > PEER_QUEUE_ITEMS_MAX) {
      return Promise.reject(new KvError('Unavailable', `too many ${this.what} queued for this replica`));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, bytes, one, resolve, reject });
      this.queuedItems += items.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < PEER_CALLS_IN_FLIGHT_MAX && this.waiting.length > 0) {
      const batch = this.take();
      this.inFlight++;
      const items = itemsOf(batch);
      this.stats.calls++;
      this.stats.items += items.length;
      this.send(items)
        .then(
          (results) => {
            if (results && results.length !== items.length) {
              // A peer that answers for other keys than it was asked is failing, like one that does not answer.
              const err = new KvError('Internal', `the peer answered ${results.length} results for ${items.length} ${this.what}`);
              for (const w of batch) w.reject(err);
              return;
            }
            let at = 0;
            for (const w of batch) {
              if (!results) w.resolve(undefined);
              else w.resolve(w.one ? results[at] : results.slice(at, at + w.items.length));
              at += w.items.length;
            }
          },
          (err) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          if (this.waiting.length > 0) this.schedule();
        });
    }
  }

  /** Takes whole requests from the front up to the batch limits (at least one). */
  private take(): Waiter<T>[] {
    const out: Waiter<T>[] = [];
    let items = 0;
    let bytes = 0;
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      if (out.length > 0 && (items + next.items.length > this.limits.items || bytes + next.bytes > this.limits.bytes)) break;
      out.push(this.waiting.shift()!);
      items += next.items.length;
      bytes += next.bytes;
    }
    this.queuedItems -= items;
    return out;
  }
}

/** The items of a batch's requests, in order (a loop: `flatMap` over one-item lists took a fifth of a read batch's send in a profile). */
function itemsOf<T>(batch: readonly Waiter<T>[]): T[] {
  const out: T[] = [];
  for (const w of batch) for (const item of w.items) out.push(item);
  return out;
}

/**
 * A keyed version for the wire. Its key and value go as the byte strings
 * they are: both binary protocol writers (fast-protocol.ts, and the
 * runtime's) write a string given for a binary field as latin1, one byte a
 * char, so the bytes on the wire are the same as from a Buffer, without a
 * Buffer made and copied twice per field (a streamed page or a replicated
 * batch holds a thousand keys).
 */
export function toMutation(item: KeyedVersion): types.Mutation {
  const { version } = item;
  return new types.Mutation({
    key: item.key as unknown as Buffer,
    value: version.value as unknown as Buffer,
    ts: version.ts as never,
    deleted: version.deleted,
    // Absent for a version without a TTL: the field is optional, and older nodes never see it.
    ...(version.expires ? { expires: version.expires as never } : {}),
  });
}

/** A version's expiry from the wire's optional field: undefined when absent or 0. */
export function expiresOf(field: Int64 | number | null | undefined): number | undefined {
  if (field === null || field === undefined) return undefined;
  const n = typeof field === 'number' ? field : int64ToNumber(field);
  return n > 0 ? n : undefined;
}

/** A mutation from a peer this node trusts (its own request's answer), as a keyed version. */
export function fromMutation(m: types.Mutation): KeyedVersion {
  const expires = expiresOf(m.expires);
  return {
    key: toByteString(m.key),
    version: { value: toByteString(m.value), ts: int64ToNumber(m.ts), deleted: m.deleted, ...(expires ? { expires } : {}) },
  };
}

export function fromLocalRead(r: types.LocalRead): Version | undefined {
  if (!r.exists) return undefined;
  const expires = expiresOf(r.expires);
  return { value: toByteString(r.value), ts: int64ToNumber(r.ts), deleted: r.deleted, ...(expires ? { expires } : {}) };
}

/** Who sends a peer's calls: this node's id, and its epoch at the moment each call leaves. */
export interface Sender {
  readonly id: number;
  epoch(): number;
}

export class RemoteReplica implements RangeReplica, SyncPeer, RepairPeer {
  /** From the peer's last tree-hash answer (see Repairer.catchUp). */
  catchingUp = false;
  readonly writes: BatchQueue<KeyedVersion>;
  readonly reads: BatchQueue<string>;

  constructor(
    readonly id: number,
    readonly connection: RpcConnection,
    private readonly secret: string,
    private readonly timeoutMs: number,
    private readonly sender: Sender,
  ) {
    this.writes = new BatchQueue('writes', (items) =>
      connection.call((c) => c.replicate(secret, items.map(toMutation), sender.epoch() as never, sender.id), timeoutMs).catch(rethrow),
    );
    this.reads = new BatchQueue('reads', (keys) =>
      connection
        .call(
          (c) =>
            // The keys go as the byte strings they are (see toMutation): no Buffer per key.
            c.readLocal(secret, keys as unknown as Buffer[], sender.epoch() as never, sender.id),
          timeoutMs,
        )
        .catch(rethrow),
    );
  }

  apply(items: readonly KeyedVersion[]): Promise<void> {
    return this.writes.push([...items], keyedBytes(items)).then(() => undefined);
  }

  /** One anti-entropy exchange (see repair/anti-entropy.ts). */
  async sync(from: number, to: number, digests: KeyDigest[]): Promise<SyncAnswer> {
    const wire = digests.map(
      (d) => new types.Digest({ key: fromByteString(d.key), ts: d.ts as never, deleted: d.deleted, valueHash: d.valueHash }),
    );
    const reply = await this.connection
      .call((c) => c.sync(this.secret, this.sender.id, from as never, to as never, wire), this.timeoutMs)
      .catch(rethrow);
    return {
      newer: reply.newer.map(fromMutation),
      missing: reply.missing.map((k) => toByteString(k)),
      coveredTo: int64ToNumber(reply.coveredTo),
    };
  }

  /** Repair: hashes of one level of the peer's tree of a range (named by its bounds, and by its owner for an older build). */
  async treeHashes(range: TreeRange, level: Level, indices: readonly number[]): Promise<Buffer> {
    const reply = await this.connection
      .call(
        (c) =>
          c.treeHashes(
            this.secret,
            this.sender.id,
            range.reads[0]!,
            level,
            [...indices],
            this.sender.epoch() as never,
            fromByteString(range.start),
            fromByteString(range.end),
          ),
        this.timeoutMs,
      )
      .catch(rethrow);
    this.catchingUp = reply.catchingUp === true;
    return reply.hashes;
  }

  /** Repair: the peer's digests of its keys of a range in these segments. */
  async segmentKeys(range: TreeRange, segments: readonly number[]): Promise<{ digests: KeyDigest[]; covered: number }> {
    const reply = await this.connection
      .call(
        (c) =>
          c.segmentKeys(
            this.secret,
            this.sender.id,
            range.reads[0]!,
            [...segments],
            this.sender.epoch() as never,
            fromByteString(range.start),
            fromByteString(range.end),
          ),
        this.timeoutMs,
      )
      .catch(rethrow);
    return { digests: reply.digests.map(fromDigest), covered: reply.covered };
  }

  /** Repair: the peer's versions of these keys (not batched with reads: a repair asks for hundreds); again for the rest when an answer stops short. */
  async fetch(keys: readonly string[]): Promise<KeyedVersion[]> {
    const out: KeyedVersion[] = [];
    for (let done = 0; done < keys.length; ) {
      const ask = keys.slice(done);
      const rows = await this.connection
        .call(
          (c) =>
            c.fetchVersions(
              this.secret,
              ask.map((k) => fromByteString(k)),
            ),
          this.timeoutMs,
        )
        .catch(rethrow);
      if (rows.length === 0 || rows.length > ask.length)
        throw new KvError('Internal', `node ${this.id} answered ${rows.length} versions for ${ask.length} keys`);
      rows.forEach((row, i) => {
        const version = fromLocalRead(row);
        if (version !== undefined) out.push({ key: ask[i]!, version });
      });
      done += rows.length;
    }
    return out;
  }

  read(key: string): Promise<Version | undefined> {
    return this.reads.pushOne(key, key.length) as Promise<Version | undefined>;
  }

  /** One round of a scan: not coalesced, since a scan waits for each page before it asks for the next. */
  async readRange(from: string, to: string | undefined, limit: number, bytesMax: number): Promise<ReplicaPage> {
    const page = await this.connection
      .call(
        (c) =>
          c.readRange(
            this.secret,
            fromByteString(from),
            fromByteString(to ?? ''),
            limit,
            bytesMax,
            this.sender.epoch() as never,
            this.sender.id,
          ),
        this.timeoutMs,
      )
      .catch(rethrow);
    return page;
  }
}

function fromDigest(d: types.Digest): KeyDigest {
  return { key: toByteString(d.key), ts: int64ToNumber(d.ts), deleted: d.deleted, valueHash: d.valueHash };
}

function rethrow(err: unknown): never {
  throw toKvError(err);
}
