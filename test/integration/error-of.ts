import { isKvError, KvError } from '../../src/common/errors';

/** The KvError a call fails with; any other outcome fails the test. */
export async function errorOf(p: Promise<unknown>): Promise<KvError> {
  try {
    await p;
  } catch (err) {
    if (isKvError(err)) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}
