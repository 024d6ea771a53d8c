/**
 * Hints that must change hands when the ring moves or a node restarts.
 * The hint router covers hints made after a node left; this covers the
 * ones already stored, and the writes a node coordinated but could not
 * see settled before it stopped:
 *
 * - handOver: once an operation completes, the hints held for a replica
 *   that gave a key's range up go to the key's replicas now as well;
 * - handOnDelivered: while an operation adds replicas, a hint delivered to
 *   an old replica goes to the new ones too;
 * - rehintUnsettled: at start, each unsettled write is hinted again to its
 *   other replicas.
 */
import { HINT_REPLAY_BATCH_MAX } from '../common/limits';
import type { Placement } from '../membership/placement';
import type { Logger } from '../common/logger';
import type { ReplicaStorage } from '../storage/replica-storage';
import type { KeyedVersion } from '../storage/version';
import type { HintRouter } from './hint-router';
import type { HintStorage } from './hint-storage';
import type { StoredHint } from './hint-store';

export interface HintHandoverDeps {
  readonly selfId: number;
  readonly hints: HintStorage;
  readonly router: HintRouter;
  readonly store: ReplicaStorage;
  /** The current placement (it changes as epochs take effect). */
  readonly placement: () => Placement;
  /** Whether node `id` has left the ring (LEFT in the current membership). */
  readonly hasLeft: (id: number) => boolean;
  /** Applies versions to this node's own replica; resolves once they are durable. */
  readonly applyLocal: (items: KeyedVersion[]) => Promise<void>;
  /** The node's counters these add to (node.hintsHandedOn, node.rehintedAtStart). */
  readonly counters: { hintsHandedOn: number; rehintedAtStart: number };
  readonly log: Logger;
}

/** Adds `item` to `owner`'s list. */
function addItem(byOwner: Map<number, KeyedVersion[]>, owner: number, item: KeyedVersion): void {
  let items = byOwner.get(owner);
  if (items === undefined) byOwner.set(owner, (items = []));
  items.push(item);
}

export class HintHandover {
  constructor(private readonly deps: HintHandoverDeps) {}

  /**
   * Once an operation completes, the hints this node holds for a replica
   * that gave up a key's range go to the key's replicas now as well: a hint
   * delivered to the old replica after its stream had passed the key would
   * never reach the new one. The old hint stays (delivered, it changes
   * nothing), except for a node that left: it never comes back, and its
   * hints would show as pending until they expire: its versions go to the
   * key's current replicas through the hint router, this node's own copy
   * included. A replica that already has the version merges it away.
   * `leftOnly`: only the hints of nodes that left (at start: a node that
   * stopped before it had handed them all).
   */
  async handOver(leftOnly = false): Promise<void> {
    const { hints, selfId } = this.deps;
    const placement = this.deps.placement();
    let handed = 0;
    for (const [target, count] of hints.countsByTarget()) {
      if (count === 0) continue;
      // A node that left is never a peer again: once its hints are handed over, they go (counted as dropped).
      const left = this.deps.hasLeft(target);
      if (leftOnly && !left) continue;
      let afterId = 0;
      for (;;) {
        const batch = await hints.next(target, afterId, HINT_REPLAY_BATCH_MAX);
        if (batch.length === 0) break;
        afterId = batch[batch.length - 1]!.id;
        if (left) {
          const { sent } = await this.deps.router.redirect(
            target,
            batch.map((h) => ({ key: h.key, version: h.version })),
          );
          handed += sent;
          await hints.remove(
            target,
            batch.map((h) => h.id),
            false,
          );
          continue;
        }
        const byOwner = new Map<number, KeyedVersion[]>();
        for (const h of batch) {
          const writes = placement.rangeOf(h.key).writes;
          if (writes.includes(target)) continue;
          for (const owner of writes) if (owner !== selfId) addItem(byOwner, owner, { key: h.key, version: h.version });
        }
        for (const [owner, items] of byOwner) {
          await hints.add(owner, items);
          handed += items.length;
        }
      }
    }
    if (handed > 0) this.deps.log(`node ${selfId} handed ${handed} hints of moved ranges to their new replicas`);
  }

  /**
   * Hints the target has just taken, while an operation adds replicas to
   * their ranges: each version goes to those replicas too (as hints; to this
   * node's own store when it is one). A hint's write may have been placed
   * before the operation began, when only the old replicas were sent it;
   * delivered to a replica that gives the range up after that replica's
   * stream had passed the key, it would never reach the new replica, and
   * handOver covers only the hints still held when the operation
   * completes. Hints for a replica the operation adds are not handed on:
   * they are already where the range goes.
   */
  async handOnDelivered(target: number, delivered: readonly StoredHint[]): Promise<void> {
    const placement = this.deps.placement();
    const byOwner = new Map<number, KeyedVersion[]>();
    for (const h of delivered) {
      const gaining = placement.rangeOf(h.key).gaining;
      if (gaining.includes(target)) continue;
      for (const owner of gaining) addItem(byOwner, owner, { key: h.key, version: h.version });
    }
    for (const [owner, items] of byOwner) {
      if (owner === this.deps.selfId) await this.deps.applyLocal(items);
      else await this.deps.hints.add(owner, items);
      this.deps.counters.hintsHandedOn += items.length;
    }
  }

  /**
   * Hints again the writes whose marks were not settled when the node
   * stopped (ReplicaStore's marks): the newest version of each of those keys,
   * to each of its other replicas. Before the node serves, so that nothing
   * can move the settle pointer past them first.
   */
  async rehintUnsettled(): Promise<void> {
    const { store, hints, selfId, counters } = this.deps;
    const byTarget = new Map<number, KeyedVersion[]>();
    const unsettled = await store.rowsAfterSettled();
    const placement = this.deps.placement();
    for (const key of unsettled) {
      const version = store.get(key);
      if (version === undefined) continue;
      for (const target of placement.rangeOf(key).writes) if (target !== selfId) addItem(byTarget, target, { key, version });
    }
    for (const [target, items] of byTarget) {
      // In slices, each durable before the next, so the hint store's queue never overflows.
      for (let i = 0; i < items.length; i += HINT_REPLAY_BATCH_MAX) await hints.add(target, items.slice(i, i + HINT_REPLAY_BATCH_MAX));
      counters.rehintedAtStart += items.length;
    }
    if (counters.rehintedAtStart > 0)
      this.deps.log(
        `node ${selfId} hinted ${counters.rehintedAtStart} versions again: writes it coordinated that may not have reached every replica before it stopped`,
      );
  }
}
