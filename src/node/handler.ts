/**
 * The Thrift service handler: the boundary where bytes from the network
 * become requests. Everything is validated here (the checks themselves in
 * request-checks.ts), so the layers below can assert instead of check.
 * Client calls go to the coordinator; internode and admin calls must carry
 * the cluster secret.
 *
 * Every method returns a promise (all but `get` are `async`) and declares
 * exactly the IDL's parameters: the generated processor picks its promise
 * style by the method's arity.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { fromByteString, toByteString } from '../common/bytes';
import { performance } from 'node:perf_hooks';
import { ErrorCode, KvError, ofKeyAt } from '../common/errors';
import {
  BATCH_WRITES_MAX,
  CLOCK_OFFSET_MS_MAX,
  DUMP_PAGE_ENTRIES_MAX,
  getManyReplyBytesMax,
  PAXOS_STREAM_ROWS_MAX,
  REPAIR_CALL_BYTES_MAX,
  SAMPLED_TRACES_KEPT,
  SCAN_REPLICA_PAGE_KEYS_MAX,
} from '../common/limits';
import { CLOCK_AHEAD_MS_MAX, TIMESTAMP_MAX } from '../clock/hlc';
import type { HybridClock } from '../clock/hlc';
import type { BatchWriter, BatchWriteInput } from '../coordinator/batch-writer';
import type { Coordinator } from '../coordinator/coordinator';
import { partOf, Trace } from '../coordinator/trace';
import { SampledOutcome, SampledRequest, TraceSampler } from '../coordinator/trace-sampler';
import type { Time } from '../clock/time';
import { LevelName, SERIAL_CODE, SERIAL_IS_NOT_FOR_BATCHES, serialIsForOneKey, type WriteLevelName } from '../coordinator/levels';
import type { PaxosStore } from '../paxos/paxos-store';
import type { Proposer } from '../paxos/proposer';
import {
  acceptToWire,
  ballotFromWire,
  checkRequestId,
  paxosRowFromWire,
  paxosRowToWire,
  promiseToWire,
  proposalFromWire,
} from '../rpc/paxos-wire';
import type { ClientOp, RequestObserver } from '../metrics/requests';
import type { AntiEntropy } from '../repair/anti-entropy';
import type { RangeName, Repairer } from '../repair/repairer';
import { toDeclaredWireError, toWireError } from '../rpc/errors';
import type { RangeScanner } from '../coordinator/range-scan';
import { expiresOf, toMutation } from '../rpc/remote-replica';
import { int64ToNumber, Int64, types } from '../rpc/thrift';
import type { ChangesPage, ChangesRequest } from '../storage/change-feed';
import type { VersionBytes } from '../storage/memtable';
import type { ReplicaStorage } from '../storage/replica-storage';
import { type SnapshotEntry, snapshotNameProblem, type SnapshotResult } from '../storage/snapshot';
import type { EpochEntry } from '../membership/changes';
import type { CleanupReport } from '../operations/cleanup';
import type { OperationStatus } from '../operations/operator';
import { fromMembershipLog } from '../rpc/membership-wire';
import type { EpochState } from '../rpc/transport';
import { isLive, type KeyedVersion, type Version } from '../storage/version';
import { PeerRequests, type PeerRequestServices, type Placed } from './peer-requests';
import {
  checkBatch,
  checkCaller,
  checkCasLevel,
  checkChanges,
  checkClientKey,
  checkCopyList,
  checkCopyRef,
  checkCopyRefs,
  checkKey,
  checkLevel,
  checkManyKeys,
  checkPeerPage,
  checkScan,
  checkTraceRequest,
  checkTtl,
  checkValue,
  checkWriteLevel,
  EMPTY,
  invalid,
} from './request-checks';

/**
 * What the handler needs from its node, and no more: the node wires these
 * services in (node.ts), and this file never sees the node itself.
 */
export interface HandlerServices extends PeerRequestServices {
  /** The node's own PeerRequests (which counts peers' requests); a handler without one makes its own. */
  readonly peerRequests?: PeerRequests;
  readonly secret: string;
  readonly maxValueBytes: number;
  /** Whether `id` names another node of the cluster. */
  isPeer(id: number): boolean;
  /** Why clients are refused now, in one sentence (still learning the ring, or left it); undefined while they are answered. */
  refusesClients(): string | undefined;
  readonly coordinator: Pick<Coordinator, 'write' | 'read' | 'readsLocally'>;
  readonly scanner: Pick<RangeScanner, 'scan'>;
  /** Logged batches, coordinated here. */
  readonly batches: Pick<BatchWriter, 'write' | 'writeUnlogged' | 'storeCopies' | 'forgetCopies' | 'heldBatches'>;
  /** This replica's committed data: point reads without copying values into strings, and ranges. */
  readonly local: Pick<ReplicaStorage, 'getBytes' | 'peekBytes' | 'range'>;
  /** The wall clock, for judging expiry (µs since the epoch). */
  nowUs(): number;
  readonly clock: Pick<HybridClock, 'plausible' | 'peek'>;
  readonly antiEntropy: Pick<AntiEntropy, 'answer'>;
  readonly repair: Pick<Repairer, 'catchingUp' | 'refuseReadsWhileCatchingUp' | 'answerHashes' | 'answerSegmentKeys' | 'repairAll'>;
  /** A hello from a peer, with its clock reading and epoch (0: not sent). */
  heardFrom(peer: number, clockReading: number, epoch: number): void;
  /** The clock-skew fault switch; returns the clock's reading after it. */
  setClockOffset(offsetMs: number): number;
  /** A page of the admin dump (entries after `after`, at most `limit`), with hints and counters. */
  dump(after: string | undefined, limit: number): Promise<types.NodeDump>;
  /** Compare-and-set and SERIAL reads, coordinated here. */
  readonly paxos: Pick<Proposer, 'cas' | 'serialRead'>;
  /** This replica as a Paxos acceptor, for peers' cas rounds. */
  readonly acceptor: Pick<PaxosStore, 'prepare' | 'propose' | 'commit' | 'paxosRows' | 'paxosMerge'>;
  /** Told of every client request (put, remove, get, cas), for the metrics. */
  readonly requests: RequestObserver;
  /** What a traced request needs: this node's id (the report names it), the clocks, and how long a traced write waits for its last replicas. */
  readonly tracing: { readonly selfId: number; readonly time: Time; readonly timeoutMs: number };
  /** The membership log after an epoch, with this node's epoch. */
  membership(afterEpoch: number): types.MembershipLog;
  /** A peer's epoch log to take up; answers this node's epoch and settled epoch. */
  learnEpochs(from: number, entries: readonly EpochEntry[]): Promise<EpochState>;
  /** Starts (or reports) this node's decommission. */
  decommission(): Promise<OperationStatus>;
  /** Where this node's own operation is. */
  operationProgress(): OperationStatus;
  /** Starts this node's cleanup (with `start`), or reports where the last one is. */
  cleanup(start: boolean): CleanupReport;
  /** Starts (or reports) this node's move to a token. */
  move(token: string): Promise<OperationStatus>;
  /** Starts (or reports) the removal of a dead node, run by this node. */
  removeNode(node: number): Promise<OperationStatus>;
  /** Aborts the operation in progress; resolves with what was aborted, in words. */
  abortOperation(): Promise<string>;
  /** Writes snapshot `name` of the node's data file (storage/snapshot.ts). */
  snapshot(name: string): Promise<SnapshotResult>;
  /** A page of the node's change feed, once the node judged that it takes reads of the range; with the node's epoch. */
  changes(req: ChangesRequest): Promise<ChangesPage & { readonly epoch: number }>;
  /** The node's snapshots, and deleting one of them. */
  listSnapshots(): SnapshotEntry[];
  clearSnapshot(name: string): void;
}

