/**
 * Client requests as metrics: a count by op, level and outcome, a latency
 * histogram by op and level, and the number in flight. The handler calls
 * `started` and `finished` around every put, remove and get, so both are on
 * the hottest path there is: a request only indexes into arrays, counts in a
 * plain one and observes its latency in a histogram series made once here
 * (FastHistogram: no label objects or key strings per request).
 */
import { Counter, Gauge, type Registry } from './prom';
import { assert } from '../common/assert';
import { KvError } from '../common/errors';
import { WRITE_LEVEL_CODES, WriteLevelName } from '../coordinator/levels';
import { FastHistogram, type Series } from './histogram';
import type { SlowRequestLog } from './slow-requests';

export const CLIENT_OPS = ['get', 'put', 'remove', 'cas', 'scan', 'getMany', 'batch'] as const;
export type ClientOp = (typeof CLIENT_OPS)[number];

/** Every outcome a request is counted under: the operating errors a client can get, then anything else. */
export const OUTCOMES = ['ok', 'invalid', 'unavailable', 'timed_out', 'storage_full', 'error'] as const;
/** The level label of a request whose level code is none of the IDL's. */
export const LEVEL_INVALID = 'invalid';
/** The levels a request may name, in the order of their wire codes 1 to 7 (SERIAL reads through Paxos, ANY only writes). */
const VALID_LEVELS = ['ONE', 'QUORUM', 'ALL', 'SERIAL', 'TWO', 'THREE', 'ANY'] as const;
assert(
  (Object.keys(WRITE_LEVEL_CODES) as WriteLevelName[]).every((name) => VALID_LEVELS[WRITE_LEVEL_CODES[name] - 1] === name),
  'each level label sits at its wire code',
);
export const LEVEL_LABELS = [...VALID_LEVELS, LEVEL_INVALID] as const;

/**
 * Upper bounds of the latency buckets, in seconds: from half a millisecond
 * (a local ONE read) to past the default request timeout of 2 s.
 */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the Thrift handler reports: a start time from `started`, given back to `finished`. */
export interface RequestObserver {
  /** A client request begins; the result is its start time, for `finished`. */
  started(): number;
  /** It ended: `error` undefined for success. `levelCode` is the level as the client sent it, `key` its key (or first key) as sent. */
  finished(op: ClientOp, levelCode: number | null | undefined, error: unknown, startedMs: number, key?: Buffer | string | null): void;
  /** A replicate call from another coordinator, begun at `startedMs` (performance.now()), is durable here. */
  replicaApplied(startedMs: number): void;
}

const OP_INDEX: Readonly<Record<ClientOp, number>> = { get: 0, put: 1, remove: 2, cas: 3, scan: 4, getMany: 5, batch: 6 };

/** Index into LEVEL_LABELS of a wire level code (1 ONE, 2 QUORUM, 3 ALL, 4 SERIAL, 5 TWO, 6 THREE, 7 ANY). */
function levelIndex(code: number | null | undefined): number {
  return typeof code === 'number' && Number.isInteger(code) && code >= 1 && code <= VALID_LEVELS.length ? code - 1 : VALID_LEVELS.length;
}

/** How a slow request ended, for the slow request log: "ok" or its error code. */
function outcomeName(error: unknown): string {
  if (error === undefined) return 'ok';
  return error instanceof KvError ? error.code : 'Internal';
}

/** Index into OUTCOMES. */
function outcomeIndex(error: unknown): number {
  if (error === undefined) return 0;
  if (!(error instanceof KvError)) return 5;
  switch (error.code) {
    case 'InvalidRequest':
      return 1;
    case 'Unavailable':
      return 2;
    case 'TimedOut':
      return 3;
    case 'StorageFull':
      return 4;
    default:
      return 5;
  }
}

export class RequestMetrics implements RequestObserver {
  /** Requests started and not yet finished. */
  inFlight = 0;
  /**
   * Requests finished, at [(op × levels + level) × outcomes + outcome]: a
   * plain array, copied into the prom-client counter at scrape time, since
   * its `inc` builds a label key string on every call (about 0.6 µs here).
   */
  private readonly counts = new Float64Array(CLIENT_OPS.length * LEVEL_LABELS.length * OUTCOMES.length);
  /** [op][level], valid levels only: a request with no level has no latency worth a series. */
  private readonly times: Series[][];
  private readonly applies: Series;
  /** Requests at least this slow go to the slow request log (Infinity: none). */
  private readonly slowMs: number;

  constructor(
    registry: Registry,
    private readonly slow?: SlowRequestLog,
  ) {
    this.slowMs = slow?.thresholdMs ?? Number.POSITIVE_INFINITY;
    const registers = [registry];
    const counts = this.counts;
    new Counter({
      name: 'ringkv_client_requests_total',
      help: 'Client requests by op, level and outcome.',
      labelNames: ['op', 'level', 'outcome'],
      registers,
      collect() {
        this.reset();
        // Every combination, zeros too: rate() needs no first request, and an alert sees its series from the start.
        let i = 0;
        for (const op of CLIENT_OPS) {
          for (const level of LEVEL_LABELS) {
            for (const outcome of OUTCOMES) this.inc({ op, level, outcome }, counts[i++]!);
          }
        }
      },
    });
    const durations = new FastHistogram(
      'ringkv_client_request_duration_seconds',
      'Time from a client request reaching this node to its answer, by op and level.',
      LATENCY_BUCKETS_SECONDS,
      registers,
    );
    this.times = CLIENT_OPS.map((op) => VALID_LEVELS.map((level) => durations.child({ op, level })));
    this.applies = new FastHistogram(
      'ringkv_replica_apply_duration_seconds',
      "Time from another coordinator's replicate call reaching this node to its versions being durable here (one call carries a batch).",
      LATENCY_BUCKETS_SECONDS,
      registers,
    ).child({});
    const inFlight = (): number => this.inFlight;
    new Gauge({
      name: 'ringkv_client_requests_in_flight',
      help: 'Client requests this node is coordinating now.',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
  }

  started(): number {
    this.inFlight++;
    return performance.now();
  }

  finished(op: ClientOp, levelCode: number | null | undefined, error: unknown, startedMs: number, key?: Buffer | string | null): void {
    this.inFlight--;
    const o = OP_INDEX[op];
    const l = levelIndex(levelCode);
    this.counts[(o * LEVEL_LABELS.length + l) * OUTCOMES.length + outcomeIndex(error)]!++;
    const ms = performance.now() - startedMs;
    if (l < VALID_LEVELS.length) this.times[o]![l]!.observe(ms / 1000);
    if (ms >= this.slowMs) this.slow!.note(op, LEVEL_LABELS[l]!, key ?? undefined, ms, outcomeName(error));
  }

  replicaApplied(startedMs: number): void {
    this.applies.observe((performance.now() - startedMs) / 1000);
  }
}
