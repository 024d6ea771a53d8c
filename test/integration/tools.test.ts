/**
 * The user's workflow, as a user runs it: scripts/server.sh, the console fed
 * from a pipe, the inspector, scripts/terminate_servers.sh.
 */
import test from 'ava';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processRunning } from '../../src/common/procfs';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { freeBase, releaseBase, ROOT, run } from './scripts-env';

const CONSOLE = join(ROOT, 'dist/src/cli/console.js');

let c: LocalCluster;
test.before(async () => {
  c = await LocalCluster.start();
});
test.after.always(async () => {
  await c?.destroy();
});

test.serial('the console reads commands from a pipe, one result line each', async (t) => {
  const input = [
    'put apple red quorum',
    'get apple QUORUM',
    'get nothing one',
    'put "two words" "a b" ONE',
    'get "two words" all',
    'delete apple all',
    'get apple quorum',
    'put apple',
    'fly away',
    'get apple maybe',
    'help',
    'exit',
    'get never-run one',
  ].join('\n');
  const r = await run(process.execPath, [CONSOLE, '--cluster', c.clusterFile], input);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.deepEqual(lines.slice(0, 10), [
    'OK',
    'red',
    '(not found)',
    'OK',
    'a b',
    'deleted',
    '(not found)',
    'error InvalidRequest: put takes 3 or 4 arguments: put <key> <value> <level> [ttl=SECONDS]',
    'error InvalidRequest: unknown command "fly"; type help for the list',
    'error InvalidRequest: unknown consistency level "maybe"; use ONE, TWO, THREE, QUORUM, ALL or SERIAL',
  ]);
  t.true(
    lines.some((l) => l.startsWith('usage:')),
    'help prints the usage',
  );
  // The help command prints what --help does.
  const helpLines = (await run(process.execPath, [CONSOLE, '--help'], '')).stdout.trim().split('\n').length;
  t.false(
    r.stdout.includes('never-run') || lines.length > 10 + helpLines,
    `nothing runs after exit (10 results and the ${helpLines} lines of help)`,
  );
  t.notRegex(r.stdout + r.stderr, /at .*\.js:\d+/, 'no stack traces');
});

test.serial('the console speaks JSON with --json', async (t) => {
  const r = await run(
    process.execPath,
    [CONSOLE, '--json', '--cluster', c.clusterFile],
    'put pear green all\nget pear one\nget ghost all\nput k v SOMETIMES\n',
  );
  t.is(r.code, 0, r.stderr);
  const out = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.like(out[0], { ok: true, op: 'put', key: 'pear' });
  t.like(out[1], { ok: true, op: 'get', key: 'pear', found: true, value: 'green' });
  t.like(out[2], { ok: true, op: 'get', key: 'ghost', found: false, value: null });
  t.like(out[3], { ok: false, op: 'put', key: 'k', error: 'InvalidRequest' });
  t.is(typeof out[3].message, 'string');
});

test.serial('the console fails over when its first node is dead, and reports Unavailable plainly', async (t) => {
  await c.kill(0);
  try {
    // Unavailable needs the coordinator to know node 0 is down, which it learns when its connection closes.
    await waitFor('the live nodes to see node 0 down', async () => {
      const seen = await Promise.all(
        [1, 2, 3].map(async (id) => {
          const admin = c.admin(id);
          try {
            return (await admin.status()).downPeers.includes(0);
          } finally {
            admin.close();
          }
        }),
      );
      return seen.every(Boolean);
    });
    const r = await run(
      process.execPath,
      [CONSOLE, '--json', '--cluster', c.clusterFile],
      'put zebra stripes quorum\nget zebra quorum\nput zebra x all\n',
    );
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.like(out[0], { ok: true, op: 'put' });
    t.like(out[1], { ok: true, found: true, value: 'stripes' });
    // zebra's replicas are nodes 3, 0, 1: with node 0 dead, ALL cannot be met.
    t.like(out[2], { ok: false, error: 'Unavailable', required: 3, alive: 2 });
  } finally {
    await c.restart(0);
  }
});

test.serial('a bad --cluster path is one clear line, not a stack trace', async (t) => {
  const r = await run(process.execPath, [CONSOLE, '--cluster', '/nonexistent/cluster.json'], '');
  t.is(r.code, 2);
  t.regex(r.stderr, /^client: cannot read cluster file/);
  t.notRegex(r.stderr, /at .*\.js:\d+/);
});