function toProgress(p: OperationStatus): types.OperationProgress {
  return new types.OperationProgress({
    state: p.state,
    keys: p.keys as never,
    bytes: p.bytes as never,
    rangesDone: p.rangesDone,
    rangesTotal: p.rangesTotal,
    fraction: p.fraction,
    done: p.done,
    ...(p.error !== undefined ? { error: p.error } : {}),
    ...(p.pace !== undefined ? { paceBytesPerSecond: p.pace as never } : {}),
  });
}

/** The failures a trace reports rather than throws: its steps show why. */
const TRACED_FAILURES: readonly string[] = ['Unavailable', 'TimedOut', 'StorageFull'];

/** A trace's report: its steps and how the request ended (a read's result, a write's ts, a cas's applied, or the failure). */
function traceReport(coordinator: number, trace: Trace, outcome: SampledOutcome | TracedOutcome): types.TraceReport {
  const read = outcome.read;
  return new types.TraceReport({
    coordinator,
    events: trace.events.map((e) => new types.TraceEvent({ elapsedMicros: e.elapsedUs as never, activity: e.activity })),
    ...(read !== undefined
      ? { found: read instanceof types.ReadResult ? read : new types.ReadResult({ ...read, ts: read.ts as never }) }
      : {}),
    ...(outcome.ts !== undefined ? { ts: outcome.ts as never } : {}),
    ...(outcome.applied !== undefined ? { applied: outcome.applied } : {}),
    ...(outcome.rows !== undefined ? { rows: outcome.rows } : {}),
    ...('results' in outcome && outcome.results !== undefined ? { results: outcome.results } : {}),
    ...(outcome.errorCode !== undefined ? { errorCode: outcome.errorCode, error: outcome.error! } : {}),
    ...(trace.dropped > 0 ? { dropped: trace.dropped } : {}),
  });
}

/** How a `trace` call's request ended. */
interface TracedOutcome {
  readonly read?: types.ReadResult;
  /** A getMany's, one a key in the order asked. */
  readonly results?: types.ReadResult[];
  readonly ts?: number;
  readonly applied?: boolean;
  readonly rows?: number;
  readonly errorCode?: string;
  readonly error?: string;
}

/** A write's outcome as a sampled trace keeps it. */
const written = (ts: number): SampledOutcome => ({ ts });

/** A request's key as it came, for the slow request log: a Buffer, else nothing (a malformed frame's field). */
function wireKeyOf(key: unknown): Buffer | undefined {
  return Buffer.isBuffer(key) ? key : undefined;
}

/** Resolves when `p` does or after `ms`, whichever comes first. */
function waitAtMost(p: Promise<void>, ms: number, time: Time): Promise<void> {
  return new Promise((resolve) => {
    const timer = time.after(ms, resolve);
    void p.then(() => {
      timer.cancel();
      resolve();
    });
  });
}

/** A version held as a latin1 string, as a read result's bytes. */
function versionBytes(v: Version | undefined): VersionBytes | undefined {
  return v && { value: fromByteString(v.value), ts: v.ts, deleted: v.deleted, ...(v.expires ? { expires: v.expires } : {}) };
}

function localRead(v: Version | undefined): types.LocalRead {
  return v === undefined
    ? new types.LocalRead({ exists: false, value: EMPTY, ts: 0 as never, deleted: false })
    : new types.LocalRead({
        exists: true,
        value: fromByteString(v.value),
        ts: v.ts as never,
        deleted: v.deleted,
        ...(v.expires ? { expires: v.expires as never } : {}),
      });
}

/**
 * What a client read returns: a tombstone or an expired value reads as not
 * found, with its timestamp. The value may be a byte string (a coordinated
 * read's winner): the protocol writer writes a string given for a binary
 * field as latin1, the same bytes, so no Buffer is made and copied for it.
 */
function readResult(v: VersionBytes | Version | undefined, nowUs: number): types.ReadResult {
  const found = v !== undefined && isLive(v, nowUs);
  return new types.ReadResult({ found, value: found ? (v.value as Buffer) : EMPTY, ts: (v?.ts ?? 0) as never });
}

/** An optional epoch from the wire: 0 when absent (an older build, or a tool) or not a plain number. */
function epochOf(epoch: Int64 | number | null | undefined): number {
  const n = epoch === null || epoch === undefined ? 0 : int64ToNumber(epoch);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** An optional caller id and epoch from the wire. */
function placed(fromNode: number | null | undefined, epoch: Int64 | null | undefined): Placed {
  return { from: typeof fromNode === 'number' ? fromNode : undefined, epoch: epochOf(epoch) };
}

/**
 * A log a peer pushed, read with the wire's checks. What they refuse is the
 * caller's mistake, so it is InvalidRequest; as the reader's own error it
 * would go back as an untyped application exception.
 */
function pushedLog(log: types.MembershipLog, after: number): ReturnType<typeof fromMembershipLog> {
  try {
    return fromMembershipLog(log, after);
  } catch (err) {
    if (err instanceof KvError) throw invalid(err.message);
    throw err;
  }
}

/**
 * Runs a handler body and turns KvErrors into the IDL's exceptions. An admin
 * method names the operating errors its IDL declares (`declared`); the others
 * leave coded in the message (see toDeclaredWireError).
 */
async function wire<T>(body: () => Promise<T> | T, declared?: readonly ErrorCode[]): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw declared === undefined ? toWireError(err) : toDeclaredWireError(err, declared);
  }
}

