/**
 * What a node knows about itself before it is built: whether it starts by
 * catching up (a new node, a lost data directory, or an outage longer than
 * the hint window), and the ring its stored log describes. Read once, in
 * KvNode.assemble and KvNode.start.
 */
import type { ClusterConfig } from '../config/cluster';
import { EpochEntry, replayLog } from '../membership/changes';
import { bootstrapPlacement, Placement } from '../membership/placement';
import type { RangeTrees } from '../repair/range-trees';
import type { Time } from '../clock/time';
import { ALIVE_AT, LAST_FULL_REPAIR } from '../storage/meta';
import type { NodeMeta } from '../storage/replica-storage';

/** What a node knows at start, from its log, about its state. */
export interface StartState {
  readonly trees: RangeTrees;
  readonly catchingUp: boolean;
  /** Its data directory was empty and it never ran: it holds nothing of an older ring to serve. */
  readonly neverRan: boolean;
  /** Why it is catching up, for the log. */
  readonly why: string;
  readonly lastFullRepairMs: number;
}

/**
 * Whether the node starts catching up: its log is empty and was never
 * alive (a new node, or a lost data directory: either way it cannot know
 * what its ranges hold), its file was put back from a snapshot (it lost
 * the writes it acknowledged since, which no hint holds for it), or it was
 * down longer than the hint window, so hints did not keep what it missed.
 */
export async function startState(
  parts: { readonly trees: RangeTrees; readonly meta: NodeMeta; readonly time: Time },
  keys: number,
  hintWindowSeconds: number,
  restored = false,
): Promise<StartState> {
  const trees = parts.trees;
  const aliveAt = await parts.meta.read(ALIVE_AT);
  const lastFullRepairMs = (await parts.meta.read(LAST_FULL_REPAIR)) ?? 0;
  if (restored) return { trees, catchingUp: true, neverRan: false, why: 'its data file was put back from a snapshot', lastFullRepairMs };
  const downMs = aliveAt === undefined ? 0 : parts.time.nowMs() - aliveAt;
  if (aliveAt === undefined && keys === 0)
    return { trees, catchingUp: true, neverRan: true, why: 'an empty data directory', lastFullRepairMs };
  if (aliveAt !== undefined && downMs > hintWindowSeconds * 1000) {
    return {
      trees,
      catchingUp: true,
      neverRan: false,
      why: `down about ${Math.round(downMs / 1000)} s, longer than the hint window of ${hintWindowSeconds} s`,
      lastFullRepairMs,
    };
  }
  return { trees, catchingUp: false, neverRan: false, why: '', lastFullRepairMs };
}

/** The placement of a stored epoch log (the cluster file's ring when none is stored yet). */
export function placementOf(entries: readonly EpochEntry[], config: ClusterConfig): Placement {
  if (entries.length === 0) return bootstrapPlacement(config.nodes, config.replicationFactor);
  return Placement.of(replayLog(entries));
}

/**
 * One full collection right after the replay, when the process was started
 * with --expose-gc (NODE_V8_FLAGS). The replay leaves tens of megabytes of
 * garbage (its query results, the key sort's arrays: 17-24 MB at a million
 * keys) that V8 would collect only once the heap grew further, and the hints
 * other nodes deliver next arrive on top of it: a restarted node of a million
 * keys peaked at 299-310 MB without this. Otherwise a node collects by hand
 * only when it turns quiet holding garbage (node/idle-collection.ts).
 */
export function collectReplayGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
