/**
 * The chaos tool's compare-and-set workload (`--workload cas`): incrementers
 * each loop on shared counters (a SERIAL read, then cas(read, read + 1); the
 * client retries a lost reply with the same request id), readers do SERIAL
 * reads. Every operation is recorded with its interval on the run's clock;
 * cas-check.ts checks the records.
 */
import { Random as Prng } from '../common/random';
import { History, Outcome, outcomeOf } from './history';
import type { NodeClient } from './workload';

/** One cas or SERIAL read of a counter. Values are decimal strings; null is absent. */
export interface RegisterRecord {
  readonly id: number;
  readonly process: string;
  /** The id of the node the request was sent to. */
  readonly node: number;
  readonly key: string;
  readonly kind: 'cas' | 'read';
  readonly start: number;
  end: number;
  outcome: Outcome;
  /** cas: what it expected and what it wrote. */
  readonly expected?: string | null;
  readonly value?: string;
  /** cas: whether applied; the value the node reported. read: the value read. */
  applied?: boolean;
  current?: string | null;
  /** A read after the faults healed. */
  readonly final?: boolean;
  error?: string;
}

export interface CasWorkloadOptions {
  readonly counters: number;
  readonly incrementers: number;
  readonly readers: number;
  readonly thinkMs: number;
}

/** Counter keys, spread over the default layout's owners. */
export function counterName(i: number): string {
  return `${'BNgq'[i % 4]}counter${i}`;
}

export class CasWorkload {
  readonly records: RegisterRecord[] = [];
  readonly keys: string[];
  private stopping = false;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly history: History,
    private clients: readonly NodeClient[],
    private readonly options: CasWorkloadOptions,
    private readonly prng: Prng,
  ) {
    this.keys = Array.from({ length: options.counters }, (_, i) => counterName(i));
  }

  start(): void {
    for (let w = 0; w < this.options.incrementers; w++) this.loops.push(this.incrementer(`i${w}`, this.prng.fork()));
    for (let r = 0; r < this.options.readers; r++) this.loops.push(this.reader(`s${r}`, this.prng.fork()));
  }

  /**
   * After the ring changed: one client per node of the ring now, so that no
   * loop goes on sending to a node that left or was replaced for good
   * (operations in flight keep theirs).
   */
  useClients(clients: readonly NodeClient[]): void {
    this.clients = clients;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** One SERIAL read of every counter, recorded as final, through another node when one fails. */
  async finalReads(tries: number): Promise<void> {
    for (const key of this.keys) {
      for (let t = 0; t < tries; t++) {
        if ((await this.read('final', this.clients[t % this.clients.length]!, key, true)).outcome === 'ok') break;
      }
    }
  }

  private async incrementer(name: string, prng: Prng): Promise<void> {
    while (!this.stopping) {
      const key = prng.pick(this.keys);
      const seen = await this.read(name, this.pickClient(prng), key);
      if (seen.outcome === 'ok') {
        const now = seen.current ?? null;
        await this.cas(name, this.pickClient(prng), key, now, String(now === null ? 1 : Number(now) + 1));
      }
      await this.think();
    }
  }

  private async reader(name: string, prng: Prng): Promise<void> {
    while (!this.stopping) {
      await this.read(name, this.pickClient(prng), prng.pick(this.keys));
      await this.think();
    }
  }

  private pickClient(prng: Prng): NodeClient {
    return this.clients[prng.range(0, this.clients.length - 1)]!;
  }

  private think(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.options.thinkMs));
  }

  private record(r: Omit<RegisterRecord, 'id' | 'start' | 'end' | 'outcome'>): RegisterRecord {
    const rec: RegisterRecord = { ...r, id: this.records.length, start: this.history.now(), end: NaN, outcome: 'ok' };
    this.records.push(rec);
    return rec;
  }

  private async read(process: string, to: NodeClient, key: string, final = false): Promise<RegisterRecord> {
    const rec = this.record({ process, node: to.id, key, kind: 'read', final });
    try {
      const r = await to.client.get(key, 'SERIAL');
      rec.current = r.found ? r.value.toString('utf8') : null;
    } catch (err) {
      rec.outcome = outcomeOf(err);
      rec.error = (err as Error).message;
    }
    rec.end = this.history.now();
    return rec;
  }

  private async cas(process: string, to: NodeClient, key: string, expected: string | null, value: string): Promise<RegisterRecord> {
    const rec = this.record({ process, node: to.id, key, kind: 'cas', expected, value });
    try {
      const r = await to.client.cas(key, expected, value);
      rec.applied = r.applied;
      rec.current = r.current === null ? null : r.current.toString('utf8');
    } catch (err) {
      rec.outcome = outcomeOf(err);
      rec.error = (err as Error).message;
    }
    rec.end = this.history.now();
    return rec;
  }
}