export class Handler {
  /** unauthorized: internode and admin calls refused for a wrong secret. */
  readonly counters = { unauthorized: 0 };
  private readonly secret: Buffer;
  /** Which client requests are traced and kept (setTraceProbability, recentTraces); see `sampler`. */
  private sampling: TraceSampler | undefined;
  /** Peers' requests past the wire: the checks and calls the simulator's network makes too. */
  private readonly peers: PeerRequests;

  constructor(private readonly services: HandlerServices) {
    this.secret = Buffer.from(services.secret);
    this.peers = services.peerRequests ?? new PeerRequests(services);
  }

  /** Made at the first client request (tests build handlers for internode calls alone, without the tracing services). */
  private get sampler(): TraceSampler {
    if (this.sampling === undefined) {
      const { services } = this;
      const time = services.tracing.time;
      this.sampling = new TraceSampler(
        () => time.monotonicMs(),
        () => services.nowUs() / 1000,
      );
    }
    return this.sampling;
  }

  /**
   * Runs a client request with a trace when the sampler picks it (the
   * share set by setTraceProbability), keeping the trace; without one
   * otherwise. `key` is the request's key as it came.
   */
  private sampled<T>(
    op: SampledRequest['op'],
    key: Buffer,
    level: number,
    run: (trace: Trace | undefined) => Promise<T>,
    outcomeOf: (value: T) => SampledOutcome,
  ): Promise<T> {
    const trace = this.sampler.sample();
    if (trace === undefined) return run(undefined);
    return this.sampler.keep(trace, { op, key, level }, run(trace), outcomeOf);
  }

  /** A read's result as a sampled trace keeps it: the value copied (a local read's is a view into the memtable). */
  private readOutcome(v: Parameters<typeof readResult>[0]): SampledOutcome {
    const r = readResult(v, this.services.nowUs());
    return { read: { found: r.found, value: Buffer.from(r.value), ts: int64ToNumber(r.ts) } };
  }

  private checkSecret(secret: string | null): void {
    const expected = this.secret;
    const given = Buffer.from(typeof secret === 'string' ? secret : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.counters.unauthorized++;
      throw new KvError('Unauthorized', 'this call needs the cluster secret');
    }
  }

  async put(key: Buffer, value: Buffer, level: number): Promise<number> {
    return this.write('put', key, value, level);
  }

  async putWithTtl(key: Buffer, value: Buffer, level: number, ttlSeconds: number): Promise<number> {
    return this.write('put', key, value, level, { ttlSeconds });
  }

  /**
   * A put (with a TTL when `ttl` is given, as the wire gave it) or a remove
   * (`value` undefined): checked, counted in the metrics, sampled for
   * tracing, and coordinated.
   */
  private write(
    op: 'put' | 'remove',
    key: Buffer,
    value: Buffer | undefined,
    level: number,
    ttl?: { ttlSeconds: number },
  ): Promise<number> {
    return this.observed(
      op,
      level,
      () => {
        const k = checkClientKey(key);
        const v = value === undefined ? '' : checkValue(value, this.services.maxValueBytes);
        const ttlSeconds = ttl === undefined ? 0 : checkTtl(ttl.ttlSeconds);
        const l = checkWriteLevel(level);
        const removes = value === undefined;
        return this.sampled(op, key, level, (trace) => this.services.coordinator.write(k, v, removes, l, ttlSeconds, trace), written);
      },
      key,
    );
  }

  async scan(start: Buffer, stop: Buffer, level: number, limit: number, cursor: Buffer): Promise<types.ScanResult> {
    return this.observed(
      'scan',
      level,
      async () => {
        const req = { ...checkScan(start, stop, limit, cursor), level: checkLevel(level) };
        const scanner = this.services.scanner;
        const page = await this.sampled(
          'scan',
          start ?? EMPTY,
          level,
          (trace) => scanner.scan(req, trace),
          (p) => ({ rows: p.rows.length }),
        );
        return new types.ScanResult({
          entries: page.rows.map(
            (r) =>
              new types.ScanEntry({
                key: fromByteString(r.key),
                value: fromByteString(r.value),
                ts: r.ts as never,
                ...(r.expires !== undefined ? { expiresMicros: r.expires as never } : {}),
              }),
          ),
          more: page.cursor !== undefined,
          ...(page.cursor !== undefined ? { cursor: fromByteString(page.cursor) } : {}),
        });
      },
      start,
    );
  }

  async readRange(
    secret: string,
    start: Buffer,
    stop: Buffer,
    limit: number,
    bytesMax: number,
    epoch?: Int64 | null,
    fromNode?: number | null,
  ): Promise<types.RangePage> {
    return wire(async () => {
      this.checkSecret(secret);
      const { from, to } = checkPeerPage(start, stop, limit, SCAN_REPLICA_PAGE_KEYS_MAX, 'a range page');
      if (!Number.isInteger(bytesMax) || bytesMax < 1) throw invalid('a range page needs a positive byte budget');
      const page = await this.peers.readRange(placed(fromNode, epoch), from, to, limit, bytesMax);
      return new types.RangePage({ entries: page.entries.map(toMutation), more: page.more });
    });
  }

  /** A logged batch: every write checked, then written as one (coordinator/batch-writer.ts). */
  /** Three parameters, as the IDL's (the generated processor takes a handler of that many as returning a promise). */
  async batch(writes: types.BatchWrite[], level: number, unlogged?: boolean | null): Promise<number> {
    return this.observed(
      'batch',
      level,
      () => {
        const checked = checkBatch(writes, this.services.maxValueBytes);
        if (level === SERIAL_CODE) throw invalid(SERIAL_IS_NOT_FOR_BATCHES);
        const writeLevel = checkWriteLevel(level);
        // A sampled one is traced as a whole, each write's steps led by its place.
        return this.sampled(
          'batch',
          writes[0]!.key,
          level,
          (trace) => this.writeBatch(checked, writeLevel, unlogged === true, trace),
          written,
        );
      },
      Array.isArray(writes) ? writes[0]?.key : undefined,
    );
  }

