/**
 * Compare-and-set against real node processes (four nodes, RF 3): the
 * basics, SERIAL reads, the console, contention from several clients, a
 * retry after its coordinator was killed, and bad input.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { KvClient } from '../../src/client/client';
import { isKvError } from '../../src/common/errors';
import { LocalCluster } from '../../src/harness/local-cluster';
import { RpcConnection } from '../../src/rpc/connection';
import { toKvError } from '../../src/rpc/errors';
import { RemoteAcceptor } from '../../src/rpc/paxos-wire';
import { Ring } from '../../src/partitioner/ring';
import { errorOf } from './error-of';

const ROOT = resolve(__dirname, '../../..');
/** Times the contention test sends one request again after TimedOut before it gives up. */
const PERSIST_ATTEMPTS_MAX = 20;
const CONSOLE = join(ROOT, 'dist/src/cli/console.js');

const clusters: LocalCluster[] = [];
const clients: KvClient[] = [];

async function cluster(): Promise<LocalCluster> {
  const c = await LocalCluster.start();
  clusters.push(c);
  return c;
}

function clientOf(c: LocalCluster, options: ConstructorParameters<typeof KvClient>[1] = {}): KvClient {
  const k = c.client(options);
  clients.push(k);
  return k;
}

test.after.always(async () => {
  clients.forEach((k) => k.close());
  await Promise.all(clusters.map((x) => x.destroy()));
});

let shared: LocalCluster | undefined;
async function sharedCluster(): Promise<LocalCluster> {
  shared ??= await cluster();
  return shared;
}

test.serial('putIfAbsent, cas on the expected value only, and SERIAL reads', async (t) => {
  const c = await sharedCluster();
  const k = clientOf(c);
  t.deepEqual(await k.putIfAbsent('lock', 'alice'), { applied: true, current: Buffer.from('alice') });
  t.deepEqual(await k.putIfAbsent('lock', 'bob'), { applied: false, current: Buffer.from('alice') });
  t.deepEqual(await k.cas('lock', 'bob', 'carol'), { applied: false, current: Buffer.from('alice') });
  t.deepEqual(await k.cas('lock', 'alice', 'carol'), { applied: true, current: Buffer.from('carol') });
  const serial = await k.get('lock', 'SERIAL');
  t.true(serial.found);
  t.is(serial.value.toString(), 'carol');
  t.is((await k.get('lock', 'QUORUM')).value.toString(), 'carol', 'a commit is an ordinary QUORUM write');
  t.false((await k.get('never-cas', 'serial')).found);
  // A plain delete makes the key absent again for cas (mixing gives up linearizability, but not this).
  await k.delete('lock', 'QUORUM');
  t.deepEqual(await k.putIfAbsent('lock', 'dave'), { applied: true, current: Buffer.from('dave') });
});

function consoleRun(c: LocalCluster, args: string[], input: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CONSOLE, ...args, '--cluster', c.clusterFile], { cwd: ROOT });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('close', (code) => done({ code, stdout }));
    child.stdin.end(input);
  });
}

test.serial('the console: cas with - for absent, get serial, and --json with applied and value', async (t) => {
  const c = await sharedCluster();
  const plain = await consoleRun(c, [], 'cas door - open\ncas door - shut\ncas door open shut\nget door serial\n');
  t.is(plain.code, 0);
  t.deepEqual(plain.stdout.trim().split('\n'), ['applied', 'not applied; the value is open', 'applied', 'shut']);
  const json = await consoleRun(c, ['--json'], 'cas door shut ajar\ncas door x y\nget door SERIAL\ncas door x\n');
  const out = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.like(out[0], { ok: true, op: 'cas', key: 'door', applied: true, value: 'ajar' });
  t.like(out[1], { ok: true, op: 'cas', applied: false, value: 'ajar' });
  t.like(out[2], { ok: true, op: 'get', level: 'SERIAL', found: true, value: 'ajar' });
  t.like(out[3], { ok: false, op: 'cas', error: 'InvalidRequest' });
});

