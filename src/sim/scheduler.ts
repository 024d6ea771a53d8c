/**
 * Virtual time for the deterministic simulator. Every timer of every
 * simulated node, every message delivery and every disk write is an event
 * in one queue, ordered by virtual time and then by the order it was
 * scheduled; nothing waits for the real clock. After each event the
 * promise continuations it started run to the end (see drain), as they
 * would before Node's next timer, so a node's code runs in the same order
 * in every run with the same seed.
 *
 * Events belong to an owner, one per incarnation of a node: a crash kills
 * the owner and its events never run; a pause holds them until it ends.
 */
import type { Time, Timer } from '../clock/time';

/** Wall-clock origin of every simulation: a fixed instant, so that timestamps repeat from run to run. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

/** One incarnation of a node, as far as its events go. */
export class Owner {
  alive = true;
  paused = false;
  /** Events that came due while paused, in order. */
  readonly held: SimEvent[] = [];

  constructor(readonly name: string) {}
}

interface SimEvent {
  at: number;
  seq: number;
  readonly owner: Owner | undefined;
  readonly fn: () => void;
  cancelled: boolean;
}

/** An event that threw: a node's invariant failed, or the simulator's own code did. */
export interface EventFailure {
  readonly atMs: number;
  readonly owner: string;
  readonly error: unknown;
}

/**
 * Lets the promise continuations of the last event run to the end. A
 * process.nextTick callback queued from inside a microtask runs only once
 * the microtask queue is empty; the `await null` makes sure the tick is
 * queued from inside one (queued from plain code, it would run first).
 */
async function drain(): Promise<void> {
  await null;
  await new Promise<void>((resolve) => process.nextTick(resolve));
}

/** A binary min-heap of events by (at, seq). */
class EventHeap {
  private readonly items: SimEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const t = this.items[i]!;
    this.items[i] = this.items[j]!;
    this.items[j] = t;
  }

  push(e: SimEvent): void {
    const items = this.items;
    items.push(e);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peek(): SimEvent | undefined {
    return this.items[0];
  }

  pop(): SimEvent | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && this.less(l, m)) m = l;
      if (r < items.length && this.less(r, m)) m = r;
      if (m === i) return top;
      this.swap(i, m);
      i = m;
    }
  }
}

export class Scheduler {
  /** Virtual ms since the simulation began. */
  nowMs = 0;
  private seq = 0;
  private readonly heap = new EventHeap();
  readonly failures: EventFailure[] = [];
  /** Events run so far (a measure of the work, for the report). */
  eventsRun = 0;

  /** Runs `fn` `delayMs` from now, unless its owner died by then. */
  at(delayMs: number, fn: () => void, owner?: Owner): Timer {
    const e: SimEvent = { at: this.nowMs + Math.max(0, delayMs), seq: this.seq++, owner, fn, cancelled: false };
    this.heap.push(e);
    return {
      cancel: () => {
        e.cancelled = true;
      },
    };
  }

  /** The Time a node's code sees: its events are the owner's. */
  timeFor(owner: Owner): Time {
    const every = (ms: number, fn: () => void): Timer => {
      let current: Timer | undefined;
      let stopped = false;
      const tick = (): void => {
        if (stopped) return;
        current = this.at(ms, tick, owner);
        fn();
      };
      current = this.at(ms, tick, owner);
      return {
        cancel: () => {
          stopped = true;
          current?.cancel();
        },
      };
    };
    return {
      nowMs: () => SIM_EPOCH_MS + this.nowMs,
      monotonicMs: () => this.nowMs,
      after: (ms, fn) => this.at(ms, fn, owner),
      every,
      soon: (fn) => void this.at(0, fn, owner),
    };
  }

  /** Ends a pause: what came due meanwhile runs now, in its order. */
  resume(owner: Owner): void {
    owner.paused = false;
    for (const e of owner.held.splice(0)) {
      e.at = this.nowMs;
      e.seq = this.seq++;
      this.heap.push(e);
    }
  }

  /** Runs events in order until virtual time passes `untilMs` or nothing is left. */
  async runUntil(untilMs: number): Promise<void> {
    // What the caller started (a node's start, a client's first request) runs first.
    await drain();
    for (;;) {
      const next = this.heap.peek();
      if (next === undefined || next.at > untilMs) break;
      this.heap.pop();
      if (next.cancelled || (next.owner !== undefined && !next.owner.alive)) continue;
      this.nowMs = next.at;
      if (next.owner?.paused) {
        next.owner.held.push(next);
        continue;
      }
      this.eventsRun++;
      try {
        next.fn();
      } catch (error) {
        this.failures.push({ atMs: this.nowMs, owner: next.owner?.name ?? 'simulator', error });
      }
      await drain();
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /** Runs until `done` resolves (or `limitMs` of virtual time pass); resolves with whether it did. */
  async runWhile(done: Promise<unknown>, limitMs: number): Promise<boolean> {
    let finished = false;
    void done.then(
      () => (finished = true),
      () => (finished = true),
    );
    const until = this.nowMs + limitMs;
    await drain();
    while (!finished && this.nowMs < until) {
      const next = this.heap.peek();
      if (next === undefined) break;
      await this.runUntil(Math.min(until, next.at));
    }
    return finished;
  }
}
