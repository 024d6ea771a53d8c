/**
 * CPU per operation: what a measured run cost the nodes (every thread of
 * every node process, from /proc) and the benchmark process itself, divided
 * by the operations it sent. On a machine the cluster shares with its
 * clients, throughput is CPU per operation in disguise, and CPU per
 * operation is the steadier figure of the two.
 *
 * Read just before and just after the measured run, so a preload and a
 * warm-up are not counted. Work a node still does for the run's last
 * operations after the second reading (a third replica's copy, a commit) is
 * left out, as the warm-up's last work is counted in: in a steady run the
 * two are alike.
 */
import { processCpu, ProcessCpu } from '../common/procfs';
import { BACKLOG_ERROR, RunResult } from './runner';

export interface NodeCpuReading {
  /** The process read: a node restarted between two readings has another pid, and is not compared. */
  readonly pid: number;
  readonly cpu: ProcessCpu;
}

export interface CpuReading {
  /** By node id; undefined where the node's pid is unknown or /proc could not tell. */
  readonly nodes: readonly (NodeCpuReading | undefined)[];
  /** User + system time of this process so far (all threads), µs. */
  readonly clientMicros: number;
}

export interface CpuPerOp {
  /** All threads of all the nodes, µs per operation; null unless every node was read before and after. */
  readonly nodeMicrosPerOp: number | null;
  /** The nodes' main threads alone (where JavaScript runs), µs per operation; null as nodeMicrosPerOp. */
  readonly nodeMainThreadMicrosPerOp: number | null;
  /** The benchmark process, all threads, µs per operation; null when no operation was sent. */
  readonly clientMicrosPerOp: number | null;
  /** How many nodes were read before and after, of `nodes`. */
  readonly nodesRead: number;
  readonly nodes: number;
}

/** Reads the CPU used so far by the node processes `pids` (by node id) and by this process. */
export function readCpu(pids: readonly (number | undefined)[]): CpuReading {
  const nodes = pids.map((pid) => {
    const cpu = pid === undefined ? undefined : processCpu(pid);
    return pid === undefined || cpu === undefined ? undefined : { pid, cpu };
  });
  const own = process.cpuUsage();
  return { nodes, clientMicros: own.user + own.system };
}

/** Operations the run sent: those that ended, less those never sent for want of a free slot (Backlog). */
export function sentOps(run: Pick<RunResult, 'ops' | 'errors'>): number {
  return run.ops - (run.errors[BACKLOG_ERROR] ?? 0);
}

const NS_PER_US = 1000;
const perOp = (micros: number, ops: number): number => Math.round((micros / ops) * 10) / 10;

/** CPU per operation between two readings, over `ops` operations. */
export function cpuPerOp(before: CpuReading, after: CpuReading, ops: number): CpuPerOp {
  let total = 0;
  let main = 0;
  let read = 0;
  before.nodes.forEach((b, id) => {
    const a = after.nodes[id];
    if (b === undefined || a === undefined || a.pid !== b.pid) return;
    total += (a.cpu.totalNs - b.cpu.totalNs) / NS_PER_US;
    main += (a.cpu.mainThreadNs - b.cpu.mainThreadNs) / NS_PER_US;
    read++;
  });
  const nodes = before.nodes.length;
  const allNodes = ops > 0 && nodes > 0 && read === nodes;
  return {
    nodeMicrosPerOp: allNodes ? perOp(total, ops) : null,
    nodeMainThreadMicrosPerOp: allNodes ? perOp(main, ops) : null,
    clientMicrosPerOp: ops > 0 ? perOp(after.clientMicros - before.clientMicros, ops) : null,
    nodesRead: read,
    nodes,
  };
}

/** The ratio of two figures (workload over echo), to three decimals; null if either is unknown or the echo's is 0. */
export function cpuRatio(workload: number | null, echo: number | null): number | null {
  return workload === null || echo === null || echo <= 0 ? null : Math.round((workload / echo) * 1000) / 1000;
}
