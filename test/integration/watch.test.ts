/**
 * Watches against real node processes (four nodes, RF 3): the watch tool
 * from the beginning and as writes come, a library watch that goes on
 * through the loss and restart of the node it follows, a log position from
 * before a restart read again from the beginning, a watch through a join
 * that splits the range it follows, and bad input refused in one sentence.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { KvClient } from '../../src/client/client';
import type { WatchEvent } from '../../src/client/watch';
import { NodeAdmin } from '../../src/client/client';
import { freeNodePort, LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { errorOf } from './error-of';
import { untilOperation } from './membership-helpers';

const WATCH_TOOL = join(resolve(__dirname, '../../..'), 'dist/src/cli/watch.js');
const clusters: LocalCluster[] = [];
const clients: KvClient[] = [];

async function cluster(): Promise<{ c: LocalCluster; kv: KvClient }> {
  const c = await LocalCluster.start();
  clusters.push(c);
  const kv = await KvClient.connect(c.clusterFile);
  clients.push(kv);
  return { c, kv };
}

test.after.always(async () => {
  clients.forEach((k) => k.close());
  await Promise.all(clusters.map((c) => c.destroy()));
});

/** Keys in every node's range (tokens M, f, p, 0x7f) and above the last token. */
const KEYS = ['A', 'M', 'grape', 'pear', 'z', '\u00ff'];

test.serial('watch.sh --from-start prints every key, then the puts and deletes made while it runs, as JSON lines', async (t) => {
  const { c, kv } = await cluster();
  for (const key of KEYS) await kv.put(Buffer.from(key, 'latin1'), `v-${key}`, 'QUORUM');
  const tool = spawn(
    process.execPath,
    [WATCH_TOOL, '--cluster', c.clusterFile, '--from-start', '--json', '--count', String(KEYS.length + 3)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  tool.stdout.on('data', (d: Buffer) => (out += d.toString()));
  tool.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => tool.once('exit', r));
  try {
    const lines = (): { type: string; key?: string; value?: string | null; deleted?: boolean }[] =>
      out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l));
    // Every range read from the beginning, then the writes made meanwhile.
    await waitFor('every range read from the beginning', () => lines().filter((l) => l.type === 'synced').length === 5);
    await kv.put('fig', 'new', 'QUORUM');
    await kv.put('zz', 'new', 'QUORUM');
    await kv.delete('fig', 'QUORUM');
    t.is(await exited, 0, err);
    const changes = lines().filter((l) => l.type === 'change');
    t.deepEqual(
      changes
        .slice(0, KEYS.length)
        .map((l) => l.key)
        .sort(),
      KEYS.map((k) => (Buffer.from(k, 'latin1').toString('utf8') === k ? k : `0x${Buffer.from(k, 'latin1').toString('hex')}`)).sort(),
    );
    const live = changes.slice(KEYS.length);
    t.deepEqual(
      live.filter((l) => l.key === 'fig').map((l) => [l.value, l.deleted]),
      [
        ['new', false],
        [null, true],
      ],
      'a key changes in the order its writes were made',
    );
    t.deepEqual(
      live.filter((l) => l.key === 'zz').map((l) => l.value),
      ['new'],
    );
    t.is(lines().filter((l) => l.type === 'resync').length, 5, 'one resync per piece of the ring, at the start');
  } finally {
    tool.kill();
  }
});

