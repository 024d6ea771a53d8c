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
import { cpus } from 'node:os';
import { clockTicksPerSecond, machineCpu, MachineCpu, processCpu, ProcessCpu } from '../common/procfs';
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
  /** When the reading was taken, on the monotonic clock, µs. */
  readonly atMicros: number;
  /** The whole machine's CPU time so far; undefined where /proc cannot tell. */
  readonly machine: MachineCpu | undefined;
  /** Clock ticks per second of `machine`. */
  readonly ticksPerSecond: number;
  /** CPUs of the machine. */
  readonly cores: number;
}

/**
 * Cores kept busy on average between two readings: by the whole machine,
 * the nodes, the benchmark, and everything else (the machine less the other
 * two: what was not this run, rounded to the machine's 10 ms ticks); null
 * where unknown.
 */
export interface CoresBusy {
  readonly machine: number | null;
  readonly nodes: number | null;
  readonly bench: number;
  readonly others: number | null;
  readonly cores: number;
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
  /** Cores busy during the run, to tell how much else the machine was doing; null for a run of no time. */
  readonly coresBusy: CoresBusy | null;
}

/** Reads the CPU used so far by the node processes `pids` (by node id) and by this process. */
export function readCpu(pids: readonly (number | undefined)[]): CpuReading {
  const nodes = pids.map((pid) => {
    const cpu = pid === undefined ? undefined : processCpu(pid);
    return pid === undefined || cpu === undefined ? undefined : { pid, cpu };
  });
  const own = process.cpuUsage();
  return {
    nodes,
    clientMicros: own.user + own.system,
    atMicros: Number(process.hrtime.bigint() / 1000n),
    machine: machineCpu(),
    ticksPerSecond: clockTicksPerSecond(),
    cores: cpus().length,
  };
}

/** Operations the run sent: those that ended, less those never sent for want of a free slot (Backlog). */
export function sentOps(run: Pick<RunResult, 'ops' | 'errors'>): number {
  return run.ops - (run.errors[BACKLOG_ERROR] ?? 0);
}

const NS_PER_US = 1000;
const US_PER_S = 1e6;
const perOp = (micros: number, ops: number): number => Math.round((micros / ops) * 10) / 10;
const hundredths = (n: number): number => Math.round(n * 100) / 100;

function coresBusy(before: CpuReading, after: CpuReading, nodeMicros: number | null): CoresBusy | null {
  const seconds = (after.atMicros - before.atMicros) / US_PER_S;
  if (!(seconds > 0)) return null;
  const machine =
    before.machine && after.machine ? (after.machine.busyTicks - before.machine.busyTicks) / after.ticksPerSecond / seconds : null;
  const nodes = nodeMicros === null ? null : nodeMicros / US_PER_S / seconds;
  const bench = (after.clientMicros - before.clientMicros) / US_PER_S / seconds;
  const others = machine === null || nodes === null ? null : Math.max(0, machine - nodes - bench);
  return {
    machine: machine === null ? null : hundredths(machine),
    nodes: nodes === null ? null : hundredths(nodes),
    bench: hundredths(bench),
    others: others === null ? null : hundredths(others),
    cores: after.cores,
  };
}

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
  const allRead = nodes > 0 && read === nodes;
  const allNodes = ops > 0 && allRead;
  return {
    nodeMicrosPerOp: allNodes ? perOp(total, ops) : null,
    nodeMainThreadMicrosPerOp: allNodes ? perOp(main, ops) : null,
    clientMicrosPerOp: ops > 0 ? perOp(after.clientMicros - before.clientMicros, ops) : null,
    nodesRead: read,
    nodes,
    coresBusy: coresBusy(before, after, allRead ? total : null),
  };
}

/** The ratio of two figures (workload over echo), to three decimals; null if either is unknown or the echo's is 0. */
export function cpuRatio(workload: number | null, echo: number | null): number | null {
  return workload === null || echo === null || echo <= 0 ? null : Math.round((workload / echo) * 1000) / 1000;
}
