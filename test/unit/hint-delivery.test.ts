/** Hint replay to a target that fails: the hints stay, and the failure is counted and told. */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvError } from '../../src/common/errors';
import { WARNING_INTERVAL_MS } from '../../src/common/limits';
import { waitFor } from '../../src/harness/local-cluster';
import { HintDelivery } from '../../src/hints/hint-delivery';
import { HintStore } from '../../src/hints/hint-store';
import { Replica } from '../../src/coordinator/replica';
import { Sqlite } from '../../src/storage/sqlite';
import { KeyedVersion } from '../../src/storage/version';

const dir = mkdtempSync(join(tmpdir(), 'ringkv-hint-delivery-'));

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A replica that refuses every apply while `down`, and keeps what it accepts. */
class FlakyReplica implements Replica {
  down = true;
  readonly applied: KeyedVersion[] = [];
  constructor(readonly id: number) {}
  apply(items: readonly KeyedVersion[]): Promise<void> {
    if (this.down) return Promise.reject(new KvError('ConnectionError', 'connection refused'));
    this.applied.push(...items);
    return Promise.resolve();
  }
  read(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

test('a failed replay is counted and told once per interval; the hints stay and go once the target answers', async (t) => {
  const db = await Sqlite.open(join(dir, 'hints.db'));
  const clock = { ms: 1_000 };
  const nowMs = (): number => clock.ms;
  const warnings: string[] = [];
  try {
    const hints = await HintStore.open(db, nowMs);
    const target = new FlakyReplica(2);
    const delivery = new HintDelivery(hints, new Map([[2, target]]), () => true, 3_600_000, nowMs, { onWarning: (m) => warnings.push(m) });
    const items = [{ key: 'a', version: { value: 'x', ts: 1, deleted: false } }];
    await hints.add(2, items);

    delivery.kick(2);
    await waitFor('the replay to fail', () => delivery.counters.hintReplayFailures === 1);
    t.deepEqual(warnings, [
      'hint replay failed once since start (last error: to node 2: connection refused); the hints stay for the next try (counter hintReplayFailures)',
    ]);
    t.is(hints.count(2), 1);

    clock.ms += WARNING_INTERVAL_MS - 1;
    await waitFor('a second replay to fail', () => {
      delivery.kick(2); // a no-op while one runs
      return delivery.counters.hintReplayFailures === 2;
    });
    t.is(warnings.length, 1, 'not told again within the interval');

    target.down = false;
    await waitFor('the hints to be delivered', () => {
      delivery.kick(2);
      return hints.count(2) === 0;
    });
    t.deepEqual(
      target.applied.map(({ key, version }) => ({ key, version })),
      items,
    );
    t.is(hints.counters.hintsDelivered, 1);
    t.is(delivery.counters.hintReplayFailures, 2);
  } finally {
    await db.close();
  }
});

test('each batch the target took goes to the delivered callback before its hints are deleted; a failure there keeps them', async (t) => {
  const db = await Sqlite.open(join(dir, 'hints-delivered.db'));
  const nowMs = (): number => 1_000;
  try {
    const hints = await HintStore.open(db, nowMs);
    const target = new FlakyReplica(2);
    target.down = false;
    const seen: { target: number; keys: string[]; heldThen: number }[] = [];
    let failing = true;
    const delivery = new HintDelivery(
      hints,
      new Map([[2, target]]),
      () => true,
      3_600_000,
      nowMs,
      {},
      async (to, batch) => {
        seen.push({ target: to, keys: batch.map((h) => h.key), heldThen: hints.count(2) });
        if (failing) throw new KvError('Internal', 'the hand-on failed');
      },
    );
    await hints.add(2, [{ key: 'a', version: { value: 'x', ts: 1, deleted: false } }]);
    delivery.kick(2);
    await waitFor('the replay to fail in the callback', () => delivery.counters.hintReplayFailures === 1);
    t.is(hints.count(2), 1, 'the hint stays when the callback fails');
    failing = false;
    await waitFor('the hint to be delivered', () => {
      delivery.kick(2);
      return hints.count(2) === 0;
    });
    t.deepEqual(seen, [
      { target: 2, keys: ['a'], heldThen: 1 },
      { target: 2, keys: ['a'], heldThen: 1 },
    ]);
  } finally {
    await db.close();
  }
});
