/**
 * Snapshots of a node's data file, for backups (`admin.sh snapshot`, as
 * Cassandra's `nodetool snapshot` or etcd's `snapshot save`).
 *
 * SQLite's `VACUUM INTO` writes a consistent copy of the database as of one
 * read transaction: exactly what a restart at that moment would find (rows,
 * hints, batch log, ring log, Paxos state). It runs on a second connection,
 * off the node's thread, which goes on serving meanwhile; in WAL mode a
 * reader blocks no writer. The copy is also compact: no free pages.
 *
 * The second connection must come from the same SQLite library as the
 * node's own (sql-driver.ts: better-sqlite3 inline, sqlite3 on a thread).
 * Two copies of SQLite in one process do not see each other's POSIX locks
 * (SQLite's "How To Corrupt" page, 2.2.1): the copy that closed last would
 * take itself for the file's last user, checkpoint, and delete the
 * write-ahead log from under the node. So the inline driver's snapshot runs
 * in a worker thread (snapshot-worker.ts) with better-sqlite3, loaded once
 * a process, and the thread driver's on a second sqlite3 connection.
 */
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { isKvError, KvError } from '../common/errors';
import { SNAPSHOT_FREE_BYTES_MIN, SNAPSHOT_NAME_MAX, SNAPSHOTS_LISTED_MAX } from '../common/limits';
import { databaseBytes } from './file-bytes';
import { Sqlite, type SqliteDriverName } from './sqlite';

/** A snapshot's name: a directory under `snapshots/`, so no path separators, and not hidden. */
const NAME = new RegExp(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,${SNAPSHOT_NAME_MAX - 1}}$`);

/** A snapshot this node holds a file in. */
export interface SnapshotEntry {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** When the file was last written (ms since 1970). */
  readonly writtenMs: number;
}

export interface SnapshotResult {
  readonly path: string;
  readonly bytes: number;
  readonly tookMs: number;
}

/** Why `name` cannot name a snapshot, in one sentence; undefined when it can. */
export function snapshotNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !NAME.test(name))
    return `a snapshot name is 1 to ${SNAPSHOT_NAME_MAX} letters, digits, '.', '_' or '-', not starting with '.'`;
  return undefined;
}

/**
 * Writes snapshot `name` of the database file `source` as
 * `snapshotsDir/name/fileName` (refusing a name this file has taken), lists
 * this node's snapshots and deletes one.
 */
export class SnapshotWriter {
  /** The snapshot being written, if any. One at a time: each reads the whole file and writes as much. */
  private running: string | undefined;

  constructor(
    private readonly source: string,
    private readonly snapshotsDir: string,
    private readonly fileName: string,
    /** The node's own driver: the copy is made with the same library. */
    private readonly driver: SqliteDriverName,
    /** Bytes free to this process on the file system of a directory (tests give their own). */
    private readonly freeBytes: (dir: string) => number = freeBytesAt,
  ) {}

  /**
   * Refuses a copy that would leave less than SNAPSHOT_FREE_BYTES_MIN free:
   * the copy is at most the file and its write-ahead log (VACUUM INTO drops
   * free pages and the log's old frames).
   */
  private checkRoom(dir: string, path: string): void {
    const needed = databaseBytes(this.source);
    const free = this.freeBytes(dir);
    if (free - needed >= SNAPSHOT_FREE_BYTES_MIN) return;
    const mib = (n: number): string => `${Math.round(n / (1024 * 1024))} MiB`;
    throw new KvError(
      'Unavailable',
      `not enough free disk for the snapshot at ${path}: ${mib(free)} free, the copy needs up to ${mib(needed)}, and ${mib(SNAPSHOT_FREE_BYTES_MIN)} must stay free for the node's own writes`,
    );
  }

  async write(name: string): Promise<SnapshotResult> {
    const problem = snapshotNameProblem(name);
    if (problem !== undefined) throw new KvError('InvalidRequest', problem);
    // Nodes that share a data directory (server.sh's) share snapshots/NAME/ too, each with a file of its own.
    const dir = join(this.snapshotsDir, name);
    const path = join(dir, this.fileName);
    if (existsSync(path)) throw new KvError('InvalidRequest', `a snapshot named ${name} exists already on this node (${path})`);
    if (this.running !== undefined)
      throw new KvError('Unavailable', 'another snapshot is being written on this node; try again once it is done');
    this.running = name;
    const startedMs = Date.now();
    try {
      mkdirSync(dir, { recursive: true });
      this.checkRoom(dir, path);
      await (this.driver === 'inline' ? vacuumInWorker(this.source, path) : vacuumOnThread(this.source, path));
      return { path, bytes: statSync(path).size, tookMs: Date.now() - startedMs };
    } catch (err) {
      // Nothing half written is left to be taken for a backup (nor a directory this node made for nothing).
      leaveNothing(path, dir);
      if (isKvError(err)) throw err;
      throw new KvError('Unavailable', `the snapshot could not be written to ${path}: ${(err as Error).message}`);
    } finally {
      this.running = undefined;
    }
  }

  /** The snapshots this node holds a file in, in name order; at most SNAPSHOTS_LISTED_MAX. */
  list(): SnapshotEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.snapshotsDir).sort();
    } catch {
      return []; // No snapshot was ever written here.
    }
    const out: SnapshotEntry[] = [];
    for (const name of names) {
      if (out.length >= SNAPSHOTS_LISTED_MAX) break;
      if (snapshotNameProblem(name) !== undefined || name === this.running) continue;
      const path = join(this.snapshotsDir, name, this.fileName);
      try {
        const st = statSync(path);
        out.push({ name, path, bytes: st.size, writtenMs: Math.round(st.mtimeMs) });
      } catch {
        // Another node's snapshot of that name (a shared data directory), or none: not this node's.
      }
    }
    return out;
  }

  /** Deletes this node's file of snapshot `name`, and its directory once empty. */
  clear(name: string): void {
    const problem = snapshotNameProblem(name);
    if (problem !== undefined) throw new KvError('InvalidRequest', problem);
    if (name === this.running) throw new KvError('Unavailable', `snapshot ${name} is being written on this node; clear it once it is done`);
    const dir = join(this.snapshotsDir, name);
    const path = join(dir, this.fileName);
    if (!existsSync(path)) throw new KvError('InvalidRequest', `this node holds no snapshot named ${name}`);
    rmSync(path);
    removeIfEmpty(dir);
  }
}

/** Bytes the process may still write on the file system holding `dir`. */
function freeBytesAt(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Removes what a failed copy made; what cannot be removed was never made (the directory could not be, say). */
function leaveNothing(path: string, dir: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    return; // Nothing more of this copy to remove.
  }
  removeIfEmpty(dir);
}

/** A snapshot's directory goes with the last node's file in it. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (another node's file of that snapshot is there), or never made.
  }
}

const WORKER = join(__dirname, 'snapshot-worker.js');

function vacuumInWorker(source: string, target: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: { source, target } });
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the snapshot's worker stopped with code ${code}`))));
  });
}

async function vacuumOnThread(source: string, target: string): Promise<void> {
  const db = await Sqlite.open(source, 'thread');
  try {
    await db.run('VACUUM INTO ?', [target]);
  } finally {
    await db.close();
  }
}
