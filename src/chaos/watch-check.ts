/**
 * A watch of the whole key space through a chaos run (client/watch.ts),
 * from the beginning: the newest version it told of each key. After the
 * run settles, every key's settled version must be among what it told
 * (checker.ts, watch_behind): through kills, partitions, pauses, skewed
 * clocks, joins and decommissions, the watch either follows a replica that
 * receives the key's writes, or reads the key's range again from one.
 */
import { KvClient } from '../client/client';
import type { Watch } from '../client/watch';
import type { ClusterConfig } from '../config/cluster';
import { compareObserved, type ReplicaCopy, settledVersion } from './checker';
import type { Observed } from './history';

/** How often the catch-up after a run compares what the watch told with the settled replicas. */
const CATCH_UP_POLL_MS = 200;

export class WatchedVersions {
  /** Per key (as the history names it: UTF-8), the newest version told. */
  readonly versions = new Map<string, Observed>();
  changes = 0;
  resyncs = 0;
  /** Why the watch ended before it was closed, if it did. */
  failure: string | undefined;
  private readonly watch: Watch;
  private readonly reading: Promise<void>;

  private constructor(private readonly client: KvClient) {
    this.watch = client.watch('', '', { from: 'start' });
    this.reading = this.read();
  }

  /** A watch through a client of the cluster's ring (token routing, learning joins and departures). */
  static async start(config: ClusterConfig, timeoutMs: number): Promise<WatchedVersions> {
    const client = KvClient.fromConfig(config, { timeoutMs });
    await client.refreshRing();
    return new WatchedVersions(client);
  }

  private async read(): Promise<void> {
    try {
      for await (const e of this.watch) {
        if (e.type === 'resync') this.resyncs++;
        if (e.type !== 'change') continue;
        this.changes++;
        const key = e.key.toString('utf8');
        const told: Observed = { ts: e.ts, value: e.deleted ? '' : e.value.toString('utf8') };
        const held = this.versions.get(key);
        if (held === undefined || compareObserved(told, held) > 0) this.versions.set(key, told);
      }
    } catch (err) {
      this.failure = (err as Error).message;
    }
  }

  /** Keys whose settled version the watch has not told yet. */
  behind(replicas: ReadonlyMap<string, readonly ReplicaCopy[]>): string[] {
    const out: string[] = [];
    for (const [key, copies] of replicas) {
      const settled = settledVersion(copies);
      const told = this.versions.get(key);
      if (settled !== undefined && (told === undefined || compareObserved(settled, told) > 0)) out.push(key);
    }
    return out;
  }

  /** Waits until the watch told every key's settled version, at most `boundMs`; resolves with the ms it took, or -1. */
  async catchUp(replicas: ReadonlyMap<string, readonly ReplicaCopy[]>, boundMs: number): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const elapsed = Math.round(performance.now() - t0);
      if (this.behind(replicas).length === 0) return elapsed;
      if (elapsed > boundMs || this.failure !== undefined) return -1;
      await new Promise((r) => setTimeout(r, CATCH_UP_POLL_MS));
    }
  }

  async close(): Promise<void> {
    this.watch.close();
    this.client.close();
    await this.reading;
  }
}
