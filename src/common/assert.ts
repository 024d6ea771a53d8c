/**
 * Invariants. A failed assertion is a bug in this program, not an operating
 * condition: it throws an AssertionError that nothing catches on purpose, so
 * the process crashes loudly instead of carrying on with corrupt state.
 */
import { AssertionError } from 'node:assert';

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError({ message: `invariant violated: ${message}` });
}

/** A branch the program's own logic rules out (an exhaustive switch's default). */
export function unreachable(message: string): never {
  throw new AssertionError({ message: `invariant violated: ${message}` });
}
