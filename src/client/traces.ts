/**
 * Sampled tracing from the operator's side (admin.sh trace-probability and
 * traces): set the share of requests every node (or one) traces, and read
 * back what they kept (coordinator/trace-sampler.ts).
 */
import type { ClusterConfig } from '../config/cluster';
import { SERIAL_CODE, writeLevelFromCode } from '../coordinator/levels';
import { int64ToNumber } from '../rpc/thrift';
import { displayKey } from '../common/bytes';
import { SAMPLED_TRACES_KEPT } from '../common/limits';
import { memberAdmins, onEach } from './operations';

export interface NodeShare {
  readonly node: number;
  /** The share before this call. */
  readonly before?: number;
  readonly error?: string;
}

export interface KeptTrace {
  readonly node: number;
  readonly op: string;
  /** As a log line shows a key. */
  readonly key: string;
  readonly level: string;
  readonly startedMs: number;
  readonly durationUs: number;
  /** "found, 5 bytes", "not found", "ts=…", "applied", "not applied", or the failure. */
  readonly outcome: string;
  readonly events: ReadonlyArray<{ readonly elapsedUs: number; readonly activity: string }>;
  readonly dropped: number;
}

/** Sets the share on every ring member (or node `only`). */
export async function setClusterTraceProbability(config: ClusterConfig, probability: number, only?: number): Promise<NodeShare[]> {
  return onEach(await memberAdmins(config, only), async (admin, node) => ({
    node,
    before: await admin.setTraceProbability(probability),
  }));
}

/** Every ring member's (or node `only`'s) kept traces, at most `limit` each, all of them newest first. */
export async function clusterTraces(
  config: ClusterConfig,
  only?: number,
  limit = SAMPLED_TRACES_KEPT,
): Promise<{ traces: KeptTrace[]; failed: { node: number; error: string }[] }> {
  const answers = await onEach(await memberAdmins(config, only), async (admin, node) => ({
    node,
    traces: (await admin.recentTraces(limit)).map((t) => ({
      node,
      op: t.op,
      key: displayKey(t.key),
      level: t.level === SERIAL_CODE ? 'SERIAL' : (writeLevelFromCode(t.level) ?? String(t.level)),
      startedMs: int64ToNumber(t.startedMs),
      durationUs: int64ToNumber(t.durationMicros),
      outcome: outcomeText(t.report),
      events: (t.report.events ?? []).map((e) => ({ elapsedUs: int64ToNumber(e.elapsedMicros), activity: e.activity })),
      dropped: t.report.dropped ?? 0,
    })),
  }));
  const traces: KeptTrace[] = [];
  const failed: { node: number; error: string }[] = [];
  for (const a of answers) {
    if ('error' in a) failed.push(a as { node: number; error: string });
    else traces.push(...a.traces);
  }
  traces.sort((a, b) => b.startedMs - a.startedMs);
  return { traces, failed };
}

/** How a kept request ended, in a few words. */
function outcomeText(r: {
  found?: { found: boolean; value: Buffer } | null;
  ts?: unknown;
  applied?: boolean | null;
  rows?: number | null;
  errorCode?: string | null;
  error?: string | null;
}): string {
  if (r.errorCode) return `${r.errorCode}: ${r.error ?? ''}`;
  if (r.rows !== null && r.rows !== undefined) return r.rows === 1 ? '1 key' : `${r.rows} keys`;
  if (r.applied !== null && r.applied !== undefined) return r.applied ? 'applied' : 'not applied';
  if (r.found) return r.found.found ? `found, ${r.found.value.length} bytes` : 'not found';
  if (r.ts !== null && r.ts !== undefined) return `written, ts=${int64ToNumber(r.ts as never)}`;
  return 'answered';
}
