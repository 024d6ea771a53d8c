/**
 * Stream progress in a small JSON file beside the node's SQLite file
 * (node-N.streams.json): stream id to the key to go on from, cursors as
 * hex. Written whole, to a temporary file renamed over the old one, so a
 * crash leaves the old progress or the new, never a torn file. A file and
 * not a table: it holds a few dozen entries for the length of one operation,
 * and a table would change the storage layout that every node must replay.
 * A lost or stale file only costs re-sending pages, which is harmless.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { StreamProgress } from '../streaming/range-stream';

export class FileStreamProgress implements StreamProgress {
  /** One write at a time, each of the whole map. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly cursors: Map<string, string>,
  ) {}

  static async open(path: string): Promise<FileStreamProgress> {
    let stored: Record<string, string> = {};
    try {
      stored = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
    } catch {
      // No file yet (or an unreadable one): the streams start from their beginnings.
    }
    const cursors = new Map(Object.entries(stored).map(([id, hex]) => [id, Buffer.from(hex, 'hex').toString('latin1')]));
    return new FileStreamProgress(path, cursors);
  }

  async load(id: string): Promise<string | undefined> {
    return this.cursors.get(id);
  }

  save(id: string, cursor: string): Promise<void> {
    this.cursors.set(id, cursor);
    const text = JSON.stringify(Object.fromEntries([...this.cursors].map(([k, v]) => [k, Buffer.from(v, 'latin1').toString('hex')])));
    const next = this.writing.then(async () => {
      await writeFile(`${this.path}.tmp`, text);
      await rename(`${this.path}.tmp`, this.path);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
