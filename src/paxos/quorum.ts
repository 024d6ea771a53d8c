/**
 * Asking a key's live replicas something and waiting for enough good
 * answers: the shape of every Paxos phase. Resolves as soon as `need` good
 * answers are in, or as soon as they can no longer come (the rest refused or
 * failed); rejects with TimedOut at the deadline.
 */
import { timedOut } from '../common/errors';
import type { Time } from '../clock/time';

export interface Gathered<R> {
  /** The good answers, by replica id. */
  readonly good: Map<number, R>;
  /** Answers that were not good (refusals); failed calls are not among them. */
  readonly bad: R[];
}

export interface GatherSpec<R> {
  readonly ids: readonly number[];
  readonly call: (id: number) => Promise<R>;
  readonly isGood: (r: R) => boolean;
  readonly need: number;
  readonly time: Time;
  /** On `time.monotonicMs()`'s scale. */
  readonly deadlineMs: number;
  /** For the TimedOut message: "cas prepare", ... */
  readonly what: string;
}

export function gather<R>(spec: GatherSpec<R>): Promise<Gathered<R>> {
  const { ids, need, time } = spec;
  return new Promise((resolve, reject) => {
    const good = new Map<number, R>();
    const bad: R[] = [];
    let pending = ids.length;
    let settled = false;
    const timer = time.after(Math.max(0, spec.deadlineMs - time.monotonicMs()), () => {
      if (settled) return;
      settled = true;
      reject(timedOut(`${spec.what} got ${good.size} of ${need} replica answers in time; the outcome is unknown`, good.size, need));
    });
    const check = (): void => {
      if (settled || (good.size < need && good.size + pending >= need)) return;
      settled = true;
      timer.cancel();
      resolve({ good, bad });
    };
    if (ids.length === 0) check();
    for (const id of ids) {
      spec.call(id).then(
        (r) => {
          pending--;
          if (spec.isGood(r)) good.set(id, r);
          else bad.push(r);
          check();
        },
        () => {
          pending--;
          check();
        },
      );
    }
  });
}
