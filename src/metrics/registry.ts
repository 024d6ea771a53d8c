/**
 * A node's Prometheus metrics. Nearly every number already exists as a node
 * counter (common/counters.ts): they are read once per scrape and handed to
 * prom-client through `collect` callbacks, so serving metrics adds no work
 * to any hot path. Only client requests are counted as they happen
 * (requests.ts), since their labels and latencies exist nowhere else.
 *
 * Names follow Prometheus conventions: the `ringkv_` prefix, base units,
 * `_total` for counters, and labels with few values (op, level, outcome, a
 * node id), never a key. The process metrics (memory, CPU, event-loop lag)
 * come from process.ts, under their usual names.
 */
import type { SlowRequestLog } from './slow-requests';
import { Counter, Gauge, Registry } from './prom';
import { assert } from '../common/assert';
import { addProcessMetrics } from './process';
import { RequestMetrics } from './requests';

/** What the metrics read from a node at scrape time. */
export interface MetricsSource {
  /** The node's counters, `namespace.name` → value (CounterCollector.snapshot). */
  counters(): Readonly<Record<string, number>>;
  /** Hints waiting per target node. */
  hintsPending(): ReadonlyMap<number, number>;
  /** Hints delivered and dropped so far, per target node. */
  hintOutcomes(): ReadonlyMap<number, { readonly delivered: number; readonly dropped: number }>;
  /** The other nodes of the cluster. */
  readonly peers: readonly number[];
  /** Whether the failure detector holds a peer up. */
  isUp(peer: number): boolean;
}

/**
 * A metric read from node counters: one counter name, or one per value of
 * `label` (a fixed set, so the label stays bounded).
 */
interface FromCounters {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly from: string | { readonly label: string; readonly values: Readonly<Record<string, string>> };
}

const counter = (name: string, from: FromCounters['from'], help: string): FromCounters => ({ name, help, type: 'counter', from });
const gauge = (name: string, from: FromCounters['from'], help: string): FromCounters => ({ name, help, type: 'gauge', from });

