/**
 * A client in another language: the Python client in clients/python, on
 * code the Thrift compiler generates from idl/kv.thrift at test time, runs
 * put, get, getMany, scan, cas and a change feed against real nodes. Skipped, saying why, when the
 * compiler or Python's Thrift library (Debian's python3-thrift) is absent.
 *
 * To cover another command: add it to the client's COMMANDS and a line of
 * input and an expected answer below.
 */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { LocalCluster } from '../../src/harness/local-cluster';

const ROOT = resolve(__dirname, '../../..');
const CLIENT = join(ROOT, 'clients/python/ringkv_client.py');
const IDL = join(ROOT, 'idl/kv.thrift');

/** Succeeds when the command runs and exits 0. */
async function runs(cmd: string, args: string[]): Promise<boolean> {
  try {
    await promisify(execFile)(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** A Python that can import thrift (a pyenv python3 on PATH may not see Debian's package), or undefined. */
async function pythonWithThrift(): Promise<string | undefined> {
  for (const python of ['python3', '/usr/bin/python3']) if (await runs(python, ['-c', 'import thrift'])) return python;
  return undefined;
}

/** Runs the client with `input` against one node; its output, one JSON object per command. */
function runClient(python: string, gen: string, host: string, port: number, input: string): Promise<Array<Record<string, unknown>>> {
  return new Promise((done, fail) => {
    const child = spawn(python, [CLIENT, gen, host, String(port)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) fail(new Error(`the Python client exited with ${code}: ${err}`));
      else
        done(
          out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l)),
        );
    });
    child.stdin.end(input);
  });
}

test('a Python client generated from the IDL puts, gets (one key or several), writes batches (logged and unlogged), scans, does cas and reads a change feed against real nodes', async (t) => {
  const python = await pythonWithThrift();
  const compiler = await runs('thrift', ['--version']);
  if (python === undefined || !compiler) {
    t.log(
      `skipped: ${compiler ? '' : 'no Thrift compiler (Debian: thrift-compiler); '}${python ? '' : "no Python with Thrift's library (Debian: python3-thrift)"}`,
    );
    t.pass();
    return;
  }
  const gen = mkdtempSync(join(tmpdir(), 'ringkv-py-'));
  // Removed even when the cluster does not start (LocalCluster.start removes its own folder then).
  t.teardown(() => rmSync(gen, { recursive: true, force: true }));
  const c = await LocalCluster.start();
  try {
    await promisify(execFile)('thrift', ['--gen', 'py', '-out', gen, IDL]);
    const node = c.config.nodes[1]!;
    const out = await runClient(
      python,
      gen,
      node.host,
      node.port,
      [
        'put apple red QUORUM',
        'put banana yellow QUORUM',
        'put cherry dark ALL 3600',
        'put zebra stripes ONE',
        'get apple QUORUM',
        'get ghost QUORUM',
        'scan a d QUORUM 2',
        'scan - - QUORUM 1000',
        'scan d a QUORUM 10',
        'get apple SOMETIMES',
        'cas counter - 1',
        'cas counter - 1',
        'cas counter 1 2 ALL',
        'cas counter 1 3',
        'get counter SERIAL',
        'cas counter 2 3 ONE',
        'put fig purple ANY',
        'get fig ANY',
        'delete zebra QUORUM',
        'get zebra QUORUM',
        'mget apple ghost cherry QUORUM',
        'mget apple SERIAL',
        'batch put kiwi green delete apple put lime sour QUORUM',
        'mget kiwi apple lime ALL',
        'batch put kiwi brown put kiwi green QUORUM',
        'batch unlogged put plum blue QUORUM',
        'get plum ALL',
        'put Oa one ALL',
        'put Ob two ALL',
        'delete Oa ALL',
        'changes O P',
        'changes a z',
      ].join('\n'),
    );
    t.like(out[0], { ok: true, op: 'put' });
    t.is(typeof out[0]!.ts, 'number');
    t.like(out[2], { ok: true, op: 'put' });
    t.like(out[4], { ok: true, op: 'get', found: true, value: 'red' });
    t.like(out[5], { ok: true, op: 'get', found: false, value: null });
    const fruit = [
      { key: 'apple', value: 'red' },
      { key: 'banana', value: 'yellow' },
      { key: 'cherry', value: 'dark' },
    ];
    t.deepEqual(out[6], { ok: true, op: 'scan', entries: fruit, pages: 2 }, 'two pages of two, the cursor followed');
    t.deepEqual(out[7], { ok: true, op: 'scan', entries: [...fruit, { key: 'zebra', value: 'stripes' }], pages: 1 });
    t.like(out[8], {
      ok: false,
      op: 'scan',
      error: 'InvalidRequest',
      message: 'the scan\'s range is inverted: start "d" is after stop "a"',
    });
    t.like(out[9], {
      ok: false,
      error: 'InvalidRequest',
      message: 'unknown consistency level "SOMETIMES"; use ANY, ONE, TWO, THREE, QUORUM, ALL or SERIAL',
    });
    t.deepEqual(out[10], { ok: true, op: 'cas', applied: true, value: '1' }, 'absent, so applied');
    t.deepEqual(out[11], { ok: true, op: 'cas', applied: false, value: '1' }, 'no longer absent');
    t.deepEqual(out[12], { ok: true, op: 'cas', applied: true, value: '2' });
    t.deepEqual(out[13], { ok: true, op: 'cas', applied: false, value: '2' }, 'the expectation failed: the value is 2');
    t.deepEqual(out[14], { ok: true, op: 'get', found: true, value: '2' });
    t.like(out[15], { ok: false, op: 'cas', error: 'InvalidRequest' });
    t.like(out[16], { ok: true, op: 'put' }, 'ANY, a level the generated code knows from the IDL');
    t.like(out[17], {
      ok: false,
      op: 'get',
      error: 'InvalidRequest',
      message: "ANY is a level for writes only: a read needs a replica's answer; use ONE, TWO, THREE, QUORUM or ALL",
    });
    t.like(out[18], { ok: true, op: 'delete' });
    t.deepEqual(out[19], { ok: true, op: 'get', found: false, value: null }, 'deleted');
    t.deepEqual(out[20], {
      ok: true,
      op: 'mget',
      entries: [
        { key: 'apple', found: true, value: 'red' },
        { key: 'ghost', found: false, value: null },
        { key: 'cherry', found: true, value: 'dark' },
      ],
    });
    t.like(out[21], { ok: false, op: 'mget', error: 'InvalidRequest' });
    t.like(out[22], { ok: true, op: 'batch', writes: 3 });
    t.deepEqual(out[23], {
      ok: true,
      op: 'mget',
      entries: [
        { key: 'kiwi', found: true, value: 'green' },
        { key: 'apple', found: false, value: null },
        { key: 'lime', found: true, value: 'sour' },
      ],
    });
    t.like(out[24], {
      ok: false,
      op: 'batch',
      error: 'InvalidRequest',
      message: "write 2 of 2: its key is write 1's too; a batch writes each key once",
    });
    t.like(out[25], { ok: true, op: 'batch', writes: 1, unlogged: true });
    t.like(out[26], { ok: true, op: 'get', found: true, value: 'blue' });
    // Node 1 is a replica of (M, f]: its log took the three writes (at ALL) in order.
    t.deepEqual(out[30], {
      ok: true,
      op: 'changes',
      changes: [
        { key: 'Oa', value: 'one' },
        { key: 'Ob', value: 'two' },
        { key: 'Oa', value: null },
      ],
      pages: 1,
    });
    t.like(out[31], { ok: false, op: 'changes', error: 'Unavailable' });
    t.regex(String(out[31]!.message), /a range from "a" must end by "f\\x00"/);
  } finally {
    await c.destroy();
  }
});
