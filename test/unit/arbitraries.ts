/**
 * fast-check arbitraries shared by the property tests. Not a test file.
 * Keys and values are byte strings: one character per byte (latin1), as the
 * store holds them.
 */
import fc from 'fast-check';
import { Version } from '../../src/storage/version';

/**
 * A byte, often one at an edge (0x00, 0xff, either side of 0x80) or an ASCII
 * letter, where ordering and encoding bugs live. Shrinks towards 0x00.
 */
export const byte: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0x00, 0xff, 0x01, 0x7f, 0x80, 0xfe),
  fc.integer({ min: 0x41, max: 0x7a }),
  fc.integer({ min: 0x00, max: 0xff }),
);

/** A byte string of minLength to maxLength bytes. */
export function byteString(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.array(byte, { minLength, maxLength, size: 'max' }).map((bytes) => String.fromCharCode(...bytes));
}

/** A version with a timestamp from `ts` and a value from `value`; a quarter of them tombstones. */
export function version(ts: fc.Arbitrary<number>, value: fc.Arbitrary<string>): fc.Arbitrary<Version> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ ts, value }).map(({ ts, value }) => ({ ts, value, deleted: false })) },
    { weight: 1, arbitrary: ts.map((ts) => ({ ts, value: '', deleted: true })) },
  );
}