test('watch.sh refuses bad usage in one line, exit 2, before it connects', async (t) => {
  const run = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
    new Promise((done) => {
      const p = spawn(process.execPath, [WATCH_TOOL, '--cluster', '/nonexistent/cluster.json', ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.once('exit', (code) => done({ code, stderr }));
    });
  const count = await run(['--count', '0']);
  t.is(count.code, 2);
  t.is(count.stderr, 'watch: --count must be a whole number from 1 to 1000000000\n');
  const many = await run(['a', 'b', 'c']);
  t.is(many.code, 2);
  t.regex(many.stderr, /^watch: too many arguments: c\nusage: scripts\/watch\.sh/);
  const missing = await run([]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^watch: cannot read cluster file \/nonexistent\/cluster\.json/);
});

/** Collects a watch's events until the test stops it. */
function collect(events: AsyncIterable<WatchEvent>): WatchEvent[] {
  const seen: WatchEvent[] = [];
  void (async () => {
    for await (const e of events) seen.push(e);
  })();
  return seen;
}

const changed = (seen: WatchEvent[], key: string, value: string): boolean =>
  seen.some((e) => e.type === 'change' && e.key.toString() === key && e.value.toString() === value);

test.serial(
  "a watch goes on through the loss and restart of the node it follows, reading that node's range again from another",
  async (t) => {
    const { c, kv } = await cluster();
    const watch = kv.watch('f', 'p');
    const seen = collect(watch);
    try {
      // From now on: the first write may land before the watch's first call has found the log's end, so write until seen.
      await waitFor('a write seen by the watch', async () => {
        await kv.put('grape', 'one', 'QUORUM');
        return changed(seen, 'grape', 'one');
      });
      const followed = seen.find((e) => e.type === 'change')!.node;
      await c.kill(followed);
      await kv.put('grape', 'two', 'QUORUM');
      await waitFor('the write made while the followed node is down', () => changed(seen, 'grape', 'two'));
      const resync = seen.find((e) => e.type === 'resync');
      t.truthy(resync, 'the range was read again');
      if (resync?.type === 'resync') {
        t.not(resync.node, followed);
        t.regex(resync.reason, new RegExp(`node ${followed} failed`));
      }
      await waitFor('the range read again in full', () => seen.some((e) => e.type === 'synced'));
      await c.restart(followed);
      await kv.put('guava', 'three', 'ALL');
      await waitFor('a write made after the restart', () => changed(seen, 'guava', 'three'));
    } finally {
      watch.close();
    }
  },
);

test.serial(
  'a position from before a restart of the node reads its range again from the beginning; bad calls get one sentence',
  async (t) => {
    const { c, kv } = await cluster();
    await kv.put('grape', 'one', 'QUORUM');
    const node = kv.placement!.rangeOf('grape').reads[0]!;
    const f = Buffer.from('g');
    const p = Buffer.from('p\u0000');
    const first = await kv.changesPage(node, f, p, { incarnation: 0, afterSeq: 0 }, 100, 0);
    t.false(first.restarted);
    t.deepEqual(
      first.changes.map((ch) => ch.key.toString()),
      ['grape'],
    );
    const after = { incarnation: first.incarnation, afterSeq: first.position };
    t.deepEqual((await kv.changesPage(node, f, p, after, 100, 0)).changes, [], 'nothing after the position');
    await c.kill(node);
    await c.restart(node);
    await waitFor('the node serving again', () => kv.changesPage(node, f, p, after, 100, 0));
    const again = await kv.changesPage(node, f, p, after, 100, 0);
    t.true(again.restarted, 'another incarnation of the log');
    t.not(again.incarnation, first.incarnation);
    t.deepEqual(
      again.changes.map((ch) => ch.key.toString()),
      ['grape'],
    );

    const other = [0, 1, 2, 3].find((id) => !kv.placement!.rangeOf('grape').reads.includes(id))!;
    const notHere = await errorOf(kv.changesPage(other, f, p, { incarnation: 0, afterSeq: 0 }, 100, 0));
    t.is(notHere.code, 'Unavailable');
    t.regex(notHere.message, new RegExp(`node ${other} does not take reads of "g" at epoch 1; nodes .* do`));
    const crossing = await errorOf(kv.changesPage(node, f, Buffer.from('z'), { incarnation: 0, afterSeq: 0 }, 100, 0));
    t.is(crossing.code, 'Unavailable');
    t.regex(crossing.message, /must end by "p\\x00", where the next range of the ring starts/);
    const limit = await errorOf(kv.changesPage(node, f, p, { incarnation: 0, afterSeq: 0 }, 5000, 0));
    t.is(limit.code, 'InvalidRequest');
    t.is(limit.message, "the change feed's limit is 5000; it must be a whole number from 1 to 1000");
    const inverted = await errorOf(kv.changesPage(node, p, f, { incarnation: 0, afterSeq: 0 }, 10, 0));
    t.regex(inverted.message, /the change feed's range is empty/);
    t.throws(() => kv.watch('b', 'a'), { message: /a watch's range is empty/ });
    const nodeRouted = c.client();
    clients.push(nodeRouted);
    t.throws(() => nodeRouted.watch('', ''), { message: /a watch needs token routing/ });
  },
);

test.serial(
  'a watch through a join that splits the range it follows: it plans again, and every write before, during and after reaches it',
  async (t) => {
    const { c, kv } = await cluster();
    const watch = kv.watch('', '');
    const seen = collect(watch);
    // What the watch told, newest timestamp winning, as a reader keeping a copy would hold it.
    const mirror = (): Map<string, string> => {
      const m = new Map<string, { ts: number; value: string }>();
      for (const e of seen) {
        if (e.type !== 'change') continue;
        const key = e.key.toString();
        if ((m.get(key)?.ts ?? -1) < e.ts) m.set(key, { ts: e.ts, value: e.deleted ? '(deleted)' : e.value.toString() });
      }
      return new Map([...m].map(([k, v]) => [k, v.value]));
    };
    try {
      await waitFor('a write seen by the watch', async () => {
        await kv.put('g-0', 'first', 'QUORUM');
        return changed(seen, 'g-0', 'first');
      });
      const written = new Map<string, string>([['g-0', 'first']]);
      let stop = false;
      const load = (async () => {
        // Keys on both sides of the new token h, written while node 4 joins.
        for (let i = 1; !stop; i++) {
          for (const key of [`g-${i}`, `k-${i}`]) {
            await kv.put(key, `during-${i}`, 'QUORUM').then(
              () => written.set(key, `during-${i}`),
              () => undefined,
            );
          }
        }
      })();
      const port = await freeNodePort();
      c.spawnNode(4, ['--host', '127.0.0.1', '--port', String(port), '--join-token-hex', Buffer.from('h').toString('hex')]);
      const admin4 = new NodeAdmin({ host: '127.0.0.1', port }, c.config.secret, 3000);
      try {
        await untilOperation(admin4, 'node 4 to join', (p) => p.done && p.state === 'NORMAL');
      } finally {
        admin4.close();
      }
      stop = true;
      await load;
      await kv.refreshRing();
      await kv.put('g-after', 'after', 'QUORUM');
      await kv.put('k-after', 'after', 'QUORUM');
      written.set('g-after', 'after').set('k-after', 'after');
      await waitFor('every acknowledged write in the watch', () => [...written].every(([k, v]) => mirror().get(k) === v), 60_000);
      // The join cut [f\0, p\0) at node 4's token: the watch planned again, and read the new pieces from the beginning.
      t.true(
        seen.some((e) => e.type === 'resync' && e.end?.toString('latin1') === 'h\u0000'),
        'a piece that ends at the new token',
      );
      t.true(written.size > 10, `${written.size} keys written`);
    } finally {
      watch.close();
    }
  },
);
