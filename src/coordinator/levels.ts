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

/**
 * ANY, the IDL's level 7, is for writes only, as in Cassandra: the write is
 * answered once one copy of it is durable anywhere, on a replica or as a
 * hint on its coordinator, so it succeeds while every replica of the key is
 * down. No read is sure to see it until the hint is handed over: a read
 * needs a replica's answer, so ANY is not a LevelName, and no read path can
 * be given it.
 */
export type WriteLevelName = LevelName | 'ANY';
export const ANY_CODE = 7;

/** "A, B or C", as the help and the errors list levels. */
const listed = (names: readonly string[]): string => `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
/** The levels as the help and the errors list them: a scan's, a write's (ANY too) and a get's (SERIAL too). */
export const LEVEL_LIST = listed(LEVEL_NAMES);
export const WRITE_LEVEL_LIST = listed(['ANY', ...LEVEL_NAMES]);
export const READ_LEVEL_LIST = listed([...LEVEL_NAMES, 'SERIAL']);

/** The IDL's enum values of a write's levels. */
export const WRITE_LEVEL_CODES: Record<WriteLevelName, number> = { ...LEVEL_CODES, ANY: ANY_CODE };

/** A write's level from its wire code: a LevelName, or ANY. */
export function writeLevelFromCode(code: number): WriteLevelName | undefined {
  return code === ANY_CODE ? 'ANY' : levelFromCode(code);
}

/** Parses a write level as a person types it: a LevelName or ANY, case-insensitive. */
export function parseWriteLevel(text: string): WriteLevelName | undefined {
  return text.toUpperCase() === 'ANY' ? 'ANY' : parseLevel(text);
}

/** The sentence for ANY where a read's level was expected. */
export const ANY_IS_FOR_WRITES = `ANY is a level for writes only: a read needs a replica's answer; use ${LEVEL_LIST}`;

/** The sentence for SERIAL where only a plain read's level fits (a scan, a getMany): SERIAL is a Paxos read of one key. */
export function serialIsForOneKey(op: string): string {
  return `${op} reads at ${LEVEL_LIST}; SERIAL reads one key at a time through Paxos: use get`;
}

/** The sentence for SERIAL as a batch's level: a batch is plain writes; the conditional write is cas. */
export const SERIAL_IS_NOT_FOR_BATCHES = `a batch writes at ${WRITE_LEVEL_LIST}; SERIAL is for reads, and a conditional write is cas, one key at a time`;

/**
 * The sentence for a typed level that is none of `list`'s. ANY, typed where
 * a read's level was expected, gets its own; a write's list holds ANY, so
 * there it never gets here.
 */
export function unknownLevel(text: string, list: string): string {
  return text.toUpperCase() === 'ANY' ? ANY_IS_FOR_WRITES : `unknown consistency level "${text}"; use ${list}`;
}

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
export function unreachableLevel(level: WriteLevelName, replicationFactor: number): string | undefined {
  if (level === 'ANY') return undefined;
  const need = requiredReplicas(level, replicationFactor);
  if (need <= replicationFactor) return undefined;
  return `${level} needs ${need} replicas of the key, but this cluster keeps ${replicationFactor} of each key (replicationFactor); use ${replicationFactor === 1 ? 'ONE' : 'QUORUM or ALL'}`;
}

/**
 * Acknowledgements a write at `level` needs in a range with `pending`
 * replicas (joining, leaving or moving ones, which take writes but not
 * reads): the level's count plus the pending ones, so that the level's count
 * of them always comes from the replicas reads use (membership/placement.ts).
 * ANY needs none: one durable copy, a replica's or a hint, is enough
 * (coordinator/write-round.ts), and as it promises no read anything, the
 * pending replicas have nothing to add to it.
 */
export function writeAcksNeeded(level: WriteLevelName, replicationFactor: number, pending: number): number {
  assert(pending >= 0, 'a range has no negative number of pending replicas');
  if (level === 'ANY') return 0;
  return requiredReplicas(level, replicationFactor) + pending;
}
