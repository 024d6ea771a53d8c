/**
 * Where a node's request paths (writes, read and scan repairs, Paxos
 * commits) put their hints. A hint for a node still in the ring is stored
 * for it. A node that has left (decommissioned, replaced) never comes
 * back, so nothing would deliver a hint stored for it, and the write would
 * reach the key's new replica only through anti-entropy. Such a hint is
 * made when the ring moved between placing a write and hinting it: a write
 * placed while the node was leaving, whose call to it failed after the
 * operation completed (the node had stopped). Its version goes to the key's
 * current write replicas instead, those that have not acknowledged the
 * write: hinted to them, applied here when this node is one. When every
 * current replica acknowledged it, nothing is left to do.
 *
 * The hints stored before the node left are handed over when the operation
 * completes (HintHandover.handOver, hints/handover.ts); this covers the ones made afterwards.
 */
import type { HintSink } from '../coordinator/coordinator';
import type { KeyedVersion } from '../storage/version';
import type { HintStorage } from './hint-storage';

export interface HintRouterDeps {
  readonly selfId: number;
  readonly store: HintStorage;
  /** Whether node `id` has left the ring (LEFT in the current membership). */
  readonly hasLeft: (id: number) => boolean;
  /** The key's write replicas in the current placement. */
  readonly writeReplicas: (key: string) => readonly number[];
  /** Applies versions to this node's own replica; resolves once they are durable. */
  readonly applyLocal: (items: KeyedVersion[]) => Promise<void>;
}

const NOBODY = (): boolean => false;

export class HintRouter implements HintSink {
  readonly counters = {
    /** Versions meant for a node that had left, hinted to (or applied at) a current replica instead: one per replica. */
    leftHintsRedirected: 0,
    /** Versions meant for a node that had left, dropped because every current replica had acknowledged them. */
    leftHintsAcknowledged: 0,
    /** Versions meant for a node that had left that this node failed to apply to its own replica (a full disk). */
    leftHintApplyErrors: 0,
  };

  constructor(private readonly deps: HintRouterDeps) {}

  /**
   * Stores hints for `target`, or, when it has left the ring, sends them on
   * (see the module's header); resolves with whether every copy made is
   * durable.
   */
  add(target: number, items: readonly KeyedVersion[], acknowledged: (id: number) => boolean = NOBODY): Promise<boolean> {
    if (!this.deps.hasLeft(target)) return this.deps.store.add(target, items);
    return this.redirect(target, items, acknowledged).then((r) => r.durable);
  }

  /**
   * The versions of a node that left, to each current write replica of
   * their keys that does not hold them yet; resolves once that is durable,
   * with how many versions went on (one per replica) and whether all of
   * them are durable.
   */
  async redirect(
    target: number,
    items: readonly KeyedVersion[],
    acknowledged: (id: number) => boolean = NOBODY,
  ): Promise<{ sent: number; durable: boolean }> {
    const byOwner = new Map<number, KeyedVersion[]>();
    for (const item of items) {
      const owners = this.deps.writeReplicas(item.key).filter((id) => id !== target && !acknowledged(id));
      if (owners.length === 0) this.counters.leftHintsAcknowledged++;
      for (const owner of owners) {
        let batch = byOwner.get(owner);
        if (batch === undefined) byOwner.set(owner, (batch = []));
        batch.push(item);
      }
    }
    let sent = 0;
    const outcomes = await Promise.all(
      [...byOwner].map(([owner, batch]) => {
        sent += batch.length;
        return owner === this.deps.selfId ? this.applyHere(batch) : this.deps.store.add(owner, batch);
      }),
    );
    this.counters.leftHintsRedirected += sent;
    return { sent, durable: outcomes.every((durable) => durable) };
  }

  /**
   * This node's own copy. Best effort, as a hint is (the hint store counts
   * the hints it fails to write, and never rejects): the write has its own
   * outcome, and anti-entropy repairs what is missed.
   */
  private async applyHere(items: KeyedVersion[]): Promise<boolean> {
    try {
      await this.deps.applyLocal(items);
      return true;
    } catch {
      this.counters.leftHintApplyErrors += items.length;
      return false;
    }
  }
}
