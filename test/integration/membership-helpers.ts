/** What the membership tests share: a node's membership, a QUORUM write load, and following a node's operation. */
import { KvClient, NodeAdmin } from '../../src/client/client';
export { WriteLoad } from './write-load';
import { Membership, replayLog, ringMembers } from '../../src/membership/changes';
import { Placement } from '../../src/membership/placement';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import type { types } from '../../src/rpc/thrift';

/** The membership of node `id`. */
export async function membershipAt(c: LocalCluster, id: number) {
  const admin = c.admin(id);
  try {
    return replayLog((await admin.membership()).entries);
  } finally {
    admin.close();
  }
}

/** Polls node's own operation until `done` says it is over; fails with the node's error. */
export async function untilOperation(
  admin: NodeAdmin,
  what: string,
  done: (p: types.OperationProgress) => boolean,
): Promise<types.OperationProgress> {
  return waitFor(
    what,
    async () => {
      const p = await admin.operationProgress().catch(() => undefined);
      if (p?.error) throw new Error(`${what}: ${p.error}`);
      return p !== undefined && done(p) ? p : undefined;
    },
    180_000,
  );
}

/** Every key node `id` holds (tombstones included), read page by page from its admin dump. */
export async function keysHeld(admin: NodeAdmin): Promise<Set<string>> {
  const keys = new Set<string>();
  let after: Buffer = Buffer.alloc(0);
  for (;;) {
    const page = await admin.dumpPage(after, 1000);
    for (const e of page.entries) keys.add(e.key.toString('latin1'));
    if (!page.more || page.entries.length === 0) return keys;
    after = page.entries[page.entries.length - 1]!.key;
  }
}

/**
 * The copies of `keys` that a read replica of the ring `m` places them on
 * does not hold ("key on node N"), from every ring member's dump, each
 * asked through `adminOf` (a node that joined is not in the cluster file).
 */
export async function copiesMissing(m: Membership, keys: Iterable<string>, adminOf: (id: number) => NodeAdmin): Promise<string[]> {
  const held = new Map<number, Set<string>>();
  for (const n of ringMembers(m)) {
    const admin = adminOf(n.id);
    try {
      held.set(n.id, await keysHeld(admin));
    } finally {
      admin.close();
    }
  }
  const placement = Placement.of(m);
  return [...keys].flatMap((key) =>
    placement
      .rangeOf(key)
      .reads.filter((id) => !held.get(id)!.has(key))
      .map((id) => `${key} on node ${id}`),
  );
}

/** Writes `count` keys `prefix`NNNNNN with values of `valueBytes`, at QUORUM, 50 at a time. */
export async function preload(client: KvClient, prefix: string, count: number, valueBytes: number): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + 50); j++)
      batch.push(client.put(`${prefix}${String(j).padStart(6, '0')}`, 'v'.repeat(valueBytes), 'QUORUM'));
    await Promise.all(batch);
  }
}