test.serial('bad input to cas gets one clear sentence', async (t) => {
  const c = await sharedCluster();
  const node = c.config.nodes[0]!;
  const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 4 << 20 });
  const cas = (level: number, value = Buffer.from('v'), requestId = 'r') =>
    errorOf(
      conn
        .call((x) => x.cas(Buffer.from('k'), true, Buffer.alloc(0), value, requestId, level), 3000)
        .catch((e) => Promise.reject(toKvError(e))),
    );
  try {
    t.like(await cas(9), { code: 'InvalidRequest', message: 'unknown consistency level 9 for cas; use QUORUM or ALL' });
    t.like(await cas(1), { code: 'InvalidRequest', message: 'a cas commits at QUORUM or ALL; ONE cannot keep it linearizable' });
    t.like(await cas(4), { code: 'InvalidRequest', message: 'SERIAL is a read level; a cas commits at QUORUM or ALL' });
    const big = c.config.settings.maxValueBytes + 1;
    t.like(await cas(2, Buffer.alloc(big)), { code: 'InvalidRequest', message: `the value is ${big} bytes; the limit is ${big - 1}` });
    t.like(await cas(2, Buffer.from('v'), 'x'.repeat(65)), {
      code: 'InvalidRequest',
      message: 'the request id is 65 bytes; the limit is 64',
    });
    t.like(await cas(2, Buffer.from('v'), ''), {
      code: 'InvalidRequest',
      message: 'a cas needs a request id, the same on every retry of it',
    });
  } finally {
    conn.close();
  }
  const k = clientOf(c);
  t.like(await errorOf(k.put('k', 'v', 'SERIAL')), { code: 'InvalidRequest' });
});

test.serial('contention: clients on every node increment one counter through cas; every applied cas counts once', async (t) => {
  const c = await sharedCluster();
  const perClient = 12;
  const writers = c.config.nodes.map((n) => clientOf(c, { startAt: n.id }));
  let applied = 0;
  let notApplied = 0;
  let timedOut = 0;
  /** Runs a call again while it times out (contention past the round limit), up to a bound. */
  const persist = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!isKvError(err, 'TimedOut') || attempt >= PERSIST_ATTEMPTS_MAX) throw err;
        timedOut++;
      }
    }
  };
  const started = Date.now();
  await Promise.all(
    writers.map(async (w, c) => {
      for (let i = 0; i < perClient; i++) {
        for (let attempt = 0; ; attempt++) {
          const now = await persist(() => w.get('counter', 'SERIAL'));
          const next = String((now.found ? Number(now.value.toString()) : 0) + 1);
          // A cas that timed out is sent again with its request id: it may have been applied.
          const requestId = `c${c}-${i}-${attempt}`;
          const r = await persist(() => w.cas('counter', now.found ? now.value : null, next, { requestId }));
          if (r.applied) {
            applied++;
            break;
          }
          notApplied++;
        }
      }
    }),
  );
  const ms = Date.now() - started;
  t.log(`${applied} increments applied, ${notApplied} cas not applied (lost the race), ${timedOut} timed out and retried, ${ms} ms`);
  t.is(applied, writers.length * perClient);
  t.is((await writers[0]!.get('counter', 'SERIAL')).value.toString(), String(applied));
  t.is((await writers[1]!.get('counter', 'QUORUM')).value.toString(), String(applied));
});

