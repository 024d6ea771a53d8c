/**
 * The pace a membership operation's streams go at: the full pace
 * (settings.streamBytesPerSecond) while the node that runs the operation
 * serves little else, the pace for a loaded ring
 * (settings.streamBytesPerSecondUnderLoad) while clients keep it busy.
 *
 * Why two: where the ring's own work already fills the cores, every key
 * streamed takes its CPU from the client requests. On the two-core machine
 * of docs/benchmarks.md a join at full pace streamed 43,000 keys/s under a
 * QUORUM write load and left the writes 28-30% of their rate; paced to
 * 2.5 MiB/s it streamed 23,000 keys/s and left them about half. No one
 * number serves both an idle ring, where the operator wants the data moved
 * as fast as the machine allows, and a loaded one, where the clients come
 * first. A node cannot see how much of the machine its peers need, but it
 * sees its own share of the client load, which is what moves when clients
 * come and go.
 *
 * The load is counted as foreground operations: the client requests the
 * node coordinated and the replica writes and reads it served for other
 * coordinators (hint deliveries and repair among them), not the stream's
 * own pages. It is read over windows of STREAM_LOAD_WINDOW_MS.
 *
 * A node becomes loaded at STREAM_LOADED_OPS_PER_SECOND_MIN and counts as
 * loaded until its load falls under STREAM_IDLE_OPS_PER_SECOND_MAX: the
 * clients have gone. One threshold both ways fed on itself: a stream at
 * full pace takes the CPU the clients need, their rate falls under the
 * threshold, and the stream goes on at full pace (a join under a write load
 * on a busy machine switched pace nine times in its first twelve seconds,
 * spending half of them at full pace). Until the first window has passed
 * the node's load is unknown and its streams go at the loaded pace, the
 * cautious side; the first reading is judged as a node that was idle.
 */
import type { Time } from '../clock/time';
import { STREAM_IDLE_OPS_PER_SECOND_MAX, STREAM_LOAD_WINDOW_MS, STREAM_LOADED_OPS_PER_SECOND_MIN } from '../common/limits';

export interface PaceSettings {
  /** Bytes of keys and values a second on an idle node. */
  readonly idleBytesPerSecond: number;
  /** The same on a loaded node; never above idleBytesPerSecond (a cluster paced down for a slow link stays so). */
  readonly loadedBytesPerSecond: number;
}

/** Whether a node is loaded: unknown before its first reading, then judged with hysteresis. */
export type Load = 'unknown' | 'idle' | 'loaded';

/** The load after a reading of `opsPerSecond` on a node whose load was `was`. */
export function nextLoad(was: Load, opsPerSecond: number): Load {
  if (was === 'loaded') return opsPerSecond < STREAM_IDLE_OPS_PER_SECOND_MAX ? 'idle' : 'loaded';
  return opsPerSecond >= STREAM_LOADED_OPS_PER_SECOND_MIN ? 'loaded' : 'idle';
}

/** The pace at a load. */
export function paceFor(load: Load, s: PaceSettings): number {
  return load === 'idle' ? s.idleBytesPerSecond : Math.min(s.loadedBytesPerSecond, s.idleBytesPerSecond);
}

export class ForegroundPace {
  private windowStartMs: number;
  private windowStartCount: number;
  private load: Load = 'unknown';
  private lastPace: number | undefined;

  /**
   * `count`: foreground operations since the node started (only grows).
   * `onChange`: told the new pace and the reading behind it (undefined: none yet) whenever the pace changes.
   */
  constructor(
    private readonly time: Time,
    private readonly count: () => number,
    private readonly settings: PaceSettings,
    private readonly onChange?: (bytesPerSecond: number, opsPerSecond: number | undefined) => void,
  ) {
    this.windowStartMs = time.monotonicMs();
    this.windowStartCount = count();
  }

  /** The pace now, in bytes a second; the load is read again once a window has passed. */
  bytesPerSecond(): number {
    const now = this.time.monotonicMs();
    const elapsed = now - this.windowStartMs;
    let opsPerSecond: number | undefined;
    if (elapsed >= STREAM_LOAD_WINDOW_MS) {
      const count = this.count();
      opsPerSecond = ((count - this.windowStartCount) * 1000) / elapsed;
      this.load = nextLoad(this.load, opsPerSecond);
      this.windowStartMs = now;
      this.windowStartCount = count;
    }
    const pace = paceFor(this.load, this.settings);
    if (pace !== this.lastPace) {
      this.lastPace = pace;
      this.onChange?.(pace, opsPerSecond);
    }
    return pace;
  }
}
