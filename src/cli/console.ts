/**
 * The console: type commands, see results.
 *   put <key> <value> <level> [ttl=SECONDS]    get <key> <level>    mget <key>... <level>    delete <key> <level>
 *   scan <from> <to> <level> [limit]    cas <key> <expected> <new>    help    exit
 *   trace get <key> <level> | put <key> <value> <level> | delete <key> <level> | cas <key> <expected> <new> | scan <from> <to> <level>
 *     | mget <key>... <level> | batch [unlogged] ... <level>
 *   batch [unlogged] put <key> <value> [ttl=SECONDS] | delete <key> ... <level>
 * Levels: ONE, TWO, THREE, QUORUM, ALL (any case); get also takes SERIAL. Keys and values are UTF-8 text; wrap
 * one in double quotes to include spaces ("hello world", \" and \\ escape).
 *
 * On a terminal it prompts and colours its output. With stdin from a pipe or
 * file it prints one line per command and exits at the end of input. --json
 * prints one JSON object per command instead.
 */
import chalk from 'chalk';
import { createInterface } from 'node:readline';
import { BatchOp, KvClient, ReadResult, TracedOp, TraceResult } from '../client/client';
import { isKvError, KvError } from '../common/errors';
import { displayBytes } from '../common/bytes';
import { ConfigError } from '../config/cluster';
import {
  LEVEL_LIST,
  LevelName,
  parseLevel,
  parseReadLevel,
  parseWriteLevel,
  READ_LEVEL_LIST,
  type WriteLevelName,
  SERIAL_IS_NOT_FOR_BATCHES,
  serialIsForOneKey,
  unknownLevel,
  WRITE_LEVEL_LIST,
} from '../coordinator/levels';
import { GET_MANY_KEYS_MAX, SCAN_LIMIT_MAX, TTL_SECONDS_MAX } from '../common/limits';
import { clusterFilePath, parseArgs, parseEndpoint, UsageError } from '../common/args';
import { counted, tokenize } from '../common/words';

/** Keys a console scan lists when no limit is given. */
const SCAN_CONSOLE_LIMIT_DEFAULT = 100;
/** Most keys one console scan lists (the client pages through them). */
const SCAN_CONSOLE_LIMIT_MAX = 1_000_000;

const USAGE = `usage: scripts/client.sh [--json] [--cluster FILE | --node HOST:PORT] [--timeout-ms MS]

Commands (one per line):
  put <key> <value> <level> [ttl=SECONDS]
                              store a value; with ttl= it expires after that many seconds
  get <key> <level>           read a value (level SERIAL: the latest linearizable value)
  mget <key> [<key>...] <level>
                              read several keys in one request, one line each
  delete <key> <level>        delete a key
  batch [unlogged] put <key> <value> [ttl=SECONDS] | delete <key> ... <level>
                              write several keys as one logged batch, with one timestamp:
                              once any write of it is applied, all of them will be;
                              unlogged: no batch log, cheaper, but a failure may leave
                              it applied in part
  scan <from> <to> <level> [limit]
                              the live keys from <from> up to (not including) <to>, in byte
                              order, one per line, at most limit (default ${SCAN_CONSOLE_LIMIT_DEFAULT});
                              "" for <from> is the first key, "" for <to> the last
  cas <key> <expected> <new>  set to <new> only if the value is <expected> now (- for absent)
  trace get <key> <level> | trace put <key> <value> <level> | trace delete <key> <level>
  trace cas <key> <expected> <new> | trace scan <from> <to> <level>
  trace mget <key>... <level> | trace batch [unlogged] ... <level>
                              run it as usual and show what its coordinator did, step by step:
                              whom it asked, who answered what and when, read repairs, hints;
                              for a cas or a SERIAL get, each Paxos round (once, no retry);
                              for a scan, its first page's rounds (the rows are not shown);
                              for an mget (one call, at most ${GET_MANY_KEYS_MAX} keys) or a batch, each key's
                              steps led by its place, "key 2 of 5: "
  help                        show this help
  exit                        leave (end of input does the same)
Levels: ONE, TWO, THREE, QUORUM, ALL (any case); get also takes SERIAL, put and delete also ANY
(answered once a copy is durable anywhere, a hint too). Quote keys or values that hold spaces: put k "a b" quorum
With a cluster file each request goes to a replica of its key, on the ring its nodes give;
with --node every request goes to the first node given that answers.`;

type Result = Record<string, unknown> & { ok: boolean; op: string };

