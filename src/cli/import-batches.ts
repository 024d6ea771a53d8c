/**
 * How `copy.sh import` sends its lines (cli/copy.ts reads them): gathered
 * into unlogged batches of consecutive lines, at most
 * COPY_IMPORT_BATCHES_IN_FLIGHT_MAX of them in flight, paced to a rate if
 * asked, a repeated key held back until its earlier batch has settled, and
 * the earliest failed batch remembered for the message.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { BatchOp, KvClient } from '../client/client';
import { isKvError, type KvError } from '../common/errors';
import { COPY_IMPORT_BATCH_BYTES_MAX, COPY_IMPORT_BATCH_WRITES_MAX, COPY_IMPORT_BATCHES_IN_FLIGHT_MAX } from '../common/limits';
import type { WriteLevelName } from '../coordinator/levels';

/** What an import writes with: a client's batch call (a fake one in the unit test). */
export type BatchWriter = Pick<KvClient, 'batch'>;

/** How an import writes, besides its file and level. */
export interface ImportOptions {
  /** Each value with its line's ts (export-format.ts importWrite). */
  readonly keepTimestamps?: boolean;
  /** Keys a second at most (cqlsh COPY FROM's INGESTRATE); undefined: as fast as the cluster takes them. */
  readonly keysPerSecond?: number;
}

/** When, in ms from the import's start, a batch whose first key is number `keysBefore` (from 0) may go at `keysPerSecond`. */
export function batchDueMs(keysBefore: number, keysPerSecond: number | undefined): number {
  return keysPerSecond === undefined ? 0 : (keysBefore * 1000) / keysPerSecond;
}

/** Lines gathered into one unlogged batch, not sent yet. */
export class Gathered {
  readonly ops: BatchOp[] = [];
  /** Its keys' bytes as latin1 strings: a key repeated within the file goes into a later batch. */
  readonly keys = new Set<string>();
  private bytes = 0;
  firstLine = 0;
  lastLine = 0;

  /** Whether `entry` (its key as latin1) may join: room left in count and bytes, and its key not in already. */
  takes(key: string, entry: { readonly key: Buffer; readonly value: Buffer }): boolean {
    if (this.ops.length === 0) return true;
    const bytes = entry.key.length + entry.value.length;
    return this.ops.length < COPY_IMPORT_BATCH_WRITES_MAX && this.bytes + bytes <= COPY_IMPORT_BATCH_BYTES_MAX && !this.keys.has(key);
  }

  add(line: number, key: string, op: BatchOp & { readonly key: Buffer; readonly value: Buffer }): void {
    if (this.ops.length === 0) this.firstLine = line;
    this.lastLine = line;
    this.ops.push(op);
    this.keys.add(key);
    this.bytes += op.key.length + op.value.length;
  }
}

/** A batch's lines as its failure names them: "line 7", or "lines 7-52". */
export function linesOf(b: { readonly firstLine: number; readonly lastLine: number }): string {
  return b.firstLine === b.lastLine ? `line ${b.firstLine}` : `lines ${b.firstLine}-${b.lastLine}`;
}

export class BatchSender {
  /** Keys of the batches acknowledged. */
  written = 0;
  /** The failed batch with the earliest lines (batches settle out of order), and its error. */
  failure: { readonly batch: Gathered; readonly error: KvError } | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** The batch in flight that writes each key (latin1), so that a repeat waits for it. */
  private readonly keyInFlight = new Map<string, Promise<void>>();
  /** The pace counts on the monotonic clock: a wall clock set back would stop the import. */
  private readonly paceFrom = performance.now();
  private keysSent = 0;

  constructor(
    private readonly client: BatchWriter,
    private readonly level: WriteLevelName,
    private readonly keysPerSecond: number | undefined,
    private readonly onWritten: (written: number) => void,
  ) {}

  /** Sends `b` once its pace allows; returns once fewer than the limit are in flight. */
  async send(b: Gathered): Promise<void> {
    if (b.ops.length === 0) return;
    const wait = this.paceFrom + batchDueMs(this.keysSent, this.keysPerSecond) - performance.now();
    if (wait > 0) await delay(wait);
    this.keysSent += b.ops.length;
    const sent = this.client
      .batch(b.ops, this.level, { unlogged: true })
      .then(
        () => this.onWritten((this.written += b.ops.length)),
        (err: unknown) => {
          if (!isKvError(err)) throw err;
          if (this.failure === undefined || b.firstLine < this.failure.batch.firstLine) this.failure = { batch: b, error: err };
        },
      )
      .finally(() => {
        this.inFlight.delete(sent);
        for (const k of b.keys) if (this.keyInFlight.get(k) === sent) this.keyInFlight.delete(k);
      });
    this.inFlight.add(sent);
    for (const k of b.keys) this.keyInFlight.set(k, sent);
    if (this.inFlight.size >= COPY_IMPORT_BATCHES_IN_FLIGHT_MAX) await Promise.race(this.inFlight);
  }

  /** Resolves once no batch in flight writes `key` (latin1). */
  async settled(key: string): Promise<void> {
    await this.keyInFlight.get(key);
  }

  /** Resolves once every batch sent has settled. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
  }
}
