/**
 * A QUORUM write load for the membership tests: new keys written a batch at
 * a time while a node joins or leaves, every acknowledged one remembered and
 * read back at QUORUM afterwards.
 */
import type { KvClient } from '../../src/client/client';

/** Times lost() asks for a key whose read fails before it fails the test. */
const READ_ATTEMPTS_MAX = 3;

/** QUORUM writes of new keys, a batch at a time, until stopped; remembers the acknowledged ones. */
export class WriteLoad {
  readonly acked = new Map<string, string>();
  failed = 0;
  private stopped = false;
  private readonly running: Promise<void>;

  constructor(
    private readonly client: KvClient,
    private readonly prefix = 'load-',
  ) {
    this.running = this.run();
  }

  private async run(): Promise<void> {
    let n = 0;
    while (!this.stopped) {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        const key = `${this.prefix}${String(n++).padStart(7, '0')}`;
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
        const got = await this.read(key);
        if (!got.found || got.value.toString('latin1') !== this.acked.get(key)) lost.push(key);
      });
      await Promise.all(reads);
    }
    return lost;
  }

  /**
   * A QUORUM read of `key`, asked again when it fails (TimedOut on a loaded
   * machine, say): a read that fails tells nothing of the key, and one that
   * answers is judged, whatever it answers. The last failure is thrown.
   */
  private async read(key: string): ReturnType<KvClient['get']> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.get(key, 'QUORUM');
      } catch (err) {
        if (attempt >= READ_ATTEMPTS_MAX) throw err;
      }
    }
  }
}
