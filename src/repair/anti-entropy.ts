/**
 * Anti-entropy: replicas compare their data and exchange what one has and
 * the other lacks. Hints and read repair fix most divergence, but not a write
 * that reached some replicas and whose coordinator died before it could hint
 * the rest (the client saw an error, yet the write lives on): only comparing
 * the replicas themselves brings the others into line.
 *
 * Every step, a node takes the next live peer in turn and the next page of
 * its own keys (byte order, SYNC_PAGE_KEYS, restarting from the first key
 * after the last page). It sends digests (key, timestamp, tombstone flag,
 * value hash) of the keys in that page that the peer also replicates; the peer
 * compares them with its own keys of the same range (repair/compare.ts) and
 * answers with its newer versions and the keys it needs, which the node then
 * sends it. Both sides keep the winner by the usual rule, so a pass over all
 * keys leaves every pair of replicas equal. Work per step is bounded by the
 * page size and SYNC_REPLY_BYTES_MAX; a full pass over a million keys with
 * three peers takes four hours at the default pace of one step every 5 s.
 */
import { KvError } from '../common/errors';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { SYNC_DIGESTS_PER_TURN, SYNC_PAGE_KEYS, SYNC_REPLY_BYTES_MAX, SYNC_SCAN_KEYS_MAX } from '../common/limits';
import { Ring } from '../partitioner/ring';
import { KeyedVersion, ReplicaStore } from '../storage/replica-store';
import { diffRange, digestOf, KeyDigest } from './compare';

/** How stale the sorted key list used for paging may be (see Memtable.keysBetween). */
export const SYNC_KEY_LIST_STALE_MS = 20_000;

/** Use the key list as it is: refreshKeyOrder has just brought it within SYNC_KEY_LIST_STALE_MS. */
const AS_REFRESHED = Number.POSITIVE_INFINITY;

/** A peer as anti-entropy needs it. */
export interface SyncPeer {
  /** Sends our digests of (after, upTo] ('' = open); resolves with the peer's answer. */
  sync(after: string, upTo: string, digests: KeyDigest[]): Promise<SyncAnswer>;
  /** Sends versions the peer needs. */
  apply(items: readonly KeyedVersion[]): Promise<void>;
}

export interface SyncAnswer {
  readonly newer: KeyedVersion[];
  readonly missing: string[];
  /** '' when the whole range was compared, else the last key compared. */
  readonly coveredUpTo: string;
}

export class AntiEntropy {
  private readonly cursors = new Map<number, string>();
  private turn = 0;
  private running = false;
  readonly counters = { syncSteps: 0, syncSent: 0, syncReceived: 0, syncErrors: 0 };

  constructor(
    private readonly selfId: number,
    private readonly ring: Ring,
    private readonly store: ReplicaStore,
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
    const after = this.cursors.get(peerId) ?? '';
    await this.store.refreshKeyOrder(SYNC_KEY_LIST_STALE_MS);
    const page = this.store.keysBetween(after || undefined, undefined, SYNC_PAGE_KEYS, AS_REFRESHED);
    const upTo = page.length === SYNC_PAGE_KEYS ? page[page.length - 1]! : '';
    const digests: KeyDigest[] = [];
    for (let i = 0; i < page.length; i++) {
      // Hashing a page of values at once held the node for 5-11 ms under load.
      if (i > 0 && i % SYNC_DIGESTS_PER_TURN === 0) await nextTurn();
      const key = page[i]!;
      const v = this.store.get(key);
      if (v !== undefined && this.shares(key, this.selfId, peerId)) digests.push(digestOf(key, v));
    }
    const answer = await peer.sync(after, upTo, digests);
    const end = answer.coveredUpTo || upTo;
    const inRange = (key: string): boolean => (after === '' || key > after) && (end === '' || key <= end);
    const newer = answer.newer.filter((it) => inRange(it.key) && this.shares(it.key, this.selfId, peerId));
    if (newer.length > 0) await this.applyLocal(newer);
    const wanted: KeyedVersion[] = [];
    for (const key of answer.missing) {
      const v = inRange(key) && this.shares(key, this.selfId, peerId) ? this.store.get(key) : undefined;
      if (v !== undefined) wanted.push({ key, version: v });
    }
    if (wanted.length > 0) await peer.apply(wanted);
    this.counters.syncReceived += newer.length;
    this.counters.syncSent += wanted.length;
    this.cursors.set(peerId, end);
  }

  /** The peer's side of a step: compare its digests of (after, upTo] with our keys. */
  async answer(fromNode: number, after: string, upTo: string, digests: readonly KeyDigest[]): Promise<SyncAnswer> {
    if (digests.length > SYNC_PAGE_KEYS) throw new KvError('InvalidRequest', `at most ${SYNC_PAGE_KEYS} digests per sync`);
    await this.store.refreshKeyOrder(SYNC_KEY_LIST_STALE_MS);
    const scanned = this.store.keysBetween(after || undefined, upTo || undefined, SYNC_SCAN_KEYS_MAX + 1, AS_REFRESHED);
    let coveredUpTo = scanned.length > SYNC_SCAN_KEYS_MAX ? scanned[SYNC_SCAN_KEYS_MAX - 1]! : '';
    const within = (key: string): boolean => (after === '' || key > after) && (upTo === '' || key <= upTo) && (coveredUpTo === '' || key <= coveredUpTo);
    const ours = scanned.slice(0, SYNC_SCAN_KEYS_MAX).filter((k) => this.shares(k, this.selfId, fromNode) && this.store.has(k));
    const theirs = digests.filter((d) => within(d.key) && this.shares(d.key, this.selfId, fromNode));
    const diff = diffRange(ours, (k) => this.store.get(k), theirs);
    // Send in key order, stopping at the byte budget; what is left waits for a later pass.
    const newer: KeyedVersion[] = [];
    let bytes = 0;
    for (const key of diff.send.sort()) {
      const version = this.store.get(key)!;
      bytes += key.length + version.value.length;
      if (bytes > SYNC_REPLY_BYTES_MAX && newer.length > 0) {
        coveredUpTo = newer[newer.length - 1]!.key;
        break;
      }
      newer.push({ key, version });
    }
    const missing = diff.fetch.filter((k) => coveredUpTo === '' || k <= coveredUpTo);
    return { newer, missing, coveredUpTo };
  }
}
