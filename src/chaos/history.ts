/**
 * The history of a chaos run: every client operation with when it was
 * invoked, when its answer came back and what the answer was. Times are in
 * ms on one monotonic clock (performance.now() of the checker process), taken
 * just before the request is sent and just after the answer is seen, so each
 * recorded interval contains the real one: the checker's "A ended before B
 * started" then never claims an order that did not hold.
 */
import { isKvError } from '../common/errors';
import type { LevelName, WriteLevelName } from '../coordinator/levels';

/**
 * The value a delete is recorded with, and a tombstone is read as: above
 * every value the workloads write (they are below U+D800), as the store
 * orders a tombstone above a value of the same timestamp.
 */
export const TOMBSTONE_VALUE = '\uffff';

/**
 * How an operation ended. Unavailable means "not applied anywhere" (a refusal, or a request the client never sent);
 * TimedOut and ConnectionError mean "unknown".
 */
export type Outcome = 'ok' | 'Unavailable' | 'TimedOut' | 'ConnectionError' | 'error';

/** A version as the store orders them: timestamp, then (never here) tombstone, then value bytes. */
export interface Observed {
  readonly ts: number;
  /** The value read or written; '' when a read found nothing. */
  readonly value: string;
}

export interface WriteOp {
  readonly kind: 'write';
  readonly id: number;
  /** Who issued it: "w3", "burst", … */
  readonly process: string;
  readonly key: string;
  /** Unique across the run. */
  readonly value: string;
  readonly start: number;
  end: number;
  outcome: Outcome;
  /** The version's timestamp, known when acknowledged. */
  ts?: number;
  error?: string;
  /** The node the request was sent to first. */
  readonly node: number;
  /** The consistency level (the chaos tool's are all QUORUM, and say nothing). */
  readonly level?: WriteLevelName;
  /** A delete: its value is TOMBSTONE_VALUE. */
  readonly deleted?: boolean;
}

export interface ReadOp {
  readonly kind: 'read';
  readonly id: number;
  readonly process: string;
  readonly key: string;
  readonly start: number;
  end: number;
  outcome: Outcome;
  found?: boolean;
  value?: string;
  ts?: number;
  error?: string;
  readonly node: number;
  /** One of the reads after the faults healed and the cluster settled. */
  readonly final?: boolean;
  readonly level?: LevelName;
}

export type Op = WriteOp | ReadOp;

export function outcomeOf(err: unknown): Outcome {
  if (isKvError(err, 'Unavailable')) return 'Unavailable';
  if (isKvError(err, 'TimedOut')) return 'TimedOut';
  // A request the client never sent (every node it tried refused the connection) applied nothing, as Unavailable.
  if (isKvError(err, 'ConnectionError')) return err.details.notSent !== undefined ? 'Unavailable' : 'ConnectionError';
  return 'error';
}

/** An append-only list of operations; ids are their positions. */
export class History {
  readonly ops: Op[] = [];
  private readonly t0: number;

  constructor(private readonly nowMs: () => number = () => performance.now()) {
    this.t0 = nowMs();
  }

  /** ms since the history began. */
  now(): number {
    return this.nowMs() - this.t0;
  }

  /** Runs a write and records it. Never throws: the outcome is in the record. */
  async write(
    process: string,
    node: number,
    key: string,
    value: string,
    send: () => Promise<{ ts: number }>,
    more: Pick<WriteOp, 'level' | 'deleted'> = {},
  ): Promise<WriteOp> {
    const op: WriteOp = {
      kind: 'write',
      id: this.ops.length,
      process,
      key,
      value,
      node,
      start: this.now(),
      end: NaN,
      outcome: 'ok',
      ...more,
    };
    this.ops.push(op);
    try {
      op.ts = (await send()).ts;
    } catch (err) {
      op.outcome = outcomeOf(err);
      op.error = (err as Error).message;
    }
    op.end = this.now();
    return op;
  }

  /** Runs a read and records it. Never throws. */
  async read(
    process: string,
    node: number,
    key: string,
    send: () => Promise<{ found: boolean; value: Buffer; ts: number }>,
    final = false,
    more: Pick<ReadOp, 'level'> = {},
  ): Promise<ReadOp> {
    const op: ReadOp = {
      kind: 'read',
      id: this.ops.length,
      process,
      key,
      node,
      start: this.now(),
      end: NaN,
      outcome: 'ok',
      final,
      ...more,
    };
    this.ops.push(op);
    try {
      const r = await send();
      op.found = r.found;
      op.value = r.found ? r.value.toString('utf8') : '';
      op.ts = r.ts;
    } catch (err) {
      op.outcome = outcomeOf(err);
      op.error = (err as Error).message;
    }
    op.end = this.now();
    return op;
  }

  /** Operations still without an answer (should be none once the workload stopped). */
  pending(): number {
    return this.ops.filter((o) => Number.isNaN(o.end)).length;
  }
}

/** One line per operation, for excerpts in reports. */
export function formatOp(op: Op): string {
  const t = `[${op.start.toFixed(1)}..${op.end.toFixed(1)}ms]`;
  const res = op.outcome === 'ok' ? 'ok' : `${op.outcome}`;
  if (op.kind === 'write') {
    const what = op.deleted ? `delete ${op.key}` : `put ${op.key}=${op.value}`;
    return `#${op.id} ${op.process}@n${op.node} ${t} ${what}${op.level ? ` ${op.level}` : ''} -> ${res}${op.ts !== undefined ? ` ts=${op.ts}` : ''}`;
  }
  const got = op.outcome === 'ok' ? (op.found ? ` ${op.value} ts=${op.ts}` : ` (not found) ts=${op.ts}`) : '';
  return `#${op.id} ${op.process}@n${op.node} ${t} ${op.final ? 'final ' : ''}get ${op.key}${op.level ? ` ${op.level}` : ''} -> ${res}${got}`;
}
