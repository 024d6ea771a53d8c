/**
 * The key samples rebalance proposes from (client/rebalance.ts): each ring
 * node's primary range read from a replica of it, page by page through the
 * admin dump (in key order, from the range's start), counted exactly and
 * sampled systematically: every k-th live key, k doubling whenever the
 * sample reaches REBALANCE_SAMPLE_KEYS_MAX, so memory stays bounded
 * whatever a node holds. The dump carries values too, so this reads every
 * key of the cluster once: a tool's cost, run by an operator, not a node's.
 */
import { compareKeyStrings, fromByteString, toByteString } from '../common/bytes';
import { isKvError, KvError } from '../common/errors';
import { DUMP_PAGE_ENTRIES_MAX, REBALANCE_SAMPLE_KEYS_MAX } from '../common/limits';
import type { ClusterConfig } from '../config/cluster';
import { ringMembers } from '../membership/changes';
import type { RangeSample } from './rebalance';
import { adminAt } from './ring';
import type { Topology } from './topology';

/** Every k-th key offered, k doubling as the sample fills. */
export class SystematicSample {
  count = 0;
  private stride = 1;
  keys: string[] = [];

  constructor(private readonly max = REBALANCE_SAMPLE_KEYS_MAX) {}

  add(key: string): void {
    if (this.count++ % this.stride === 0) this.keys.push(key);
    if (this.keys.length < this.max) return;
    // Keep the keys at even positions: those at multiples of the doubled stride.
    this.keys = this.keys.filter((_, i) => i % 2 === 0);
    this.stride *= 2;
  }
}

/** Offers the live keys of (after, upTo] (upTo undefined: to the end) from one node's dump. */
async function readSpan(
  admin: ReturnType<typeof adminAt>,
  after: string,
  upTo: string | undefined,
  sample: SystematicSample,
): Promise<void> {
  let from = fromByteString(after);
  for (;;) {
    const page = await admin.dumpPage(from, DUMP_PAGE_ENTRIES_MAX);
    for (const m of page.entries) {
      const key = toByteString(m.key);
      if (upTo !== undefined && compareKeyStrings(key, upTo) > 0) return;
      if (!m.deleted) sample.add(key);
    }
    if (!page.more || page.entries.length === 0) return;
    from = page.entries[page.entries.length - 1]!.key;
  }
}

/** The primary range (start, end] of a node, sampled from the first of its read replicas that answers. */
async function sampleRange(config: ClusterConfig, topology: Topology, start: string, end: string): Promise<SystematicSample> {
  const failures: string[] = [];
  for (const id of topology.placement.rangeOf(end).reads) {
    const at = topology.locations[id];
    if (at === undefined) continue;
    const admin = adminAt(config, at);
    try {
      const sample = new SystematicSample();
      if (compareKeyStrings(start, end) < 0) await readSpan(admin, start, end, sample);
      else {
        // The range wraps: the keys after the largest token, then those up to the smallest.
        await readSpan(admin, start, undefined, sample);
        await readSpan(admin, '', end, sample);
      }
      return sample;
    } catch (err) {
      if (!isKvError(err)) throw err;
      failures.push(`node ${id}: ${err.message}`);
    } finally {
      admin.close();
    }
  }
  throw new KvError(
    'Unavailable',
    `no replica of the range ending at node ${topology.placement.rangeOf(end).reads[0]} answered (${failures.join('; ')})`,
  );
}

/** Every ring node's primary range: its key count and a sample. */
export async function sampleRanges(config: ClusterConfig, topology: Topology): Promise<RangeSample[]> {
  const ring = ringMembers(topology.membership).sort((a, b) => compareKeyStrings(a.token, b.token));
  const out: RangeSample[] = [];
  for (const [i, node] of ring.entries()) {
    const start = ring[(i + ring.length - 1) % ring.length]!.token;
    const sample = await sampleRange(config, topology, start, node.token);
    out.push({ node: node.id, token: node.token, keys: sample.count, sample: sample.keys });
  }
  return out;
}
