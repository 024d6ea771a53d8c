/**
 * The fault schedule of one seed: random faults at random times while the
 * workload runs (a node's crash, power loss, pause, disk stall or clock skew;
 * a partition between two nodes; message loss, delay or duplication), each with its own end (a restart, a resume, a heal),
 * and membership operations (a new node joins, a node is decommissioned,
 * moves, cleans up or is lost and replaced, or lost and removed, the operation in progress is
 * aborted: sim/operations.ts), all drawn from the seed before the run starts. The
 * nodes a fault hits are drawn as numbers and taken from the nodes there
 * are when it comes (nodes join and leave meanwhile). The kinds can be
 * narrowed with --faults.
 */
import type { Random } from '../common/random';
import type { SimCluster } from './cluster';
import type { SimNetwork } from './network';
import type { SimOperations } from './operations';

export const FAULT_KINDS = [
  'crash',
  'power',
  'pause',
  'partition',
  'loss',
  'delay',
  'duplicate',
  'skew',
  'slowdisk',
  'join',
  'decommission',
  'move',
  'abort',
  'cleanup',
  'replace',
] as const;
/**
 * Kinds that run only when named (`--faults all,remove`): `all` keeps the
 * kinds above, so that a seed found before a kind was added keeps its trace.
 */
export const NAMED_FAULT_KINDS = ['remove'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number] | (typeof NAMED_FAULT_KINDS)[number];

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
/** Node draws are in [0, NODE_DRAWS): a multiple of every node count up to 10, so that each node is as likely. */
const NODE_DRAWS = 2520;

export interface ScheduledFault {
  readonly atMs: number;
  readonly kind: FaultKind;
  /** Which node: taken modulo the number of nodes there are when the fault comes (nodeOf). */
  readonly node: number;
  /** The other end of a partition, drawn as `node`. */
  readonly peer: number;
  readonly lastsMs: number;
  /** The fault's size: a probability (loss, duplicate), ms (delay, skew). */
  readonly amount: number;
}

export function parseFaults(text: string): FaultKind[] {
  if (text === 'none') return [];
  const known: readonly string[] = [...FAULT_KINDS, ...NAMED_FAULT_KINDS];
  const kinds: FaultKind[] = [];
  for (const k of text.split(',').map((w) => w.trim())) {
    if (k === 'all') kinds.push(...FAULT_KINDS);
    else if (known.includes(k)) kinds.push(k as FaultKind);
    else
      throw new RangeError(
        `unknown fault "${k}"; the faults are ${known.join(', ')}, all (every one but ${NAMED_FAULT_KINDS.join(', ')}) or none`,
      );
  }
  return [...new Set(kinds)];
}

function amountOf(kind: FaultKind, random: Random): number {
  if (kind === 'loss' || kind === 'duplicate') return 0.05 + random.float() * 0.45;
  if (kind === 'delay') return random.range(5, 1000);
  if (kind === 'slowdisk') return random.range(10, SLOW_DISK_MS_MAX);
  if (kind === 'skew') return random.range(-SKEW_MS_MAX, SKEW_MS_MAX);
  return 0;
}

/** The faults of one run, in time order, all within [fromMs, toMs). */
export function planFaults(random: Random, kinds: readonly FaultKind[], fromMs: number, toMs: number): ScheduledFault[] {
  if (kinds.length === 0) return [];
  const count = random.range(FAULTS_MIN, FAULTS_MAX);
  const out: ScheduledFault[] = [];
  for (let i = 0; i < count; i++) {
    const kind = random.pick(kinds);
    const node = random.int(NODE_DRAWS);
    const peer = random.int(NODE_DRAWS);
    const atMs = fromMs + random.float() * (toMs - fromMs);
    const lastsMs = Math.min(toMs - atMs, FAULT_MS_MIN + random.float() * (FAULT_MS_MAX - FAULT_MS_MIN));
    out.push({ atMs, kind, node, peer, lastsMs, amount: amountOf(kind, random) });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

/** The nodes a fault hits now: two different ones of `ids` (one when there is only one), from the fault's draws. */
export function nodesOf(f: ScheduledFault, ids: readonly number[]): { node: number; peer: number } {
  const i = f.node % ids.length;
  const j = ids.length > 1 ? (i + 1 + (f.peer % (ids.length - 1))) % ids.length : i;
  return { node: ids[i]!, peer: ids[j]! };
}

const OPERATIONS: readonly FaultKind[] = ['join', 'decommission', 'move', 'abort', 'cleanup', 'replace', 'remove'];

function isOperation(kind: FaultKind): boolean {
  return OPERATIONS.includes(kind);
}

/** A membership fault: what the operator asks for, with the fault's draws picking the node. */
function operate(f: ScheduledFault, operations: SimOperations): Promise<void> {
  switch (f.kind) {
    case 'join':
      return operations.join();
    case 'decommission':
      return operations.decommission(f.node);
    case 'move':
      return operations.move(f.node, f.peer);
    case 'abort':
      return operations.abort();
    case 'cleanup':
      return operations.cleanup(f.node);
    case 'remove':
      return operations.remove(f.node, f.peer);
    default:
      return operations.replace(f.node);
  }
}

/** Starts one fault now; its end is scheduled `lastsMs` later. */
export function applyFault(f: ScheduledFault, cluster: SimCluster, net: SimNetwork, operations: SimOperations): void {
  if (isOperation(f.kind)) {
    net.trace.note(`fault ${f.kind}`, f.node, f.peer);
    void operate(f, operations);
    return;
  }
  const { node, peer } = nodesOf(f, cluster.present());
  net.trace.note(`fault ${f.kind}`, node, peer, () => `for ${f.lastsMs.toFixed(0)} ms, amount ${f.amount}`);
  const later = (fn: () => void): void => void net.sched.at(f.lastsMs, fn);
  const faults = net.faults;
  switch (f.kind) {
    case 'crash':
    case 'power':
      if (f.kind === 'crash') cluster.crash(node);
      else cluster.powerLoss(node);
      later(() => void cluster.start(node));
      return;
    case 'pause':
      cluster.pause(node);
      later(() => cluster.resume(node));
      return;
    case 'partition':
      if (peer === node) return;
      net.partition(node, peer);
      later(() => net.unpartition(node, peer));
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
      cluster.stallDisk(node, f.amount);
      later(() => cluster.stallDisk(node, 0));
      return;
    case 'skew':
      cluster.skew(node, f.amount);
      later(() => cluster.skew(node, 0));
      return;
  }
}
