/**
 * The seeded pseudo-random generator of the tools (benchmark, chaos checker,
 * fuzzer), so that a run can be replayed exactly from its printed --seed.
 * Math.random() cannot be seeded, hence this.
 *
 * sfc32 (Chris Doty-Humphrey's small fast counting generator, 128 bits of
 * state), its state filled from the 32-bit seed by splitmix32 so that nearby
 * seeds give unrelated streams. Not for cryptography.
 */

/** Seeds are unsigned 32-bit integers. */
export const SEED_MAX = 0xffff_ffff;

const TWO_POW_32 = 0x1_0000_0000;
/** Outputs dropped after seeding, so the first draws do not echo the seed. */
const WARM_UP_DRAWS = 12;

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) {
      throw new RangeError(`seed must be an integer from 0 to ${SEED_MAX}`);
    }
    const init = splitmix32(seed);
    this.a = init();
    this.b = init();
    this.c = init();
    this.d = 1;
    for (let i = 0; i < WARM_UP_DRAWS; i++) this.uint32();
  }

  /** The next unsigned 32-bit integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.uint32() / TWO_POW_32;
  }

  /** An integer in [0, n); n up to 2^32 (the scaling bias is below n / 2^32). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi], both included. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** One of the entries, with probability proportional to its weight. */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of entries) total += w;
    let x = this.float() * total;
    for (const [item, w] of entries) {
      x -= w;
      if (x < 0) return item;
    }
    return entries[entries.length - 1]![0];
  }

  /** `length` pseudo-random bytes. */
  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += 4) {
      const word = this.uint32();
      for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = (word >>> (8 * k)) & 0xff;
    }
    return out;
  }

  /** A new generator seeded from this one: an independent stream for a sub-task. */
  fork(): Random {
    return new Random(this.uint32());
  }
}