/** Arguments of each command: `words` required, `optional` more after them (after the level). */
const ARITY: Record<string, { words: number; optional: number; usage: string }> = {
  put: { words: 3, optional: 1, usage: 'put <key> <value> <level> [ttl=SECONDS]' },
  get: { words: 2, optional: 0, usage: 'get <key> <level>' },
  delete: { words: 2, optional: 0, usage: 'delete <key> <level>' },
  scan: { words: 3, optional: 1, usage: 'scan <from> <to> <level> [limit]' },
  cas: { words: 3, optional: 0, usage: 'cas <key> <expected> <new> (- for absent)' },
};

/** The console's word for "absent" in a cas expectation. */
const ABSENT = '-';

/** A whole number from `min` to `max` typed by a person, or one sentence saying what is wrong. */
function wholeNumber(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new KvError('InvalidRequest', `${what} must be a whole number from ${min} to ${max}, not "${text}"`);
  return n;
}

function ttlOf(word: string | undefined): number | undefined {
  if (word === undefined) return undefined;
  const m = /^ttl=(.*)$/i.exec(word);
  if (m === null) throw new KvError('InvalidRequest', `put takes ttl=SECONDS after the level, not "${word}"`);
  return wholeNumber(m[1]!, 'ttl', 1, TTL_SECONDS_MAX);
}

/** The live keys of a console scan, read page by page; `more` when the limit cut them short. */
async function scanRows(client: KvClient, words: string[], level: LevelName): Promise<Result> {
  const limit = words[4] === undefined ? SCAN_CONSOLE_LIMIT_DEFAULT : wholeNumber(words[4], 'the scan limit', 1, SCAN_CONSOLE_LIMIT_MAX);
  const entries: Array<{ key: string; value: string }> = [];
  let more = false;
  for await (const { key, value } of client.scan(words[1]!, words[2]!, level, { pageSize: Math.min(limit + 1, SCAN_LIMIT_MAX) })) {
    if (entries.length === limit) {
      more = true;
      break;
    }
    entries.push({ key: displayBytes(key), value: displayBytes(value) });
  }
  return { ok: true, op: 'scan', entries, more };
}

async function execute(client: KvClient, words: string[]): Promise<Result> {
  const op = words[0]!.toLowerCase();
  if (op === 'mget') return mget(client, words);
  if (op === 'batch') return batch(client, words);
  if (op === 'trace') return trace(client, words);
  const spec = ARITY[op];
  if (spec === undefined) throw new KvError('InvalidRequest', `unknown command "${words[0]}"; type help for the list`);
  const given = words.length - 1;
  if (given < spec.words || given > spec.words + spec.optional) {
    const count = spec.optional === 0 ? `${spec.words}` : `${spec.words} or ${spec.words + spec.optional}`;
    throw new KvError('InvalidRequest', `${op} takes ${count} arguments: ${spec.usage}`);
  }
  const key = words[1]!;
  if (op === 'cas') {
    const expected = words[2] === ABSENT ? null : words[2]!;
    const r = await client.cas(key, expected, words[3]!);
    return { ok: true, op, key, applied: r.applied, value: r.current === null ? null : displayBytes(r.current) };
  }
  const levelText = words[spec.words]!;
  if (op === 'get') return get(client, key, levelText);
  if (op === 'scan') return scanRows(client, words, plainReadLevel(levelText, 'scan'));
  const level = parseWriteLevel(levelText);
  if (level === undefined) throw new KvError('InvalidRequest', unknownLevel(levelText, WRITE_LEVEL_LIST));
  if (op === 'put') {
    const ttlSeconds = ttlOf(words[4]);
    const { ts } = await client.put(key, words[2]!, level, ttlSeconds === undefined ? {} : { ttlSeconds });
    return { ok: true, op, key, level, ts, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) };
  }
  const { ts } = await client.delete(key, level);
  return { ok: true, op, key, level, ts };
}

/** A scan's or an mget's level: SERIAL and ANY are levels, but not of these, and are told so (ANY by unknownLevel). */
function plainReadLevel(levelText: string, op: string): LevelName {
  const level = parseLevel(levelText);
  if (level !== undefined) return level;
  if (parseReadLevel(levelText) === 'SERIAL') throw new KvError('InvalidRequest', serialIsForOneKey(op));
  throw new KvError('InvalidRequest', unknownLevel(levelText, LEVEL_LIST));
}

