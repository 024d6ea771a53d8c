/**
 * Repair on hash trees: the node's side of every exchange (repair/tree-exchange.ts),
 * run three ways:
 *
 * - background anti-entropy (`step`): every antiEntropyIntervalMs, the next
 *   live peer in turn and each range both replicate; an in-sync range costs
 *   one round trip, a differing one repairs at most REPAIR_STEP_SEGMENTS_MAX
 *   segments per step, which bounds the pace; steps that meet only writes in
 *   flight back off (ANTI_ENTROPY_BACKOFF_STEPS_MAX);
 * - a full repair (`repairAll`, the admin `repair` call): every range with
 *   every other replica, pass after pass until their trees agree or
 *   REPAIR_ROUNDS_MAX passes are done;
 * - catching up (`catchUp`): a node that starts with a lost data directory,
 *   or that was down longer than the hint window, does not serve reads from
 *   its own copy until each of its ranges was repaired from a replica that
 *   is not catching up itself (or every replica of the range is, as when a
 *   new cluster starts: then none knows more).
 *
 * And it answers peers' exchanges (`answerHashes`, `answerSegmentKeys`).
 */
import { KvError } from '../common/errors';
import {
  ANTI_ENTROPY_BACKOFF_STEPS_MAX,
  ANTI_ENTROPY_RECHECK_PAUSE_MS,
  CATCH_UP_RETRY_MS,
  REPAIR_CALL_BYTES_MAX,
  REPAIR_DIGESTS_PER_CALL_MAX,
  REPAIR_RECHECK_PAUSE_MS,
  REPAIR_ROUNDS_MAX,
  REPAIR_SEGMENTS_PER_CALL_MAX,
  REPAIR_STEP_SEGMENTS_MAX,
  TREE_BYTES_PER_RANGE_MAX,
  TREE_HASHES_PER_CALL_MAX,
} from '../common/limits';
import { Time } from '../clock/time';
import { KeyedVersion, Version } from '../storage/version';
import { digestOf, KeyDigest } from './compare';
import { HashTree, LEAVES, Level, segmentHashRange } from './hash-tree';
import { RangeTrees, TreeRange } from './range-trees';
import { addStats, emptyStats, ExchangeStats, TreeExchange, TreeLocal, TreePeer } from './tree-exchange';

/** The store as repair reads it (storage/replica-store.ts). */
export interface RepairSource {
  get(key: string): Version | undefined;
  /** Keys with hashes in [from, to), at most about `max`; `end` is where the listing stopped. */
  keysInHashRange(from: number, to: number, max: number): { keys: string[]; end: number };
}

/** A peer as repair needs it: its tree, and whether it is itself catching up (told with every hash answer). */
export interface RepairPeer extends TreePeer {
  /** From the peer's last hash answer: whether it is catching up. */
  readonly catchingUp: boolean;
}

export interface RepairSummary extends ExchangeStats {
  rangesCompared: number;
  rangesSkipped: number;
  elapsedMs: number;
  agreed: boolean;
}

export interface RepairerDeps {
  readonly trees: RangeTrees;
  readonly store: RepairSource;
  readonly peers: ReadonlyMap<number, RepairPeer>;
  readonly isUp: (id: number) => boolean;
  /**
   * Whether a node is lost for good: the one a replacement or a removal
   * under way takes over from (it never answers again). Catching up leaves
   * it out of a range's read replicas, as their streams do.
   */
  readonly lostForGood?: (id: number) => boolean;
  /** Applies versions fetched from a peer (observing their timestamps). */
  readonly applyLocal: (items: KeyedVersion[]) => Promise<void>;
  readonly time: Time;
  /** Whether the node starts catching up (see catchUp). */
  readonly catchingUp: boolean;
  /** When the last full repair completed, as stored by `fullRepairDone` before a restart. */
  readonly lastFullRepairMs?: number;
  /** Told when a full repair of every range with every replica completed, to store it. */
  readonly fullRepairDone?: (atMs: number) => void;
  /** Told once the catch-up the node started with is done (it serves reads from then on). */
  readonly caughtUp?: () => void;
  readonly log?: (message: string) => void;
  /** How often background steps run (settings.antiEntropyIntervalMs): their re-check pause follows it (backgroundPauseMs). */
  readonly stepIntervalMs?: number;
}

