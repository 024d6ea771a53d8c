/**
 * Between the wire's exception structs and KvError, both ways.
 */
import { ErrorCode, KvError, STORAGE_FULL_MESSAGE, staleEpoch } from '../common/errors';
import { int64ToNumber, types } from './thrift';

const STORAGE_FULL = 'StorageFull';

/**
 * The admin methods' IDL declares only Unauthorized and InvalidRequest (and
 * some Unavailable), and declaring more would leave a client built from the
 * older IDL with "unknown result". So an operating error such a method does
 * not declare travels as the message of the runtime's application
 * exception, led by its code ("TimedOut: the sentence"): this build's
 * client reads the code back (toKvError), an older one shows the line.
 */
const UNDECLARED_CODES: readonly ErrorCode[] = ['TimedOut', 'Unavailable', 'StorageFull'];
const UNDECLARED_CODE = new RegExp(`^(${UNDECLARED_CODES.join('|')}): `);

/** Any error from a call, as a KvError with a plain message. */
export function toKvError(err: unknown): KvError {
  if (err instanceof KvError) return err;
  if (err instanceof types.InvalidRequest) return new KvError('InvalidRequest', err.message);
  if (err instanceof types.Unauthorized) return new KvError('Unauthorized', err.message);
  if (err instanceof types.StaleEpoch) return staleEpoch(err.message, int64ToNumber(err.epoch));
  if (err instanceof types.Unavailable) {
    return new KvError('Unavailable', err.message, { required: err.needed, alive: err.alive });
  }
  if (err instanceof types.TimedOut) {
    const code = err.reason === STORAGE_FULL ? STORAGE_FULL : 'TimedOut';
    return new KvError(code, err.message, { acked: err.acked, required: err.needed });
  }
  const message = err instanceof Error ? err.message : String(err);
  const undeclared = UNDECLARED_CODE.exec(message);
  if (undeclared) return new KvError(undeclared[1] as ErrorCode, message.slice(undeclared[0].length));
  // A replica's full disk, across an internode call (see STORAGE_FULL_MESSAGE).
  if (message.startsWith(STORAGE_FULL_MESSAGE)) return new KvError(STORAGE_FULL, message);
  return new KvError('Internal', `the node failed: ${message || 'unknown error'}`);
}

/** A KvError as the exception struct the IDL declares for it. */
export function toWireError(err: unknown): Error {
  if (!(err instanceof KvError)) return err as Error;
  const d = err.details;
  switch (err.code) {
    case 'InvalidRequest':
      return new types.InvalidRequest({ message: err.message });
    case 'Unauthorized':
      return new types.Unauthorized({ message: err.message });
    case 'StaleEpoch':
      return new types.StaleEpoch({ message: err.message, epoch: (d.epoch ?? 0) as never });
    case 'Unavailable':
      return new types.Unavailable({ message: err.message, needed: d.required ?? 0, alive: d.alive ?? 0 });
    case 'TimedOut':
      return new types.TimedOut({ message: err.message, acked: d.acked ?? 0, needed: d.required ?? 0 });
    case STORAGE_FULL:
      // A client of an older IDL reads a TimedOut whose message names the full disk.
      return new types.TimedOut({ message: err.message, acked: d.acked ?? 0, needed: d.required ?? 0, reason: STORAGE_FULL });
    default:
      return err;
  }
}

/**
 * toWireError for a method whose IDL declares only `declared` of the
 * operating errors (Unauthorized and InvalidRequest it always declares):
 * any other operating error leaves as "Code: sentence" (see UNDECLARED_CODES).
 */
export function toDeclaredWireError(err: unknown, declared: readonly ErrorCode[]): Error {
  if (err instanceof KvError && UNDECLARED_CODES.includes(err.code) && !declared.includes(err.code))
    return new Error(`${err.code}: ${err.message}`);
  return toWireError(err);
}
