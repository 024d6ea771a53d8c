/**
 * A node whose disk fills up: writes fail with StorageFull (not TimedOut),
 * the node says so in its log, its status and its metrics, and it takes
 * writes again by itself once space is back. The cluster runs on a small
 * tmpfs of its own, which needs root; elsewhere the test says it skipped.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterStatus } from '../../src/client/status';
import { isKvError, KvError } from '../../src/common/errors';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';

/** The filesystem the cluster lives on: small enough to fill in a second. */
const FS_BYTES = 24 * 1024 * 1024;
/** Values written until the disk refuses. */
const VALUE = Buffer.alloc(64 * 1024, 0x61);
/** Puts tried before giving up on filling the disk. */
const PUTS_MAX = 2000;

function mountSmallFs(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES}`, 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

test('a full disk fails writes with StorageFull, shows in log, status and metrics, and heals by itself', async (t) => {
  const mnt = mountSmallFs();
  if (mnt === undefined) {
    t.log('skipped: mounting a small tmpfs needs root (and mount)');
    t.pass();
    return;
  }
  let c: LocalCluster | undefined;
  try {
    c = await LocalCluster.start({ baseDir: mnt, settings: { antiEntropyIntervalMs: 0 } });
    const client = c.client();
    try {
      // Leave the nodes a few MB, then write until a write is refused.
      const filler = join(mnt, 'filler');
      writeFileSync(filler, Buffer.alloc(FS_BYTES - 6 * 1024 * 1024));
      let refused: KvError | undefined;
      for (let i = 0; i < PUTS_MAX && refused === undefined; i++) {
        await client.put(`k${i}`, VALUE, 'QUORUM').catch((err: KvError) => {
          refused = err;
        });
      }
      t.truthy(refused, 'the disk filled up');
      t.true(isKvError(refused, 'StorageFull'), `${refused?.code}: ${refused?.message}`);
      t.regex(refused!.message, /disk is full/);

      const status = await clusterStatus(c.config);
      t.true(
        status.nodes.some((n) => n.diskFull),
        'status shows a full disk',
      );
      const full = status.nodes.find((n) => n.diskFull)!;
      t.regex(c.log(full.id), /WARN a commit to the log failed .*disk is full/);
      const metrics = await fetch(full.metrics!).then((r) => r.text());
      t.regex(metrics, /^ringkv_storage_full 1$/m);

      // Space back: writes go through again with nothing restarted.
      rmSync(filler);
      await waitFor('writes to be taken again', () =>
        client.put('after', 'space is back', 'QUORUM').then(
          () => true,
          () => false,
        ),
      );
      t.is((await client.get('after', 'QUORUM')).value.toString(), 'space is back');
      // The full node commits again once the hints for the writes it refused reach it.
      await waitFor('the full node to report its disk fine again', async () => {
        const healed = await clusterStatus(c!.config);
        return !healed.nodes.find((n) => n.id === full.id)!.diskFull;
      });
      t.pass();
    } finally {
      client.close();
    }
  } finally {
    await c?.destroy();
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});