/**
 * A background step's re-check pause: four step intervals, between a full
 * repair's pause and ANTI_ENTROPY_RECHECK_PAUSE_MS (which the default
 * 500 ms interval gives). A faster pace is asked for when the replicas should converge
 * sooner (the chaos checker's 25 ms steps, after its faults heal), and a
 * long pause would then hold every step.
 */
export function backgroundPauseMs(stepIntervalMs: number): number {
  return Math.min(ANTI_ENTROPY_RECHECK_PAUSE_MS, Math.max(REPAIR_RECHECK_PAUSE_MS, 4 * stepIntervalMs));
}

/** How a peer's exchange names a range: by its bounds, or (an older build) by the node that owns it. */
export interface RangeName {
  readonly owner: number;
  readonly bounds?: { readonly start: string; readonly end: string };
}

/** How this node names a range to a peer of this build. */
export function rangeName(range: TreeRange): RangeName {
  return { owner: range.reads[0]!, bounds: { start: range.start, end: range.end } };
}

/** Keys listed from the memtable per query while a segment is read (a segment is one run of its index). */
const SEGMENT_PAGE_KEYS = 1000;

export class Repairer {
  private turn = 0;
  private stepping = false;
  /** Background steps still to skip, and how many the last back-off skipped (see ANTI_ENTROPY_BACKOFF_STEPS_MAX). */
  private skip = 0;
  private backoff = 0;
  private full: Promise<RepairSummary> | null = null;
  private catching: boolean;
  readonly counters = {
    steps: 0,
    stepErrors: 0,
    /** Background steps skipped because the ones before met only writes in flight. */
    stepsSkipped: 0,
    /** Every exchange's work, summed (background, full and catching up). */
    ...emptyStats(),
    fullRepairs: 0,
    /** Wall-clock ms when the last full repair of all this node's ranges completed (0: none since start). */
    lastFullRepairMs: 0,
    /** (range, peer) pairs done and to do in the full repair running now. */
    fullPairsDone: 0,
    fullPairsTotal: 0,
    catchingUp: 0,
    treeBytes: 0,
    treeBytesMax: 0,
  };

  private readonly trees: RangeTrees;
  private readonly time: Time;

  constructor(private readonly deps: RepairerDeps) {
    this.trees = deps.trees;
    this.time = deps.time;
    const trees = deps.trees;
    this.catching = deps.catchingUp;
    this.counters.catchingUp = deps.catchingUp ? 1 : 0;
    this.counters.lastFullRepairMs = deps.lastFullRepairMs ?? 0;
    this.counters.treeBytes = trees.bytes;
    this.counters.treeBytesMax = trees.ranges.length * TREE_BYTES_PER_RANGE_MAX;
  }

  /** True until this node's ranges were repaired after a start with lost or stale data. */
  get catchingUp(): boolean {
    return this.catching;
  }

  /**
   * Throws Unavailable while this node catches up: its copy may lack what was
   * written while it was away, so a peer's read of it (readLocal, readRange)
   * is refused and the coordinator asks another replica.
   */
  refuseReadsWhileCatchingUp(): void {
    if (this.catching) throw new KvError('Unavailable', 'this node is catching up and answers no reads yet');
  }

