/**
 * Operating errors: expected, typed, coded, and shown to users as one plain
 * sentence. (Programmer errors are assertions, see assert.ts.)
 */

export type ErrorCode =
  | 'InvalidRequest'
  | 'Unavailable'
  | 'TimedOut'
  | 'Unauthorized'
  | 'ConnectionError'
  | 'StorageFull'
  | 'StaleEpoch'
  | 'Internal';

export class KvError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra numbers that go with the code, e.g. {required, alive}. */
    readonly details: Record<string, number> = {},
  ) {
    super(message);
    this.name = code;
  }
}

/** TimedOut for a request that got `acked` of the `required` replica answers in time. */
export function timedOut(message: string, acked: number, required: number): KvError {
  return new KvError('TimedOut', message, { acked, required });
}

/**
 * A KvError of the key at place i (0-based) of n in a request of several
 * (a getMany, a batch), its place put first: "key 2 of 3: …". Anything else
 * passes as it is.
 */
export function ofKeyAt(err: unknown, i: number, n: number): unknown {
  if (!(err instanceof KvError)) return err;
  return new KvError(err.code, `key ${i + 1} of ${n}: ${err.message}`, err.details);
}

export function isKvError(err: unknown, code?: ErrorCode): err is KvError {
  return err instanceof KvError && (code === undefined || err.code === code);
}

/**
 * How a full disk reads, on this node and across the wire. An internode
 * `replicate` cannot declare a new exception without an older coordinator
 * taking the unknown answer for success, so a replica's full disk travels
 * as the message of a generic Thrift error, and the coordinator knows it by
 * this beginning (rpc/errors.ts).
 */
export const STORAGE_FULL_MESSAGE = "the node's disk is full";

/** A write refused because the node's data disk (or its filesystem quota) is full. */
export function storageFull(detail: string): KvError {
  return new KvError('StorageFull', `${STORAGE_FULL_MESSAGE} (${detail}); free space there and writes resume by themselves`);
}

/**
 * A peer refused a request placed by an older epoch than its own, for a key
 * whose placement changed since (details.epoch: the peer's epoch). The
 * caller takes up the log and tries again (see node.ts, checkPeerEpoch).
 */
export function staleEpoch(message: string, epoch: number): KvError {
  return new KvError('StaleEpoch', message, { epoch });
}
