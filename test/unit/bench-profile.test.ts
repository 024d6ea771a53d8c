/**
 * Reading a node's V8 CPU profile: self time by function within a measured
 * run's window, and the files --cpu-prof writes. The last test checks, with a
 * real profiled child process, that a profile's clock is this process's
 * process.hrtime, which cutting a profile to a window relies on.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuProfile, formatProfile, parseCpuProfile, profilePid, profilesByPid, shortUrl, summarizeProfile } from '../../src/bench/profile';

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });

/**
 * Five frames; samples every 10 µs from 1000: idle, write, write, gc, idle,
 * handle, write (a second frame of the same function), handle, and the
 * profile ends at 1090 (the last sample lasts 10 µs).
 */
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), hitCount: 0 },
    { id: 2, callFrame: frame('(idle)'), hitCount: 2 },
    { id: 3, callFrame: frame('writev'), hitCount: 2 },
    { id: 4, callFrame: frame('(garbage collector)'), hitCount: 1 },
    { id: 5, callFrame: frame('handle', 'file:///home/x/ringkv/dist/src/node/handler.js', 41), hitCount: 2 },
    { id: 6, callFrame: frame('writev'), hitCount: 1 },
  ],
  startTime: 1000,
  endTime: 1090,
  samples: [2, 3, 3, 4, 2, 5, 6, 5],
  timeDeltas: [10, 10, 10, 10, 10, 10, 10, 10],
};

const times = (p: CpuProfile, window?: { startMicros: number; endMicros: number }) => {
  const s = summarizeProfile(p, window);
  return {
    sampled: s.sampledMicros,
    idle: s.idleMicros,
    functions: s.functions.map((f) => `${f.name}${f.where ? ` ${f.where}` : ''}=${f.selfMicros}`),
  };
};

test('self time by function, within a window or over the whole profile', (t) => {
  const table: [string, { startMicros: number; endMicros: number } | undefined, ReturnType<typeof times>][] = [
    [
      'whole profile',
      undefined,
      { sampled: 80, idle: 20, functions: ['writev=30', 'handle src/node/handler.js:42=20', '(garbage collector)=10'] },
    ],
    [
      'a window inside',
      { startMicros: 1025, endMicros: 1065 },
      { sampled: 40, idle: 10, functions: ['writev=15', '(garbage collector)=10', 'handle src/node/handler.js:42=5'] },
    ],
    [
      'a window past both ends',
      { startMicros: 0, endMicros: 5000 },
      { sampled: 80, idle: 20, functions: ['writev=30', 'handle src/node/handler.js:42=20', '(garbage collector)=10'] },
    ],
    ['a window before the profile', { startMicros: 0, endMicros: 900 }, { sampled: 0, idle: 0, functions: [] }],
  ];
  for (const [name, window, want] of table) t.deepEqual(times(PROFILE, window), want, name);
});

test('a sample out of order counts nothing; a profile without samples spreads its hits over its span', (t) => {
  const outOfOrder = { ...PROFILE, samples: [3, 5, 3], timeDeltas: [10, -2, 12], endTime: 1030 };
  t.deepEqual(times(outOfOrder), { sampled: 22, idle: 0, functions: ['handle src/node/handler.js:42=12', 'writev=10'] });
  const hitsOnly: CpuProfile = { nodes: PROFILE.nodes, startTime: 0, endTime: 800 };
  t.deepEqual(times(hitsOnly, { startMicros: 0, endMicros: 1 }), {
    sampled: 800,
    idle: 200,
    functions: ['writev=300', 'handle src/node/handler.js:42=200', '(garbage collector)=100'],
  });
});

test('parseCpuProfile accepts a profile and says what is wrong with anything else', (t) => {
  t.deepEqual(parseCpuProfile(JSON.stringify(PROFILE)), PROFILE);
  const bad: [string, RegExp][] = [
    ['[]', /no startTime/],
    [JSON.stringify({ ...PROFILE, endTime: 10 }), /no startTime and endTime/],
    [JSON.stringify({ ...PROFILE, nodes: undefined }), /no nodes/],
    [JSON.stringify({ ...PROFILE, nodes: [{ id: 1 }] }), /has no id or call frame/],
    [JSON.stringify({ ...PROFILE, samples: [1] }), /one length/],
    [JSON.stringify({ ...PROFILE, timeDeltas: undefined }), /one length/],
  ];
  for (const [text, message] of bad) t.throws(() => parseCpuProfile(text), { message }, text.slice(0, 60));
});

test('script URLs are shortened to what tells them apart', (t) => {
  const table: [string, string][] = [
    ['file:///srv/ringkv/dist/src/rpc/thrift.js', 'src/rpc/thrift.js'],
    [
      'file:///srv/ringkv/node_modules/thrift/lib/nodejs/lib/thrift/connection.js',
      'node_modules/thrift/lib/nodejs/lib/thrift/connection.js',
    ],
    ['node:internal/stream_base_commons', 'node:internal/stream_base_commons'],
    ['/srv/elsewhere/x.js', '/srv/elsewhere/x.js'],
  ];
  for (const [url, short] of table) t.is(shortUrl(url), short, url);
});

test('the top functions are printed with their share of the busy time', (t) => {
  const text = formatProfile('== node 0, write at QUORUM', summarizeProfile(PROFILE), 2);
  const lines = text.split('\n');
  t.is(lines[0], '== node 0, write at QUORUM: main thread busy 75.0% of 0.00 s sampled');
  t.regex(lines[2]!, /^\s+0\.0\s+50\.0%\s+writev$/);
  t.regex(lines[3]!, /^\s+0\.0\s+33\.3%\s+handle src\/node\/handler\.js:42$/);
  t.is(lines.length, 4);
});

test('profile files are found by the pid in the name Node.js gives them', (t) => {
  t.is(profilePid('CPU.20250101.120000.4242.0.001.cpuprofile'), 4242);
  for (const other of ['CPU.20250101.120000.4242.0.001.heapprofile', 'node-0.cpuprofile', 'CPU.x.y.4242.0.001.cpuprofile'])
    t.is(profilePid(other), undefined, other);
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-profiles-'));
  try {
    for (const name of [
      'CPU.20250101.120000.11.0.001.cpuprofile',
      'CPU.20250101.120005.11.0.002.cpuprofile',
      'CPU.20250101.120000.12.0.001.cpuprofile',
      'notes.txt',
    ]) {
      writeFileSync(join(dir, name), '{}');
    }
    const found = profilesByPid(dir, [11, 13]);
    t.deepEqual([...found.keys()], [11]);
    t.is(found.get(11), join(dir, 'CPU.20250101.120005.11.0.002.cpuprofile'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a profile written by another process is on the clock of process.hrtime', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-profile-clock-'));
  try {
    const before = Number(process.hrtime.bigint() / 1000n);
    const child = spawn(process.execPath, [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      '-e',
      'let x = 0; const end = Date.now() + 50; while (Date.now() < end) x++;',
    ]);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const after = Number(process.hrtime.bigint() / 1000n);
    t.is(code, 0);
    const file = profilesByPid(dir, [child.pid!]).get(child.pid!);
    t.truthy(file, 'the child wrote a profile named with its pid');
    const profile = parseCpuProfile(readFileSync(file!, 'utf8'));
    t.true(before <= profile.startTime && profile.endTime <= after, `${before} <= ${profile.startTime} .. ${profile.endTime} <= ${after}`);
    const s = summarizeProfile(profile, { startMicros: before, endMicros: after });
    t.true(s.sampledMicros > 0 && s.functions.length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
