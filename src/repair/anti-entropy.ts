/**
 * Anti-entropy: replicas compare their data and exchange what one has and
 * the other lacks. Hints and read repair fix most divergence, but not a write
 * that reached some replicas and whose coordinator died before it could hint
 * the rest (the client saw an error, yet the write lives on): only comparing
 * the replicas themselves brings the others into line.
 *
 * Keys are visited in the order of their 32-bit hash (storage/memtable.ts's
 * hashKey), which every node computes alike and whose ranges the memtable's
 * index can list without sorting anything. Every step, a node takes the next
 * live peer in turn and the next range of hashes after its cursor for that
 * peer, sized to hold about SYNC_PAGE_KEYS of its keys (back to 0 after the
 * last). It sends digests (key, timestamp, tombstone flag, value hash) of the
 * keys in that range that the peer also replicates; the peer compares them
 * with its own keys of the same range (repair/compare.ts) and answers with
 * its newer versions and the keys it needs, which the node then sends it.
 * Both sides keep the winner by the usual rule, so a pass over all hashes
 * leaves every pair of replicas equal. Work per step is bounded by the page
 * size, SYNC_SCAN_KEYS_MAX and SYNC_REPLY_BYTES_MAX; a full pass over a
 * million keys with three peers takes four hours at the default pace of one
 * step of about SYNC_PAGE_KEYS keys every 500 ms.
 */
import { KvError } from '../common/errors';
import { SYNC_PAGE_KEYS, SYNC_REPLY_BYTES_MAX, SYNC_SCAN_KEYS_MAX } from '../common/limits';
import { Ring } from '../partitioner/ring';
import { HASH_SPACE, hashKey } from '../partitioner/hash';
import { KeyedVersion, Version } from '../storage/version';
import { diffRange, digestOf, KeyDigest } from './compare';

/** This replica's committed data, as anti-entropy reads it (storage/replica-store.ts). */
export interface SyncSource {
  readonly size: number;
  get(key: string): Version | undefined;
  has(key: string): boolean;
  /** Keys with hashes in [from, to), at most about `max`; `end` is where the listing stopped. */
  keysInHashRange(from: number, to: number, max: number): { keys: string[]; end: number };
}

/** A peer as anti-entropy needs it. */
export interface SyncPeer {
  /** Sends our digests of the keys with hashes in [from, to); resolves with the peer's answer. */
  sync(from: number, to: number, digests: KeyDigest[]): Promise<SyncAnswer>;
  /** Sends versions the peer needs. */
  apply(items: readonly KeyedVersion[]): Promise<void>;
}

export interface SyncAnswer {
  readonly newer: KeyedVersion[];
  readonly missing: string[];
  /** The end of the hashes compared: `to`, or less when the answer hit a size limit. */
  readonly coveredTo: number;
}

export class AntiEntropy {
  /** Per peer, the hash the next step starts from. */
  private readonly cursors = new Map<number, number>();
  private turn = 0;
  private running = false;
  /** syncPasses: passes over every hash completed, counted per peer. */
  readonly counters = { syncSteps: 0, syncPasses: 0, syncSent: 0, syncReceived: 0, syncErrors: 0 };

  constructor(
    private readonly selfId: number,
    private readonly ring: Ring,
    private readonly store: SyncSource,
    private readonly peers: ReadonlyMap<number, SyncPeer>,
    private readonly isUp: (id: number) => boolean,
    /** Applies versions received from a peer (observing their timestamps). */
    private readonly applyLocal: (items: KeyedVersion[]) => Promise<void>,
  ) {}

  private shares(key: string, a: number, b: number): boolean {
    return this.ring.isReplica(key, a) && this.ring.isReplica(key, b);
  }

  /** One step with the next live peer; errors are counted, the next step tries again. */
  async step(): Promise<void> {
    if (this.running) return;
    const live = [...this.peers.keys()].filter((id) => this.isUp(id));
    if (live.length === 0) return;
    const peerId = live[this.turn++ % live.length]!;
    this.running = true;
    try {
      await this.syncWith(peerId);
      this.counters.syncSteps++;
    } catch {
      this.counters.syncErrors++;
    } finally {
      this.running = false;
    }
  }

