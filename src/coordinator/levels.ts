/**
 * Consistency level arithmetic: how many replica answers each level needs.
 * QUORUM is a strict majority, so any two quorums of the same key share at
 * least one replica: that is what makes a QUORUM read see the last QUORUM write.
 */
import { assert } from '../common/assert';

export type LevelName = 'ONE' | 'QUORUM' | 'ALL';
export const LEVEL_NAMES: readonly LevelName[] = ['ONE', 'QUORUM', 'ALL'];

/** The IDL's enum values. */
export const LEVEL_CODES: Record<LevelName, number> = { ONE: 1, QUORUM: 2, ALL: 3 };

export function levelFromCode(code: number): LevelName | undefined {
  // A switch, not a search: every request's level passes here.
  switch (code) {
    case 1:
      return 'ONE';
    case 2:
      return 'QUORUM';
    case 3:
      return 'ALL';
    default:
      return undefined;
  }
}

/**
 * SERIAL, the IDL's level 4, is for reads only: the latest linearizable
 * value, read through a Paxos round (paxos/proposer.ts). It is not a
 * LevelName, so no write path can be given it.
 */
export const SERIAL_CODE = 4;
export type ReadLevelName = LevelName | 'SERIAL';

/** Parses a read level as a person types it: a LevelName or SERIAL, case-insensitive. */
export function parseReadLevel(text: string): ReadLevelName | undefined {
  return text.toUpperCase() === 'SERIAL' ? 'SERIAL' : parseLevel(text);
}

/** Parses a level as a person types it: case-insensitive. */
export function parseLevel(text: string): LevelName | undefined {
  const upper = text.toUpperCase();
  return LEVEL_NAMES.find((name) => name === upper);
}

export function requiredReplicas(level: LevelName, replicationFactor: number): number {
  assert(replicationFactor >= 1, 'replication factor must be positive');
  switch (level) {
    case 'ONE':
      return 1;
    case 'QUORUM':
      return Math.floor(replicationFactor / 2) + 1;
    case 'ALL':
      return replicationFactor;
  }
}

/**
 * Acknowledgements a write at `level` needs in a range with `pending`
 * replicas (joining, leaving or moving ones, which take writes but not
 * reads): the level's count plus the pending ones, so that the level's count
 * of them always comes from the replicas reads use (membership/placement.ts).
 */
export function writeAcksNeeded(level: LevelName, replicationFactor: number, pending: number): number {
  assert(pending >= 0, 'a range has no negative number of pending replicas');
  return requiredReplicas(level, replicationFactor) + pending;
}
