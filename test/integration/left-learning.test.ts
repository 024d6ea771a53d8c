/**
 * A replaced node that comes back with its old data directory, where its
 * start-up catch-up cannot tell it that it left: started again while its
 * replacement streams, it serves as the member it still is, then learns at
 * the replacement's end, from a peer its hello reaches, that it left, and
 * exits; started again first in a whole-cluster restart, it answers no
 * client until it has heard its ring, and then exits without serving its
 * old value.
 */
import test from 'ava';
import { KvClient, NodeAdmin } from '../../src/client/client';
import { isKvError } from '../../src/common/errors';
import { freeNodePort, LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { errorOf } from './error-of';
import { membershipAt, untilOperation } from './membership-helpers';

/** The departure sentence of a node replaced by another (membership/departure.ts). */
const replacedSentence = (id: number, epoch: number, by: number): RegExp =>
  new RegExp(`node ${id} left the ring at epoch ${epoch} \\(replaced by node ${by}\\); it will not serve`);

/** Starts node `id` to replace node `dead`; its admin. */
async function spawnReplacement(c: LocalCluster, id: number, dead: number): Promise<NodeAdmin> {
  c.spawnReplacing(id, await freeNodePort(), dead);
  return c.admin(id);
}

/** Waits until node `id`'s process has exited (its log's end in the error otherwise); its exit code. */
async function exited(c: LocalCluster, id: number): Promise<number | null> {
  try {
    await waitFor(`node ${id} to exit`, () => !c.isRunning(id), 90_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}; its log ends: ${c.log(id).slice(-1500)}`);
  }
  return c.stopNode(id);
}

/** A counter summed over the admin status of the given nodes. */
async function counterSum(c: LocalCluster, ids: readonly number[], name: string): Promise<number> {
  let sum = 0;
  for (const id of ids) {
    const admin = c.admin(id);
    try {
      sum += Number(((await admin.status()).counters as unknown as Record<string, unknown>)[name] ?? 0);
    } finally {
      admin.close();
    }
  }
  return sum;
}

test('a replaced node started again while its replacement streams serves until the replacement completes, then learns from a peer that it left and exits', async (t) => {
  // Paced streams (300 KB from each of two survivors at 10 KiB/s, about 30 s) leave time to start node 1 again in the
  // middle: its start (a catch-up from its peers first) took seconds on a loaded machine, and at 20 KiB/s (15 s) left little.
  const c = await LocalCluster.start({ settings: { streamBytesPerSecond: 10 * 1024 } });
  const client = c.client();
  let admin4: NodeAdmin | undefined;
  try {
    const value = 'x'.repeat(300);
    // "bulk-..." lies in (M, f], which nodes 1, 2 and 3 replicate.
    for (let i = 0; i < 1000; i += 50)
      await Promise.all(Array.from({ length: 50 }, (_, j) => client.put(`bulk-${i + j}`, value, 'QUORUM')));
    await c.kill(1);
    admin4 = await spawnReplacement(c, 4, 1);
    await untilOperation(admin4, 'node 4 to stream', (p) => p.rangesTotal > 0 && !p.done);
    // Its peers answer its start's catch-up: it holds the begin epoch, is still a member, and serves.
    await c.startNode(1);
    t.false((await untilOperation(admin4, 'node 4 to be streaming still', () => true)).done, 'node 1 was back before the end');
    await untilOperation(admin4, 'node 4 to replace node 1', (p) => p.done && p.state === 'NORMAL');
    const m = await membershipAt(c, 0);
    t.is(m.members.find((n) => n.id === 1)?.state, 'LEFT');

    // The complete epoch is pushed only to the ring it leaves node 1 out of: node 1 hears of it by its own hellos.
    t.is(await exited(c, 1), 0, 'a node that finds it left while serving leaves as a decommissioned node does');
    t.regex(c.log(1), replacedSentence(1, m.epoch, 4));
    t.is(c.log(1).match(/node 1 serving /g)?.length, 2, 'node 1 served in both runs');
    t.true((await counterSum(c, [0, 2, 3, 4], 'node.epochsPushedToLagging')) > 0, 'a peer told node 1 the epochs it lacked');
  } finally {
    admin4?.close();
    client.close();
    await c.destroy();
  }
});

test('in a whole-cluster restart after a replacement, the replaced node answers no client with its old value, then learns it left and exits', async (t) => {
  const c = await LocalCluster.start();
  const client = c.client();
  let admin4: NodeAdmin | undefined;
  let alone: KvClient | undefined;
  try {
    // "bulk-..." lies in (M, f], which nodes 1, 2 and 3 replicate.
    const key = 'bulk-old';
    await client.put(key, 'old', 'ALL');
    await c.kill(1);
    await client.put(key, 'new', 'QUORUM');
    admin4 = await spawnReplacement(c, 4, 1);
    await untilOperation(admin4, 'node 4 to replace node 1', (p) => p.done && p.state === 'NORMAL');
    admin4.close();
    admin4 = undefined;
    const epoch = (await membershipAt(c, 0)).epoch;
    await c.stop();

    // Node 1 starts first: no peer answers its catch-up, and its log still says it is NORMAL.
    await c.startNode(1);
    alone = new KvClient([c.endpoint(1)], { timeoutMs: 3000 });
    const refused = await errorOf(alone.get(key, 'ONE'));
    t.is(refused.code, 'Unavailable');
    t.regex(refused.message, /^node 1 is still learning the ring from its peers/);

    for (const id of [0, 2, 3, 4]) c.spawnNode(id);
    // Until it exits, every get it is asked is refused, or cannot reach it: never its old value.
    const answers: string[] = [];
    await waitFor(
      'node 1 to exit',
      async () => {
        if (!c.isRunning(1)) return true;
        const r = await alone!.get(key, 'ONE').then(
          (v) => v.value.toString(),
          (err) => (isKvError(err, 'Unavailable') || isKvError(err, 'ConnectionError') ? undefined : String(err)),
        );
        if (r !== undefined) answers.push(r);
        return false;
      },
      90_000,
    );
    t.deepEqual(answers, [], 'node 1 answered no get');
    t.is(await exited(c, 1), 0);
    t.regex(c.log(1), replacedSentence(1, epoch, 4));
    t.notRegex(c.log(1), /node 1 has the membership logs of \d+ of the ring's other nodes and answers clients/);

    await c.waitAllSeeEachOther(60_000, [0, 2, 3, 4]);
    const after = c.client({ startAt: 2 });
    try {
      t.is((await after.get(key, 'QUORUM')).value.toString(), 'new');
    } finally {
      after.close();
    }
  } finally {
    alone?.close();
    admin4?.close();
    client.close();
    await c.destroy();
  }
});