test.serial('a cas retried after its coordinator was killed applies once and answers applied', async (t) => {
  const c = await cluster();
  const setup = clientOf(c);
  t.true((await setup.putIfAbsent('n', '0')).applied);
  // A reply lost for certain: the cas went through on node 1, then node 1 died, and the client sends it again elsewhere.
  const first = clientOf(c, { startAt: 1 });
  t.true((await first.cas('n', '0', '1', { requestId: 'inc-1' })).applied);
  await c.kill(1);
  const again = clientOf(c, { startAt: 2 });
  t.deepEqual(await again.cas('n', '0', '1', { requestId: 'inc-1' }), { applied: true, current: Buffer.from('1') });
  t.is((await again.get('n', 'SERIAL')).value.toString(), '1');
  await c.restart(1);
  // Killed while the cas is in flight, at different moments: the client's own retry (same id) settles it either way.
  for (let round = 1; round <= 3; round++) {
    await c.waitAllSeeEachOther();
    const before = String(round);
    const after = String(round + 1);
    const k = clientOf(c, { startAt: 1 });
    const pending = k.cas('n', before, after);
    // Awaited before the restart: a cas that answers within the few ms would otherwise restart a node not yet killed.
    const killed = new Promise<void>((done) => setTimeout(() => void c.kill(1).then(done), round * 3));
    t.deepEqual(await pending, { applied: true, current: Buffer.from(after) }, `round ${round}`);
    t.is((await again.get('n', 'SERIAL')).value.toString(), after, `round ${round}: applied exactly once`);
    await killed;
    await c.restart(1);
  }
});

test.serial(
  'a node gives its Paxos rows of a range over the wire, and another merges them: a retry there finds its request committed',
  async (t) => {
    const c = await sharedCluster();
    const k = clientOf(c);
    t.true((await k.putIfAbsent('rows-a', '0', { requestId: 'rows-req-a' })).applied);
    t.true((await k.putIfAbsent('rows-b', '0', { requestId: 'rows-req-b' })).applied);
    // RemoteAcceptor is what a membership stream uses: the real client code, handler and wire at both ends.
    const acceptorAt = (id: number) => {
      const node = c.config.nodes[id]!;
      const conn = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 4 << 20 });
      return { conn, acceptor: new RemoteAcceptor(conn, c.config.secret, 3000, { id: 99, epoch: () => 0 }) };
    };
    const replicas = (key: string): number[] => new Ring(c.config.nodes, 3).replicas(key);
    const holder = acceptorAt(replicas('rows-a')[0]!);
    const notHolder = c.config.nodes.map((n) => n.id).find((id) => !replicas('rows-a').includes(id))!;
    const other = acceptorAt(notHolder);
    try {
      const page = await holder.acceptor.paxosRows('rows-', 'rows.', 200);
      const row = page.rows.find((r) => r.key === 'rows-a');
      t.truthy(row, `rows of ${page.rows.map((r) => r.key).join(', ')}`);
      t.deepEqual(
        row!.state.recent.map((r) => r.requestId),
        ['rows-req-a'],
      );
      t.true(await other.acceptor.paxosMerge(page.rows));
      const merged = await other.acceptor.paxosRows('rows-a', 'rows-a\u0000', 1);
      t.deepEqual(merged.rows[0]?.state.committed, row!.state.committed);
      const retry = await other.acceptor.prepare('rows-a', { ts: Date.now() * 1000, node: notHolder }, 'rows-req-a');
      t.true(retry.reply.requestCommitted, 'the merged row knows the request');
      // Bad input gets a sentence: a page limit past the bound, a row past the recent-id bound.
      const tooMany = await errorOf(holder.acceptor.paxosRows('', undefined, 201));
      t.like(tooMany, { code: 'InvalidRequest', message: 'a page of Paxos rows holds 1 to 200 keys' });
      const recent = Array.from({ length: 65 }, (_, i) => ({ requestId: `x${i}`, ts: i }));
      const bad = await errorOf(other.acceptor.paxosMerge([{ key: 'rows-c', state: { recent } }]));
      t.like(bad, { code: 'InvalidRequest', message: 'a Paxos row holds at most 64 recent request ids' });
    } finally {
      holder.conn.close();
      other.conn.close();
    }
  },
);
