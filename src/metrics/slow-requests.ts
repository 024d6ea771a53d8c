/**
 * The slow request log (Cassandra's slow query log): a client request that
 * took `slowRequestMs` or more on this node, from its arrival to its answer,
 * is told to the node's log, so an operator can see which keys and levels
 * were slow, not only that the latency histogram's tail grew.
 *
 * Slow requests come in bursts (a paused replica slows every request that
 * asked it), so they are not told one line each: they are grouped by op,
 * level and key for SLOW_REQUEST_REPORT_INTERVAL_MS, and each interval that
 * had any is told in one line, its SLOW_REQUEST_GROUPS_MAX slowest groups
 * named and the rest counted. A request is only looked at here when it was
 * slow: the fast path pays one comparison.
 */
import { displayKey } from '../common/bytes';
import { SLOW_REQUEST_GROUPS_MAX, SLOW_REQUEST_REPORT_INTERVAL_MS } from '../common/limits';

/** One op, level and key's slow requests within an interval. */
interface Group {
  readonly op: string;
  readonly level: string;
  readonly key: string;
  count: number;
  maxMs: number;
  /** How the slowest one ended: "ok", or its error code. */
  outcome: string;
}

export interface SlowRequestOptions {
  /** A request this slow or slower is told; 0: none is. */
  readonly thresholdMs: number;
  /** Where the interval's line goes: the node's log. */
  readonly onReport: (line: string) => void;
  readonly intervalMs?: number;
}

export class SlowRequestLog {
  /** Slow requests since the node started (counter client.slowRequests). */
  readonly counters = { slowRequests: 0 };
  private groups = new Map<string, Group>();
  /** Slow requests of this interval beyond the groups kept. */
  private ungrouped = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;

  constructor(private readonly options: SlowRequestOptions) {
    this.intervalMs = options.intervalMs ?? SLOW_REQUEST_REPORT_INTERVAL_MS;
  }

  /** The threshold, for the hot path's one comparison (Infinity when off). */
  get thresholdMs(): number {
    return this.options.thresholdMs > 0 ? this.options.thresholdMs : Number.POSITIVE_INFINITY;
  }

  /** A request that took `ms` (at least the threshold): counted, and grouped for this interval's line. */
  note(op: string, level: string, key: Buffer | string | undefined, ms: number, outcome: string): void {
    this.counters.slowRequests++;
    const shown = key === undefined ? '' : displayKey(key);
    const id = `${op} ${level} ${shown}`;
    let group = this.groups.get(id);
    if (group === undefined) {
      if (this.groups.size >= SLOW_REQUEST_GROUPS_MAX) {
        this.ungrouped++;
        this.arm();
        return;
      }
      group = { op, level, key: shown, count: 0, maxMs: 0, outcome };
      this.groups.set(id, group);
    }
    group.count++;
    if (ms >= group.maxMs) {
      group.maxMs = ms;
      group.outcome = outcome;
    }
    this.arm();
  }

  /** Tells the interval's slow requests now, if there were any (the timer calls it; so do tests). */
  report(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const line = reportLine([...this.groups.values()], this.ungrouped, this.options.thresholdMs, this.intervalMs);
    this.groups = new Map();
    this.ungrouped = 0;
    if (line !== undefined) this.options.onReport(line);
  }

  /** Tells what is left and stops the timer (the node is stopping). */
  close(): void {
    this.report();
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.report(), this.intervalMs);
    this.timer.unref();
  }
}

/** An interval's line, the slowest groups first; undefined when none was slow. Pure. */
export function reportLine(groups: readonly Group[], ungrouped: number, thresholdMs: number, intervalMs: number): string | undefined {
  const total = groups.reduce((n, g) => n + g.count, 0) + ungrouped;
  if (total === 0) return undefined;
  const named = [...groups]
    .sort((a, b) => b.maxMs - a.maxMs)
    .map((g) => {
      const times = g.count === 1 ? `${Math.round(g.maxMs)} ms` : `${g.count} times, at most ${Math.round(g.maxMs)} ms`;
      const key = g.key === '' ? '' : ` ${g.key}`;
      return `${g.op} ${g.level}${key} ${times}${g.outcome === 'ok' ? '' : ` (${g.outcome})`}`;
    });
  if (ungrouped > 0) named.push(`${ungrouped} more`);
  const requests = total === 1 ? '1 client request' : `${total} client requests`;
  return `${requests} took ${thresholdMs} ms or more in the last ${intervalMs / 1000} s (settings.slowRequestMs): ${named.join('; ')}`;
}
