/**
 * Sampled tracing (Cassandra's nodetool settraceprobability): a share of the
 * client requests this node coordinates is traced as the `trace` call traces
 * one (trace.ts), and kept, so that an operator can see what ordinary
 * requests do under the real load rather than one request typed by hand.
 * The share starts at 0 and is set at run time (admin.sh trace-probability);
 * the last SAMPLED_TRACES_KEPT traces are kept in memory, the oldest dropped
 * first, and a restart forgets them and sets the share back to 0.
 *
 * An unsampled request pays one comparison (the share is 0) or one random
 * draw. A kept write's trace goes on gathering its later acknowledgements
 * after the client's answer, as a traced write's report waits for them.
 */
import { SAMPLED_TRACES_KEPT } from '../common/limits';
import { Trace } from './trace';

/** How a sampled request ended, in the fields the trace's report has: a read's result, a write's timestamp, a cas's outcome, or the failure. */
export interface SampledOutcome {
  readonly read?: { readonly found: boolean; readonly value: Buffer; readonly ts: number };
  readonly ts?: number;
  readonly applied?: boolean;
  /** A scan page's keys, or the keys a getMany found. */
  readonly rows?: number;
  readonly errorCode?: string;
  readonly error?: string;
}

export interface SampledRequest {
  readonly op: 'get' | 'getMany' | 'put' | 'remove' | 'cas' | 'scan' | 'batch';
  /** The key as it came off the wire (a copy: the frame's buffer is reused); a getMany's or a batch's first. */
  readonly key: Buffer;
  /** The level's wire code, as sent. */
  readonly level: number;
  /** Wall clock, ms since 1970. */
  readonly startedMs: number;
  /** Until the client's answer. */
  durationUs: number;
  outcome: SampledOutcome | undefined;
  readonly trace: Trace;
}

export class TraceSampler {
  /** The share of requests traced, 0 to 1. */
  private share = 0;
  private readonly kept: (SampledRequest | undefined)[] = new Array(SAMPLED_TRACES_KEPT).fill(undefined);
  /** How many were ever kept: the next slot is kept % SAMPLED_TRACES_KEPT. */
  private count = 0;

  constructor(
    private readonly monotonicMs: () => number,
    private readonly wallMs: () => number,
    private readonly random: () => number = Math.random,
  ) {}

  get probability(): number {
    return this.share;
  }

  /** Sets the share; answers the one before. The caller checked it is in [0, 1]. */
  setProbability(p: number): number {
    const before = this.share;
    this.share = p;
    return before;
  }

  /** A trace for this request when it is sampled, else undefined (the common case: one comparison). */
  sample(): Trace | undefined {
    if (this.share === 0 || this.random() >= this.share) return undefined;
    return new Trace(this.monotonicMs);
  }

  /**
   * Keeps `trace`'s request, and fills in its duration and outcome when
   * `result` settles; answers `result` itself, so the caller's path is the
   * same traced or not.
   */
  keep<T>(
    trace: Trace,
    request: Pick<SampledRequest, 'op' | 'key' | 'level'>,
    result: Promise<T>,
    outcomeOf: (value: T) => SampledOutcome,
  ): Promise<T> {
    // From the trace's start, as its steps are: the request ran its first part before it was handed here.
    const startedAt = trace.startMs;
    const kept: SampledRequest = {
      op: request.op,
      key: Buffer.from(request.key),
      level: request.level,
      startedMs: this.wallMs() - (this.monotonicMs() - startedAt),
      durationUs: 0,
      outcome: undefined,
      trace,
    };
    this.kept[this.count++ % SAMPLED_TRACES_KEPT] = kept;
    const done = (): void => {
      kept.durationUs = Math.round((this.monotonicMs() - startedAt) * 1000);
    };
    result.then(
      (value) => {
        done();
        kept.outcome = outcomeOf(value);
      },
      (err: unknown) => {
        done();
        const e = err as { code?: unknown; message?: unknown };
        kept.outcome = { errorCode: typeof e.code === 'string' ? e.code : 'Internal', error: String(e.message ?? err) };
      },
    );
    return result;
  }

  /** The kept requests, newest first, at most `limit`; those still running are left out. */
  recent(limit: number): SampledRequest[] {
    const out: SampledRequest[] = [];
    const oldest = Math.max(0, this.count - SAMPLED_TRACES_KEPT);
    for (let i = this.count - 1; i >= oldest && out.length < limit; i--) {
      const r = this.kept[i % SAMPLED_TRACES_KEPT]!;
      if (r.outcome !== undefined) out.push(r);
    }
    return out;
  }
}
