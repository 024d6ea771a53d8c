/**
 * The fuzzer's /proc readers: resident memory, open-file limits, whether a
 * process still runs, and pid files checked against the process's command line.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  nodePidFromFile,
  openFilesLimit,
  parseOpenFilesLimit,
  parsePortRange,
  parseVmRssKb,
  processRunning,
  rssMb,
} from '../../src/common/procfs';

test('VmRSS and the open-files limit are parsed from /proc text', (t) => {
  t.is(parseVmRssKb('Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51234 kB\n'), 51234);
  t.is(parseVmRssKb('Name:\tkthreadd\n'), undefined);
  const limits =
    'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
  t.is(parseOpenFilesLimit(limits), 1024);
  t.is(parseOpenFilesLimit('Max open files            unlimited            unlimited            files\n'), Number.POSITIVE_INFINITY);
  t.is(parseOpenFilesLimit(''), undefined);
});

test('the ephemeral port range is parsed from /proc text, and nonsense is not', (t) => {
  t.deepEqual(parsePortRange('32768\t60999\n'), [32768, 60999]);
  t.deepEqual(parsePortRange('1024 1024'), [1024, 1024]);
  for (const bad of ['', '60999 32768', '0 100', '1 70000', '32768', 'a b']) t.is(parsePortRange(bad), undefined, JSON.stringify(bad));
});

test('this process: its memory, its limit, running; a pid that is not there is not', (t) => {
  if (process.platform !== 'linux') return t.pass('needs /proc');
  t.true((rssMb(process.pid) ?? 0) > 1);
  t.true((openFilesLimit('self') ?? 0) >= 64);
  t.true(processRunning(process.pid));
  t.false(processRunning(2 ** 22 + 12345));
  t.is(rssMb(undefined), undefined);
});

test('a pid file is only believed when the process is a ringkv node', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-procfs-'));
  try {
    writeFileSync(join(dir, 'node-0.pid'), `${process.pid}\n`); // this test runner, not a node
    writeFileSync(join(dir, 'node-1.pid'), 'garbage');
    t.is(nodePidFromFile(dir, 0), undefined);
    t.is(nodePidFromFile(dir, 1), undefined);
    t.is(nodePidFromFile(dir, 2), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
