/**
 * The hint store's contract with its node and with hint delivery: durable
 * hints per target. Production keeps them in SQLite (hint-store.ts); the
 * deterministic simulator in memory (sim/memory-hints.ts). `add` resolves
 * once the hints are durable, with true, or were dropped (a full queue, a
 * failed commit), with false; the store counts the dropped ones.
 */
import type { KeyedVersion } from '../storage/version';
import type { StoredHint } from './hint-store';

export interface HintStorage {
  readonly counters: Readonly<Record<string, number>>;
  add(target: number, items: readonly KeyedVersion[]): Promise<boolean>;
  count(target: number): number;
  countsByTarget(): Map<number, number>;
  outcomesByTarget(): Map<number, { delivered: number; dropped: number }>;
  next(target: number, afterId: number, limit: number): Promise<StoredHint[]>;
  remove(target: number, ids: readonly number[], delivered: boolean): Promise<void>;
  expire(cutoffMs: number): Promise<number>;
  flush(): Promise<void>;
}
