/**
 * A small seeded pseudo-random generator, so a benchmark run can be repeated
 * exactly: the same --seed gives the same key sequence, op mix and values.
 * Math.random() cannot be seeded, hence this.
 *
 * The generator is mulberry32: 32 bits of state, period 2^32, fast, and good
 * enough to choose keys and operations (it is not for cryptography).
 */

/** Seeds are unsigned 32-bit integers: the whole state of the generator. */
export const SEED_MAX = 0xffff_ffff;

const TWO_POW_32 = 0x1_0000_0000;

export class Prng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) {
      throw new RangeError(`seed must be an integer from 0 to ${SEED_MAX}`);
    }
    this.state = seed >>> 0;
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /**
   * An integer in [0, n). The bias of scaling a 32-bit draw is below n / 2^32,
   * negligible for key counts far below four billion.
   */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /** `length` pseudo-random bytes (for values: the same seed gives the same bytes). */
  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += 4) {
      const word = this.nextUint32();
      for (let b = 0; b < 4 && i + b < length; b++) out[i + b] = (word >>> (8 * b)) & 0xff;
    }
    return out;
  }
}
