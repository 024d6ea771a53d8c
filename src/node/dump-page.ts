/**
 * One page of the admin `dump` call: entries in key order after a cursor,
 * cut by count and by bytes so that a page always fits in a frame.
 */
import { DUMP_PAGE_BYTES_MAX } from '../common/limits';
import type { KeyedVersion } from '../storage/version';

function entryBytes(e: KeyedVersion): number {
  return e.key.length + e.version.value.length;
}

/**
 * From `scanned` (up to limit + 1 entries, the extra one telling whether
 * there is more), the entries of the page: at most `limit`, at most
 * DUMP_PAGE_BYTES_MAX of keys and values, but at least one.
 */
export function cutDumpPage(scanned: readonly KeyedVersion[], limit: number): { page: KeyedVersion[]; more: boolean } {
  let bytes = 0;
  let n = 0;
  while (n < Math.min(limit, scanned.length) && (n === 0 || bytes + entryBytes(scanned[n]!) <= DUMP_PAGE_BYTES_MAX)) {
    bytes += entryBytes(scanned[n]!);
    n++;
  }
  return { page: scanned.slice(0, n), more: scanned.length > n };
}
