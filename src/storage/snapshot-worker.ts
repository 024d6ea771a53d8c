/**
 * The worker thread that writes a snapshot for a node on the inline driver
 * (storage/snapshot.ts): a second connection of the same library
 * (better-sqlite3) as the node's own, off the node's thread. The same
 * library matters: two copies of SQLite in one process do not see each
 * other's locks, and one could checkpoint and delete the write-ahead log
 * under the other.
 */
import Database from 'better-sqlite3';
import { workerData } from 'node:worker_threads';

const { source, target } = workerData as { source: string; target: string };
const db = new Database(source, { fileMustExist: true });
try {
  db.prepare('VACUUM INTO ?').run(target);
} finally {
  db.close();
}