test.serial('server.sh, inspector.sh and terminate_servers.sh run the user workflow', async (t) => {
  const base = await freeBase();
  // Made just before the try whose finally removes it: nothing can fail in between.
  const data = mkdtempSync(join(tmpdir(), 'ringkv-scripts-'));
  const env = { KV_DATA_DIR: data, KV_BASE_PORT: String(base) };
  const script = (name: string): string => join(ROOT, 'scripts', name);
  try {
    const up = await run(script('server.sh'), [], '', env);
    t.is(up.code, 0, up.stdout + up.stderr);
    t.is((up.stdout.match(/listening on 127\.0\.0\.1:\d+/g) ?? []).length, 4);
    t.is((up.stdout.match(/, metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/g) ?? []).length, 4);
    const pids = [0, 1, 2, 3].map((i) => Number(readFileSync(join(data, `node-${i}.pid`), 'utf8')));

    const again = await run(script('server.sh'), [], '', env);
    t.not(again.code, 0);
    t.regex(again.stderr, /already running/);

    const session = await run(
      script('client.sh'),
      [],
      'put Apple 1 quorum\nput grape 2 quorum\nput pear 3 quorum\nput 7up 4 quorum\nput banana 5 quorum\n',
      env,
    );
    t.is(session.stdout, 'OK\nOK\nOK\nOK\nOK\n');

    process.kill(pids[2]!, 'SIGKILL');
    const restarted = await run(script('server.sh'), ['2'], '', env);
    t.is(restarted.code, 0, restarted.stderr);
    t.regex(restarted.stdout, /node 2 listening/);

    const ins = await run(script('inspector.sh'), ['--json'], '', env);
    const report = JSON.parse(ins.stdout);
    t.is(report.nodes.length, 4);
    t.true(report.nodes.every((n: { up: boolean }) => n.up));
    // Each of the default layout's four owners got one of the five keys as owner, so every node holds some.
    t.true(report.nodes.every((n: { entries: unknown[] }) => n.entries.length > 0));
    t.deepEqual(Object.keys(report.nodes[0]).sort(), ['address', 'entries', 'hints', 'id', 'keys', 'state', 'up']);
    t.true(report.nodes.every((n: { state: string }) => n.state === 'NORMAL'));
    t.is(report.nodes[0].keys, report.nodes[0].entries.length);
    t.deepEqual(report.divergent, []);

    const cut = JSON.parse((await run(script('inspector.sh'), ['--json', '--max-entries', '1'], '', env)).stdout);
    for (const [i, n] of cut.nodes.entries()) {
      t.is(n.entries.length, 1, `node ${i} lists one entry`);
      t.is(n.keys, report.nodes[i].keys, 'and counts them all');
    }
    const text = await run(script('inspector.sh'), ['--max-entries', '1'], '', env);
    t.is(text.code, 0, text.stderr);
    t.is((text.stdout.match(/^node \d+ +127\.0\.0\.1:\d+ +up +\d+ keys?/gm) ?? []).length, 4, text.stdout);
    t.regex(text.stdout, /… \d+ more \(use --max-entries\)/);
    t.regex(text.stdout, /all live replicas agree/);
    t.deepEqual(Object.keys(report.nodes[0].entries[0]).sort(), ['deleted', 'key', 'ts', 'value']);

    const status = await run(script('admin.sh'), ['status', '--json'], '', env);
    t.is(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout);
    t.is(st.replicationFactor, 3);
    t.is(st.epoch, 1, 'the bootstrap epoch: no membership change yet');
    t.deepEqual(Object.keys(st.nodes[0]).sort(), [
      'address',
      'batchCopies',
      'batches',
      'bytes',
      'diskFull',
      'epoch',
      'hints',
      'id',
      'keys',
      'lastFullRepairMs',
      'metrics',
      'ownership',
      'reclaimable',
      'reclaimableKeys',
      'state',
      'token',
      'up',
    ]);
    t.deepEqual(st.operations, [], 'no membership operation runs');
    for (const [i, n] of st.nodes.entries()) {
      t.true(n.up && n.state === 'NORMAL' && n.epoch === 1, `node ${i} is up, NORMAL and at epoch 1`);
      t.is(n.keys, report.nodes[i].keys, 'status counts the keys the inspector lists');
      t.true(n.bytes > 0, 'its data file has bytes');
      t.false(n.diskFull);
      t.true(n.ownership > 0 && n.ownership <= 1);
      t.regex(n.metrics, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      t.deepEqual([n.reclaimable, n.reclaimableKeys], [0, 0], 'a ring that never changed holds nothing needless');
      t.deepEqual([n.batches, n.batchCopies], [0, 0], 'no batch left unwritten');
    }
    t.is(
      st.nodes.reduce((sum: number, n: { keys: number }) => sum + n.keys, 0),
      15,
      'five keys, three replicas each',
    );
    const repair = await run(script('admin.sh'), ['repair', '--json'], '', env);
    t.is(repair.code, 0, repair.stderr);
    const repaired = JSON.parse(repair.stdout);
    t.true(repaired.agreed);
    t.is(repaired.nodes.length, 4);
    t.is(repaired.total.rangesCompared, 24, 'four nodes, three ranges each, two other replicas of each');
    const words = await run(script('admin.sh'), ['repair', '2'], '', env);
    t.is(words.code, 0, words.stderr);
    t.regex(words.stdout, /^node 2: 6 range pairs compared/m);
    t.regex(words.stdout, /^keys that differed: 0$/m);
    t.regex(words.stdout, /^the replicas agree$/m);
    const table = await run(script('admin.sh'), ['status'], '', env);
    t.is((table.stdout.match(/^\d +127\.0\.0\.1:\d+ +up +1 +NORMAL/gm) ?? []).length, 4, table.stdout);
    t.is((table.stdout.match(/ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/gm) ?? []).length, 4, `every node's last full repair: ${table.stdout}`);
    t.regex(table.stdout, /^epoch 1, 4 nodes, 4 up, replication factor 3$/m);
    t.regex(table.stdout, /^no membership operation in progress$/m);
    const proposal = await run(script('admin.sh'), ['rebalance', '--json'], '', env);
    t.is(proposal.code, 0, proposal.stderr);
    const pj = JSON.parse(proposal.stdout);
    t.is(pj.epoch, 1);
    t.deepEqual(
      pj.counts.map((c: { node: number; before: number }) => c.before).reduce((a: number, b: number) => a + b, 0),
      5,
      "the five keys, each counted once, in its owner's range",
    );
    const ring = await run(script('admin.sh'), ['ring', '--json', '--node', '2'], '', env);
    t.is(ring.code, 0, ring.stderr);
    const rj = JSON.parse(ring.stdout);
    t.like(rj, { epoch: 1, node: 2, replicationFactor: 3 });
    t.deepEqual(
      rj.ranges.map((r: { end: string; reads: number[]; writes: number[]; pending: number[] }) => [r.end, r.reads, r.writes, r.pending]),
      [
        ['M', [0, 1, 2], [0, 1, 2], []],
        ['f', [1, 2, 3], [1, 2, 3], []],
        ['p', [2, 3, 0], [2, 3, 0], []],
        ['0x7f', [3, 0, 1], [3, 0, 1], []],
      ],
    );
    const ringTable = await run(script('admin.sh'), ['ring'], '', env);
    t.is(ringTable.code, 0, ringTable.stderr);
    t.regex(ringTable.stdout, /^epoch 1 \(node 0's placement\), 4 ranges, replication factor 3$/m);
    t.regex(ringTable.stdout, /^\(0x7f, M\] +0,1,2 +0,1,2$/m, ringTable.stdout);
    const where = await run(script('admin.sh'), ['replicas', 'q', '--json'], '', env);
    t.is(where.code, 0, where.stderr);
    const wj = JSON.parse(where.stdout);
    t.like(wj, { key: 'q', epoch: 1, node: 0, range: { start: 'p', end: '0x7f' } });
    t.deepEqual(
      wj.replicas.map((r: { node: number; reads: boolean; writes: boolean }) => [r.node, r.reads, r.writes]),
      [
        [3, true, true],
        [0, true, true],
        [1, true, true],
      ],
    );
    t.true(wj.replicas.every((r: { address: string }) => /^127\.0\.0\.1:\d+$/.test(r.address)));
    const whereText = await run(script('admin.sh'), ['replicas', '--hex', '41', '--node', '2'], '', env);
    t.is(whereText.code, 0, whereText.stderr);
    t.regex(
      whereText.stdout,
      /^key A: range \(0x7f, M\], epoch 1 \(node 2's placement\)\n {2}node 0 {2}127\.0\.0\.1:\d+ {2}reads and writes\n/,
    );
    const noKey = await run(script('admin.sh'), ['replicas'], '', env);
    t.is(noKey.code, 2);
    t.is(noKey.stderr, 'admin: replicas takes one key: scripts/admin.sh replicas KEY (--hex: KEY in hex digits)\n');
    const badNode = await run(script('admin.sh'), ['ring', '--node', '9'], '', env);
    t.is(badNode.code, 1, badNode.stderr);
    t.is(badNode.stderr, 'admin: node 9 is not on the ring (its nodes: 0, 1, 2, 3)\n');
    const unknown = await run(script('admin.sh'), ['frobnicate'], '', env);
    t.is(unknown.code, 2);
    t.is(unknown.stderr, 'admin: unknown command "frobnicate"; see scripts/admin.sh --help\n');
    // Applying the proposal makes its moves, one at a time, each three epochs.
    const apply = await run(script('admin.sh'), ['rebalance', '--apply'], '', env);
    t.is(apply.code, 0, apply.stderr);
    t.regex(apply.stdout, new RegExp(`^rebalance: ${pj.moves.length} move\\(s\\) made$`, 'm'));
    const applied = JSON.parse((await run(script('admin.sh'), ['status', '--json'], '', env)).stdout);
    t.is(applied.epoch, 1 + 3 * pj.moves.length);

    const down = await run(script('terminate_servers.sh'), [], '', env);
    t.is(down.code, 0, down.stderr);
    t.is((down.stdout.match(/stopped/g) ?? []).length, 4);
    for (const i of [0, 1, 2, 3]) t.false(existsSync(join(data, `node-${i}.pid`)));
    const allDown = await run(script('admin.sh'), ['status'], '', env);
    t.is(allDown.code, 0, allDown.stderr);
    t.is((allDown.stdout.match(/DOWN/g) ?? []).length, 4, allDown.stdout);
    t.regex(allDown.stdout, /^epoch unknown \(no node answered\), 4 nodes, 0 up/m);
    const ringDown = await run(script('admin.sh'), ['ring'], '', env);
    t.not(ringDown.code, 0);
    t.regex(ringDown.stderr, /no node gave its membership log/);

    const clean = await run(script('terminate_servers.sh'), ['--clean'], '', env);
    t.is(clean.code, 0);
    t.false(existsSync(data));
  } finally {
    await run(script('terminate_servers.sh'), [], '', env);
    rmSync(data, { recursive: true, force: true });
    releaseBase(base);
  }
});

test.serial(
  'admin.sh snapshot, then restore.sh with the nodes stopped, rolls the whole cluster back; the replaced files are kept',
  async (t) => {
    const base = await freeBase();
    const data = mkdtempSync(join(tmpdir(), 'ringkv-restore-'));
    const env = { KV_DATA_DIR: data, KV_BASE_PORT: String(base) };
    const script = (name: string): string => join(ROOT, 'scripts', name);
    try {
      t.is((await run(script('server.sh'), [], '', env)).code, 0);
      t.is((await run(script('client.sh'), [], 'put fruit apple all\n', env)).stdout, 'OK\n');
      const snap = await run(script('admin.sh'), ['snapshot', '--name', 'daily'], '', env);
      t.is(snap.code, 0, snap.stdout + snap.stderr);
      t.is((snap.stdout.match(/^node \d: .*\/snapshots\/daily\/node-\d\.sqlite \([\d.]+ MiB in \d+ ms\)$/gm) ?? []).length, 4, snap.stdout);
      t.regex(snap.stdout, /^snapshot daily written on 4 node\(s\)$/m);
      t.is((await run(script('client.sh'), [], 'put fruit pear all\n', env)).stdout, 'OK\n');

      const running = await run(script('restore.sh'), ['daily'], '', env);
      t.is(running.code, 1);
      t.regex(running.stderr, /^node 0 is running \(pid \d+\); stop it first \(scripts\/terminate_servers\.sh\); nothing was restored$/m);
      t.is((await run(script('restore.sh'), ['weekly'], '', env)).code, 1);
      t.is((await run(script('restore.sh'), ['../daily'], '', env)).code, 2);

      t.is((await run(script('terminate_servers.sh'), [], '', env)).code, 0);
      const restored = await run(script('restore.sh'), ['daily'], '', env);
      t.is(restored.code, 0, restored.stderr);
      const kept = [...restored.stdout.matchAll(/^node (\d): restored from snapshot daily; the file it replaced is kept as (.*)$/gm)];
      t.deepEqual(
        kept.map((m) => m[1]),
        ['0', '1', '2', '3'],
        restored.stdout,
      );
      t.true(
        kept.every((m) => existsSync(m[2]!)),
        'every replaced file is still there',
      );
      const marks = [0, 1, 2, 3].map((id) => join(data, `node-${id}.restored`));
      t.true(
        marks.every((m) => existsSync(m)),
        'restore.sh marks every node it put back',
      );
      t.is((await run(script('server.sh'), [], '', env)).code, 0);
      await waitFor('the nodes to compare with each other and clear their marks', () => marks.every((m) => !existsSync(m)) || undefined);
      t.is((await run(script('client.sh'), [], 'get fruit all\n', env)).stdout, 'apple\n', 'the value at the snapshot');
      const listed = await run(script('admin.sh'), ['snapshots'], '', env);
      t.is(listed.code, 0, listed.stderr);
      t.is(
        (listed.stdout.match(/^node \d: daily {2}[\d.]+ MiB {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}.*\/snapshots\/daily\/node-\d\.sqlite$/gm) ?? [])
          .length,
        4,
        listed.stdout,
      );
      const cleared = await run(script('admin.sh'), ['clear-snapshot', 'daily'], '', env);
      t.is(cleared.code, 0, cleared.stderr);
      t.is((cleared.stdout.match(/^node \d: deleted daily$/gm) ?? []).length, 4, cleared.stdout);
      t.false(existsSync(join(data, 'snapshots', 'daily')));
      const again = await run(script('admin.sh'), ['clear-snapshot', 'daily', '2'], '', env);
      t.is(again.code, 1);
      t.is(again.stdout, 'node 2: holds no daily\n');
      t.regex((await run(script('admin.sh'), ['snapshots', '--json'], '', env)).stdout, /^\[\{"node":0,"snapshots":\[\]\}/);
    } finally {
      await run(script('terminate_servers.sh'), [], '', env);
      rmSync(data, { recursive: true, force: true });
      releaseBase(base);
    }
  },
);

test.serial('terminate_servers.sh stops every node with a pid file, ids above the first four included', async (t) => {
  const base = await freeBase();
  const data = mkdtempSync(join(tmpdir(), 'ringkv-terminate-'));
  const env = { KV_DATA_DIR: data, KV_BASE_PORT: String(base) };
  const script = (name: string): string => join(ROOT, 'scripts', name);
  // A five-node cluster file of which only node 4 runs: a node with an id a four-node cluster never had.
  const nodes = ['M', 'f', 'p', 'x', '\u007f'].map((token, id) => ({ id, host: '127.0.0.1', port: base + id, metricsPort: 0, token }));
  writeFileSync(join(data, 'cluster.json'), JSON.stringify({ replicationFactor: 3, secret: 'terminate-test-secret', nodes }));
  let pid: number | undefined;
  try {
    const up = await run(script('server.sh'), ['4'], '', env);
    t.is(up.code, 0, up.stdout + up.stderr);
    pid = Number(readFileSync(join(data, 'node-4.pid'), 'utf8'));
    t.true(processRunning(pid));
    const down = await run(script('terminate_servers.sh'), [], '', env);
    t.is(down.code, 0, down.stderr);
    t.regex(down.stdout, new RegExp(`^node 4 \\(pid ${pid}\\) stopped$`, 'm'));
    t.false(existsSync(join(data, 'node-4.pid')));
    await waitFor('node 4 to be gone', () => !processRunning(pid!));
  } finally {
    if (pid !== undefined && processRunning(pid)) process.kill(pid, 'SIGKILL');
    rmSync(data, { recursive: true, force: true });
    releaseBase(base);
  }
});

test.serial(
  "server.sh --replace takes a dead node's place and is refused while it answers; admin.sh cleanup runs on every node",
  async (t) => {
    const base = await freeBase();
    const data = mkdtempSync(join(tmpdir(), 'ringkv-replace-'));
    const env = { KV_DATA_DIR: data, KV_BASE_PORT: String(base) };
    const script = (name: string): string => join(ROOT, 'scripts', name);
    try {
      const help = await run(script('server.sh'), ['--help'], '', env);
      t.regex(help.stdout, /^ {2}scripts\/server\.sh --replace N \[--host H\] \[--port P\]$/m);
      const up = await run(script('server.sh'), [], '', env);
      t.is(up.code, 0, up.stdout + up.stderr);
      const session = await run(script('client.sh'), [], 'put Apple 1 quorum\nput grape 2 quorum\nput pear 3 quorum\n', env);
      t.is(session.stdout, 'OK\nOK\nOK\n');

      const alive = await run(script('server.sh'), ['--replace', '1'], '', env);
      t.is(alive.code, 1);
      t.is(
        alive.stderr.trim().split('\n').pop(),
        `cannot replace node 1: node 1 is up (it answers on 127.0.0.1:${base + 1}); only a node that is down for good can be replaced: stop it first, or decommission it instead`,
      );
      const unknown = await run(script('server.sh'), ['--replace', '9'], '', env);
      t.is(unknown.code, 1);
      t.regex(unknown.stderr, /^cannot replace node 9: node 9 is not a member of the ring$/m);
      t.false(existsSync(join(data, 'node-4.pid')), 'no node was started for a refused replacement');

      const pid1 = Number(readFileSync(join(data, 'node-1.pid'), 'utf8'));
      process.kill(pid1, 'SIGKILL');
      await waitFor('node 1 to be gone', () => !processRunning(pid1));
      const replaced = await run(script('server.sh'), ['--replace', '1'], '', env);
      t.is(replaced.code, 0, replaced.stdout + replaced.stderr);
      t.regex(
        replaced.stdout,
        new RegExp(
          `^node 4 replaced node 1 on 127\\.0\\.0\\.1:${base + 4} \\(streamed \\d+ keys, \\d+ bytes, from every surviving replica\\); node 1 has left the ring$`,
          'm',
        ),
      );
      const st = JSON.parse((await run(script('admin.sh'), ['status', '--json'], '', env)).stdout);
      t.is(st.epoch, 4);
      t.deepEqual(
        st.nodes.map((n: { id: number; state: string }) => [n.id, n.state]),
        [
          [0, 'NORMAL'],
          [1, 'LEFT'],
          [2, 'NORMAL'],
          [3, 'NORMAL'],
          [4, 'NORMAL'],
        ],
      );
      const reads = await run(script('client.sh'), [], 'get Apple all\nget grape all\nget pear all\n', env);
      t.is(reads.stdout, '1\n2\n3\n', 'each key on all three replicas of the new ring');

      const cleanup = await run(script('admin.sh'), ['cleanup'], '', env);
      t.is(cleanup.code, 0, cleanup.stderr);
      t.is((cleanup.stdout.match(/^node \d: deleted 0 keys \(0\.0 MiB\)$/gm) ?? []).length, 4, cleanup.stdout);
      t.regex(cleanup.stdout, /^cleaned up at epoch 4: 0 keys, 0 bytes of keys and values deleted$/m);
      const left = await run(script('admin.sh'), ['cleanup', '1'], '', env);
      t.is(left.code, 1);
      t.is(left.stderr, 'admin: node 1 has left the ring; it holds nothing to clean up\n');
      const none = await run(script('admin.sh'), ['cleanup', '9'], '', env);
      t.is(none.code, 1);
      t.regex(none.stderr, /^admin: there is no node 9 in the ring/);
    } finally {
      await run(script('terminate_servers.sh'), [], '', env);
      rmSync(data, { recursive: true, force: true });
      releaseBase(base);
    }
  },
);

test.serial('the committed generated code matches the IDL (when the thrift compiler is installed)', async (t) => {
  const hasCompiler = await new Promise<boolean>((r) => execFile('thrift', ['--version'], (err) => r(!err)));
  if (!hasCompiler) {
    t.log('thrift compiler not installed (apt-get install thrift-compiler); generated code not checked');
    t.pass();
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'ringkv-gen-'));
  try {
    const r = await run(join(ROOT, 'scripts/gen.sh'), [out], '');
    t.is(r.code, 0, r.stderr);
    for (const f of ['KeyValue.js', 'KeyValue.d.ts', 'kv_types.js', 'kv_types.d.ts']) {
      t.is(readFileSync(join(out, f), 'utf8'), readFileSync(join(ROOT, 'src/gen', f), 'utf8'), `${f} is stale: run npm run gen`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('native-build.sh stopped mid-build stops both builds, though each runs in a process group of its own', async (t) => {
  // Two stand-in drivers whose install scripts note their pid and sleep: builds that would run for ten minutes.
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-native-build-'));
  const pidFile = (name: string): string => join(dir, `${name}.pid`);
  const pidOf = (name: string): number | undefined =>
    existsSync(pidFile(name)) ? Number(readFileSync(pidFile(name), 'utf8').trim()) || undefined : undefined;
  const names = ['better-sqlite3', 'sqlite3'];
  let script: ChildProcess | undefined;
  try {
    mkdirSync(join(dir, 'scripts'));
    copyFileSync(join(ROOT, 'scripts/native-build.sh'), join(dir, 'scripts/native-build.sh'));
    for (const name of names) {
      mkdirSync(join(dir, 'node_modules', name), { recursive: true });
      const install = `echo $$ > ${JSON.stringify(pidFile(name))}; exec sleep 600`;
      writeFileSync(join(dir, 'node_modules', name, 'package.json'), JSON.stringify({ name, version: '1.0.0', scripts: { install } }));
    }
    const started = spawn(join(dir, 'scripts/native-build.sh'), [], { stdio: ['ignore', 'pipe', 'pipe'] });
    script = started;
    let stderr = '';
    started.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => started.on('exit', (code) => resolve(code)));
    await waitFor('both stand-in builds to start', () => names.every((n) => pidOf(n) !== undefined && processRunning(pidOf(n)!)));
    started.kill('SIGTERM');
    t.is(await exited, 1);
    t.regex(stderr, /^native-build: stopped; stopping the builds$/m);
    await waitFor('both builds to stop', () => names.every((n) => !processRunning(pidOf(n)!)));
  } finally {
    if (script?.exitCode === null) script.kill('SIGKILL');
    // Only what this test started, by pid: the stand-ins' sleeps, should one have outlived the script.
    for (const name of names) {
      const pid = pidOf(name);
      if (pid !== undefined && processRunning(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('native-build.sh: drivers that load are left alone; otherwise both build at once and a failed one shows its log', async (t) => {
  const built = await run(join(ROOT, 'scripts/native-build.sh'), [], '');
  t.deepEqual(built, { code: 0, stdout: '', stderr: '' });

  // A project of two stand-in drivers: sqlite3's install script makes it loadable, better-sqlite3's fails.
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-native-build-'));
  try {
    mkdirSync(join(dir, 'scripts'));
    copyFileSync(join(ROOT, 'scripts/native-build.sh'), join(dir, 'scripts/native-build.sh'));
    const fake = (name: string, install: string): void => {
      mkdirSync(join(dir, 'node_modules', name), { recursive: true });
      writeFileSync(join(dir, 'node_modules', name, 'package.json'), JSON.stringify({ name, version: '1.0.0', scripts: { install } }));
    };
    fake('sqlite3', 'echo "module.exports = {}" > index.js');
    fake('better-sqlite3', 'echo "no compiler here" >&2; exit 3');
    const r = await run(join(dir, 'scripts/native-build.sh'), [], '');
    t.is(r.code, 1, r.stdout + r.stderr);
    t.regex(r.stdout, /^native-build: building better-sqlite3 sqlite3 /m);
    t.regex(r.stdout, /^native-build: sqlite3 built$/m);
    t.regex(r.stderr, /^native-build: better-sqlite3 did not build; the end of its log:$/m);
    t.regex(r.stderr, /^no compiler here$/m);
    t.true(existsSync(join(dir, 'node_modules/sqlite3/index.js')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
