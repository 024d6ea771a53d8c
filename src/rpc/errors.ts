/**
 * Between the wire's exception structs and KvError, both ways.
 */
import { KvError } from '../common/errors';
import { types } from './thrift';

/** Any error from a call, as a KvError with a plain message. */
export function toKvError(err: unknown): KvError {
  if (err instanceof KvError) return err;
  if (err instanceof types.InvalidRequest) return new KvError('InvalidRequest', err.message);
  if (err instanceof types.Unauthorized) return new KvError('Unauthorized', err.message);
  if (err instanceof types.Unavailable) {
    return new KvError('Unavailable', err.message, { required: err.needed, alive: err.alive });
  }
  if (err instanceof types.TimedOut) {
    return new KvError('TimedOut', err.message, { acked: err.acked, required: err.needed });
  }
  const message = err instanceof Error ? err.message : String(err);
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
    case 'Unavailable':
      return new types.Unavailable({ message: err.message, needed: d.required ?? 0, alive: d.alive ?? 0 });
    case 'TimedOut':
      return new types.TimedOut({ message: err.message, acked: d.acked ?? 0, needed: d.required ?? 0 });
    default:
      return err;
  }
}
