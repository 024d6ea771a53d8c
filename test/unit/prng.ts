/**
 * A tiny seeded PRNG for property tests (mulberry32), plus helpers.
 * Not a test file. Set TEST_SEED=<n> to replay a failing run; every property
 * test prints its seed in its assertion messages.
 */

export type Rand = () => number;

/** mulberry32: 32-bit state, uniform floats in [0, 1). */
export function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for a property test: TEST_SEED from the environment, or a fresh random one. */
export function testSeed(): number {
  const fromEnv = process.env.TEST_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n)) throw new Error(`TEST_SEED must be an integer, got ${fromEnv}`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

export class Gen {
  readonly rand: Rand;

  constructor(readonly seed: number) {
    this.rand = mulberry32(seed);
  }

  /** An integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  bool(pTrue = 0.5): boolean {
    return this.rand() < pTrue;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A byte, biased towards the edges (0x00, 0xff) and the ASCII middle. */
  byte(): number {
    const r = this.rand();
    if (r < 0.15) return 0x00;
    if (r < 0.3) return 0xff;
    if (r < 0.4) return this.pick([0x01, 0x7f, 0x80, 0xfe]);
    if (r < 0.7) return this.int(0x41, 0x7a);
    return this.int(0, 255);
  }

  /** A byte string of length [minLen, maxLen] as a latin1 string. */
  bytes(minLen: number, maxLen: number): string {
    const n = this.int(minLen, maxLen);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.byte();
    return b.toString('latin1');
  }
}

/** Text for assertion messages: how to replay this run. */
export function seedNote(seed: number): string {
  return `seed ${seed} (rerun with TEST_SEED=${seed})`;
}
