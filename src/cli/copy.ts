/**
 * The copy tool: a key range out to a file, and a file into a cluster
 * (cqlsh's COPY TO and COPY FROM). A snapshot copies each node's own file and
 * is restored onto the same nodes; an export is the cluster's data as a
 * client reads it, so it loads into a cluster of any size and tokens, or
 * into something else (the format: export-format.ts).
 *   scripts/copy.sh export FILE [--from KEY] [--to KEY] [--level L] [--cluster FILE]
 *   scripts/copy.sh import FILE [--level L] [--keep-timestamps] [--rate N] [--cluster FILE]
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { KvClient } from '../client/client';
import { clusterFilePath, intFlag, parseArgs, UsageError } from '../common/args';
import { KvError } from '../common/errors';
import { COPY_EXPORT_PAGE_KEYS, COPY_IMPORT_LINE_CHARS_MAX, COPY_IMPORT_RATE_MAX } from '../common/limits';
import { counted } from '../common/words';
import {
  LEVEL_LIST,
  type LevelName,
  parseLevel,
  parseWriteLevel,
  unknownLevel,
  WRITE_LEVEL_LIST,
  type WriteLevelName,
} from '../coordinator/levels';
import { entryLine, type ExportEntry, type ImportWrite, importWrite, LineError, parseLine } from './export-format';
import { BatchSender, type BatchWriter, Gathered, type ImportOptions, linesOf } from './import-batches';
import { runTool } from './run-tool';

const USAGE = `usage: scripts/copy.sh export FILE [--from KEY] [--to KEY] [--level L] [--cluster FILE]
       scripts/copy.sh import FILE [--level L] [--keep-timestamps] [--rate N] [--cluster FILE]
  export  writes the live keys of [--from, --to) (default: every key), in byte
          order, with their values, timestamps and expiry, one JSON object a
          line, to FILE (- for stdout); read by scan at --level (default QUORUM)
  import  writes every key of FILE (- for stdin) at --level (default QUORUM),
          in unlogged batches of consecutive lines, a value with an expiry
          with the TTL it has left (one already past is skipped); the writes
          get new timestamps, as any put does, and a key's later line wins
  --keep-timestamps  each value keeps its line's "ts" (CQL's USING TIMESTAMP),
          so a value already newer in the cluster stays, and a TTL counts
          from it; a line without "ts" gets a new one
  --rate N  at most N keys a second (default: as fast as the cluster takes
          them), so that an import into a cluster in use leaves it room
  A line: {"key":"user:1","value":"alice","ts":1796690000000000}, with
  "keyHex", "valueHex" for bytes that are not UTF-8 text, "ts" (µs since 1970)
  if known, and "expiresUs" (µs since 1970) if it expires.`;

/** How often progress is shown on a terminal, ms. */
const PROGRESS_EVERY_MS = 1000;