/** Every metric taken from the node counters; the integration test checks each against a live node. */
export const FROM_COUNTERS: readonly FromCounters[] = [
  counter(
    'ringkv_read_repairs_total',
    'coordinator.readRepairs',
    'Replicas brought up to date by reads at a level above ONE that found them behind.',
  ),
  counter(
    'ringkv_speculative_reads_total',
    'coordinator.speculativeReads',
    'Reads that asked one replica more than their level needs because one they asked was slow (settings.speculativeRetry).',
  ),
  counter(
    'ringkv_slow_requests_total',
    'client.slowRequests',
    'Client requests that took settings.slowRequestMs or more on this node, from arrival to answer (each told in the slow request log).',
  ),
  counter('ringkv_change_feed_changes_total', 'changes.changesSent', "Changes this node's change feed sent to watches."),
  gauge('ringkv_change_feed_waiting_calls', 'changes.changesWaiting', 'Change feed calls waiting on this node for a change (at most 256).'),
  counter('ringkv_hints_stored_total', 'hints.hintsStored', 'Hints stored for replicas that were down or did not acknowledge a write.'),
  counter('ringkv_hint_write_errors_total', 'hints.hintWriteErrors', 'Hints lost because writing them to disk failed.'),
  counter('ringkv_anti_entropy_steps_total', 'repair.steps', 'Background anti-entropy steps (hash trees compared with one peer).'),
  counter('ringkv_anti_entropy_errors_total', 'repair.stepErrors', 'Background anti-entropy steps that failed.'),
  counter(
    'ringkv_repair_keys_total',
    { label: 'direction', values: { received: 'repair.keysFetched', sent: 'repair.keysSent' } },
    'Versions repair (background or full) fetched from peers, or sent to them.',
  ),
  counter('ringkv_full_repairs_total', 'repair.fullRepairs', "Full repairs of all the node's ranges completed."),
  gauge(
    'ringkv_repair_catching_up',
    'repair.catchingUp',
    '1 while the node catches up (serves no reads until its ranges are repaired), else 0.',
  ),
  gauge('ringkv_repair_tree_bytes', 'repair.treeBytes', "Bytes of the node's hash trees (bounded by repair.treeBytesMax)."),
  counter('ringkv_log_commits_total', 'store.commits', 'Group commits to the append-only log.'),
  counter('ringkv_log_rows_committed_total', 'store.rowsCommitted', 'Rows appended to the log.'),
  counter('ringkv_log_compactions_total', 'store.compactions', 'Compactions of the log.'),
  counter('ringkv_log_rows_compacted_total', 'store.rowsCompacted', 'Superseded log rows deleted by compaction.'),
  gauge('ringkv_log_garbage_rows', 'store.garbageRows', 'Log rows holding superseded versions, waiting for compaction.'),
  gauge('ringkv_storage_full', 'store.diskFull', '1 while the last commit to the log failed because the disk is full, else 0.'),
  gauge('ringkv_data_bytes', 'disk.dataBytes', "The node's data file and its write-ahead log, in bytes."),
  gauge(
    'ringkv_log_unsettled_rows',
    'store.unsettledRows',
    'Log rows of writes whose other replicas have not acknowledged or been hinted yet.',
  ),
  counter('ringkv_tombstones_purged_total', 'store.tombstonesPurged', 'Tombstones purged after the grace period.'),
  counter('ringkv_store_overloaded_total', 'store.overloaded', 'Writes refused because too many were waiting for the disk.'),
  gauge('ringkv_keys', 'store.keys', 'Keys this replica holds, tombstones included.'),
  gauge('ringkv_memtable_arena_bytes', 'store.arenaBytes', 'Bytes of the arena holding the values in memory.'),
  gauge('ringkv_memtable_arena_live_bytes', 'store.arenaLiveBytes', 'Bytes of the arena holding current values.'),
  gauge('ringkv_connections_open', 'server.connectionsOpen', 'Open client and internode connections to this node.'),
  counter('ringkv_connections_accepted_total', 'server.connectionsAccepted', 'Connections accepted.'),
  counter(
    'ringkv_connections_rejected_total',
    'server.connectionsRejected',
    'Connections refused because the node had as many as it takes.',
  ),
  counter('ringkv_frames_refused_total', 'server.badFrames', 'Frames refused as malformed or oversize (the connection is closed).'),
  counter('ringkv_slow_readers_cut_total', 'server.slowReadersCut', 'Connections closed because their client did not read its replies.'),
  counter('ringkv_unauthorized_calls_total', 'handler.unauthorized', 'Internode and admin calls refused for a wrong cluster secret.'),
  counter(
    'ringkv_internode_calls_total',
    { label: 'call', values: { replicate: 'peers.replicateCalls', read_local: 'peers.readLocalCalls' } },
    'Internode calls sent; each carries several items when requests are coalesced.',
  ),
  counter(
    'ringkv_internode_items_total',
    { label: 'call', values: { replicate: 'peers.replicateItems', read_local: 'peers.readLocalItems' } },
    'Mutations and reads carried by internode calls.',
  ),
  counter(
    'ringkv_peer_transitions_total',
    { label: 'to', values: { up: 'node.peersUp', down: 'node.peersDown' } },
    'Peers seen to come up or go down.',
  ),
  gauge(
    'ringkv_batch_log_batches',
    'batches.batchLogBatches',
    "Logged batches in this node's log not yet written everywhere: those it coordinates (being written included) and copies of other coordinators' batches.",
  ),
  gauge('ringkv_batch_log_copies', 'batches.batchLogCopies', "Of ringkv_batch_log_batches, the copies of other coordinators' batches."),
  gauge('ringkv_batch_log_bytes', 'batches.batchLogBytes', "Bytes of the batch log's batches."),
  counter(
    'ringkv_batches_short_of_copies_total',
    'batches.batchesShortOfCopies',
    'Batches logged with fewer than two copies on other nodes acknowledged (too few peers up, or one did not answer).',
  ),
  counter(
    'ringkv_batch_copies_replayed_total',
    'batches.batchCopiesReplayed',
    "Copies of other coordinators' batches this node wrote itself, their coordinator silent past the copy wait.",
  ),
  counter(
    'ringkv_batch_copies_deferred_total',
    'batches.batchCopiesDeferred',
    'Times a copy past the copy wait was left unwritten because its coordinator said it still holds the batch and writes it itself.',
  ),
  counter('ringkv_batches_replayed_total', 'batches.batchesReplayed', 'Logged batches written again in full from the log, then removed.'),
  counter(
    'ringkv_batches_expired_total',
    'batches.batchesExpired',
    'Logged batches dropped unwritten because they were older than the tombstone grace.',
  ),
  counter('ringkv_batch_log_full_total', 'batches.batchLogFull', 'Batches refused because the batch log was full.'),
  counter(
    'ringkv_rehinted_at_start_total',
    'node.rehintedAtStart',
    'Versions hinted again at start: unsettled writes of the previous run.',
  ),
];

