/**
 * Merging the pages that several replicas return for one range of a scan.
 * Pure: no I/O, no clock (the caller passes the time expiry is judged at).
 *
 * Each replica returns its keys of the range from the same start, in byte
 * order, at most so many; `more` says it stopped before the range's end. A
 * replica that stopped early says nothing about the keys after its last one,
 * so the merge is decided only up to the smallest last key among the pages
 * that stopped early (the frontier); keys past it are left for the next
 * round. Up to the frontier, a key missing from a page is missing on that
 * replica. For each key the newest version wins (storage/version.ts), and
 * every replica that returned an older one, or none, is stale: the scan
 * repairs it, as a point read does.
 */
import { assert } from '../common/assert';
import { compareKeyStrings } from '../common/bytes';
import { compareVersions, isLive, KeyedVersion, newest, Version } from '../storage/version';
import { isReservedKey } from '../membership/reserved-keys';

/** One replica's answer for a range: its keys from the range's start, in order. */
export interface ReplicaPage {
  readonly entries: readonly KeyedVersion[];
  /** True when the replica stopped before the range's end (at its limit of keys or bytes). */
  readonly more: boolean;
}

/** A key decided by the merge: its winning version, and the pages (by index) that lack it or hold an older one. */
export interface MergedKey {
  readonly key: string;
  readonly version: Version;
  readonly stale: readonly number[];
}

export interface MergedRange {
  /** Every key up to the frontier (or the range's end), in byte order. */
  readonly keys: MergedKey[];
  /** The last key decided, when a page stopped early; undefined when the pages reached the range's end. */
  readonly frontier: string | undefined;
}

/** The smallest last key among the pages that stopped early, or undefined when none did. */
function frontierOf(pages: readonly ReplicaPage[]): string | undefined {
  let frontier: string | undefined;
  for (const page of pages) {
    if (!page.more) continue;
    assert(page.entries.length > 0, 'a page that stopped early holds a key');
    const last = page.entries[page.entries.length - 1]!.key;
    if (frontier === undefined || compareKeyStrings(last, frontier) < 0) frontier = last;
  }
  return frontier;
}

/** Merges replica pages of one range (see the module comment). */
export function mergePages(pages: readonly ReplicaPage[]): MergedRange {
  const frontier = frontierOf(pages);
  const byKey = new Map<string, Array<Version | undefined>>();
  pages.forEach((page, p) => {
    for (const { key, version } of page.entries) {
      if (frontier !== undefined && compareKeyStrings(key, frontier) > 0) break;
      let held = byKey.get(key);
      if (held === undefined) byKey.set(key, (held = new Array<Version | undefined>(pages.length).fill(undefined)));
      held[p] = version;
    }
  });
  const keys: MergedKey[] = [];
  for (const key of [...byKey.keys()].sort(compareKeyStrings)) {
    const held = byKey.get(key)!;
    let winner: Version | undefined;
    for (const v of held) winner = newest(winner, v);
    assert(winner !== undefined, 'a merged key came from some page');
    const stale: number[] = [];
    held.forEach((v, p) => {
      if (v === undefined || compareVersions(v, winner) !== 0) stale.push(p);
    });
    keys.push({ key, version: winner, stale });
  }
  return { keys, frontier };
}

/** What a scan returns of merged keys: live ones only, at most `limit`. */
/** A live key of a scan: its value, its timestamp, and when it expires (µs since 1970) if it does. */
export interface ScanRow {
  readonly key: string;
  readonly value: string;
  readonly ts: number;
  readonly expires?: number;
}

export interface TakenRows {
  readonly rows: ScanRow[];
  /** The last key looked at: the last row when the limit cut the keys short, else the last merged key (undefined if none). */
  readonly last: string | undefined;
  /** True when the limit was reached before every merged key was looked at. */
  readonly cut: boolean;
}

/**
 * The live keys (not tombstones, not expired at `nowUs`) of `keys`, in
 * order, at most `limit`. Tombstones and expired values are skipped but
 * still count as looked at: a cursor may pass them.
 */
export function takeLive(keys: readonly MergedKey[], limit: number, nowUs: number): TakenRows {
  const rows: ScanRow[] = [];
  let last: string | undefined;
  for (const { key, version } of keys) {
    if (rows.length === limit) return { rows, last, cut: true };
    last = key;
    // The ring's own keys pass like tombstones: replicated and repaired, never shown.
    if (isLive(version, nowUs) && !isReservedKey(key))
      rows.push(
        version.expires
          ? { key, value: version.value, ts: version.ts, expires: version.expires }
          : { key, value: version.value, ts: version.ts },
      );
  }
  return { rows, last, cut: false };
}
