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

/** One level of the search: the register's value there, the entries that may come next, and which was placed to get there. */
interface Frame {
  readonly state: RegisterValue;
  readonly next: readonly Entry[];
  tried: number;
  readonly via: Entry | undefined;
}

/**
 * The search, depth first with an explicit stack (histories are thousands of
 * operations deep). Entries before `first` are all placed, and placed ones
 * all lie before the end of the current window of candidates, so the memo's
 * key needs only the bits in between.
 */
class Search {
  private readonly placed: boolean[];
  /** `placed` as bits, for the memo's keys. */
  private readonly bits: Uint32Array;
  private readonly seen = new Set<string>();
  private requiredLeft: number;
  private first = 0;
  private windowEnd = 0;
  private steps = 0;
  private best = -1;
  private stuckAt: number[] = [];
  private depth = 0;

  constructor(private readonly entries: readonly Entry[]) {
    this.placed = entries.map(() => false);
    this.bits = new Uint32Array(Math.ceil(entries.length / 32) + 1);
    this.requiredLeft = entries.filter((e) => e.required).length;
  }

  run(initial: RegisterValue): Verdict {
    const found = this.search(initial);
    if (found === undefined) return { result: 'unknown', reason: `the search took more than ${LINEARIZABILITY_STEPS_MAX} steps` };
    if (found) return { result: 'linearizable' };
    return { result: 'not-linearizable', placed: this.best, stuckAt: this.stuckAt };
  }

  /** True: an order exists; false: none; undefined: out of steps. */
  private search(initial: RegisterValue): boolean | undefined {
    if (this.requiredLeft === 0) return true;
    const stack: Frame[] = [this.frame(initial, undefined)];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.tried >= top.next.length) {
        stack.pop();
        if (top.via !== undefined) this.place(top.via, false);
        continue;
      }
      const e = top.next[top.tried++]!;
      const after = step(top.state, e.t.op);
      if (after === undefined) continue;
      // An unknown cas that changes nothing here is the same as one that never took effect (it is optional, and never ends): not worth a branch.
      if (!e.required && after === top.state) continue;
      this.place(e, true);
      if (this.requiredLeft === 0) return true;
      if (++this.steps > LINEARIZABILITY_STEPS_MAX) return undefined;
      // Lowe's memo: the same placed set with the same register value leads where it led before.
      const key = `${this.first}|${this.bits.subarray(this.first >>> 5, (this.windowEnd >>> 5) + 1).join(',')}|${after === null ? '' : `=${after}`}`;
      if (this.seen.has(key)) {
        this.place(e, false);
        continue;
      }
      this.seen.add(key);
      stack.push(this.frame(after, e));
    }
    return false;
  }

  private frame(state: RegisterValue, via: Entry | undefined): Frame {
    const next = this.candidates();
    if (this.depth > this.best) {
      this.best = this.depth;
      this.stuckAt = next.map((e) => e.t.id);
    }
    return { state, next, tried: 0, via };
  }

  /**
   * Entries that may come next: not placed, and invoked before every unplaced
   * entry's end. In start order from the first unplaced one; an entry that
   * starts after the smallest end seen so far cannot lower it, so the scan
   * stops there.
   */
  private candidates(): Entry[] {
    while (this.first < this.entries.length && this.placed[this.first]) this.first++;
    let minEnd = Number.POSITIVE_INFINITY;
    const out: Entry[] = [];
    let i = this.first;
    for (; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.t.start > minEnd) break;
      if (this.placed[i]) continue;
      if (e.end < minEnd) minEnd = e.end;
      out.push(e);
    }
    this.windowEnd = Math.max(this.windowEnd, i);
    return onePerUnknownOp(out.filter((e) => e.t.start <= minEnd));
  }

  private place(e: Entry, on: boolean): void {
    this.placed[e.index] = on;
    this.bits[e.index >>> 5]! ^= 1 << (e.index & 31);
    this.depth += on ? 1 : -1;
    if (e.required) this.requiredLeft += on ? -1 : 1;
    if (!on && e.index < this.first) this.first = e.index;
  }
}

/**
 * The candidates with, of the unknown-outcome cas operations among them,
 * only the first of each (expected, value). Two such operations that are
 * both candidates stay candidates from here on (neither ends), and either
 * may take effect or not, so an order that places one now and the other
 * later (or never) fits with the two swapped: trying the second as well
 * only repeats the search. A chaos run that killed a node under a cas load
 * left 274 unknown increments on its two counters, many from the same
 * value, and the search ran out of steps without this.
 */
function onePerUnknownOp(candidates: Entry[]): Entry[] {
  let seen: Set<string> | undefined;
  return candidates.filter((e) => {
    const op = e.t.op;
    if (op.kind !== 'cas-unknown') return true;
    const key = `${op.expected === null ? 'absent' : `=${op.expected}`}\u0000${op.value}`;
    seen ??= new Set();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
