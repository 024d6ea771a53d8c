/**
 * A linearizability checker for one register under cas and reads (pure):
 * the Wing-Gong search with Lowe's memoisation, as in Knossos. It looks for
 * an order of the operations that respects real time (an operation that
 * ended before another began comes first) in which each one's answer is what
 * a single register would have given: a read returns the value held; an
 * applied cas found its expected value and put its new one; a cas not applied
 * found something else, namely the value it reported.
 *
 * An operation whose outcome is unknown (TimedOut, a lost connection) may
 * have taken effect at any moment after it began, or never: it has no end,
 * and the search may leave it out.
 *
 * The search is exponential in the worst case, so it is bounded: at most
 * LINEARIZABILITY_OPS_MAX operations per register and LINEARIZABILITY_STEPS_MAX
 * search steps; past either the answer is "unknown", never a false verdict.
 */
import { LINEARIZABILITY_OPS_MAX, LINEARIZABILITY_STEPS_MAX } from '../common/limits';

/** A register's value; null for absent. */
export type RegisterValue = string | null;

export type RegisterOp =
  | { readonly kind: 'read'; readonly value: RegisterValue }
  | {
      readonly kind: 'cas';
      readonly expected: RegisterValue;
      readonly value: string;
      readonly applied: boolean;
      readonly current: RegisterValue;
    }
  | { readonly kind: 'cas-unknown'; readonly expected: RegisterValue; readonly value: string };

export interface TimedOp {
  readonly op: RegisterOp;
  /** Invocation and completion times on one clock; `end` is ignored for cas-unknown. */
  readonly start: number;
  readonly end: number;
  /** The caller's own id for the op, echoed in a verdict. */
  readonly id: number;
}

export type Verdict =
  | { readonly result: 'linearizable' }
  | {
      readonly result: 'not-linearizable';
      /** The most operations any order managed to place, and the ones that could come next there but did not fit. */
      readonly placed: number;
      readonly stuckAt: readonly number[];
    }
  | { readonly result: 'unknown'; readonly reason: string };

/** The register after `op` from `state`, or undefined when op could not have answered so from it. */
export function step(state: RegisterValue, op: RegisterOp): RegisterValue | undefined {
  switch (op.kind) {
    case 'read':
      return op.value === state ? state : undefined;
    case 'cas':
      if (op.applied) return op.expected === state ? op.value : undefined;
      return op.expected !== state && op.current === state ? state : undefined;
    case 'cas-unknown':
      return op.expected === state ? op.value : state;
  }
}

interface Entry {
  readonly t: TimedOp;
  readonly index: number;
  readonly end: number;
  readonly required: boolean;
}

export function checkRegister(ops: readonly TimedOp[], initial: RegisterValue = null): Verdict {
  if (ops.length > LINEARIZABILITY_OPS_MAX) {
    return { result: 'unknown', reason: `${ops.length} operations on one register; the checker takes at most ${LINEARIZABILITY_OPS_MAX}` };
  }
  const entries: Entry[] = [...ops]
    .sort((a, b) => a.start - b.start)
    .map((t, index) => {
      const unknown = t.op.kind === 'cas-unknown';
      return { t, index, end: unknown ? Number.POSITIVE_INFINITY : t.end, required: !unknown };
    });
  return new Search(entries).run(initial);
}

class Search {
  private readonly placed: boolean[];
  /** `placed` as bits, for the memo's keys. */
  private readonly bits: Uint32Array;
  private readonly seen = new Set<string>();
  private requiredLeft: number;
  private steps = 0;
  private best = -1;
  private stuckAt: number[] = [];
  private depth = 0;

  constructor(private readonly entries: readonly Entry[]) {
    this.placed = entries.map(() => false);
    this.bits = new Uint32Array(Math.ceil(entries.length / 32));
    this.requiredLeft = entries.filter((e) => e.required).length;
  }

  run(initial: RegisterValue): Verdict {
    const found = this.dfs(initial);
    if (found === undefined) return { result: 'unknown', reason: `the search took more than ${LINEARIZABILITY_STEPS_MAX} steps` };
    if (found) return { result: 'linearizable' };
    return { result: 'not-linearizable', placed: this.best, stuckAt: this.stuckAt };
  }

  /** Entries that may come next: not placed, and invoked before every unplaced entry's end. */
  private candidates(): Entry[] {
    let minEnd = Number.POSITIVE_INFINITY;
    for (const e of this.entries) if (!this.placed[e.index] && e.end < minEnd) minEnd = e.end;
    const out: Entry[] = [];
    for (const e of this.entries) {
      if (e.t.start > minEnd) break;
      if (!this.placed[e.index]) out.push(e);
    }
    return out;
  }

  /** True: an order exists from here; false: none; undefined: out of steps. */
  private dfs(state: RegisterValue): boolean | undefined {
    if (this.requiredLeft === 0) return true;
    if (++this.steps > LINEARIZABILITY_STEPS_MAX) return undefined;
    // Lowe's memo: the same set of placed operations with the same register value leads where it led before.
    const key = `${this.bits.join(',')}|${state === null ? '' : `=${state}`}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    const next = this.candidates();
    if (this.depth > this.best) {
      this.best = this.depth;
      this.stuckAt = next.map((e) => e.t.id);
    }
    for (const e of next) {
      const after = step(state, e.t.op);
      if (after === undefined) continue;
      this.place(e, true);
      const found = this.dfs(after);
      this.place(e, false);
      if (found !== false) return found;
    }
    return false;
  }

  private place(e: Entry, on: boolean): void {
    this.placed[e.index] = on;
    this.bits[e.index >>> 5]! ^= 1 << (e.index & 31);
    this.depth += on ? 1 : -1;
    if (e.required) this.requiredLeft += on ? -1 : 1;
  }
}