async function get(client: KvClient, key: string, levelText: string): Promise<Result> {
  const level = parseReadLevel(levelText);
  if (level === undefined) throw new KvError('InvalidRequest', unknownLevel(levelText, READ_LEVEL_LIST));
  const r = await client.get(key, level);
  return { ok: true, op: 'get', key, level, found: r.found, value: r.found ? displayBytes(r.value) : null, ts: r.ts };
}

/** `mget <key> [<key>...] <level>`: the keys in one getMany (the client splits a long list), one entry each. */
async function mget(client: KvClient, words: string[]): Promise<Result> {
  const { keys, level } = mgetArgs(words);
  const results = await client.getMany(keys, level);
  return { ok: true, op: 'mget', level, entries: mgetEntries(keys, results) };
}

/** The keys and level of `mget <key> [<key>...] <level>` (words[0] is "mget"). */
function mgetArgs(words: string[]): { keys: string[]; level: LevelName } {
  if (words.length < 3) throw new KvError('InvalidRequest', 'mget takes one or more keys, then a level: mget <key> [<key>...] <level>');
  return { keys: words.slice(1, -1), level: plainReadLevel(words[words.length - 1]!, 'mget') };
}

function mgetEntries(keys: string[], results: readonly ReadResult[]): Array<Record<string, unknown>> {
  return results.map((r, i) => ({ key: keys[i]!, found: r.found, value: r.found ? displayBytes(r.value) : null, ts: r.ts }));
}

const BATCH_USAGE = 'batch [unlogged] put <key> <value> [ttl=SECONDS] | delete <key> ... <level>';

/** `batch [unlogged] put <key> <value> [ttl=SECONDS] | delete <key> ... <level>`: the writes, in order, as one batch. */
async function batch(client: KvClient, words: string[]): Promise<Result> {
  const { writes, level, unlogged } = batchArgs(words);
  const { ts } = await client.batch(writes, level, { unlogged });
  return { ok: true, op: 'batch', level, ts, writes: writes.length, ...(unlogged ? { unlogged } : {}) };
}

/** The writes, level and kind of `batch [unlogged] ...` (words[0] is "batch"). */
function batchArgs(words: string[]): { writes: BatchOp[]; level: WriteLevelName; unlogged: boolean } {
  const unlogged = words[1]?.toLowerCase() === 'unlogged';
  const first = unlogged ? 2 : 1;
  if (words.length < first + 3) throw new KvError('InvalidRequest', `batch takes one or more writes, then a level: ${BATCH_USAGE}`);
  const levelText = words[words.length - 1]!;
  const level = parseWriteLevel(levelText);
  if (levelText.toUpperCase() === 'SERIAL') throw new KvError('InvalidRequest', SERIAL_IS_NOT_FOR_BATCHES);
  if (level === undefined) throw new KvError('InvalidRequest', unknownLevel(levelText, WRITE_LEVEL_LIST));
  const writes: BatchOp[] = [];
  const end = words.length - 1;
  for (let i = first; i < end; ) {
    const op = words[i]!.toLowerCase();
    const place = `batch write ${writes.length + 1}`;
    if (op === 'delete' && i + 1 < end) {
      writes.push({ key: words[i + 1]!, remove: true });
      i += 2;
    } else if (op === 'put' && i + 2 < end) {
      const ttlWord = i + 3 < end && /^ttl=/i.test(words[i + 3]!) ? words[i + 3] : undefined;
      const ttlSeconds = ttlOf(ttlWord);
      writes.push({ key: words[i + 1]!, value: words[i + 2]!, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) });
      i += ttlWord === undefined ? 3 : 4;
    } else {
      const why =
        op === 'put' || op === 'delete' ? `${op} lacks its ${op === 'put' ? 'key or value' : 'key'}` : `"${words[i]}" is not put or delete`;
      throw new KvError('InvalidRequest', `${place}: ${why}; ${BATCH_USAGE}`);
    }
  }
  return { writes, level, unlogged };
}

const TRACE_USAGE =
  'trace get <key> <level> | trace put <key> <value> <level> | trace delete <key> <level> | trace cas <key> <expected> <new> (- for absent) | trace scan <from> <to> <level> | trace mget <key>... <level> | trace batch ... <level>';

/** The client's request for `trace <what> ...` (words[0] is "trace"). */
function tracedOp(what: 'get' | 'put' | 'delete' | 'cas' | 'scan', words: string[]): TracedOp {
  switch (what) {
    case 'scan':
      return { op: 'scan', stop: words[3]!, level: words[4]! };
    case 'put':
      return { op: 'put', value: words[3]!, level: words[4]! };
    case 'cas':
      return { op: 'cas', expected: words[3] === ABSENT ? null : words[3]!, value: words[4]! };
    default:
      return { op: what, level: words[3]! };
  }
}