  async remove(key: Buffer, level: number): Promise<number> {
    return this.write('remove', key, undefined, level);
  }

  /**
   * One get, put, remove, cas or scan page, traced (coordinator/trace.ts; a
   * SERIAL get and a cas note their Paxos rounds, paxos/proposer.ts, a scan
   * its rounds, coordinator/range-scan.ts). Not counted in the
   * request metrics: it is a diagnosis, not traffic. A write's report waits
   * until every live replica answered (or the request timeout), so that it
   * shows the acknowledgements that came after the client's answer too.
   */
  async trace(request: types.TraceRequest | null): Promise<types.TraceReport> {
    return wire(async () => {
      this.checkServesClients();
      const req = checkTraceRequest(request, this.services.maxValueBytes);
      const { selfId, time, timeoutMs } = this.services.tracing;
      const trace = new Trace(() => time.monotonicMs());
      const coordinator = this.services.coordinator;
      let outcome: TracedOutcome = {};
      const nowUs = (): number => this.services.nowUs();
      try {
        if (req.op === 'get') {
          const v =
            req.level === 'SERIAL'
              ? versionBytes(await this.services.paxos.serialRead(req.key, trace))
              : await coordinator.read(req.key, req.level, trace);
          outcome = { read: readResult(v, nowUs()) };
        } else if (req.op === 'scan') {
          outcome = { rows: (await this.services.scanner.scan(req.scan, trace)).rows.length };
        } else if (req.op === 'getMany') {
          const results = this.manyResults(await this.readMany(req.keys, req.level, trace));
          outcome = { results, rows: results.filter((r) => r.found).length };
        } else if (req.op === 'batch') {
          outcome = { ts: await this.writeBatch(req.writes, req.level, req.unlogged, trace) };
          await waitAtMost(trace.partsLanded(), timeoutMs, time);
        } else if (req.op === 'cas') {
          // A traced cas is one attempt, never retried: a fresh request id.
          const cas = { key: req.key, expected: req.expected, value: req.value, requestId: randomUUID(), level: req.level };
          const r = await this.services.paxos.cas(cas, trace);
          outcome = { applied: r.applied, read: readResult(versionBytes(r.current), nowUs()) };
        } else {
          outcome = { ts: await coordinator.write(req.key, req.value, req.op === 'remove', req.level, 0, trace) };
          await waitAtMost(trace.landed, timeoutMs, time);
        }
      } catch (err) {
        if (!(err instanceof KvError) || !TRACED_FAILURES.includes(err.code)) throw err;
        outcome = { errorCode: err.code, error: err.message };
      }
      return traceReport(selfId, trace, outcome);
    });
  }

