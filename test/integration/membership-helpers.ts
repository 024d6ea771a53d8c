/**
 * What the membership tests share: a node's membership, a QUORUM write load
 * that remembers what was acknowledged, and polling a node's operation. Not
 * a test file.
 */
import { KvClient, NodeAdmin } from '../../src/client/client';
import { replayLog } from '../../src/membership/changes';
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

/** QUORUM writes of new keys, a batch at a time, until stopped; remembers the acknowledged ones. */
export class WriteLoad {
  readonly acked = new Map<string, string>();
  failed = 0;
  private stopped = false;
  private readonly running: Promise<void>;

  constructor(private readonly client: KvClient) {
    this.running = this.run();
  }

  private async run(): Promise<void> {
    let n = 0;
    while (!this.stopped) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        const key = `load-${String(n++).padStart(7, '0')}`;
        const value = `value-of-${key}`;
        batch.push(
          this.client.put(key, value, 'QUORUM').then(
            () => this.acked.set(key, value),
            () => this.failed++,
          ),
        );
      }
      await Promise.all(batch);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** The acknowledged keys a QUORUM read does not return with their value. */
  async lost(): Promise<string[]> {
    const lost: string[] = [];
    const keys = [...this.acked.keys()];
    for (let i = 0; i < keys.length; i += 100) {
      const reads = keys.slice(i, i + 100).map(async (key) => {
        const got = await this.client.get(key, 'QUORUM');
        if (!got.found || got.value.toString('latin1') !== this.acked.get(key)) lost.push(key);
      });
      await Promise.all(reads);
    }
    return lost;
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
