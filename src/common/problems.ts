/**
 * Operating errors of background work that has no caller to answer: counted
 * per kind, and logged at most once per PROBLEM_LOG_INTERVAL_MS per kind
 * with the count since the last line, so that nothing fails unseen and a
 * fault that repeats every second does not flood the log.
 */
import { PROBLEM_LOG_INTERVAL_MS } from './limits';

export class ProblemLog {
  /** Failures per kind since start: the node's `problems.*` counters. */
  readonly counts: Record<string, number> = {};
  private readonly lastLoggedMs = new Map<string, number>();
  private readonly unlogged = new Map<string, number>();

  constructor(
    private readonly log: (line: string) => void,
    private readonly intervalMs = PROBLEM_LOG_INTERVAL_MS,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Notes one failure of `kind` (a lowerCamel name, e.g. `hintExpiry`). */
  report(kind: string, err: unknown): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    const pending = (this.unlogged.get(kind) ?? 0) + 1;
    const now = this.nowMs();
    const last = this.lastLoggedMs.get(kind);
    if (last !== undefined && now - last < this.intervalMs) {
      this.unlogged.set(kind, pending);
      return;
    }
    this.lastLoggedMs.set(kind, now);
    this.unlogged.set(kind, 0);
    const message = err instanceof Error ? err.message : String(err);
    const times = pending === 1 ? '' : ` (${pending} failures since the last report)`;
    this.log(`${kind} failed${times}: ${message}`);
  }
}
