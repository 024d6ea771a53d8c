/**
 * The checks of a cas history (pure), per counter:
 *   - the cas operations and SERIAL reads are linearizable as one register
 *     (linearizability.ts; a cas whose outcome is unknown may or may not have
 *     taken effect) — "not_linearizable" otherwise, "unchecked" when the
 *     search was too long to finish;
 *   - no two applied cas started from the same value ("double_applied");
 *   - the final SERIAL read counts every applied increment and at most the
 *     unknown ones besides ("lost_increment" / "extra_increment").
 * An Unavailable cas wrote nothing and is left out.
 */
import { checkRegister, RegisterOp, TimedOp } from './linearizability';
import type { RegisterRecord } from './cas-workload';

export interface CasCounts {
  casOps: number;
  casApplied: number;
  casNotApplied: number;
  casUnknown: number;
  serialReads: number;
  notLinearizable: number;
  doubleApplied: number;
  lostIncrement: number;
  extraIncrement: number;
  unchecked: number;
}

export interface CasCheck {
  readonly counts: CasCounts;
  readonly violations: string[];
  readonly ok: boolean;
}

function registerOp(r: RegisterRecord): RegisterOp | undefined {
  if (r.outcome === 'Unavailable') return undefined;
  if (r.kind === 'read') return r.outcome === 'ok' ? { kind: 'read', value: r.current ?? null } : undefined;
  if (r.outcome !== 'ok') return { kind: 'cas-unknown', expected: r.expected ?? null, value: r.value! };
  return { kind: 'cas', expected: r.expected ?? null, value: r.value!, applied: r.applied!, current: r.current ?? null };
}

function describe(r: RegisterRecord): string {
  const t = `[${r.start.toFixed(1)}..${r.end.toFixed(1)}ms]`;
  const what = r.kind === 'cas' ? `cas ${r.key} ${r.expected ?? '-'} -> ${r.value}` : `${r.final ? 'final ' : ''}get ${r.key} serial`;
  const got =
    r.outcome !== 'ok'
      ? r.outcome
      : r.kind === 'cas'
        ? `${r.applied ? 'applied' : 'not applied'}, now ${r.current ?? '-'}`
        : `${r.current ?? '-'}`;
  return `#${r.id} ${r.process}@n${r.node} ${t} ${what} -> ${got}`;
}

export function checkCas(records: readonly RegisterRecord[]): CasCheck {
  const n: CasCounts = {
    casOps: 0,
    casApplied: 0,
    casNotApplied: 0,
    casUnknown: 0,
    serialReads: 0,
    notLinearizable: 0,
    doubleApplied: 0,
    lostIncrement: 0,
    extraIncrement: 0,
    unchecked: 0,
  };
  const violations: string[] = [];
  const byKey = new Map<string, RegisterRecord[]>();
  for (const r of records) {
    if (!byKey.has(r.key)) byKey.set(r.key, []);
    byKey.get(r.key)!.push(r);
  }
  for (const [key, list] of byKey) checkKey(key, list, n, violations);
  const bad = n.notLinearizable + n.doubleApplied + n.lostIncrement + n.extraIncrement;
  return { counts: n, violations, ok: bad === 0 };
}

function checkKey(key: string, list: readonly RegisterRecord[], n: CasCounts, violations: string[]): void {
  const cas = list.filter((r) => r.kind === 'cas');
  const applied = cas.filter((r) => r.outcome === 'ok' && r.applied);
  const unknown = cas.filter((r) => r.outcome !== 'ok' && r.outcome !== 'Unavailable');
  n.casOps += cas.length;
  n.casApplied += applied.length;
  n.casNotApplied += cas.filter((r) => r.outcome === 'ok' && !r.applied).length;
  n.casUnknown += unknown.length;
  n.serialReads += list.filter((r) => r.kind === 'read' && r.outcome === 'ok').length;
  const from = new Map<string, RegisterRecord>();
  for (const r of applied) {
    const twin = from.get(String(r.expected));
    if (twin !== undefined) {
      n.doubleApplied++;
      violations.push(`double_applied ${key}: two applied cas from ${r.expected ?? '-'}:\n  ${describe(twin)}\n  ${describe(r)}`);
    }
    from.set(String(r.expected), r);
  }
  const final = list.filter((r) => r.final && r.outcome === 'ok').at(-1);
  if (final !== undefined) {
    const count = final.current === null || final.current === undefined ? 0 : Number(final.current);
    if (count < applied.length) {
      n.lostIncrement++;
      violations.push(
        `lost_increment ${key}: ${applied.length} increments applied, the final SERIAL read counts ${count}: ${describe(final)}`,
      );
    } else if (count > applied.length + unknown.length) {
      n.extraIncrement++;
      violations.push(`extra_increment ${key}: ${applied.length} applied and ${unknown.length} unknown, the final read counts ${count}`);
    }
  }
  const timed: TimedOp[] = [];
  for (const r of list) {
    const op = registerOp(r);
    if (op !== undefined) timed.push({ op, start: r.start, end: r.end, id: r.id });
  }
  const verdict = checkRegister(timed);
  if (verdict.result === 'unknown') n.unchecked++;
  if (verdict.result === 'not-linearizable') {
    n.notLinearizable++;
    const stuck = list.filter((r) => verdict.stuckAt.includes(r.id)).map(describe);
    violations.push(
      `not_linearizable ${key}: no order fits past ${verdict.placed} operations; the next could be:\n  ${stuck.join('\n  ')}`,
    );
  }
}