  private readonly local: TreeLocal = {
    tree: (range) => this.trees.tree(range),
    segmentKeys: (range, segments) => this.keysOf(range, segments, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY).keys,
    get: (key) => this.deps.store.get(key),
    applyLocal: (items) => this.deps.applyLocal(items),
  };

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => this.time.after(ms, resolve));
  }

  /**
   * One pass over a range with a peer: the differing segments (at most
   * `max`), checked again after a pause, then repaired. Says how many
   * segments differed at first, and how many still differed after the
   * re-check (and were repaired). A background pass pauses longer
   * (backgroundPauseMs) and repairs only differences that held
   * still through the pause (TreeExchange.recheckStable); a full repair
   * repairs every one.
   */
  private async pass(
    peerId: number,
    range: TreeRange,
    max: number,
    into: ExchangeStats,
    background = false,
  ): Promise<{ differed: number; repaired: number }> {
    const x = new TreeExchange(this.local, this.deps.peers.get(peerId)!, range);
    try {
      let segments = await x.differingSegments(max);
      const differed = segments.length;
      if (differed > 0) {
        await this.pause(background ? backgroundPauseMs(this.deps.stepIntervalMs ?? 0) : REPAIR_RECHECK_PAUSE_MS);
        segments = background ? await x.recheckStable(segments) : await x.recheck(segments);
      }
      if (segments.length > 0) await x.repairSegments(segments);
      return { differed, repaired: segments.length };
    } finally {
      addStats(this.counters, x.stats);
      addStats(into, x.stats);
    }
  }

  /**
   * One background step with the next live peer; errors are counted, the
   * next step tries again. Then the pace (ANTI_ENTROPY_BACKOFF_STEPS_MAX): a
   * step that met only differences that moved during its re-check (writes
   * in flight) doubles the steps skipped after it; one that met some of
   * those and some that held still keeps the skip as it is (a write load
   * with a few writes waiting as hints); one whose ranges were in sync, or
   * whose every difference held still (a replica that came back), ends it.
   */
  async step(): Promise<void> {
    if (this.stepping || this.full !== null) return;
    if (this.skip > 0) {
      this.skip--;
      this.counters.stepsSkipped++;
      return;
    }
    const live = [...this.deps.peers.keys()].filter((id) => this.deps.isUp(id));
    if (live.length === 0) return;
    const peerId = live[this.turn++ % live.length]!;
    this.stepping = true;
    try {
      let differed = 0;
      let repaired = 0;
      for (const range of this.trees.sharedWith(peerId)) {
        const outcome = await this.pass(peerId, range, REPAIR_STEP_SEGMENTS_MAX, emptyStats(), true);
        differed += outcome.differed;
        repaired += outcome.repaired;
      }
      if (repaired === differed) this.backoff = 0;
      else if (repaired === 0) this.backoff = Math.min(Math.max(1, this.backoff * 2), ANTI_ENTROPY_BACKOFF_STEPS_MAX);
      this.skip = this.backoff;
      this.counters.steps++;
    } catch {
      this.counters.stepErrors++;
    } finally {
      this.stepping = false;
    }
  }

  /** The (range, peer) pairs a full repair covers: every range this node replicates, with each other replica (of `only`, if given). */
  private pairs(only: readonly number[]): Array<{ range: TreeRange; peer: number }> {
    const out: Array<{ range: TreeRange; peer: number }> = [];
    for (const range of this.trees.ranges) {
      for (const peer of this.trees.replicasOf(range)) {
        if (peer !== this.trees.selfId && (only.length === 0 || only.includes(peer))) out.push({ range, peer });
      }
    }
    return out;
  }

  /** A full repair now; concurrent callers share the one running. */
  repairAll(only: readonly number[] = []): Promise<RepairSummary> {
    this.full ??= this.runFull(only).finally(() => {
      this.full = null;
    });
    return this.full;
  }

  private async runFull(only: readonly number[]): Promise<RepairSummary> {
    const started = this.time.monotonicMs();
    // A tree still being rebuilt after the ring changed would leave its range out.
    await this.trees.ready();
    const total = emptyStats();
    const pairs = this.pairs(only);
    this.counters.fullPairsDone = 0;
    this.counters.fullPairsTotal = pairs.length;
    let compared = 0;
    let agreed = true;
    for (const { range, peer } of pairs) {
      if (!this.deps.isUp(peer)) {
        this.counters.fullPairsDone++;
        continue;
      }
      agreed = (await this.untilAgreed(peer, range, total)) && agreed;
      compared++;
      this.counters.fullPairsDone++;
    }
    const skipped = pairs.length - compared;
    if (skipped === 0 && only.length === 0 && agreed) {
      this.counters.fullRepairs++;
      this.counters.lastFullRepairMs = this.time.nowMs();
      this.deps.fullRepairDone?.(this.counters.lastFullRepairMs);
    }
    return {
      ...total,
      rangesCompared: compared,
      rangesSkipped: skipped,
      elapsedMs: Math.round(this.time.monotonicMs() - started),
      agreed: agreed && skipped === 0,
    };
  }

  /** Passes over a range with a peer until nothing differs after a re-check; false if REPAIR_ROUNDS_MAX passes were not enough. */
  private async untilAgreed(peer: number, range: TreeRange, into: ExchangeStats): Promise<boolean> {
    for (let round = 0; round < REPAIR_ROUNDS_MAX; round++) {
      if ((await this.pass(peer, range, LEAVES, into)).repaired === 0) return true;
    }
    return false;
  }

  /**
   * Repairs this node's ranges until each was repaired from a replica that
   * is not catching up (or all its replicas are), trying again every
   * CATCH_UP_RETRY_MS while peers are missing; then reads are served here again.
   */
  async catchUp(stopped: () => boolean): Promise<void> {
    const started = this.time.monotonicMs();
    const total = emptyStats();
    // Ranges repaired so far, by bounds and read replicas. The ranges are taken from the ring as it is at each
    // pass: a ring that changed meanwhile (a peer left) has other ranges, and a range of the old ring can no
    // longer be compared with anyone (simulator seed 579: two nodes caught up for ever after a decommission).
    const done = new Set<string>();
    for (;;) {
      await this.trees.ready();
      if (stopped()) return;
      const pending = this.trees.ranges.filter((r) => !done.has(rangeKey(r)));
      if (pending.length === 0) break;
      for (const range of pending) {
        if (await this.catchUpRange(range, total)) done.add(rangeKey(range));
      }
      if (this.trees.ranges.some((r) => !done.has(rangeKey(r)))) await this.pause(CATCH_UP_RETRY_MS);
    }
    this.catching = false;
    this.counters.catchingUp = 0;
    this.deps.caughtUp?.();
    this.deps.log?.(
      `caught up: ranges repaired in ${Math.round(this.time.monotonicMs() - started)} ms, fetched ${total.keysFetched} keys (${total.bytesFetched} bytes), sent ${total.keysSent}; serving reads`,
    );
  }

  /** Whether `range` is now repaired from a replica that knows it (see catchUp). */
  private async catchUpRange(range: TreeRange, total: ExchangeStats): Promise<boolean> {
    // Only a replica that takes reads knows the range: a pending one may still be streaming it in. A read
    // replica being replaced or removed is gone for good: waiting for it would wait for ever, and the
    // replacement (or removal) streams the range from this node, which refuses it while catching up
    // (simulator seed 851395: a node lost while the new cluster caught up, its survivors caught up for ever
    // and its replacement never finished; seed 220753 on six nodes, the same with a removal). Without it,
    // the rule is the same: repaired from a survivor that is not catching up, or all survivors are.
    const others = range.reads.filter((id) => id !== this.trees.selfId && this.deps.lostForGood?.(id) !== true);
    let allCatchingUp = true;
    for (const peer of others) {
      if (!this.deps.isUp(peer)) {
        allCatchingUp = false;
        continue;
      }
      try {
        await this.untilAgreed(peer, range, total);
      } catch {
        allCatchingUp = false;
        continue;
      }
      if (!this.deps.peers.get(peer)!.catchingUp) return true;
    }
    return allCatchingUp;
  }

  /** Our keys of `range` in `segments`, stopping after the segment that reaches `max` keys or `bytesMax` of them. */
  private keysOf(range: TreeRange, segments: readonly number[], max: number, bytesMax: number): { keys: string[]; covered: number } {
    const keys: string[] = [];
    let covered = 0;
    let keyBytes = 0;
    for (const segment of segments) {
      if (keys.length >= max || keyBytes >= bytesMax) break;
      let { from } = segmentHashRange(segment);
      const { to } = segmentHashRange(segment);
      while (from < to) {
        const page = this.deps.store.keysInHashRange(from, to, SEGMENT_PAGE_KEYS);
        for (const key of page.keys) {
          if (!this.trees.holds(range, key)) continue;
          keys.push(key);
          keyBytes += key.length;
        }
        from = page.end;
      }
      covered++;
    }
    return { keys, covered };
  }

  /**
   * The range a peer's repair call names (by its bounds, or by its owner from
   * an older build), checked to be one both replicate, and its tree.
   */
  private sharedTree(fromNode: number, named: RangeName): { range: TreeRange; tree: HashTree } {
    const range = named.bounds === undefined ? this.trees.byOwner(named.owner) : this.trees.find(named.bounds.start, named.bounds.end);
    const tree = range === undefined ? undefined : this.trees.tree(range);
    if (range === undefined || tree === undefined || !this.trees.replicasOf(range).includes(fromNode)) {
      const what = named.bounds === undefined ? `owned by node ${named.owner}` : `ending at ${JSON.stringify(named.bounds.end)}`;
      throw new KvError('InvalidRequest', `the range ${what} is not one that node ${fromNode} and this node both replicate now`);
    }
    return { range, tree };
  }

  /** A peer's exchange: our hashes at `indices` of a level of our tree of `range`. */
  answerHashes(fromNode: number, named: RangeName, level: number, indices: readonly number[]): { hashes: Buffer; catchingUp: boolean } {
    const { tree } = this.sharedTree(fromNode, named);
    if (level !== 0 && level !== 1 && level !== 2)
      throw new KvError('InvalidRequest', 'a tree level is 0 (root), 1 (branches) or 2 (leaves)');
    if (indices.length > TREE_HASHES_PER_CALL_MAX)
      throw new KvError('InvalidRequest', `at most ${TREE_HASHES_PER_CALL_MAX} tree hashes per call`);
    const size = HashTree.size(level as Level);
    if (!indices.every((i) => Number.isInteger(i) && i >= 0 && i < size)) {
      throw new KvError('InvalidRequest', `indices of tree level ${level} are 0 to ${size - 1}`);
    }
    return { hashes: tree.hashes(level as Level, indices), catchingUp: this.catching };
  }

  /** A peer's exchange: digests of our keys of `range` in `segments`, cut after REPAIR_DIGESTS_PER_CALL_MAX. */
  answerSegmentKeys(fromNode: number, named: RangeName, segments: readonly number[]): { digests: KeyDigest[]; covered: number } {
    const { range } = this.sharedTree(fromNode, named);
    if (segments.length === 0 || segments.length > REPAIR_SEGMENTS_PER_CALL_MAX) {
      throw new KvError('InvalidRequest', `1 to ${REPAIR_SEGMENTS_PER_CALL_MAX} segments per call`);
    }
    if (!segments.every((s) => Number.isInteger(s) && s >= 0 && s < LEAVES))
      throw new KvError('InvalidRequest', `segments are 0 to ${LEAVES - 1}`);
    const { keys, covered } = this.keysOf(range, segments, REPAIR_DIGESTS_PER_CALL_MAX, REPAIR_CALL_BYTES_MAX);
    const digests: KeyDigest[] = [];
    for (const key of keys) {
      const v = this.deps.store.get(key);
      if (v !== undefined) digests.push(digestOf(key, v));
    }
    return { digests, covered };
  }
}

/** A range as catching up tells it apart: its bounds and the replicas that take its reads. */
function rangeKey(r: TreeRange): string {
  return `${r.start}\u0000${r.end}\u0000${r.reads.join(',')}`;
}
