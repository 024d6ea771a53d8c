/**
 * A node that turns quiet after a burst collects its garbage once.
 *
 * Why: V8 collects the old generation when it reaches a limit set from what
 * the last full collection left (up to several times that), and its memory
 * reducer starts only after such a collection. A burst that ends below the
 * limit (a load, a hint replay) leaves its garbage in the heap for as long
 * as the node stays quiet: a node restarted with a million keys held 46-47 MB
 * of heap in use 15 s after its hints were replayed, where its peers held
 * 17-25 MB (docs/benchmarks.md, Where a node's memory goes at a million
 * keys).
 *
 * So every IDLE_GC_CHECK_MS the node reads its event loop's busy share and
 * its heap in use; when the loop was quiet and the heap holds
 * IDLE_GC_GARBAGE_BYTES_MIN more than the last collection left, it
 * collects. A collection resets that baseline, so a quiet node collects
 * again only once new garbage has come; a busy one never does by hand.
 */
import { getHeapStatistics } from 'node:v8';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Time, Timer } from '../clock/time';
import { IDLE_GC_BUSY_SHARE_MAX, IDLE_GC_CHECK_MS, IDLE_GC_GARBAGE_BYTES_MIN } from '../common/limits';

/** What the collector reads and does: the process's own in a node (see KvNode.start). */
export interface HeapProbe {
  /** Bytes in use in the JavaScript heap, garbage included. */
  heapUsedBytes(): number;
  /** Share (0 to 1) of the time since the last call the event loop spent working. */
  busyShare(): number;
  /** A full collection, now. */
  collect(): void;
}

/** One check's reading. */
export interface HeapReading {
  readonly heapUsedBytes: number;
  readonly busyShare: number;
}

/**
 * Whether a quiet node should collect: its loop was busy at most
 * IDLE_GC_BUSY_SHARE_MAX of the interval and its heap holds at least
 * IDLE_GC_GARBAGE_BYTES_MIN more than `baselineBytes` (what the last
 * collection left).
 */
export function collectionDue(reading: HeapReading, baselineBytes: number): boolean {
  return reading.busyShare <= IDLE_GC_BUSY_SHARE_MAX && reading.heapUsedBytes - baselineBytes >= IDLE_GC_GARBAGE_BYTES_MIN;
}

/**
 * The baseline after a check: what a collection left, or the heap in use
 * when V8 collected by itself since and left less than the baseline.
 */
export function nextBaseline(baselineBytes: number, heapUsedBytes: number): number {
  return Math.min(baselineBytes, heapUsedBytes);
}

export class IdleCollector {
  readonly counters = { idleCollections: 0, idleCollectedBytes: 0 };
  private baseline: number;

  constructor(
    private readonly time: Time,
    private readonly probe: HeapProbe,
  ) {
    this.baseline = probe.heapUsedBytes();
  }

  /** Checks every IDLE_GC_CHECK_MS until the timer is cancelled. */
  start(): Timer {
    this.probe.busyShare(); // the first interval starts now
    return this.time.every(IDLE_GC_CHECK_MS, () => this.check());
  }

  /** One check: collects if collectionDue says so. */
  check(): void {
    const reading = { heapUsedBytes: this.probe.heapUsedBytes(), busyShare: this.probe.busyShare() };
    if (!collectionDue(reading, this.baseline)) {
      this.baseline = nextBaseline(this.baseline, reading.heapUsedBytes);
      return;
    }
    this.probe.collect();
    const after = this.probe.heapUsedBytes();
    this.counters.idleCollections++;
    this.counters.idleCollectedBytes += Math.max(0, reading.heapUsedBytes - after);
    this.baseline = after;
    // The collection's own time must not make the next interval look busy.
    this.probe.busyShare();
  }
}

/**
 * This process's heap and event loop, or undefined when it was started
 * without --expose-gc (NODE_V8_FLAGS has it; a test process may not).
 */
export function processHeapProbe(): HeapProbe | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    heapUsedBytes: () => getHeapStatistics().used_heap_size,
    busyShare: () => {
      const now = performance.eventLoopUtilization();
      const share = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return share;
    },
    // Twice: the first collection marks and sweeps, and only then do the
    // old generation's pages show how little of them is live; the second
    // moves what is left on the sparsest pages elsewhere, so that those are
    // given back. One collection left a heap of 8 MB in use holding 61 MB
    // of pages, two 17 MB (a scratch script, docs/benchmarks.md).
    collect: () => {
      gc();
      gc();
    },
  };
}
