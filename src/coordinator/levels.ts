/**
 * Consistency level arithmetic: how many replica answers each level needs.
 * QUORUM is a strict majority, so any two quorums of the same key share at
 * least one replica: that is what makes a QUORUM read see the last QUORUM write.
 */
import { assert } from '../common/assert';

/**
 * The levels a read or a write can ask for. TWO and THREE are fixed counts,
 * as in Cassandra: with the default three replicas TWO needs as many as
 * QUORUM and THREE as many as ALL, but with five replicas TWO is less than
 * a quorum (a TWO read need not see a TWO write).
 */
export type LevelName = 'ONE' | 'TWO' | 'THREE' | 'QUORUM' | 'ALL';
export const LEVEL_NAMES: readonly LevelName[] = ['ONE', 'TWO', 'THREE', 'QUORUM', 'ALL'];

/** The IDL's enum values (TWO and THREE were added after SERIAL). */
export const LEVEL_CODES: Record<LevelName, number> = { ONE: 1, QUORUM: 2, ALL: 3, TWO: 5, THREE: 6 };

/** "A, B or C", as the help and the errors list levels. */
const listed = (names: readonly string[]): string => `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
/** The levels as the help and the errors list them: all of them, and a read's (SERIAL too). */
export const LEVEL_LIST = listed(LEVEL_NAMES);
export const READ_LEVEL_LIST = listed([...LEVEL_NAMES, 'SERIAL']);

export function levelFromCode(code: number): LevelName | undefined {
  // A switch, not a search: every request's level passes here.
  switch (code) {
    case 1:
      return 'ONE';
    case 2:
      return 'QUORUM';
    case 3:
      return 'ALL';
    case 5:
      return 'TWO';
    case 6:
      return 'THREE';
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
    case 'TWO':
      return 2;
    case 'THREE':
      return 3;
    case 'QUORUM':
      return Math.floor(replicationFactor / 2) + 1;
    case 'ALL':
      return replicationFactor;
  }
}

/**
 * Why `level` can never be met where each key has `replicationFactor`
 * replicas (TWO or THREE above the factor), in one sentence; undefined when
 * it can. Not Unavailable: no node coming back would change the answer.
 */
export function unreachableLevel(level: LevelName, replicationFactor: number): string | undefined {
  const need = requiredReplicas(level, replicationFactor);
  if (need <= replicationFactor) return undefined;
  return `${level} needs ${need} replicas of the key, but this cluster keeps ${replicationFactor} of each key (replicationFactor); use ${replicationFactor === 1 ? 'ONE' : 'QUORUM or ALL'}`;
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
