/**
 * The measurements of --workload repair, taken apart from the repair itself
 * so that they do not rest on its own claims:
 *
 * - which replicas disagree, and on how many copies of how many keys, from
 *   every node's dump (the inspector's merge, client/inspect.ts): versions
 *   compared whole, no hash tree involved. Before the repair this is what
 *   really differed (the denominator of the overstreaming ratio); after it,
 *   it must be nothing;
 * - whether every range's replicas hold the same tree root, read from each
 *   replica while the repair runs: the moment they all do is when the
 *   replicas agree.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeAdmin } from '../client/client';
import { closeAll, openAll, walk } from '../client/inspect';
import type { ClusterRepair } from '../client/repair';
import { toByteString } from '../common/bytes';
import { ClusterConfig } from '../config/cluster';
import { Ring } from '../partitioner/ring';
import { int64ToNumber, types } from '../rpc/thrift';
import { compareVersions, Version } from '../storage/version';
import type { RepairBenchResult } from './report';

/** How often the replicas' tree roots are read while a repair runs. */
export const AGREEMENT_POLL_MS = 50;
/** Bound on one tree-root call while polling (a busy node answers late, not never). */
const ROOT_CALL_TIMEOUT_MS = 10_000;

/**
 * Of one key's copies on its replicas (undefined: the replica has none),
 * how many are not the newest version: the copies a repair must move.
 */
export function staleCopies(copies: readonly (Version | undefined)[]): number {
  let newest: Version | undefined;
  for (const v of copies) if (v !== undefined && (newest === undefined || compareVersions(v, newest) > 0)) newest = v;
  if (newest === undefined) return 0;
  return copies.filter((v) => v === undefined || compareVersions(v, newest) !== 0).length;
}

/** The ranges (by owner id) whose replicas' roots are not all the same; a root that could not be read (null) disagrees. */
export function disagreeingRanges(roots: ReadonlyMap<number, readonly (Buffer | null)[]>): number[] {
  const out: number[] = [];
  for (const [range, list] of roots) {
    const first = list[0];
    if (first == null || list.some((r) => r === null || !r.equals(first))) out.push(range);
  }
  return out;
}

export interface Divergence {
  /** Keys whose replicas do not all hold the same version. */
  readonly keys: number;
  /** Copies of those keys that are missing or older than the newest: what a repair must stream, at least. */
  readonly copies: number;
}

/** Reads every node's dump and counts the keys and copies that differ; every node must answer. */
export async function divergence(config: ClusterConfig): Promise<Divergence> {
  const opened = await openAll(config);
  const { heads, cursors, placement } = opened;
  try {
    const down = heads.filter((h) => !h.up);
    if (down.length > 0) throw new Error(`node ${down[0]!.id} did not answer its dump: ${down[0]!.error}`);
    let keys = 0;
    let copies = 0;
    // walk() tells every replica's entry of a key before it says the key differs.
    let current: Buffer | undefined;
    let held = new Map<number, Version>();
    await walk(
      opened,
      () => {
        keys++;
        // The key's replicas as the nodes place it now: the read replicas of the current epoch's placement.
        copies += staleCopies(placement.rangeOf(toByteString(current!)).reads.map((id) => held.get(id)));
      },
      (id, m) => {
        if (current === undefined || !m.key.equals(current)) {
          current = m.key;
          held = new Map();
        }
        held.set(id, versionOf(m));
      },
    );
    return { keys, copies };
  } finally {
    closeAll(cursors);
  }
}

function versionOf(m: types.Mutation): Version {
  return { value: toByteString(m.value), ts: int64ToNumber(m.ts), deleted: m.deleted };
}

/** Reads every range's root from each of its replicas, over one admin connection per node. */
export class RootReader {
  private readonly ring: Ring;
  private readonly admins: NodeAdmin[];

