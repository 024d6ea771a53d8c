/**
 * The chaos command line's levels: what the lww workload writes and reads
 * at, and the combinations it refuses in one sentence each.
 */
import test from 'ava';
import { parseChaosArgs } from '../../src/cli/chaos';
import { UsageError } from '../../src/common/args';

const parsed = (argv: string[]) => {
  const p = parseChaosArgs(argv);
  if (p === 'help') throw new Error('unexpected help');
  return p;
};

test('without levels the lww workload writes and reads at QUORUM, as before (the runner defaults them)', (t) => {
  const p = parsed(['--seed', '1']);
  t.is(p.writeLevel, undefined);
  t.is(p.readLevel, undefined);
});

test('levels are parsed in any case; ANY is a write level', (t) => {
  t.like(parsed(['--write-level', 'one', '--read-level', 'all', '--faults', 'kill']), { writeLevel: 'ONE', readLevel: 'ALL' });
  t.like(parsed(['--write-level', 'Any', '--faults', 'kill,pause']), { writeLevel: 'ANY' });
  t.like(parsed(['--write-level', 'ONE', '--faults', 'kill,move']), { writeLevel: 'ONE' });
  t.like(parsed(['--write-level', 'TWO', '--faults', 'replace']), { writeLevel: 'TWO' });
});

const refusals: Array<[argv: string[], message: RegExp]> = [
  [['--write-level', 'most'], /^--write-level must be ANY, ONE, TWO, THREE, QUORUM or ALL, not "most"$/],
  [['--read-level', 'any'], /^--read-level must be ONE, TWO, THREE, QUORUM or ALL, not "any"$/],
  [['--read-level', 'serial'], /^--read-level must be ONE/],
  [['--workload', 'cas', '--write-level', 'ALL'], /^--write-level and --read-level are for the lww workload; a cas commits at QUORUM$/],
  [
    ['--write-level', 'ONE', '--faults', 'kill,replace'],
    /^--write-level ONE and the replace fault do not go together: a ONE write's only copy/,
  ],
  [['--write-level', 'any', '--faults', 'replace'], /^--write-level ANY and the replace fault do not go together/],
];

for (const [argv, message] of refusals) {
  test(`chaos ${argv.join(' ')} is refused`, (t) => {
    const err = t.throws(() => parseChaosArgs(argv));
    t.true(err instanceof UsageError, String(err));
    t.regex(err!.message, message);
  });
}
