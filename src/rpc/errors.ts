/**
 * Between the wire's exception structs and KvError, both ways.
 */
import { KvError, STORAGE_FULL_MESSAGE, staleEpoch } from '../common/errors';
import { int64ToNumber, types } from './thrift';

const STORAGE_FULL = 'StorageFull';

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
