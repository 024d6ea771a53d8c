/**
 * The fault schedule of one seed: random faults at random times while the
 * workload runs (a node's crash, power loss, pause, disk stall or clock skew;
 * a partition between two nodes; message loss, delay or duplication), each with its own end (a restart, a resume, a heal), all
 * drawn from the seed before the run starts. The kinds can be narrowed with
 * --faults.
 */
import type { Random } from '../common/random';
import type { SimCluster } from './cluster';
import type { SimNetwork } from './network';

export const FAULT_KINDS = ['crash', 'power', 'pause', 'partition', 'loss', 'delay', 'duplicate', 'skew', 'slowdisk'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults per seed: uniform in [min, max]. */
const FAULTS_MIN = 1;
const FAULTS_MAX = 6;
/** How long a fault lasts, ms: uniform in [min, max]. */
const FAULT_MS_MIN = 50;
const FAULT_MS_MAX = 3000;
/** The longest a commit takes during a disk stall, ms. */
const SLOW_DISK_MS_MAX = 1500;
/** The largest clock skew a fault sets, ms. */
const SKEW_MS_MAX = 2000;

export interface ScheduledFault {
  readonly atMs: number;
  readonly kind: FaultKind;
  readonly node: number;
  /** The other end of a partition. */
  readonly peer: number;
  readonly lastsMs: number;
  /** The fault's size: a probability (loss, duplicate), ms (delay, skew). */
  readonly amount: number;
}

export function parseFaults(text: string): FaultKind[] {
  if (text === 'all') return [...FAULT_KINDS];
  if (text === 'none') return [];
  const kinds = text.split(',').map((k) => k.trim());
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k))
      throw new RangeError(`unknown fault "${k}"; the faults are ${FAULT_KINDS.join(', ')}, all or none`);
  }
  return kinds as FaultKind[];
}

function amountOf(kind: FaultKind, random: Random): number {
  if (kind === 'loss' || kind === 'duplicate') return 0.05 + random.float() * 0.45;
  if (kind === 'delay') return random.range(5, 1000);
  if (kind === 'slowdisk') return random.range(10, SLOW_DISK_MS_MAX);
  if (kind === 'skew') return random.range(-SKEW_MS_MAX, SKEW_MS_MAX);
  return 0;
}

/** The faults of one run, in time order, all within [fromMs, toMs). */
export function planFaults(random: Random, kinds: readonly FaultKind[], nodes: number, fromMs: number, toMs: number): ScheduledFault[] {
  if (kinds.length === 0) return [];
  const count = random.range(FAULTS_MIN, FAULTS_MAX);
  const out: ScheduledFault[] = [];
  for (let i = 0; i < count; i++) {
    const kind = random.pick(kinds);
    const node = random.int(nodes);
    const peer = (node + 1 + random.int(nodes - 1)) % nodes;
    const atMs = fromMs + random.float() * (toMs - fromMs);
    const lastsMs = Math.min(toMs - atMs, FAULT_MS_MIN + random.float() * (FAULT_MS_MAX - FAULT_MS_MIN));
    out.push({ atMs, kind, node, peer, lastsMs, amount: amountOf(kind, random) });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

/** Starts one fault now; its end is scheduled `lastsMs` later. */
export function applyFault(f: ScheduledFault, cluster: SimCluster, net: SimNetwork): void {
  net.trace.note(`fault ${f.kind}`, f.node, f.peer, () => `for ${f.lastsMs.toFixed(0)} ms, amount ${f.amount}`);
  const later = (fn: () => void): void => void net.sched.at(f.lastsMs, fn);
  const faults = net.faults;
  switch (f.kind) {
    case 'crash':
    case 'power':
      if (f.kind === 'crash') cluster.crash(f.node);
      else cluster.powerLoss(f.node);
      later(() => void cluster.start(f.node));
      return;
    case 'pause':
      cluster.pause(f.node);
      later(() => cluster.resume(f.node));
      return;
    case 'partition':
      net.partition(f.node, f.peer);
      later(() => net.unpartition(f.node, f.peer));
      return;
    case 'loss':
      faults.loss = f.amount;
      later(() => (faults.loss = 0));
      return;
    case 'duplicate':
      faults.duplication = f.amount;
      later(() => (faults.duplication = 0));
      return;
    case 'delay':
      faults.delayMs = f.amount;
      later(() => (faults.delayMs = 0));
      return;
    case 'slowdisk':
      cluster.stallDisk(f.node, f.amount);
      later(() => cluster.stallDisk(f.node, 0));
      return;
    case 'skew':
      cluster.skew(f.node, f.amount);
      later(() => cluster.skew(f.node, 0));
      return;
  }
}
