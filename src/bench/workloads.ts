/**
 * What each workload does per operation. Operations are spread round robin
 * over several clients, one per node (see cli/bench.ts), so that every node
 * coordinates its share of the requests.
 */
import { assert } from '../common/assert';
import { LevelName, WriteLevelName } from '../coordinator/levels';
import { KeyChooser, keyFormatter } from './keys';
import { Random as Prng } from '../common/random';
import { Operation } from './runner';

export type WorkloadName =
  | 'write'
  | 'read'
  | 'mixed'
  | 'read-mostly'
  | 'echo'
  | 'restart'
  | 'scan'
  | 'multiget'
  | 'batch'
  | 'batch-unlogged'
  | 'repair'
  | 'join';

export interface WorkloadSpec {
  /** Share of operations that are reads; the rest are writes. */
  readonly readFraction: number;
  /** Write every key once before measuring, so that reads find values. */
  readonly preload: boolean;
  /** ping(payload) instead of reads and writes. */
  readonly echo: boolean;
  /** Scan pages of this many keys instead of reads and writes. */
  readonly scanPageKeys?: number;
  /** getMany calls of this many keys instead of single reads. */
  readonly getManyKeys?: number;
  /** Logged batches of this many distinct keys instead of single puts. */
  readonly batchKeys?: number;
  /** With batchKeys: unlogged batches (no batch log, no copies). */
  readonly unlogged?: boolean;
  readonly description: string;
}

export const WORKLOADS: Record<WorkloadName, WorkloadSpec> = {
  write: { readFraction: 0, preload: false, echo: false, description: 'puts only' },
  read: { readFraction: 1, preload: true, echo: false, description: 'gets only, after writing every key once' },
  mixed: { readFraction: 0.5, preload: true, echo: false, description: '50% gets, 50% puts (YCSB A)' },
  'read-mostly': { readFraction: 0.95, preload: true, echo: false, description: '95% gets, 5% puts (YCSB B)' },
  echo: { readFraction: 0, preload: false, echo: true, description: 'ping(payload): the RPC stack alone, no storage' },
  scan: {
    readFraction: 0,
    preload: true,
    echo: false,
    scanPageKeys: 1000,
    description: 'scan calls of 1000 keys each from a random key, after writing every key once',
  },
  multiget: {
    readFraction: 1,
    preload: true,
    echo: false,
    getManyKeys: 10,
    description: 'getMany calls of 10 random keys each, after writing every key once',
  },
  batch: {
    readFraction: 0,
    preload: false,
    echo: false,
    batchKeys: 10,
    description: 'logged batches of 10 distinct random keys each',
  },
  'batch-unlogged': {
    readFraction: 0,
    preload: false,
    echo: false,
    batchKeys: 10,
    unlogged: true,
    description: 'unlogged batches of 10 distinct random keys each (no batch log, no copies)',
  },
  restart: {
    readFraction: 0,
    preload: false,
    echo: false,
    description: 'load --keys keys, report RSS, time a kill -9 and restart (needs --spawn)',
  },
  repair: {
    readFraction: 0,
    preload: false,
    echo: false,
    description:
      'stop a node, write --down-writes keys with hints off, resume it, time a full repair until the replicas agree (needs --spawn)',
  },
  join: {
    readFraction: 0,
    preload: false,
    echo: false,
    description: 'load --keys keys, then a fifth node joins while --level writes go on; stream rate and write throughput (needs --spawn)',
  },
};

export const WORKLOAD_NAMES = Object.keys(WORKLOADS) as WorkloadName[];

/** A read of a preloaded key that found nothing (with --level ONE possibly a replica not yet written). */
export const NOT_FOUND_ERROR = 'NotFound';
/** A ping answered with a payload of another length. */
export const BAD_ECHO_ERROR = 'BadEcho';

/** Different offsets into a ValuePool's block: how many different values it hands out. */
export const VALUE_POOL_OFFSETS = 65_536;

/**
 * Values for puts and payloads for pings: views into one block of random
 * bytes at different offsets, so that keys hold different values (as they
 * would in use, and as cassandra-stress writes them) without generating or
 * copying bytes per operation. One value for every key had made a restart's
 * replay look faster than it was for varied values (docs/benchmarks.md).
 */
export class ValuePool {
  private readonly block: Buffer;

  constructor(
    rng: Prng,
    readonly size: number,
  ) {
    this.block = rng.bytes(size + VALUE_POOL_OFFSETS - 1);
  }

  /** Value number n; n and n + VALUE_POOL_OFFSETS are the same value. */
  at(n: number): Buffer {
    const offset = n % VALUE_POOL_OFFSETS;
    return this.block.subarray(offset, offset + this.size);
  }
}

/** The part of KvClient the benchmark uses; tests can pass fakes. */
export interface BenchClient {
  put(key: string, value: Buffer, level: WriteLevelName): Promise<unknown>;
  get(key: string, level: LevelName): Promise<{ found: boolean }>;
  ping(payload: Buffer): Promise<Buffer>;
  scanPage(start: string, end: string, level: LevelName, limit: number): Promise<{ entries: readonly unknown[] }>;
  getMany(keys: readonly string[], level: LevelName): Promise<readonly { found: boolean }[]>;
  batch(
    writes: readonly { key: string; value: Buffer }[],
    level: WriteLevelName,
    options?: { readonly unlogged?: boolean },
  ): Promise<unknown>;
}

