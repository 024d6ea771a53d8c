/**
 * bench-ab's options and the figures it prints from two benches' results
 * (the tool itself runs end to end in test/bench.test.ts).
 */
import test from 'ava';
import { UsageError } from '../../src/common/args';
import { AB_ROUNDS_DEFAULT, AB_ROUNDS_MAX, abRatio, abSide, formatRound, formatSummary, median, parseAbArgs } from '../../src/bench/ab';

test('options: the base, the rounds, and the bench options after --', (t) => {
  t.deepEqual(parseAbArgs(['--base', '../old', '--', '--workload', 'read', '--rate', '30000']), {
    base: '../old',
    rounds: AB_ROUNDS_DEFAULT,
    benchArgs: ['--workload', 'read', '--rate', '30000'],
  });
  t.deepEqual(parseAbArgs(['--rounds=3', '--base=x']), { base: 'x', rounds: 3, benchArgs: [] });
  t.is(parseAbArgs(['--help']), 'help');
});

const refused: [string, string[], RegExp][] = [
  ['no base', ['--rounds', '2'], /--base DIR is needed/],
  ['an empty base', ['--base', ''], /--base DIR is needed/],
  ['no rounds', ['--base', 'x', '--rounds', '0'], /--rounds must be a whole number from 1 to 50/],
  ['too many rounds', ['--base', 'x', '--rounds', String(AB_ROUNDS_MAX + 1)], /--rounds must be/],
  ['a bench option before --', ['--base', 'x', '--workload', 'read'], /unknown option --workload/],
  ['a word before --', ['--base', 'x', 'read'], /the bench's options go after --/],
  ['--seed for the bench', ['--base', 'x', '--', '--seed', '3'], /--seed does not apply/],
  ['--json for the bench', ['--base', 'x', '--', '--json'], /--json does not apply/],
  ['--compare', ['--base', 'x', '--', '--compare'], /--compare does not apply/],
  ['--cluster', ['--base', 'x', '--', '--cluster=c.json'], /--cluster does not apply/],
  ['a workload with no CPU per op', ['--base', 'x', '--', '--workload', 'join'], /--workload join gives no CPU per operation/],
  ['the same, written with =', ['--base', 'x', '--', '--workload=restart'], /--workload restart gives no CPU/],
];

for (const [name, argv, message] of refused) {
  test(`options refused: ${name}`, (t) => {
    const err = t.throws(() => parseAbArgs(argv), { instanceOf: UsageError });
    t.regex(err!.message, message);
  });
}

test("a side is read from the bench's JSON, or named when it is not a result", (t) => {
  t.deepEqual(abSide('A', JSON.stringify({ opsPerSec: 29470.2, cpu: { nodeMicrosPerOp: 11.9, clientMicrosPerOp: 9 } })), {
    opsPerSec: 29470.2,
    nodeMicrosPerOp: 11.9,
  });
  t.throws(() => abSide('A', 'warming up…'), { message: "build A's bench printed no JSON result" });
  t.throws(() => abSide('B', JSON.stringify({ opsPerSec: 1, cpu: {} })), {
    message: "build B's bench result has no node CPU per operation",
  });
  t.throws(() => abSide('B', JSON.stringify({ opsPerSec: 1, cpu: { nodeMicrosPerOp: 0 } })), { message: /no node CPU/ });
});

test('a round and the summary: B over A, and the median', (t) => {
  const a = { opsPerSec: 29470.2, nodeMicrosPerOp: 11.9 };
  const b = { opsPerSec: 29394, nodeMicrosPerOp: 11.1 };
  t.is(abRatio(a, b), 11.1 / 11.9);
  t.is(formatRound(1, a, b), 'round 1: A 29,470 op/s 11.9 µs, B 29,394 op/s 11.1 µs, B/A 0.933');
  t.is(
    formatSummary([0.933, 0.975, 0.94, 1, 0.932, 0.927]),
    'node CPU per op B/A: 0.933 / 0.975 / 0.940 / 1.000 / 0.932 / 0.927 (median 0.936)',
  );
});

const medians: [number[], number][] = [
  [[3], 3],
  [[2, 1], 1.5],
  [[5, 1, 3], 3],
  [[4, 1, 3, 2], 2.5],
];
for (const [xs, want] of medians) test(`median of ${xs.join(', ')} is ${want}`, (t) => t.is(median(xs), want));
test('median of nothing is a mistake', (t) => {
  t.throws(() => median([]));
});