/**
 * Counters of failures no caller sees (compactions, commits, hint writes and
 * replays, hint expiry, tombstone purges, anti-entropy steps): every node
 * counter named `namespace.<kind>Failures` or `namespace.<kind>Errors`. The
 * kinds are names in the code, so the label set is bounded.
 */
const FAILURE_COUNTER = /^[a-zA-Z]+\.([a-zA-Z]+?)(?:Failures|Errors)$/;

export class NodeMetrics {
  readonly registry = new Registry();
  readonly requests: RequestMetrics;
  /** The node counters of the scrape under way: read once for all the metrics. */
  private counters: Readonly<Record<string, number>> = {};

  constructor(
    private readonly source: MetricsSource,
    options: { readonly processMetrics: boolean; readonly slowRequests?: SlowRequestLog } = { processMetrics: true },
  ) {
    this.requests = new RequestMetrics(this.registry, options.slowRequests);
    for (const m of FROM_COUNTERS) this.addFromCounters(m);
    this.addNodeState();
    if (options.processMetrics) this.close = addProcessMetrics(this.registry);
  }

  /** Stops what runs between scrapes (the event-loop sampler). */
  readonly close: () => void = () => undefined;

  /** The exposition text; reads the node's counters once. */
  async text(): Promise<string> {
    this.counters = this.source.counters();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private read(name: string): number {
    const v = this.counters[name];
    assert(v !== undefined, `a node counter "${name}" for the metrics`);
    return v;
  }

  private addFromCounters(m: FromCounters): void {
    const read = (name: string): number => this.read(name);
    const { from } = m;
    const labelNames = typeof from === 'string' ? [] : [from.label];
    const fill = (set: (labels: Record<string, string>, value: number) => void): void => {
      if (typeof from === 'string') set({}, read(from));
      else for (const [value, name] of Object.entries(from.values)) set({ [from.label]: value }, read(name));
    };
    const base = { name: m.name, help: m.help, labelNames, registers: [this.registry] };
    if (m.type === 'gauge') {
      new Gauge({
        ...base,
        collect() {
          fill((labels, v) => this.set(labels, v));
        },
      });
      return;
    }
    new Counter({
      ...base,
      collect() {
        this.reset();
        fill((labels, v) => this.inc(labels, v));
      },
    });
  }

  /** Per-peer and per-kind series: hints pending per target, peers up, background failures. */
  private addNodeState(): void {
    const { source } = this;
    const registers = [this.registry];
    const counters = (): Readonly<Record<string, number>> => this.counters;
    new Gauge({
      name: 'ringkv_hints_pending',
      help: 'Hints waiting to be delivered, per target node.',
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        // Every peer, at zero too: an alert on a target's hints must not see the series vanish.
        const pending = source.hintsPending();
        for (const peer of source.peers) this.set({ target: String(peer) }, pending.get(peer) ?? 0);
      },
    });
    const perTarget = (name: string, help: string, pick: (o: { delivered: number; dropped: number }) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['target'],
        registers,
        collect() {
          this.reset();
          const outcomes = source.hintOutcomes();
          for (const peer of source.peers) this.inc({ target: String(peer) }, pick(outcomes.get(peer) ?? { delivered: 0, dropped: 0 }));
        },
      });
    };
    perTarget('ringkv_hints_delivered_total', 'Hints delivered to their target and deleted, per target node.', (o) => o.delivered);
    perTarget(
      'ringkv_hints_dropped_total',
      'Hints given up, per target node: older than the hint window, or refused because the hint queue was full.',
      (o) => o.dropped,
    );
    new Gauge({
      name: 'ringkv_peer_up',
      help: 'Whether this node holds a peer up (1) or down (0).',
      labelNames: ['peer'],
      registers,
      collect() {
        for (const peer of source.peers) this.set({ peer: String(peer) }, source.isUp(peer) ? 1 : 0);
      },
    });
    new Counter({
      name: 'ringkv_background_failures_total',
      help: 'Failures of work that has no caller to answer (compaction, commit, hint write and replay, hint expiry, tombstone purge, sync), by kind.',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [name, v] of Object.entries(counters())) {
          const kind = FAILURE_COUNTER.exec(name)?.[1];
          if (kind !== undefined) this.inc({ kind }, v);
        }
      },
    });
  }
}