export class OperationError extends Error {
  constructor(type: string, message: string) {
    super(message);
    this.name = type;
  }
}

export interface WorkloadContext {
  readonly clients: readonly BenchClient[];
  readonly level: WriteLevelName;
  readonly keys: number;
  /** Key prefixes that spread keys over the ring (keys.ts ringSpread). */
  readonly spread: readonly string[];
  /** The values written by puts, and the payloads of pings. */
  readonly values: ValuePool;
  readonly chooser: KeyChooser;
  /** Decides read or write; seeded, so a run's op mix is repeatable. */
  readonly rng: Prng;
  /** Keys the scan workload's calls returned, added up as they come. */
  readonly scanned?: { keys: number };
}

/** The level of a workload's reads: the options give ANY to no workload that reads (bench/options.ts). */
function readLevel(level: WriteLevelName): LevelName {
  assert(level !== 'ANY', 'a workload that reads is never run at ANY');
  return level;
}

/** Round robin by operation number: client i coordinates through node i. */
function clientFor(clients: readonly BenchClient[], seq: number): BenchClient {
  return clients[seq % clients.length]!;
}

/** The measured operation of a workload. */
export function workloadOperation(name: WorkloadName, ctx: WorkloadContext): Operation {
  const spec = WORKLOADS[name];
  if (spec.echo) return (seq) => echo(clientFor(ctx.clients, seq), ctx.values.at(seq));
  const format = keyFormatter(ctx.keys, ctx.spread);
  if (spec.scanPageKeys !== undefined) return scanOperation(ctx, format, spec.scanPageKeys);
  if (spec.getManyKeys !== undefined) return getManyOperation(ctx, format, spec.getManyKeys);
  if (spec.batchKeys !== undefined) return batchOperation(ctx, format, spec.batchKeys, spec.unlogged === true);
  const reads = spec.readFraction > 0 ? readLevel(ctx.level) : undefined;
  return (seq) => {
    const client = clientFor(ctx.clients, seq);
    const isRead = spec.readFraction > 0 && (spec.readFraction >= 1 || ctx.rng.float() < spec.readFraction);
    const key = format(ctx.chooser.next());
    if (!isRead) return client.put(key, ctx.values.at(seq), ctx.level);
    return client.get(key, reads!).then((r) => {
      if (!r.found && spec.preload) throw new OperationError(NOT_FOUND_ERROR, `${key} not found`);
      return r;
    });
  };
}

/** Writes key number `seq`: operation k of a load writes key k, so `ops = keys` writes every key once. */
export function loadOperation(ctx: Pick<WorkloadContext, 'clients' | 'level' | 'keys' | 'values' | 'spread'>): Operation {
  const format = keyFormatter(ctx.keys, ctx.spread);
  return (seq) => clientFor(ctx.clients, seq).put(format(seq), ctx.values.at(seq), ctx.level);
}

/** One scan call from a random key to the end of the key space, at most `limit` keys; counts the keys it got. */
function scanOperation(ctx: WorkloadContext, format: (n: number) => string, limit: number): Operation {
  const level = readLevel(ctx.level);
  return async (seq) => {
    const page = await clientFor(ctx.clients, seq).scanPage(format(ctx.chooser.next()), '', level, limit);
    if (ctx.scanned) ctx.scanned.keys += page.entries.length;
    return page;
  };
}

/** One getMany of `n` keys drawn as single reads draw theirs; every key was preloaded, so each must be found. */
function getManyOperation(ctx: WorkloadContext, format: (n: number) => string, n: number): Operation {
  const level = readLevel(ctx.level);
  return async (seq) => {
    const keys = Array.from({ length: n }, () => format(ctx.chooser.next()));
    const results = await clientFor(ctx.clients, seq).getMany(keys, level);
    const missing = results.findIndex((r) => !r.found);
    if (missing >= 0) throw new OperationError(NOT_FOUND_ERROR, `${keys[missing]} not found`);
    return results;
  };
}

/** One batch of `n` distinct keys drawn as single writes draw theirs (fewer when there are fewer keys), each with its own value. */
function batchOperation(ctx: WorkloadContext, format: (n: number) => string, n: number, unlogged: boolean): Operation {
  const size = Math.min(n, ctx.keys);
  return (seq) => {
    const keys = new Set<string>();
    while (keys.size < size) keys.add(format(ctx.chooser.next()));
    const writes = [...keys].map((key, i) => ({ key, value: ctx.values.at(seq * size + i) }));
    return clientFor(ctx.clients, seq).batch(writes, ctx.level, { unlogged });
  };
}

async function echo(client: BenchClient, payload: Buffer): Promise<Buffer> {
  const reply = await client.ping(payload);
  if (reply.length !== payload.length)
    throw new OperationError(BAD_ECHO_ERROR, `ping returned ${reply.length} bytes for ${payload.length}`);
  return reply;
}
