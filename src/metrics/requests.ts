/**
 * Client requests as metrics: a count by op, level and outcome, a latency
 * histogram by op and level, and the number in flight. The handler calls
 * `started` and `finished` around every put, remove and get, so both are on
 * the hottest path there is: every label combination's child is made once,
 * here, and a request only indexes into arrays (no label objects per request).
 */
import type { Counter, Histogram } from 'prom-client';
import { KvError } from '../common/errors';
import { LEVEL_NAMES } from '../coordinator/levels';

export const CLIENT_OPS = ['get', 'put', 'remove'] as const;
export type ClientOp = (typeof CLIENT_OPS)[number];

/** Every outcome a request is counted under: the operating errors a client can get, then anything else. */
export const OUTCOMES = ['ok', 'invalid', 'unavailable', 'timed_out', 'error'] as const;
/** The level label of a request whose level code is none of the IDL's. */
export const LEVEL_INVALID = 'invalid';
export const LEVEL_LABELS = [...LEVEL_NAMES, LEVEL_INVALID] as const;

/**
 * Upper bounds of the latency buckets, in seconds: from half a millisecond
 * (a local ONE read) to past the default request timeout of 2 s.
 */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the Thrift handler reports: a start time from `started`, given back to `finished`. */
export interface RequestObserver {
  /** A client request begins; the result is its start time, for `finished`. */
  started(): number;
  /** It ended: `error` undefined for success. `levelCode` is the level as the client sent it. */
  finished(op: ClientOp, levelCode: number | null | undefined, error: unknown, startedMs: number): void;
}

const OP_INDEX: Readonly<Record<ClientOp, number>> = { get: 0, put: 1, remove: 2 };

/** Index into LEVEL_LABELS of a wire level code (1 ONE, 2 QUORUM, 3 ALL). */
function levelIndex(code: number | null | undefined): number {
  return code === 1 || code === 2 || code === 3 ? code - 1 : LEVEL_NAMES.length;
}

/** Index into OUTCOMES. */
function outcomeIndex(error: unknown): number {
  if (error === undefined) return 0;
  if (!(error instanceof KvError)) return 4;
  switch (error.code) {
    case 'InvalidRequest':
      return 1;
    case 'Unavailable':
      return 2;
    case 'TimedOut':
      return 3;
    default:
      return 4;
  }
}

type CountChild = ReturnType<Counter<string>['labels']>;
type TimeChild = ReturnType<Histogram<string>['labels']>;

export class RequestMetrics implements RequestObserver {
  /** Requests started and not yet finished. */
  inFlight = 0;
  /** [op][level][outcome] */
  private readonly counts: CountChild[][][];
  /** [op][level], valid levels only: a request with no level has no latency worth a series. */
  private readonly times: TimeChild[][];

  constructor(requests: Counter<'op' | 'level' | 'outcome'>, durations: Histogram<'op' | 'level'>) {
    this.counts = CLIENT_OPS.map((op) => LEVEL_LABELS.map((level) => OUTCOMES.map((outcome) => requests.labels(op, level, outcome))));
    this.times = CLIENT_OPS.map((op) => LEVEL_NAMES.map((level) => durations.labels(op, level)));
    // Made once, every series is there from the start at zero: rate() needs no first request.
    for (const byLevel of this.counts) for (const byOutcome of byLevel) for (const child of byOutcome) child.inc(0);
  }

  started(): number {
    this.inFlight++;
    return performance.now();
  }

  finished(op: ClientOp, levelCode: number | null | undefined, error: unknown, startedMs: number): void {
    this.inFlight--;
    const o = OP_INDEX[op];
    const l = levelIndex(levelCode);
    this.counts[o]![l]![outcomeIndex(error)]!.inc();
    if (l < LEVEL_NAMES.length) this.times[o]![l]!.observe((performance.now() - startedMs) / 1000);
  }
}
