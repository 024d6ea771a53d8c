import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapEntry } from '../../src/membership/changes';
import { EpochLog } from '../../src/membership/epoch-log';
import { SqliteEpochStore } from '../../src/storage/epoch-store';
import { Sqlite } from '../../src/storage/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-epoch-log-'));
let fileNo = 0;

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

const NODES = [
  { id: 0, token: 'd' },
  { id: 1, token: 'h' },
  { id: 2, token: 'l\u00ff' },
];
const BOOT = bootstrapEntry(NODES, 3);

/** Opens the log in `path`, runs `body` on it, closes the file. */
async function withLog<T>(path: string, body: (log: EpochLog) => Promise<T>, boot = BOOT): Promise<T> {
  const db = await Sqlite.open(path);
  try {
    return await body(await EpochLog.open(await SqliteEpochStore.open(db), boot));
  } finally {
    await db.close();
  }
}

test('a new log stores the bootstrap as epoch 1, and a reopened log finds it', async (t) => {
  const path = join(dir, `log-${++fileNo}.db`);
  await withLog(path, async (log) => {
    t.is(log.epoch, 1);
    t.deepEqual(log.after(0), [BOOT]);
  });
  await withLog(path, async (log) => {
    t.is(log.epoch, 1);
    t.deepEqual(log.after(0), [BOOT], 'tokens of any byte come back exactly');
    t.deepEqual(
      log.placement.ranges.map((r) => r.end),
      ['d', 'h', 'l\u00ff'],
    );
  });
});

test('appended changes are durable, take effect in the placement, and are listed after an epoch', async (t) => {
  const path = join(dir, `log-${++fileNo}.db`);
  await withLog(path, async (log) => {
    const entry = await log.append({ kind: 'join-begin', node: 3, token: 'f' });
    t.is(entry.epoch, 2);
    t.is(log.placement.epoch, 2);
    t.is(log.placement.rangeOf('e').pending, 1);
  });
  await withLog(path, async (log) => {
    t.is(log.epoch, 2);
    t.is(log.membership.members[3]!.state, 'JOINING');
    t.deepEqual(log.after(1), [{ epoch: 2, change: { kind: 'join-begin', node: 3, token: 'f' } }]);
    t.deepEqual(log.after(2), []);
    t.deepEqual(log.after(99), []);
  });
});

test('a change the membership refuses is neither stored nor in effect; appends in one turn get successive epochs', async (t) => {
  const path = join(dir, `log-${++fileNo}.db`);
  await withLog(path, async (log) => {
    await t.throwsAsync(log.append({ kind: 'leave-begin', node: 1 }), {
      name: 'InvalidRequest',
      message: /fewer than the replication factor 3/,
    });
    t.is(log.epoch, 1);
    const [a, b] = await Promise.all([
      log.append({ kind: 'join-begin', node: 3, token: 'f' }),
      log.append({ kind: 'reads-switch', node: 3 }),
    ]);
    t.deepEqual([a.epoch, b.epoch], [2, 3]);
  });
  await withLog(path, async (log) => t.is(log.epoch, 3));
});

test('a cluster file with another ring than the log was started with is refused', async (t) => {
  const path = join(dir, `log-${++fileNo}.db`);
  await withLog(path, async () => undefined);
  const moved = bootstrapEntry([{ id: 0, token: 'e' }, ...NODES.slice(1)], 3);
  await t.throwsAsync(
    withLog(path, async () => undefined, moved),
    { name: 'ConfigError', message: /differ from the ring this node's data was first started with/ },
  );
  await withLog(path, async (log) => t.is(log.epoch, 1), bootstrapEntry([...NODES].reverse(), 3));
});