const TRACED = ['get', 'put', 'delete', 'cas', 'scan'] as const;

/** `trace get|put|delete|cas|scan|mget|batch ...`: the request run as usual, with its coordinator's steps. */
async function trace(client: KvClient, words: string[]): Promise<Result> {
  const many = words[1]?.toLowerCase();
  if (many === 'mget' || many === 'batch') return traceMany(client, many, words.slice(1));
  const what = TRACED.find((op) => op === words[1]?.toLowerCase());
  const count = what === 'put' || what === 'cas' || what === 'scan' ? 5 : 4;
  if (what === undefined || words.length !== count) {
    throw new KvError('InvalidRequest', `trace takes a get, put, delete, cas, scan, mget or batch with its arguments: ${TRACE_USAGE}`);
  }
  const key = words[2]!;
  const t = await client.trace(key, tracedOp(what, words));
  const outcome = t.error
    ? { failed: t.error.code, message: t.error.message }
    : t.rows !== undefined
      ? { rows: t.rows }
      : t.applied !== undefined
        ? { applied: t.applied, value: t.read?.found ? displayBytes(t.read.value) : null }
        : t.read
          ? { found: t.read.found, value: t.read.found ? displayBytes(t.read.value) : null }
          : { ts: t.ts };
  return { ok: true, op: 'trace', traced: what, key, coordinator: t.coordinator, ...outcome, events: t.events, dropped: t.dropped };
}

/** `trace mget ...` (one getMany call) or `trace batch ...`: `words` the command without "trace". */
async function traceMany(client: KvClient, what: 'mget' | 'batch', words: string[]): Promise<Result> {
  let t: TraceResult;
  let outcome: Record<string, unknown>;
  if (what === 'mget') {
    const { keys, level } = mgetArgs(words);
    t = await client.traceGetMany(keys, level);
    outcome = t.results ? { entries: mgetEntries(keys, t.results), rows: t.rows } : {};
  } else {
    const { writes, level, unlogged } = batchArgs(words);
    t = await client.traceBatch(writes, level, { unlogged });
    outcome = { ts: t.ts, writes: writes.length, ...(unlogged ? { unlogged } : {}) };
  }
  const failed = t.error ? { failed: t.error.code, message: t.error.message } : outcome;
  return { ok: true, op: 'trace', traced: what, coordinator: t.coordinator, ...failed, events: t.events, dropped: t.dropped };
}

/** A trace: the outcome on one line, then each step with its µs since the request began. */
function renderTrace(r: Result, c: chalk.Chalk): string {
  const head = `${String(r.traced)} coordinated by node ${String(r.coordinator)}: `;
  const outcome =
    r.failed !== undefined
      ? c.red(`${String(r.failed)}: ${String(r.message)}`)
      : r.traced === 'get'
        ? r.found
          ? c.bold(String(r.value))
          : c.dim('(not found)')
        : r.traced === 'scan'
          ? c.green(r.rows === 1 ? '1 key' : `${String(r.rows)} keys`)
          : r.traced === 'mget'
            ? c.green(`${String(r.rows)} of ${String((r.entries as unknown[]).length)} found`)
            : r.traced === 'batch'
              ? c.green(batchDone(r))
              : r.traced === 'cas'
                ? r.applied
                  ? c.green('applied')
                  : `${c.yellow('not applied')}; the value is ${r.value === null ? '(absent)' : String(r.value)}`
                : c.green('OK');
  const events = r.events as Array<{ elapsedUs: number; activity: string }>;
  const entries = r.failed === undefined && r.traced === 'mget' ? [renderEntries(r, c)] : [];
  const lines = events.map((e) => `${c.dim(`${String(e.elapsedUs).padStart(8)} µs`)}  ${e.activity}`);
  if ((r.dropped as number) > 0) lines.push(c.dim(`(${String(r.dropped)} more steps not kept)`));
  return [head + outcome, ...entries, ...lines].join('\n');
}

function failure(op: string, key: string | undefined, err: unknown): Result {
  const e = isKvError(err) ? err : new KvError('Internal', (err as Error).message ?? String(err));
  return { ok: false, op, ...(key !== undefined ? { key } : {}), error: e.code, message: e.message, ...e.details };
}

