/**
 * A traced request's steps, as its coordinator takes them (the `trace`
 * call; Cassandra's TRACING ON): whom it asked, who answered what, a
 * speculative ask, a read repair, a hint, each acknowledgement of a write.
 * The rounds take an optional Trace and note into it only when given one, so
 * an untraced request pays one test of `undefined` at each step.
 */
import { TRACE_EVENTS_MAX } from '../common/limits';
import type { Version } from '../storage/version';

export interface TraceEvent {
  /** µs since the trace began. */
  readonly elapsedUs: number;
  readonly activity: string;
}

export class Trace {
  readonly events: TraceEvent[] = [];
  /** Steps past TRACE_EVENTS_MAX. */
  dropped = 0;
  /** Resolves once every live replica of a traced write answered (WriteRound); a read never resolves it. */
  readonly landed: Promise<void>;
  private resolveLanded!: () => void;
  /** When the trace began, on the monotonic clock: the steps' and a sampled request's times count from it. */
  readonly startMs: number;
  /** Parts (see `part`) whose write has not landed yet, and who waits for the last of them. */
  private partsOpen = 0;
  private partsWaiter: (() => void) | undefined;

  constructor(private readonly monotonicMs: () => number) {
    this.startMs = monotonicMs();
    this.landed = new Promise((resolve) => {
      this.resolveLanded = resolve;
    });
  }

  note(activity: string): void {
    if (this.events.length >= TRACE_EVENTS_MAX) {
      this.dropped++;
      return;
    }
    this.events.push({ elapsedUs: Math.round((this.monotonicMs() - this.startMs) * 1000), activity });
  }

  /** Every live replica of the traced write answered: the trace is complete. */
  markLanded(): void {
    this.resolveLanded();
  }

  /**
   * The trace of one part of a request of several (a key of a getMany, a
   * write of a batch): its steps go into this trace, each led by `prefix`
   * ("key 2 of 5: "), so the parts' steps, which interleave, can be told apart.
   */
  part(prefix: string): Trace {
    this.partsOpen++;
    return new PartTrace(this, prefix, this.monotonicMs, () => this.partLanded());
  }

  /**
   * Resolves once every part made so far marked its write landed (a traced
   * batch's writes); at once when there are none. A count, not a list, so
   * that a kept trace does not hold its parts.
   */
  partsLanded(): Promise<void> {
    if (this.partsOpen === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.partsWaiter = resolve;
    });
  }

  /** A part's write landed. */
  private partLanded(): void {
    this.partsOpen--;
    if (this.partsOpen === 0) this.partsWaiter?.();
  }
}

/** The part of `trace` for item `i` (0-based) of `n`, led by "key i+1 of n: "; none without a trace, and then no string is made. */
export function partOf(trace: Trace | undefined, i: number, n: number): Trace | undefined {
  return trace === undefined ? undefined : trace.part(`key ${i + 1} of ${n}: `);
}

class PartTrace extends Trace {
  constructor(
    private readonly whole: Trace,
    private readonly prefix: string,
    monotonicMs: () => number,
    private readonly onLanded: () => void,
  ) {
    super(monotonicMs);
  }

  private hasLanded = false;

  override note(activity: string): void {
    this.whole.note(this.prefix + activity);
  }

  override markLanded(): void {
    super.markLanded();
    if (this.hasLanded) return;
    this.hasLanded = true;
    this.onLanded();
  }
}

/** A version as a trace line names it: its timestamp, and its size or that it is a tombstone. */
export function describeVersion(v: Version | undefined): string {
  if (v === undefined) return 'nothing';
  const expiry = v.expires ? `, expiring at ${v.expires}` : '';
  return v.deleted ? `a tombstone ts=${v.ts}` : `ts=${v.ts} (${v.value.length} bytes${expiry})`;
}

/** Node ids as a trace line lists them. */
export function nodeList(ids: readonly number[]): string {
  if (ids.length === 0) return 'none';
  return ids.map((id) => `node ${id}`).join(', ');
}
