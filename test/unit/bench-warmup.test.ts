import test from 'ava';
import { WARMUP_SETTLED_DROP, warmedUp } from '../../src/bench/warmup';

// [previous step's node CPU per op, this step's, may the warm-up stop?]
const steps: [number | null, number | null, boolean][] = [
  [null, 250, false], // the first step has nothing to compare with
  [250, 200, false], // still falling fast: the JIT is still compiling
  [200, 192, true], // fell by 4%: settled
  [200, 200 * (1 - WARMUP_SETTLED_DROP), true], // exactly the allowed drop
  [200, 200 * (1 - WARMUP_SETTLED_DROP) - 0.1, false],
  [180, 210, true], // rose: noise, not compilation
  [180, null, true], // no operation went through: more steps would learn nothing
  [null, null, true],
];

for (const [previous, current, stop] of steps) {
  test(`warm-up: ${previous} then ${current} µs per op ${stop ? 'stops' : 'goes on'}`, (t) => {
    t.is(warmedUp(previous, current), stop);
  });
}