  /** Sets the share of client requests traced and kept (trace-sampler.ts); answers the share before. */
  async setTraceProbability(secret: string, probability: number): Promise<number> {
    return wire(async () => {
      this.checkSecret(secret);
      if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) {
        throw invalid(`a trace probability is a share from 0 to 1, not ${String(probability)}`);
      }
      return this.sampler.setProbability(probability);
    });
  }

  /** The sampled traces kept, newest first, at most `limit` (1 to SAMPLED_TRACES_KEPT). */
  async recentTraces(secret: string, limit: number): Promise<types.SampledTrace[]> {
    return wire(async () => {
      this.checkSecret(secret);
      if (!Number.isInteger(limit) || limit < 1 || limit > SAMPLED_TRACES_KEPT) {
        throw invalid(`recentTraces takes a limit from 1 to ${SAMPLED_TRACES_KEPT}, not ${String(limit)}`);
      }
      const selfId = this.services.tracing.selfId;
      return this.sampler.recent(limit).map(
        (r) =>
          new types.SampledTrace({
            op: r.op,
            key: r.key,
            level: r.level,
            startedMs: Math.round(r.startedMs) as never,
            durationMicros: r.durationUs as never,
            report: traceReport(selfId, r.trace, r.outcome ?? {}),
          }),
      );
    });
  }

  /** A page of this node's change feed (storage/change-feed.ts); the node judges whether it takes reads of the range. */
  async changes(
    start: Buffer,
    stop: Buffer,
    incarnation: Int64 | number,
    afterSeq: Int64 | number,
    limit: number,
    waitMs: number,
  ): Promise<types.ChangesPage> {
    return wire(async () => {
      this.checkServesClients();
      const page = await this.services.changes(checkChanges(start, stop, incarnation, afterSeq, limit, waitMs));
      return new types.ChangesPage({
        changes: page.changes.map(
          (c) =>
            new types.Change({
              key: fromByteString(c.key),
              value: typeof c.value === 'string' ? fromByteString(c.value) : c.value,
              ts: c.ts as never,
              deleted: c.deleted,
              ...(c.expires > 0 ? { expires: c.expires as never } : {}),
              seq: c.seq as never,
            }),
        ),
        incarnation: page.incarnation as never,
        position: page.position as never,
        restarted: page.restarted,
        caughtUp: page.caughtUp,
        epoch: page.epoch as never,
      });
    });
  }

  /** A client request while the node answers only its peers: Unavailable, with the node's reason. */
  private checkServesClients(): void {
    const why = this.services.refusesClients();
    if (why !== undefined) throw new KvError('Unavailable', why);
  }

  /** Like `wire`, and tells the metrics when the client request started and how it ended. */
  private async observed<T>(op: ClientOp, level: number, body: () => Promise<T>, key?: unknown): Promise<T> {
    const requests = this.services.requests;
    const startedMs = requests.started();
    try {
      this.checkServesClients();
      const result = await body();
      requests.finished(op, level, undefined, startedMs, wireKeyOf(key));
      return result;
    } catch (err) {
      requests.finished(op, level, err, startedMs, wireKeyOf(key));
      throw toWireError(err);
    }
  }

  /**
   * Not `async`, unlike the others: a ONE read on a replica is answered
   * synchronously (the processor takes a plain value as well as a promise),
   * which saves two promises on the cheapest and most frequent call. Errors
   * must still come back as a rejected promise, never thrown. A plain answer's
   * value is a view into the memtable, which the processor (rpc/get-reply.ts)
   * writes into the reply before it returns: no put can run in between.
   */
  get(key: Buffer, level: number): Promise<types.ReadResult> | types.ReadResult {
    const requests = this.services.requests;
    const startedMs = requests.started();
    let k: string;
    let l: LevelName;
    try {
      this.checkServesClients();
      k = checkClientKey(key);
      if (level === SERIAL_CODE) return this.serialGet(k, key, startedMs);
      l = checkLevel(level);
      if (this.services.coordinator.readsLocally(k, l)) {
        // A view, not a copy: rpc/get-reply.ts writes a plain answer before anything else runs.
        const result = readResult(this.services.local.peekBytes(k), this.services.nowUs());
        requests.finished('get', level, undefined, startedMs);
        return result;
      }
    } catch (err) {
      requests.finished('get', level, err, startedMs, wireKeyOf(key));
      return Promise.reject(toWireError(err));
    }
    // Not through `sampled`: its two closures would be every coordinated read's.
    const trace = this.sampler.sample();
    const reading =
      trace === undefined
        ? this.services.coordinator.read(k, l)
        : this.sampler.keep(trace, { op: 'get', key, level }, this.services.coordinator.read(k, l, trace), (v) => this.readOutcome(v));
    return reading.then(
      (v) => {
        requests.finished('get', level, undefined, startedMs, key);
        return readResult(v, this.services.nowUs());
      },
      (err) => {
        requests.finished('get', level, err, startedMs, key);
        throw toWireError(err);
      },
    );
  }

  /**
   * Several keys at one level: each read as `get` reads it, all at once
   * (their replica reads share the internode batches), answered in the
   * order asked. The first key that cannot be read at the level fails the
   * call with its error; an answer over getManyReplyBytesMax is refused.
   */
  async getMany(keys: Buffer[], level: number): Promise<types.ReadResult[]> {
    return this.observed(
      'getMany',
      level,
      async () => {
        const ks = checkManyKeys(keys);
        if (level === SERIAL_CODE) throw invalid(serialIsForOneKey('getMany'));
        const l = checkLevel(level);
        // A sampled one is traced as a whole, each key's steps led by its place.
        const versions = await this.sampled(
          'getMany',
          keys[0]!,
          level,
          (trace) => this.readMany(ks, l, trace),
          (vs) => ({ rows: vs.filter((v) => readResult(v, this.services.nowUs()).found).length }),
        );
        return this.manyResults(versions);
      },
      Array.isArray(keys) ? keys[0] : undefined,
    );
  }

  /** A checked batch, logged or not (coordinator/batch-writer.ts); resolves with its timestamp. */
  private writeBatch(writes: BatchWriteInput[], level: WriteLevelName, unlogged: boolean, trace: Trace | undefined): Promise<number> {
    const batches = this.services.batches;
    return unlogged ? batches.writeUnlogged(writes, level, trace) : batches.write(writes, level, trace);
  }

  /** A getMany's keys, each read as `get` reads it, all at once; it fails with the first key that cannot be read, its place named. */
  private readMany(ks: readonly string[], level: LevelName, trace: Trace | undefined): Promise<Array<Version | undefined>> {
    const coordinator = this.services.coordinator;
    return Promise.all(
      ks.map((k, i) =>
        coordinator.read(k, level, partOf(trace, i, ks.length)).catch((err: unknown) => {
          throw ofKeyAt(err, i, ks.length);
        }),
      ),
    );
  }

  /** A getMany's answer, one result a key; refused when it would carry more than getManyReplyBytesMax. */
  private manyResults(versions: ReadonlyArray<Version | undefined>): types.ReadResult[] {
    const nowUs = this.services.nowUs();
    const results = versions.map((v) => readResult(v, nowUs));
    let bytes = 0;
    for (const r of results) bytes += r.value.length;
    const max = getManyReplyBytesMax(this.services.maxValueBytes);
    if (bytes > max)
      throw invalid(
        `the ${results.length} values asked for take ${bytes} bytes, more than the ${max} one getMany answer may carry; ask for fewer keys a call`,
      );
    return results;
  }

  private serialGet(key: string, wireKey: Buffer, startedMs: number): Promise<types.ReadResult> {
    const requests = this.services.requests;
    const reading = this.sampled(
      'get',
      wireKey,
      SERIAL_CODE,
      (trace) => this.services.paxos.serialRead(key, trace),
      (v) => this.readOutcome(versionBytes(v)),
    );
    return reading.then(
      (v) => {
        requests.finished('get', SERIAL_CODE, undefined, startedMs, key);
        return readResult(versionBytes(v), this.services.nowUs());
      },
      (err) => {
        requests.finished('get', SERIAL_CODE, err, startedMs, key);
        throw toWireError(err);
      },
    );
  }

  async cas(
    key: Buffer,
    expectAbsent: boolean,
    expected: Buffer,
    value: Buffer,
    requestId: string,
    level: number,
  ): Promise<types.CasResult> {
    return this.observed(
      'cas',
      level,
      async () => {
        const max = this.services.maxValueBytes;
        const k = checkClientKey(key);
        const v = checkValue(value, max);
        if (expectAbsent !== true && !Buffer.isBuffer(expected)) throw invalid('the expected value is missing (or set expectAbsent)');
        const exp = expectAbsent === true ? null : checkValue(expected, max);
        const id = checkRequestId(requestId);
        if (id === '') throw invalid('a cas needs a request id, the same on every retry of it');
        const req = { key: k, expected: exp, value: v, requestId: id, level: checkCasLevel(level) };
        const r = await this.sampled(
          'cas',
          key,
          level,
          (trace) => this.services.paxos.cas(req, trace),
          (a) => ({ applied: a.applied, ...this.readOutcome(versionBytes(a.current)) }),
        );
        return new types.CasResult({ applied: r.applied, current: readResult(versionBytes(r.current), this.services.nowUs()) });
      },
      key,
    );
  }

  async paxosPrepare(
    secret: string,
    key: Buffer,
    ballot: types.Ballot,
    requestId: string,
    epoch?: Int64 | null,
    fromNode?: number | null,
  ): Promise<types.PaxosPromise> {
    return wire(async () => {
      this.checkSecret(secret);
      const k = checkKey(key);
      const b = this.plausibleBallot(ballot);
      const p = await this.peers.paxosPrepare(placed(fromNode, epoch), k, b, checkRequestId(requestId));
      return promiseToWire(p, localRead(p.current));
    });
  }

  async paxosPropose(
    secret: string,
    key: Buffer,
    proposal: types.Proposal,
    epoch?: Int64 | null,
    fromNode?: number | null,
  ): Promise<types.PaxosAccept> {
    return wire(async () => {
      this.checkSecret(secret);
      const k = checkKey(key);
      const p = proposalFromWire(proposal, (v) => checkValue(v, this.services.maxValueBytes));
      this.plausibleBallot(proposal.ballot);
      return acceptToWire(await this.peers.paxosPropose(placed(fromNode, epoch), k, p));
    });
  }

  async paxosCommit(secret: string, key: Buffer, proposal: types.Proposal, epoch?: Int64 | null, fromNode?: number | null): Promise<void> {
    return wire(async () => {
      this.checkSecret(secret);
      const k = checkKey(key);
      const p = proposalFromWire(proposal, (v) => checkValue(v, this.services.maxValueBytes));
      this.plausibleBallot(proposal.ballot);
      await this.peers.paxosCommit(placed(fromNode, epoch), k, p);
    });
  }

  async paxosRows(
    secret: string,
    start: Buffer,
    stop: Buffer,
    limit: number,
    epoch?: Int64 | null,
    fromNode?: number | null,
  ): Promise<types.PaxosRowsPage> {
    return wire(async () => {
      this.checkSecret(secret);
      const { from, to } = checkPeerPage(start, stop, limit, PAXOS_STREAM_ROWS_MAX, 'a page of Paxos rows');
      const page = await this.peers.paxosRows(placed(fromNode, epoch), from, to, limit);
      return new types.PaxosRowsPage({ rows: page.rows.map(paxosRowToWire), more: page.more });
    });
  }

  async paxosMerge(secret: string, rows: types.PaxosRow[], epoch?: Int64 | null, fromNode?: number | null): Promise<void> {
    return wire(async () => {
      this.checkSecret(secret);
      if (!Array.isArray(rows)) throw invalid('the Paxos rows are missing');
      if (rows.length > PAXOS_STREAM_ROWS_MAX) throw invalid(`at most ${PAXOS_STREAM_ROWS_MAX} Paxos rows go in one call`);
      const checked = rows.map((r) => paxosRowFromWire(r, checkKey, (v) => checkValue(v, this.services.maxValueBytes)));
      for (const { state } of checked) {
        for (const b of [state.promised, state.accepted?.ballot, state.committed?.ballot]) if (b !== undefined) this.plausibleTs(b.ts);
      }
      await this.peers.paxosMerge(placed(fromNode, epoch), checked);
    });
  }

  /** A peer's ballot, refused when its clock is too far ahead (its commit would win every later write). */
  private plausibleBallot(ballot: types.Ballot): ReturnType<typeof ballotFromWire> {
    const b = ballotFromWire(ballot);
    this.plausibleTs(b.ts);
    return b;
  }

  private plausibleTs(ts: number): void {
    if (!this.services.clock.plausible(ts)) {
      throw invalid(`the ballot's timestamp is more than ${CLOCK_AHEAD_MS_MAX / 60000} minutes ahead of this node's clock`);
    }
  }

  async ping(payload: Buffer): Promise<Buffer> {
    return wire(() => {
      if (!Buffer.isBuffer(payload)) throw invalid('the payload is missing');
      return payload;
    });
  }

  async replicate(secret: string, mutations: types.Mutation[], epoch?: Int64 | null, fromNode?: number | null): Promise<void> {
    const startedMs = performance.now();
    return wire(async () => {
      this.checkSecret(secret);
      if (!Array.isArray(mutations)) throw invalid('mutations are missing');
      const items = mutations.map((m) => this.checkedMutation(m));
      await this.peers.replicate(placed(fromNode, epoch), items);
      this.services.requests.replicaApplied(startedMs);
    });
  }

  /** A peer's mutation as a keyed version, or InvalidRequest: a timestamp out of range or too far ahead, a bad expiry, key or value. */
  private checkedMutation(m: types.Mutation | null | undefined): KeyedVersion {
    if (m === null || typeof m !== 'object') throw invalid('a mutation is missing');
    const ts = int64ToNumber(m.ts as Int64 | null);
    if (!Number.isSafeInteger(ts) || ts < 0 || ts > TIMESTAMP_MAX) throw invalid('a mutation has no valid timestamp');
    if (!this.services.clock.plausible(ts)) {
      throw invalid(`a mutation's timestamp is more than ${CLOCK_AHEAD_MS_MAX / 60000} minutes ahead of this node's clock`);
    }
    const expires = expiresOf(m.expires);
    if (expires !== undefined && (!Number.isSafeInteger(expires) || m.deleted === true)) throw invalid('a mutation has an invalid expiry');
    return {
      key: checkKey(m.key),
      version: {
        value: checkValue(m.value, this.services.maxValueBytes),
        ts,
        deleted: m.deleted === true,
        ...(expires ? { expires } : {}),
      },
    };
  }

  async storeBatchCopies(secret: string, fromNode: number, copies: types.BatchCopy[]): Promise<void> {
    return wire(async () => {
      this.checkSecret(secret);
      const owner = checkCaller(fromNode);
      const checked = checkCopyList(copies, 'copies').map((c) => {
        if (c === null || typeof c !== 'object') throw invalid('a batch copy is missing');
        if (!Array.isArray(c.writes) || c.writes.length === 0 || c.writes.length > BATCH_WRITES_MAX)
          throw invalid(`a batch copy must carry 1 to ${BATCH_WRITES_MAX} writes`);
        const ref = checkCopyRef(c);
        // A copy from the future would never be old enough to be written, and stay in the log for good.
        if (ref.createdMs * 1000 > this.services.nowUs() + CLOCK_AHEAD_MS_MAX * 1000)
          throw invalid(`a batch copy's time is more than ${CLOCK_AHEAD_MS_MAX / 60000} minutes ahead of this node's clock`);
        return { ...ref, items: c.writes.map((m) => this.checkedMutation(m)) };
      });
      await this.services.batches.storeCopies(owner, checked);
    });
  }

  async forgetBatchCopies(secret: string, fromNode: number, copies: types.BatchCopyRef[]): Promise<void> {
    return wire(async () => {
      this.checkSecret(secret);
      const owner = checkCaller(fromNode);
      await this.services.batches.forgetCopies(owner, checkCopyRefs(copies, 'copies', 'a batch copy reference'));
    });
  }

  async heldBatches(secret: string, fromNode: number, batches: types.BatchCopyRef[]): Promise<types.BatchCopyRef[]> {
    return wire(async () => {
      this.checkSecret(secret);
      checkCaller(fromNode);
      return this.services.batches
        .heldBatches(checkCopyRefs(batches, 'batches', 'a batch reference'))
        .map((r) => new types.BatchCopyRef({ ownerBatch: r.ownerBatch as never, createdMs: r.createdMs as never }));
    });
  }

  /**
   * Not `async`, like `get`: a batch admitted at once (every batch but one
   * waiting for this node to take up a newer epoch) is answered
   * synchronously. Errors still come back as a rejected promise.
   */
  readLocal(
    secret: string,
    keys: Buffer[],
    epoch?: Int64 | null,
    fromNode?: number | null,
  ): Promise<types.LocalRead[]> | types.LocalRead[] {
    try {
      this.checkSecret(secret);
      if (!Array.isArray(keys)) throw invalid('keys are missing');
      const waiting = this.peers.admitRead(placed(fromNode, epoch), keys.length, () => keys.map((k) => checkKey(k)));
      if (waiting === undefined) return this.localReads(keys);
      return wire(() => waiting.then(() => this.localReads(keys)));
    } catch (err) {
      return Promise.reject(toWireError(err));
    }
  }

  /** Like readLocal, answered while catching up too; stops after REPAIR_CALL_BYTES_MAX of values (the caller asks again for the rest). */
  async fetchVersions(secret: string, keys: Buffer[]): Promise<types.LocalRead[]> {
    return wire(() => {
      this.checkSecret(secret);
      const rows = this.localReads(keys);
      let bytes = 0;
      const cut = rows.findIndex((r) => (bytes += r.value.length) > REPAIR_CALL_BYTES_MAX);
      return cut > 0 ? rows.slice(0, cut) : rows;
    });
  }

  private localReads(keys: Buffer[]): types.LocalRead[] {
    if (!Array.isArray(keys)) throw invalid('keys are missing');
    return keys.map((k) => {
      const v = this.services.local.getBytes(checkKey(k));
      return v === undefined
        ? new types.LocalRead({ exists: false, value: EMPTY, ts: 0 as never, deleted: false })
        : new types.LocalRead({
            exists: true,
            value: v.value,
            ts: v.ts as never,
            deleted: v.deleted,
            ...(v.expires ? { expires: v.expires as never } : {}),
          });
    });
  }

  async hello(secret: string, fromNode: number, clock: Int64, epoch?: Int64 | null): Promise<number> {
    return wire(() => {
      this.checkSecret(secret);
      if (typeof fromNode !== 'number') throw invalid('the caller id is missing');
      const theirs = epoch === null || epoch === undefined ? 0 : int64ToNumber(epoch);
      this.services.heardFrom(fromNode, int64ToNumber(clock), Number.isSafeInteger(theirs) ? theirs : 0);
      return this.services.clock.peek();
    });
  }

  async sync(secret: string, fromNode: number, fromHash: Int64, toHash: Int64, digests: types.Digest[]): Promise<types.SyncReply> {
    return wire(async () => {
      this.checkSecret(secret);
      if (typeof fromNode !== 'number' || !this.services.isPeer(fromNode)) {
        throw invalid('sync needs the id of another node of the cluster');
      }
      if (!Array.isArray(digests)) throw invalid('digests are missing');
      const bound = (b: Int64 | null, name: string): number => {
        const n = int64ToNumber(b);
        if (!Number.isSafeInteger(n)) throw invalid(`sync needs ${name}`);
        return n;
      };
      const parsed = digests.map((d) => {
        if (d === null || typeof d !== 'object') throw invalid('a digest is missing');
        const ts = int64ToNumber(d.ts as Int64 | null);
        if (!Number.isSafeInteger(ts) || ts < 0) throw invalid('a digest has no valid timestamp');
        return { key: checkKey(d.key), ts, deleted: d.deleted === true, valueHash: typeof d.valueHash === 'number' ? d.valueHash : 0 };
      });
      const answer = await this.services.antiEntropy.answer(fromNode, bound(fromHash, 'fromHash'), bound(toHash, 'toHash'), parsed);
      return new types.SyncReply({
        newer: answer.newer.map(toMutation),
        missing: answer.missing.map((k) => fromByteString(k)),
        coveredTo: answer.coveredTo as never,
      });
    });
  }

  /** Checks a repair call's caller and range, and its list of numbers. */
  private repairArgs(secret: string, fromNode: number, range: number, list: number[], what: string): void {
    this.checkSecret(secret);
    if (typeof fromNode !== 'number' || !this.services.isPeer(fromNode))
      throw invalid('a repair call needs the id of another node of the cluster');
    if (typeof range !== 'number') throw invalid('a repair call needs the range');
    if (!Array.isArray(list)) throw invalid(`${what} are missing`);
  }

  /** A repair call's range: by its bounds when the caller gave them (this build), else by its owner. */
  private rangeNamed(owner: number, start: Buffer | null | undefined, end: Buffer | null | undefined): RangeName {
    if (!Buffer.isBuffer(end) || !Buffer.isBuffer(start)) return { owner };
    return { owner, bounds: { start: toByteString(start), end: toByteString(end) } };
  }

  async treeHashes(
    secret: string,
    fromNode: number,
    range: number,
    level: number,
    indices: number[],
    epoch?: Int64 | null,
    rangeStart?: Buffer | null,
    rangeEnd?: Buffer | null,
  ): Promise<types.TreeHashes> {
    return wire(async () => {
      this.repairArgs(secret, fromNode, range, indices, 'indices');
      const named = this.rangeNamed(range, rangeStart, rangeEnd);
      return new types.TreeHashes(await this.peers.treeHashes(fromNode, epochOf(epoch), named, level, indices));
    });
  }

  async segmentKeys(
    secret: string,
    fromNode: number,
    range: number,
    segments: number[],
    epoch?: Int64 | null,
    rangeStart?: Buffer | null,
    rangeEnd?: Buffer | null,
  ): Promise<types.SegmentKeys> {
    return wire(async () => {
      this.repairArgs(secret, fromNode, range, segments, 'segments');
      const named = this.rangeNamed(range, rangeStart, rangeEnd);
      const { digests, covered } = await this.peers.segmentKeys(fromNode, epochOf(epoch), named, segments);
      const wired = digests.map(
        (d) => new types.Digest({ key: fromByteString(d.key), ts: d.ts as never, deleted: d.deleted, valueHash: d.valueHash }),
      );
      return new types.SegmentKeys({ digests: wired, covered });
    });
  }

  async repair(secret: string, peers: number[]): Promise<types.RepairSummary> {
    return wire(async () => {
      this.checkSecret(secret);
      const only = Array.isArray(peers) ? peers : [];
      if (!only.every((p) => typeof p === 'number' && this.services.isPeer(p)))
        throw invalid('repair peers must be other nodes of the cluster');
      const s = await this.services.repair.repairAll(only);
      return new types.RepairSummary(s as never);
    }, ['Unavailable']);
  }

  async setClockOffset(secret: string, offsetMs: number): Promise<number> {
    return wire(() => {
      this.checkSecret(secret);
      if (typeof offsetMs !== 'number' || Math.abs(offsetMs) > CLOCK_OFFSET_MS_MAX) {
        throw invalid(`the clock offset must be a number of ms within ±${CLOCK_OFFSET_MS_MAX}`);
      }
      return this.services.setClockOffset(offsetMs);
    }, []);
  }

  async dump(secret: string, startAfter: Buffer, limit: number): Promise<types.NodeDump> {
    return wire(() => {
      this.checkSecret(secret);
      const after = Buffer.isBuffer(startAfter) && startAfter.length > 0 ? toByteString(startAfter) : undefined;
      // No entries for limit <= 0: a status call, which should not make the node sort its keys.
      const n = typeof limit === 'number' && limit > 0 ? Math.min(limit, DUMP_PAGE_ENTRIES_MAX) : 0;
      return this.services.dump(after, n);
    }, []);
  }

  /** No secret: see the IDL. */
  async membership(afterEpoch: Int64): Promise<types.MembershipLog> {
    return wire(() => {
      const after = int64ToNumber(afterEpoch);
      if (!Number.isSafeInteger(after) || after < 0) throw invalid(`the epoch to list changes after must be 0 or more, got ${after}`);
      return this.services.membership(after);
    }, []);
  }

  async learnEpochs(secret: string, fromNode: number, log: types.MembershipLog): Promise<types.MembershipLog> {
    return wire(async () => {
      this.checkSecret(secret);
      if (typeof fromNode !== 'number') throw invalid('the caller id is missing');
      if (log === null || typeof log !== 'object') throw invalid('the membership log is missing');
      // The log's last entries: they follow the epoch before the first of them.
      const first = log.changes?.[0];
      const after = first ? int64ToNumber(first.epoch) - 1 : 0;
      if (!Number.isSafeInteger(after) || after < 0) throw invalid('the membership log starts at no valid epoch');
      const { entries } = pushedLog(log, after);
      const state = await this.services.learnEpochs(fromNode, entries);
      return new types.MembershipLog({ epoch: state.epoch as never, changes: [], settledEpoch: state.settled as never });
    });
  }

  async decommission(secret: string): Promise<types.OperationProgress> {
    return wire(async () => {
      this.checkSecret(secret);
      return toProgress(await this.services.decommission());
    }, []);
  }

  async removeNode(secret: string, node: number): Promise<types.OperationProgress> {
    return wire(async () => {
      this.checkSecret(secret);
      if (!Number.isInteger(node) || node < 0) throw invalid(`node id ${node} must be a non-negative integer`);
      return toProgress(await this.services.removeNode(node));
    }, ['Unavailable']);
  }

  async operationProgress(secret: string): Promise<types.OperationProgress> {
    return wire(() => {
      this.checkSecret(secret);
      return toProgress(this.services.operationProgress());
    }, []);
  }

  async cleanup(secret: string, start: boolean): Promise<types.CleanupProgress> {
    return wire(() => {
      this.checkSecret(secret);
      const r = this.services.cleanup(start === true);
      return new types.CleanupProgress({
        keys: r.keys as never,
        bytes: r.bytes as never,
        epoch: r.epoch as never,
        done: r.done,
        ...(r.error !== undefined ? { error: r.error } : {}),
      });
    }, []);
  }

  async snapshot(secret: string, name: string): Promise<types.SnapshotInfo> {
    return wire(async () => {
      this.checkSecret(secret);
      const problem = snapshotNameProblem(name);
      if (problem !== undefined) throw invalid(problem);
      const r = await this.services.snapshot(name);
      return new types.SnapshotInfo({ path: r.path, bytes: r.bytes as never, tookMs: r.tookMs as never });
    });
  }

  async listSnapshots(secret: string): Promise<types.SnapshotEntry[]> {
    return wire(() => {
      this.checkSecret(secret);
      return this.services
        .listSnapshots()
        .map((e) => new types.SnapshotEntry({ name: e.name, path: e.path, bytes: e.bytes as never, writtenMs: e.writtenMs as never }));
    });
  }

  async clearSnapshot(secret: string, name: string): Promise<void> {
    return wire(() => {
      this.checkSecret(secret);
      const problem = snapshotNameProblem(name);
      if (problem !== undefined) throw invalid(problem);
      this.services.clearSnapshot(name);
    });
  }

  async move(secret: string, token: Buffer): Promise<types.OperationProgress> {
    return wire(async () => {
      this.checkSecret(secret);
      if (!Buffer.isBuffer(token) || token.length === 0) throw invalid('a move needs the token to move to (at least one byte)');
      return toProgress(await this.services.move(toByteString(token)));
    }, ['Unavailable']);
  }

  async abortOperation(secret: string): Promise<string> {
    return wire(() => {
      this.checkSecret(secret);
      return this.services.abortOperation();
    }, ['Unavailable']);
  }
}