/** A progress line on a terminal (stderr), rewritten in place; nothing elsewhere. */
function progress(what: string): { tick(count: number): void; end(): void } {
  const shown = process.stderr.isTTY === true;
  let last = Date.now();
  return {
    tick(count) {
      if (!shown || Date.now() - last < PROGRESS_EVERY_MS) return;
      last = Date.now();
      process.stderr.write(`\r${what} ${count.toLocaleString('en')} keys`);
    },
    end() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

async function exportRange(client: KvClient, file: string, from: string, to: string, level: LevelName): Promise<string> {
  const toStdout = file === '-';
  // Written beside the file and renamed at the end: an export that failed is never left looking whole.
  const partial = `${file}.partial`;
  if (!toStdout && statSync(file, { throwIfNoEntry: false })?.isDirectory() === true)
    throw new UsageError(`${file} is a directory; name the file to write`);
  // Opened here, so that a path that cannot be written fails at once, as one sentence (fileProblem).
  const out = toStdout ? process.stdout : createWriteStream(partial, { fd: openSync(partial, 'w') });
  let writeError: Error | undefined;
  out.on('error', (err) => (writeError ??= err));
  const shown = progress('exported');
  let keys = 0;
  const started = Date.now();
  try {
    for await (const e of client.scan(from, to, level, { pageSize: COPY_EXPORT_PAGE_KEYS })) {
      if (writeError !== undefined) throw writeError;
      if (!out.write(`${entryLine(e)}\n`)) await once(out, 'drain');
      shown.tick(++keys);
    }
    if (writeError !== undefined) throw writeError;
    if (!toStdout) {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      renameSync(partial, file);
    }
  } catch (err) {
    if (!toStdout) {
      out.destroy();
      rmSync(partial, { force: true });
    }
    throw err;
  } finally {
    shown.end();
  }
  return `exported ${counted(keys, 'key')} to ${toStdout ? 'stdout' : file} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
}

/**
 * Writes a file's entries as unlogged batches of consecutive lines (an
 * export is in key order, so a batch's keys mostly share their replicas):
 * each batch is one call, and a write costs about half what a put does
 * (docs/benchmarks.md). All or nothing is not needed here, as a failed
 * import is run again; so the batches are not logged. A key that appears
 * twice is written the second time only once its first batch has settled,
 * so the later line wins. With `keepTimestamps` each value keeps its line's
 * ts (export-format.ts importWrite), and last-write-wins keeps whatever is
 * newer, in the file or the cluster. `keysPerSecond` paces the batches.
 */
export async function importFile(client: BatchWriter, file: string, level: WriteLevelName, options: ImportOptions = {}): Promise<string> {
  const input = file === '-' ? process.stdin : createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  const shown = progress('imported');
  const sender = new BatchSender(client, level, options.keysPerSecond, (written) => shown.tick(written));
  let batch = new Gathered();
  let expired = 0;
  let unreadable: string | undefined;
  const started = Date.now();
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (sender.failure !== undefined) break;
      let entry: ExportEntry | undefined;
      let write: ImportWrite | 'expired';
      try {
        entry = lineEntry(line);
        if (entry === undefined) continue;
        write = importWrite(entry, Date.now() * 1000, options.keepTimestamps === true);
      } catch (err) {
        if (!(err instanceof LineError)) throw err;
        unreadable = `${file}, line ${n}: ${err.message}`;
        break;
      }
      if (write === 'expired') {
        expired++;
        continue;
      }
      const key = entry.key.toString('latin1');
      if (!batch.takes(key, entry)) {
        await sender.send(batch);
        batch = new Gathered();
      }
      await sender.settled(key);
      batch.add(n, key, { key: entry.key, value: entry.value, ...write });
    }
    // The lines gathered last, also before a line that could not be read (the message says they were written); not after a failed batch.
    if (sender.failure === undefined) await sender.send(batch);
    await sender.drain();
  } finally {
    lines.close();
    shown.end();
  }
  return importSummary(file, sender, unreadable, expired, started);
}

/** What an import ends with: its summary, or the error that stopped it (the batches in flight were waited for, so the count is what reached the cluster). */
function importSummary(file: string, sender: BatchSender, unreadable: string | undefined, expired: number, started: number): string {
  const skipped = expired > 0 ? `, ${expired} skipped as expired` : '';
  const written = counted(sender.written, 'key');
  if (unreadable !== undefined)
    throw new UsageError(`import stopped: ${unreadable}; the lines before it were written (${written}), none from it on${skipped}`);
  const { failure } = sender;
  if (failure !== undefined) {
    throw new KvError(
      failure.error.code,
      `import stopped: ${linesOf(failure.batch)}: ${failure.error.message}; ${written} written before it stopped${skipped}. Run it again to write the rest: a key written twice holds the same value`,
    );
  }
  return `imported ${written} from ${file === '-' ? 'stdin' : file} in ${((Date.now() - started) / 1000).toFixed(1)} s${skipped}`;
}

/** A line's entry, or undefined for a blank line; LineError when it cannot be read (one too long included). */
function lineEntry(line: string): ExportEntry | undefined {
  if (line.length > COPY_IMPORT_LINE_CHARS_MAX) throw new LineError(`it is longer than ${COPY_IMPORT_LINE_CHARS_MAX} characters`);
  return parseLine(line);
}

/** A file that cannot be opened, read or written (ENOENT, EACCES, EISDIR...), as one sentence; undefined for any other error. */
function fileProblem(err: unknown): UsageError | undefined {
  const e = err as { code?: unknown; syscall?: unknown; path?: unknown; message?: unknown };
  if (typeof e.code !== 'string' || typeof e.syscall !== 'string') return undefined;
  return new UsageError(`cannot ${e.syscall} ${String(e.path ?? 'the file')}: ${e.code}`);
}

function levelOf(text: string | true | undefined, writes: boolean): LevelName | WriteLevelName {
  if (text === undefined) return 'QUORUM';
  const level = typeof text === 'string' ? (writes ? parseWriteLevel(text) : parseLevel(text)) : undefined;
  if (level === undefined) throw new UsageError(unknownLevel(String(text), writes ? WRITE_LEVEL_LIST : LEVEL_LIST));
  return level;
}

async function main(): Promise<number> {
  const argv = parseArgs(process.argv.slice(2), ['help', 'keep-timestamps'], ['cluster', 'from', 'to', 'level', 'rate']);
  if (argv.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, file, ...rest] = argv.positional;
  if ((command !== 'export' && command !== 'import') || file === undefined || rest.length > 0) throw new UsageError(USAGE);
  if (command === 'import' && (argv.flags.has('from') || argv.flags.has('to')))
    throw new UsageError('import writes every key of its file; --from and --to are for export');
  if (command === 'export' && argv.flags.has('keep-timestamps'))
    throw new UsageError("an export always writes each value's timestamp; --keep-timestamps is for import");
  if (command === 'export' && argv.flags.has('rate')) throw new UsageError('--rate is for import');
  const rate = intFlag(argv.flags, 'rate', 0, 0, COPY_IMPORT_RATE_MAX);
  const level = levelOf(argv.flags.get('level'), command === 'import');
  const client = await KvClient.connect(clusterFilePath(argv.flags.get('cluster')));
  try {
    const str = (name: string): string => {
      const v = argv.flags.get(name);
      return typeof v === 'string' ? v : '';
    };
    const summary =
      command === 'export'
        ? await exportRange(client, file, str('from'), str('to'), level as LevelName)
        : await importFile(client, file, level, {
            keepTimestamps: argv.flags.has('keep-timestamps'),
            ...(rate > 0 ? { keysPerSecond: rate } : {}),
          });
    process.stderr.write(`${summary}\n`);
  } catch (err) {
    throw fileProblem(err) ?? err;
  } finally {
    client.close();
  }
  return 0;
}

if (require.main === module) runTool('copy', main);
