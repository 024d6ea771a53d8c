/**
 * Operating errors: expected, typed, coded, and shown to users as one plain
 * sentence. (Programmer errors are assertions, see assert.ts.)
 */

export type ErrorCode = 'InvalidRequest' | 'Unavailable' | 'TimedOut' | 'Unauthorized' | 'ConnectionError' | 'Internal';

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

export function isKvError(err: unknown, code?: ErrorCode): err is KvError {
  return err instanceof KvError && (code === undefined || err.code === code);
}
