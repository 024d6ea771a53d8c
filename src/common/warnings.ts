/**
 * Failures that a part of a node handles by itself, so that no caller ever
 * sees them (a background compaction, a hint that could not be written):
 * each is counted where it happens, in that part's counters, and told to the
 * node's log at most once per WARNING_INTERVAL_MS, with how many there were
 * since. A failure between two warnings is told by the next one.
 */
import { WARNING_INTERVAL_MS } from './limits';

/** Where warnings go: the node's logger. */
export type WarningSink = (message: string) => void;

export interface WarningOptions {
  /** Where warnings go; without one, failures are only counted. */
  readonly onWarning?: WarningSink;
  /** The least time between two warnings of one kind (WARNING_INTERVAL_MS). */
  readonly warningIntervalMs?: number;
  /** The clock that interval is measured by (tests drive one by hand). */
  readonly nowMs?: () => number;
}

/** An error's message, for a warning. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One kind of failure, told at most once per interval. */
export class ThrottledWarning {
  /** Failures since the last warning. */
  private untold = 0;
  private lastMs: number | undefined;

  constructor(
    /** What failed, as the warning's subject ("compaction of the log"). */
    private readonly subject: string,
    /** What follows from it, and where it is counted. */
    private readonly consequence: string,
    private readonly options: WarningOptions = {},
  ) {}

  /** One more failure, `err` the latest: warns now unless the last warning is less than an interval old. */
  failed(err: unknown): void {
    this.untold++;
    const { onWarning, warningIntervalMs = WARNING_INTERVAL_MS, nowMs = Date.now } = this.options;
    const now = nowMs();
    if (onWarning === undefined || (this.lastMs !== undefined && now - this.lastMs < warningIntervalMs)) return;
    const times = this.untold === 1 ? 'once' : `${this.untold} times`;
    const since = this.lastMs === undefined ? 'start' : 'the last warning';
    onWarning(`${this.subject} failed ${times} since ${since} (last error: ${errorText(err)}); ${this.consequence}`);
    this.untold = 0;
    this.lastMs = now;
  }
}