function render(r: Result, colour: boolean): string {
  const c = colour ? chalk : new chalk.Instance({ level: 0 });
  if (!r.ok) return `${c.red(`error ${String(r.error)}`)}: ${String(r.message)}`;
  if (r.op === 'put') return c.green('OK');
  if (r.op === 'delete') return c.green('deleted');
  if (r.op === 'batch') return c.green(batchDone(r));
  if (r.op === 'cas') {
    const now = r.value === null ? '(absent)' : String(r.value);
    return r.applied ? c.green('applied') : `${c.yellow('not applied')}; the value is ${now}`;
  }
  if (r.op === 'scan') return renderScan(r, c);
  if (r.op === 'trace') return renderTrace(r, c);
  if (r.op === 'mget') return renderEntries(r, c);
  return r.found ? c.bold(String(r.value)) : c.dim('(not found)');
}

/** A batch that went through: "OK (3 writes)", "OK (1 write, unlogged)". */
function batchDone(r: Result): string {
  return `OK (${counted(r.writes as number, 'write')}${r.unlogged === true ? ', unlogged' : ''})`;
}

/** An mget's keys one per line, `key  value`. */
function renderEntries(r: Result, c: chalk.Chalk): string {
  const entries = r.entries as Array<{ key: string; found: boolean; value: string | null }>;
  return entries.map((e) => `${c.bold(e.key)}  ${e.found ? String(e.value) : c.dim('(not found)')}`).join('\n');
}

/** A scan's keys one per line, `key  value`; a last line when the limit cut them short. */
function renderScan(r: Result, c: chalk.Chalk): string {
  const entries = r.entries as Array<{ key: string; value: string }>;
  const lines = entries.map((e) => `${c.bold(e.key)}  ${e.value}`);
  if (entries.length === 0) lines.push(c.dim('(no keys)'));
  if (r.more === true) lines.push(c.dim('(more keys follow: raise the limit, or scan on from after the last key)'));
  return lines.join('\n');
}

/** A client of --node's nodes, or of the cluster file's cluster with the ring learned from its nodes. */
async function makeClient(argv: ReturnType<typeof parseArgs>): Promise<KvClient> {
  const timeout = argv.flags.get('timeout-ms');
  const timeoutMs = typeof timeout === 'string' ? Number(timeout) : undefined;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError('--timeout-ms must be a positive number');
  const node = argv.flags.get('node');
  if (typeof node === 'string') return new KvClient(node.split(',').map(parseEndpoint), { timeoutMs });
  return KvClient.connect(clusterFilePath(argv.flags.get('cluster')), { timeoutMs });
}

async function main(): Promise<number> {
  const argv = parseArgs(process.argv.slice(2), ['json', 'help'], ['cluster', 'node', 'timeout-ms']);
  if (argv.flags.has('help')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (argv.positional.length > 0) throw new UsageError(`unexpected argument "${argv.positional[0]}"; commands are read from input`);
  const json = argv.flags.has('json');
  const interactive = process.stdin.isTTY === true && !json;
  const client = await makeClient(argv);
  const rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive });
  const print = (r: Result): void => {
    process.stdout.write((json ? JSON.stringify(r) : render(r, interactive && chalk.supportsColor !== false)) + '\n');
  };
  if (interactive) {
    const where =
      client.routing === 'token'
        ? `epoch ${client.epoch}, ${client.endpoints.length} nodes; each request goes to a replica of its key`
        : `first node ${client.currentNode}`;
    process.stdout.write(`connected to the cluster (${where}); type help for commands\n`);
    rl.setPrompt('kv> ');
    rl.prompt();
  }
  for await (const line of rl) {
    let words: string[] = [];
    try {
      words = tokenize(line);
      if (words.length === 0) {
        // blank line: nothing to do
      } else if (/^(exit|quit)$/i.test(words[0]!)) break;
      else if (/^help$/i.test(words[0]!))
        process.stdout.write(json ? JSON.stringify({ ok: true, op: 'help', help: USAGE }) + '\n' : USAGE + '\n');
      else print(await execute(client, words));
    } catch (err) {
      print(failure(words[0]?.toLowerCase() ?? '?', words[1], err));
    }
    if (interactive) rl.prompt();
  }
  rl.close();
  client.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const known = err instanceof UsageError || err instanceof ConfigError || isKvError(err);
    process.stderr.write(`client: ${known ? (err as Error).message : (err as Error).stack}\n`);
    if (err instanceof UsageError) process.stderr.write(USAGE + '\n');
    process.exit(2);
  },
);
