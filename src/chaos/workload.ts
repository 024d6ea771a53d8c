/**
 * The workload: writers doing writes of unique values ("w2:17", or
 * "w3·17" from odd writers: not ASCII, so nodes log them as BLOBs) to a
 * bounded key set (odd keys end in "·", BLOBs too), readers doing reads,
 * each a sequential loop, every operation sent to a node picked at
 * random and recorded in the history, with its level (QUORUM unless the
 * options say otherwise; the checker binds a read only to the writes and
 * reads whose levels overlap its own). A
 * burst (for the burst-kill fault) fires many writes at once to fresh keys,
 * each written once: a replica that misses one of them is never fixed by a
 * later write, so a gap in hinted handoff shows in the final state.
 */
import { KvClient } from '../client/client';
import type { LevelName, WriteLevelName } from '../coordinator/levels';
import { History, ReadOp, WriteOp } from './history';
import { Random as Prng } from '../common/random';

/** U+00B7, two bytes in UTF-8: keys and values with it are not printable ASCII, so replay reads them through the BLOB path. */
const NON_ASCII_SEPARATOR = '\u00b7';

/** First characters that spread keys over the default layout's four owners (two each). */
const KEY_PREFIXES = 'BHNUgkqw';

export function keyName(i: number, tag = ''): string {
  return `${KEY_PREFIXES[i % KEY_PREFIXES.length]}${tag}${i}${i % 2 === 1 ? NON_ASCII_SEPARATOR : ''}`;
}

/** A client that talks only to node `id`: the op's coordinator is then known, and the history names it. */
export interface NodeClient {
  readonly id: number;
  readonly client: KvClient;
}

export interface WorkloadOptions {
  readonly keys: number;
  readonly writers: number;
  readonly readers: number;
  /** Pause between one worker's operations, so the nodes keep CPU for heartbeats on a small machine. */
  readonly thinkMs: number;
  /** The writers' and the readers' levels (default QUORUM); final reads are QUORUM whatever these say. */
  readonly writeLevel?: WriteLevelName;
  readonly readLevel?: LevelName;
}

export class Workload {
  readonly keys: string[];
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private bursts = 0;

  constructor(
    private readonly history: History,
    /** One client per node of the ring. */
    private clients: readonly NodeClient[],
    private readonly options: WorkloadOptions,
    private readonly prng: Prng,
  ) {
    this.keys = Array.from({ length: options.keys }, (_, i) => keyName(i));
  }

  start(): void {
    for (let w = 0; w < this.options.writers; w++)
      this.loops.push(this.writer(`w${w}`, w % 2 === 1 ? NON_ASCII_SEPARATOR : ':', this.prng.fork()));
    for (let r = 0; r < this.options.readers; r++) this.loops.push(this.reader(`r${r}`, this.prng.fork()));
  }

  /** After the ring changed: one client per node of the ring now (operations in flight keep theirs). */
  useClients(clients: readonly NodeClient[]): void {
    this.clients = clients;
  }

  /** Stops the loops and waits until every operation in flight has its answer. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async writer(name: string, separator: string, prng: Prng): Promise<void> {
    for (let seq = 0; !this.stopping; seq++) {
      await this.put(name, prng, prng.pick(this.keys), `${name}${separator}${seq}`);
      await this.think();
    }
  }

  private async reader(name: string, prng: Prng): Promise<void> {
    while (!this.stopping) {
      await this.get(name, prng, prng.pick(this.keys));
      await this.think();
    }
  }

  private think(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.options.thinkMs));
  }

  put(process: string, prng: Prng, key: string, value: string): Promise<WriteOp> {
    const { id, client } = this.clients[prng.range(0, this.clients.length - 1)]!;
    const level = this.options.writeLevel ?? 'QUORUM';
    return this.history.write(process, id, key, value, () => client.put(key, value, level), { level });
  }

  get(process: string, prng: Prng, key: string, final = false): Promise<ReadOp> {
    const { id, client } = this.clients[prng.range(0, this.clients.length - 1)]!;
    const level = final ? 'QUORUM' : (this.options.readLevel ?? 'QUORUM');
    return this.history.read(process, id, key, () => client.get(key, level), final, { level });
  }

  /** `count` writes at once, each to a fresh key; resolves when all have answered. */
  burst(count: number, prng: Prng): Promise<WriteOp[]> {
    const n = this.bursts++;
    const writes = Array.from({ length: count }, (_, i) => this.put(`burst${n}`, prng, keyName(i, `b${n}.`), `b${n}:${i}`));
    return Promise.all(writes);
  }
}
