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
 * A node becomes loaded in any window of STREAM_LOADED_OPS_PER_SECOND_MIN
 * or more. It becomes idle only after STREAM_IDLE_WINDOWS windows in a row
 * of less: less than STREAM_IDLE_OPS_PER_SECOND_MAX for a node that was
 * loaded (its clients have gone, not slowed), less than the loaded mark for
 * one whose load is not known yet. Both because a stream at full pace takes
 * the CPU the clients need and holds their rate down:
 * - with one mark both ways, a join under a write load on a busy machine
 *   switched pace nine times in its first twelve seconds, half of them at
 *   full pace;
 * - judged on its first window alone, a joining node on a busy machine saw
 *   249 operations a second (the coordinators were still learning of the
 *   join, which is when its client writes begin) and went off at full pace
 *   for 2.6 s, holding the writes down the while.
 * The first window starts with the stream's first page. Until the load is
 * known the streams go at the loaded pace, the cautious side.
 */
import type { Time } from '../clock/time';
import {
  STREAM_IDLE_OPS_PER_SECOND_MAX,
  STREAM_IDLE_WINDOWS,
  STREAM_LOAD_WINDOW_MS,
  STREAM_LOADED_OPS_PER_SECOND_MIN,
} from '../common/limits';

export interface PaceSettings {
  /** Bytes of keys and values a second on an idle node. */
  readonly idleBytesPerSecond: number;
  /** The same on a loaded node; never above idleBytesPerSecond (a cluster paced down for a slow link stays so). */
  readonly loadedBytesPerSecond: number;
}

/** Whether a node is loaded: unknown until judged. */
export type Load = 'unknown' | 'idle' | 'loaded';

/** The judgement so far: the load, and the windows in a row that spoke for idle. */
export interface Judged {
  readonly load: Load;
  readonly quietWindows: number;
}

export const NOT_JUDGED: Judged = { load: 'unknown', quietWindows: 0 };

/** The judgement after a window of `opsPerSecond`. */
export function judge(was: Judged, opsPerSecond: number): Judged {
  if (opsPerSecond >= STREAM_LOADED_OPS_PER_SECOND_MIN) return { load: 'loaded', quietWindows: 0 };
  if (was.load === 'idle') return was;
  const quiet = was.load === 'unknown' || opsPerSecond < STREAM_IDLE_OPS_PER_SECOND_MAX;
  const quietWindows = quiet ? was.quietWindows + 1 : 0;
  return quietWindows >= STREAM_IDLE_WINDOWS ? { load: 'idle', quietWindows: 0 } : { load: was.load, quietWindows };
}

/** The pace at a load. */
export function paceFor(load: Load, s: PaceSettings): number {
  return load === 'idle' ? s.idleBytesPerSecond : Math.min(s.loadedBytesPerSecond, s.idleBytesPerSecond);
}

export class ForegroundPace {
  /** Where the current window began; undefined until the first page asks for the pace. */
  private windowStartMs: number | undefined;
  private windowStartCount = 0;
  private judged: Judged = NOT_JUDGED;
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
  ) {}

  /** The pace now, in bytes a second; the load is read again once a window has passed. */
  bytesPerSecond(): number {
    const now = this.time.monotonicMs();
    if (this.windowStartMs === undefined) {
      this.windowStartMs = now;
      this.windowStartCount = this.count();
    }
    const elapsed = now - this.windowStartMs;
    let opsPerSecond: number | undefined;
    if (elapsed >= STREAM_LOAD_WINDOW_MS) {
      const count = this.count();
      opsPerSecond = ((count - this.windowStartCount) * 1000) / elapsed;
      this.judged = judge(this.judged, opsPerSecond);
      this.windowStartMs = now;
      this.windowStartCount = count;
    }
    const pace = paceFor(this.judged.load, this.settings);
    if (pace !== this.lastPace) {
      this.lastPace = pace;
      this.onChange?.(pace, opsPerSecond);
    }
    return pace;
  }
}