  private async syncWith(peerId: number): Promise<void> {
    const peer = this.peers.get(peerId)!;
    const from = this.cursors.get(peerId) ?? 0;
    const span = Math.max(1, Math.floor((HASH_SPACE / Math.max(1, this.store.size)) * SYNC_PAGE_KEYS));
    const page = this.store.keysInHashRange(from, Math.min(HASH_SPACE, from + span), SYNC_PAGE_KEYS);
    const digests: KeyDigest[] = [];
    // A page is small enough to hash in one go (see SYNC_PAGE_KEYS). It holds
    // more than a page only when many keys share one hash; the peer takes a page at most.
    for (let i = 0; i < page.keys.length && digests.length < SYNC_PAGE_KEYS; i++) {
      const key = page.keys[i]!;
      const v = this.store.get(key);
      if (v !== undefined && this.shares(key, this.selfId, peerId)) digests.push(digestOf(key, v));
    }
    const answer = await peer.sync(from, page.end, digests);
    const end = answer.coveredTo;
    if (!(Number.isInteger(end) && end > from && end <= page.end)) {
      throw new KvError('InvalidRequest', `node ${peerId} answered for hashes up to ${end}, outside the range asked`);
    }
    const inRange = (key: string): boolean => {
      const h = hashKey(key);
      return h >= from && h < end && this.shares(key, this.selfId, peerId);
    };
    const newer = answer.newer.filter((it) => inRange(it.key));
    if (newer.length > 0) await this.applyLocal(newer);
    const wanted: KeyedVersion[] = [];
    for (const key of answer.missing) {
      const v = inRange(key) ? this.store.get(key) : undefined;
      if (v !== undefined) wanted.push({ key, version: v });
    }
    if (wanted.length > 0) await peer.apply(wanted);
    this.counters.syncReceived += newer.length;
    this.counters.syncSent += wanted.length;
    if (end === HASH_SPACE) this.counters.syncPasses++;
    this.cursors.set(peerId, end === HASH_SPACE ? 0 : end);
  }

  /** The peer's side of a step: compare its digests of the keys with hashes in [from, to) with ours. */
  async answer(fromNode: number, from: number, to: number, digests: readonly KeyDigest[]): Promise<SyncAnswer> {
    if (digests.length > SYNC_PAGE_KEYS) throw new KvError('InvalidRequest', `at most ${SYNC_PAGE_KEYS} digests per sync`);
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from < to && to <= HASH_SPACE)) {
      throw new KvError('InvalidRequest', `a sync range is part of [0, ${HASH_SPACE}) with its start before its end`);
    }
    const scanned = this.store.keysInHashRange(from, to, SYNC_SCAN_KEYS_MAX);
    let coveredTo = scanned.end;
    const ours = scanned.keys.filter((k) => this.shares(k, this.selfId, fromNode) && this.store.has(k));
    const theirs = digests.filter((d) => {
      const h = hashKey(d.key);
      return h >= from && h < coveredTo && this.shares(d.key, this.selfId, fromNode);
    });
    const diff = diffRange(ours, (k) => this.store.get(k), theirs);
    // Send in hash order, stopping at the byte budget; what is left waits for a later pass.
    const send = diff.send.map((key) => ({ key, h: hashKey(key) })).sort((x, y) => x.h - y.h);
    const newer: KeyedVersion[] = [];
    let bytes = 0;
    for (const { key, h } of send) {
      const version = this.store.get(key)!;
      bytes += key.length + version.value.length;
      // Cut between hashes, never inside one (the caller keeps only hashes before the cut).
      if (bytes > SYNC_REPLY_BYTES_MAX && newer.length > 0 && h > from) {
        coveredTo = h;
        while (newer.length > 0 && hashKey(newer[newer.length - 1]!.key) === h) newer.pop();
        break;
      }
      newer.push({ key, version });
    }
    const missing = diff.fetch.filter((k) => hashKey(k) < coveredTo);
    return { newer, missing, coveredTo };
  }
}
