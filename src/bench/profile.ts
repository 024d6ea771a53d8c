/**
 * Where a node's main thread spent a measured run: the self time of each
 * function in the V8 CPU profile a node process writes when it is started
 * with `--cpu-prof` (a .cpuprofile file: JSON, the format of Chrome's
 * DevTools), within the run's window of time.
 *
 * A profile is a tree of call frames (`nodes`) and a list of samples: the
 * id of the frame on top of the stack, `samples[i]`, and the µs since the
 * previous sample, `timeDeltas[i]`, from `startTime`. Its clock is the
 * system's monotonic clock in µs, the one process.hrtime() reads in every
 * process of the machine, so the benchmark can cut one node's profile to
 * the time of each of its measured runs. A sample stands for the time until
 * the next one. A profile without samples (hit counts only) cannot be cut:
 * its hits are spread evenly over its whole span.
 *
 * Pure, apart from `profilesByPid`, which lists a directory.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  /** 0-based; -1 for code that is not in a script (native, the garbage collector). */
  readonly lineNumber: number;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** µs on the monotonic clock. */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

/** A span of the monotonic clock, in µs (process.hrtime.bigint() / 1000n). */
export interface TimeWindow {
  readonly startMicros: number;
  readonly endMicros: number;
}

export interface FunctionTime {
  /** The function's name; `(program)` is native code outside JavaScript, `(garbage collector)` V8's collector. */
  readonly name: string;
  /** Script and 1-based line, shortened; '' for code not in a script. */
  readonly where: string;
  readonly selfMicros: number;
}

export interface ProfileSummary {
  /** Time the samples cover within the window. */
  readonly sampledMicros: number;
  /** Of that, time the thread waited for work (the `(idle)` frame). */
  readonly idleMicros: number;
  /** Every other frame, by function, most self time first. */
  readonly functions: readonly FunctionTime[];
}

const IDLE = '(idle)';

function fail(why: string): never {
  throw new Error(`not a V8 CPU profile: ${why}`);
}

const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

/** Parses and checks the JSON of a .cpuprofile file; throws an Error saying what is wrong. */
export function parseCpuProfile(text: string): CpuProfile {
  const p = JSON.parse(text) as Record<string, unknown>;
  if (typeof p !== 'object' || p === null) fail('not an object');
  if (typeof p.startTime !== 'number' || typeof p.endTime !== 'number' || p.endTime < p.startTime) fail('no startTime and endTime');
  if (!Array.isArray(p.nodes)) fail('no nodes');
  for (const n of p.nodes as Record<string, unknown>[]) {
    const f = n?.callFrame as Record<string, unknown> | undefined;
    if (typeof n?.id !== 'number' || typeof f?.functionName !== 'string' || typeof f.url !== 'string' || typeof f.lineNumber !== 'number') {
      fail(`node ${JSON.stringify(n).slice(0, 80)} has no id or call frame`);
    }
  }
  if (p.samples !== undefined || p.timeDeltas !== undefined) {
    if (!isNumberArray(p.samples) || !isNumberArray(p.timeDeltas) || p.samples.length !== p.timeDeltas.length) {
      fail('samples and timeDeltas are not number arrays of one length');
    }
  }
  return p as unknown as CpuProfile;
}

/** The part of a script's URL that tells it apart: from node_modules/ or below the build's dist/, else as given. */
export function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? url.slice('file://'.length) : url;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) return path.slice(modules + 1);
  const dist = path.lastIndexOf('/dist/');
  return dist >= 0 ? path.slice(dist + '/dist/'.length) : path;
}

function frameKey(f: CallFrame): { name: string; where: string } {
  return {
    name: f.functionName === '' ? '(anonymous)' : f.functionName,
    where: f.url === '' ? '' : `${shortUrl(f.url)}:${f.lineNumber + 1}`,
  };
}

/** µs of each profile node id within the window (all of it without one). */
function timeByNode(profile: CpuProfile, window: TimeWindow | undefined): Map<number, number> {
  const out = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  const from = window?.startMicros ?? -Infinity;
  const to = window?.endMicros ?? Infinity;
  if (samples === undefined || timeDeltas === undefined || samples.length === 0) {
    const hits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
    const perHit = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
    for (const n of profile.nodes) if (n.hitCount) out.set(n.id, n.hitCount * perHit);
    return out;
  }
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i]!;
    const next = i + 1 < samples.length ? t + timeDeltas[i + 1]! : profile.endTime;
    // V8 can record a sample slightly out of order: a negative span counts nothing.
    const span = Math.min(next, to) - Math.max(t, from);
    if (span > 0) out.set(samples[i]!, (out.get(samples[i]!) ?? 0) + span);
  }
  return out;
}

/** Self time by function (name and place) within `window`, or over the whole profile. */
export function summarizeProfile(profile: CpuProfile, window?: TimeWindow): ProfileSummary {
  const byNode = timeByNode(profile, window);
  const byFunction = new Map<string, FunctionTime>();
  let sampled = 0;
  let idle = 0;
  for (const n of profile.nodes) {
    const micros = byNode.get(n.id);
    if (micros === undefined) continue;
    sampled += micros;
    const { name, where } = frameKey(n.callFrame);
    if (name === IDLE && where === '') {
      idle += micros;
      continue;
    }
    const key = `${name}\u0000${where}`;
    const had = byFunction.get(key);
    byFunction.set(key, { name, where, selfMicros: (had?.selfMicros ?? 0) + micros });
  }
  const functions = [...byFunction.values()].sort((a, b) => b.selfMicros - a.selfMicros || a.name.localeCompare(b.name));
  return { sampledMicros: sampled, idleMicros: idle, functions };
}

/** Share of busy time, as text ("12.3%"). */
function busyShare(micros: number, busy: number): string {
  return `${busy > 0 ? ((micros / busy) * 100).toFixed(1) : '0.0'}%`;
}

/** The `top` functions by self time, as a titled table. */
export function formatProfile(title: string, s: ProfileSummary, top: number): string {
  const busy = s.sampledMicros - s.idleMicros;
  const head = `${title}: main thread busy ${busyShare(busy, s.sampledMicros)} of ${(s.sampledMicros / 1e6).toFixed(2)} s sampled`;
  const rows = s.functions
    .slice(0, top)
    .map(
      (f) =>
        `${(f.selfMicros / 1000).toFixed(1).padStart(10)}  ${busyShare(f.selfMicros, busy).padStart(6)}  ${f.name}${f.where === '' ? '' : ` ${f.where}`}`,
    );
  return [head, `${'self ms'.padStart(10)}  ${'busy'.padStart(6)}  function`, ...rows].join('\n');
}

/** The pid in the name Node.js gives a --cpu-prof file: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile. */
export function profilePid(fileName: string): number | undefined {
  const m = /^CPU\.\d+\.\d+\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(fileName);
  return m ? Number(m[1]) : undefined;
}

/** The profiles in `dir` of the processes `pids`, by pid (the newest name if a pid has several). */
export function profilesByPid(dir: string, pids: readonly number[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync(dir).sort()) {
    const pid = profilePid(name);
    if (pid !== undefined && pids.includes(pid)) out.set(pid, join(dir, name));
  }
  return out;
}