  constructor(private readonly config: ClusterConfig) {
    this.ring = new Ring(config.nodes, config.replicationFactor);
    this.admins = config.nodes.map((n) => NodeAdmin.fromConfig(config, n.id, ROOT_CALL_TIMEOUT_MS));
  }

  /** Each range's replicas' roots, in replica order; null where a replica did not answer. */
  async roots(): Promise<Map<number, (Buffer | null)[]>> {
    const out = new Map<number, (Buffer | null)[]>();
    await Promise.all(
      this.config.nodes.map(async ({ id: range }) => {
        const replicas = this.ring.replicas(this.ring.tokenOf(range));
        // The node checks that the asker replicates the range too: ask as the range's next replica.
        const asker = (i: number): number => replicas[(i + 1) % replicas.length]!;
        out.set(range, await Promise.all(replicas.map((r, i) => this.admins[r]!.treeRoot(range, asker(i)).catch(() => null))));
      }),
    );
    return out;
  }

  /** The ranges whose replicas disagree now. */
  async disagreeing(): Promise<number[]> {
    return disagreeingRanges(await this.roots());
  }

  close(): void {
    for (const a of this.admins) a.close();
  }
}

/**
 * Reads the roots every AGREEMENT_POLL_MS from its start until stopped, and
 * keeps when they first all agreed (ms after the start); a later
 * disagreement forgets it, so that the figure is when agreement began for good.
 */
export class AgreementWatch {
  private agreedAtMs: number | null = null;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly reader: RootReader,
    private readonly startMs: number,
    private readonly now: () => number,
  ) {
    this.loop = this.poll();
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      const at = this.now();
      const agree = (await this.reader.disagreeing()).length === 0;
      if (!agree) this.agreedAtMs = null;
      else this.agreedAtMs ??= Math.round(at - this.startMs);
      if (!this.stopped) await sleep(AGREEMENT_POLL_MS);
    }
  }

  /** Stops after one more reading; returns when agreement began (ms after the start), or null if the roots disagree now. */
  async stop(): Promise<number | null> {
    this.stopped = true;
    await this.loop;
    const agree = (await this.reader.disagreeing()).length === 0;
    return agree ? (this.agreedAtMs ?? Math.round(this.now() - this.startMs)) : null;
  }
}

/** The repair workload's cluster: hints off and no background anti-entropy, so that only the repair it times converges the replicas (--set overrides). */
export const REPAIR_WORKLOAD_SETTINGS = { hintWindowSeconds: 0, antiEntropyIntervalMs: 0 } as const;

/** What the repair answered, summed over the nodes and node by node, as the repair workload reports it. */
export function repairFigures(run: ClusterRepair): Pick<RepairBenchResult, 'repairSaysAgreed' | 'perNode'> & RepairWork {
  const { elapsedMs: _elapsed, agreed: _agreed, roundTrips: _trips, ...work } = run.total;
  return {
    ...work,
    repairSaysAgreed: run.agreed,
    perNode: run.nodes.map((n) => ({
      id: n.id,
      elapsedMs: n.summary?.elapsedMs ?? null,
      keysSent: n.summary?.keysSent ?? null,
      keysFetched: n.summary?.keysFetched ?? null,
      ...(n.error !== undefined ? { error: n.error } : {}),
    })),
  };
}

type RepairWork = Pick<
  RepairBenchResult,
  | 'rangesCompared'
  | 'rangesSkipped'
  | 'segmentsDiffered'
  | 'keysDiffered'
  | 'keysSent'
  | 'keysFetched'
  | 'bytesSent'
  | 'bytesFetched'
  | 'compareBytes'
>;

/** Keys streamed (both ways) over the copies that really differed, to three decimals; null when none did or they were not counted. */
export function overstreaming(keysSent: number, keysFetched: number, before: Divergence | null): number | null {
  return before === null || before.copies === 0 ? null : Math.round(((keysSent + keysFetched) / before.copies) * 1000) / 1000;
}
