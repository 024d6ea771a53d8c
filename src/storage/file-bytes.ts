/** Sizes of files on disk, for the node's disk counter and a snapshot's room check. */
import { statSync } from 'node:fs';

/** A file's size; 0 when it does not exist (a WAL between checkpoints may not). */
export function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** A SQLite file's bytes on disk: the file and its write-ahead log. */
export function databaseBytes(path: string): number {
  return fileBytes(path) + fileBytes(`${path}-wal`);
}
