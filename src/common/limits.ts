/**
 * Every size, queue, batch and retry in one place, with its unit in its name.
 * Values a user may want to change are also settings (see config/settings.ts);
 * these are the defaults and the hard bounds.
 */

/** Largest key accepted from a client. */
export const KEY_BYTES_MAX = 64 * 1024;
/** Default largest value; `maxValueBytes` in the cluster file changes it. */
export const VALUE_BYTES_MAX_DEFAULT = 1024 * 1024;
/** A configured value limit may not exceed this (it sizes frames and batches). */
export const VALUE_BYTES_MAX_CEILING = 16 * 1024 * 1024;

/** Mutations and keys coalesced into one internode call. */
export const BATCH_ITEMS_MAX = 1024;
/** A batch is closed early once its keys and values add up to this. */
export const BATCH_BYTES_MAX = 4 * 1024 * 1024;
/** Internode calls of one kind in flight to one peer; more wait in the queue. */
export const PEER_CALLS_IN_FLIGHT_MAX = 4;
/** Mutations or reads waiting for one peer; past this they fail at once. */
export const PEER_QUEUE_ITEMS_MAX = 50_000;

/** Requests one connection may have in flight before the node stops reading it. */
export const CONNECTION_REQUESTS_IN_FLIGHT_MAX = 1024;
/** Bytes a node may buffer for a client that does not read its replies. */
export const CONNECTION_WRITE_BUFFER_BYTES_MAX = 64 * 1024 * 1024;
/** Unfinished request bytes a node holds across all its connections. */
export const NODE_INPUT_BUFFER_BYTES_MAX = 256 * 1024 * 1024;
/** Unsent reply bytes a node holds across all its connections. */
export const NODE_OUTPUT_BUFFER_BYTES_MAX = 256 * 1024 * 1024;
/** Bytes of keys and values in one page of the inspector's dump. */
export const DUMP_PAGE_BYTES_MAX = 4 * 1024 * 1024;
/** Connections a node accepts at once. */
export const CONNECTIONS_MAX = 4096;
/** A connection with no traffic for this long is closed. */
export const CONNECTION_IDLE_MS = 5 * 60 * 1000;
/**
 * A TLS client must finish its handshake within this long, or the node closes
 * the connection: a client that connects and says nothing (or speaks plain
 * Thrift and waits for an answer) is not kept until the idle timeout.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 5000;

/** Connections the metrics endpoint serves at once: scrapers are few, and a flood must not cost the node. */
export const METRICS_CONNECTIONS_MAX = 16;
/** A metrics request must arrive whole within this, so an idle or slow client cannot hold a connection. */
export const METRICS_REQUEST_MS_MAX = 10_000;

/** Rows per multi-row INSERT statement (4 bound values each). */
export const SQL_ROWS_PER_STATEMENT_MAX = 500;
/**
 * A commit's SQL script goes to SQLite in pieces of about this many bytes,
 * one driver call each, in one transaction (a row larger than this makes a
 * piece of its own). V8 allocates a string over 128 KB in its large-object
 * space, on fresh pages each time: handing a 4,000-row commit over as one
 * string of about a megabyte cost 3.7-4.2 ns a byte, in pieces of 60 KB
 * 0.1-0.2 (docs/benchmarks.md, `--workload join`).
 */
export const SQL_SCRIPT_PIECE_BYTES = 60 * 1024;
/**
 * The buffer a commit's script is built in (storage/sql-script.ts) is kept
 * for the next commit while it is at most this large: it grows past
 * SQL_SCRIPT_PIECE_BYTES only for a large row.
 */
export const SQL_SCRIPT_SCRATCH_BYTES_KEPT = 1024 * 1024;
/**
 * Superseded log rows that trigger a compaction: as many as the live rows
 * (so about half the log), and at least COMPACT_GARBAGE_ROWS_MIN. Garbage is
 * spread over the whole log and deleting a row rewrites its page, so the
 * more garbage each page holds when compaction comes, the fewer pages it
 * costs per row. With 75,000 live rows a node, write p99 at 10,000/s in 60 s
 * runs was 18-19 ms compacting at 20,000 rows, 9-11 ms at half the live
 * rows and 7.4-8.5 ms at all of them (docs/benchmarks.md). The price is disk
 * (up to about twice the live rows) and replay: a million live rows with a
 * million superseded ones replay in 2.2-2.5 s against 1.1 s without.
 */
export const COMPACT_GARBAGE_PER_LIVE_ROW = 1;
/** The fewest superseded rows that trigger a compaction (a small log is compacted in one go). */
export const COMPACT_GARBAGE_ROWS_MIN = 20_000;
/**
 * Rows deleted per compaction transaction. Commits wait for the transaction
 * in progress, so this bounds their wait: chunks of 500 instead made write
 * p99 at 10,000/s 19-20 ms against 14-16 ms in 60 s runs (20,000-row
 * compactions); one 20,000-row transaction took 60-90 ms.
 */
export const COMPACT_CHUNK_ROWS = 100;
/**
 * Consecutive seqs per bucket of the garbage list: compaction sorts one
 * bucket at a time, never the whole list (storage/garbage.ts).
 */
export const GARBAGE_BUCKET_SEQS = 4096;
/** Rows a replica accepts but has not committed yet; past this, writes to it fail (and get hinted). */
export const STORE_QUEUED_ROWS_MAX = 200_000;
/** Hints waiting to be written to SQLite; past this new hints are dropped and counted. */
export const HINTS_QUEUED_MAX = 100_000;
/** Log rows read per query while a node replays its log at start (5,000 replayed a million rows faster than 20,000). */
export const REPLAY_CHUNK_ROWS = 5_000;
/**
 * Key and value bytes per replay query, about: past this a query reads
 * proportionally fewer rows (at least one). The rows arrive as one JSON
 * text, up to six characters per byte.
 */
export const REPLAY_CHUNK_CHARS = 16 * 1024 * 1024;
/** Bytes per slab of the memtable's key/value arena (a larger record gets a slab of its own). */
export const ARENA_SLAB_BYTES = 1024 * 1024;
/**
 * A full arena slab whose live records fall below this fraction of it is
 * compacted: memory stays within 1 / 0.75 of the live bytes, and each byte
 * freed costs at most three bytes copied.
 */
export const ARENA_SLAB_LIVE_MIN = 0.75;
/** Empty arena slabs kept for reuse instead of being handed back to the allocator. */
export const ARENA_SPARE_SLABS_MAX = 4;
/**
 * Keys of a run that the replay's key sort (storage/key-sort.ts) sorts with
 * radix passes; shorter runs are sorted with a comparator, since each radix
 * pass first clears and sums a table of 65,536 or 131,072 counts.
 */
export const KEY_SORT_RADIX_MIN = 4096;
/**
 * Slots per block of the memtable's key order (storage/key-order.ts): an
 * insert or removal shifts at most this many 4-byte slots, and each block's
 * first key is kept as a string (about one string per 96 keys). Smaller
 * blocks move comparisons from the arena to those strings: a new key cost
 * 2.1-3.8 µs more with 512 and 1.5-2.5 µs more with 128 than with no order
 * (memtables of 0.1 and 1 million keys, a one-off microbenchmark on a busy
 * machine). Since blocks pack the bytes after their shared prefix beside
 * each slot, a search within a block reads the arena only on a tie of those
 * bytes: inserting 300,000 random keys of 10 bytes read it 0.4 times per key
 * instead of 7.6 (a one-off count).
 */
export const ORDER_BLOCK_SLOTS = 128;
/** Most keys the memtable's hash index holds per slot before it doubles. */
export const MEMTABLE_LOAD_MAX = 0.7;
/**
 * How often, at most, a replica's commit also stores its settle pointer (the
 * log row up to which every write this node coordinated has reached all its
 * replicas or a durable hint). Storing it costs a second page in the commit;
 * a pointer this much behind only means a restart re-sends a few more rows.
 */
export const SETTLED_SEQ_WRITE_INTERVAL_MS = 100;
/** Rows a restart reads per query when it re-sends the rows after the settle pointer. */
export const UNSETTLED_CHUNK_ROWS = 5_000;
/** Rows per SQLite transaction in a group commit. */
export const COMMIT_ROWS_MAX = 20_000;

/**
 * How long a write that reached its level, coordinated by a node that is not
 * a replica of its key (so with no row of its own to mark), waits for its other
 * live replicas before it hints them (and answers once the hints are durable).
 */
export const HINT_GRACE_MS = 50;
/**
 * Keys compared with one peer in one anti-entropy step, about. Small pages
 * often (with the 500 ms default interval) rather than large ones rarely:
 * the same pace, in pieces of 0.2-0.3 ms at the median (1000 keys every 5 s
 * held nodes for 2-13 ms at a time under load, and p99 of writes at 11,000/s
 * was 10.3 ms against 8.8 ms; docs/benchmarks.md).
 */
export const SYNC_PAGE_KEYS = 100;
/** Keys a node looks at when answering one anti-entropy step. */
export const SYNC_SCAN_KEYS_MAX = 400;
/** Bytes of values in one anti-entropy answer (the rest waits for the next step). */
export const SYNC_REPLY_BYTES_MAX = 4 * 1024 * 1024;
/**
 * Hints sent to a returning node in one call, and calls in flight to it
 * from one peer. A returning node holds every mutation in flight to it until
 * its commit: with 1000 x 4 from each of three peers, 12,000 of them outlived
 * V8's young generation, and a restarted node of a million keys peaked at
 * 306.9 and 308.6 MB in the restart benchmark, where it stayed for the 8 s
 * until V8 next reduced its heap. With 250 x 2: 256.5 and 262.2 MB, and
 * 102,319 and 110,619 hints/s against 110,619 and 125,209
 * (docs/benchmarks.md).
 */
export const HINT_REPLAY_BATCH_MAX = 250;
export const HINT_REPLAY_IN_FLIGHT_MAX = 2;

/** Entries in one page of the inspector's dump. */
export const DUMP_PAGE_ENTRIES_MAX = 5000;

/** Membership log entries in one `membership` answer; a caller further behind asks again from the last one. */
export const MEMBERSHIP_ENTRIES_MAX = 1000;

/**
 * How often a client asks a node whether the ring moved on (`membership`
 * after its epoch: an empty answer when nothing changed). The IDL's answers
 * cannot carry the epoch, so the client learns of a change by this poll, and
 * sooner after a failure (RING_REFRESH_AFTER_FAILURE_MS); a request sent by
 * an old ring still lands on a node that coordinates it with the current one.
 */
export const RING_REFRESH_INTERVAL_MS = 10_000;
/** Least time between two refreshes of a client's ring that failures asked for (a burst of errors makes one). */
export const RING_REFRESH_AFTER_FAILURE_MS = 1000;
/** Bound on one node's answer to a client's membership question, before the next node is asked. */
export const RING_FETCH_TIMEOUT_MS = 2000;
/** Keys of a node's primary range that rebalance keeps as its sample (systematic: every k-th key). */
export const REBALANCE_SAMPLE_KEYS_MAX = 4096;

/** Client reconnect backoff. */
export const RECONNECT_BACKOFF_MIN_MS = 50;
export const RECONNECT_BACKOFF_MAX_MS = 2000;
/** TCP connect timeout (and, with TLS, connect and handshake together). */
export const CONNECT_TIMEOUT_MS = 1000;

/**
 * A failure that a part of a node handles by itself (a compaction, a hint
 * write) is counted every time and told to the log at most this often, with
 * how many there were since: a disk that fails every few milliseconds would
 * otherwise bury everything else in the log.
 */
export const WARNING_INTERVAL_MS = 60_000;

/** Frame size limit for a given value limit: room for one whole batch or one large value. */
export function frameBytesMax(valueBytesMax: number): number {
  return Math.max(8 * 1024 * 1024, 2 * (valueBytesMax + KEY_BYTES_MAX) + 64 * 1024);
}

/** Largest clock offset the clock-skew fault switch (`setClockOffset`, `--clock-offset-ms`) accepts. */
export const CLOCK_OFFSET_MS_MAX = 3600_000;

/**
 * The dashboard's history: one sample per node per poll, a poll a second,
 * so 600 samples are the ten minutes its charts show. Older ones are dropped.
 */
export const DASHBOARD_SAMPLES_MAX = 600;
/** How often the dashboard asks every node for its status. */
export const DASHBOARD_POLL_INTERVAL_MS = 1000;
/**
 * How long the dashboard waits for a node's status (and its metrics) before
 * showing it down: short enough that a hung node shows down within 5 s of
 * its last answer, long enough for a busy node to answer.
 */
export const DASHBOARD_POLL_TIMEOUT_MS = 2000;
/** Bytes of a node's /metrics page the dashboard reads; a larger page is not a node's. */
export const DASHBOARD_METRICS_BYTES_MAX = 4 * 1024 * 1024;
/** Browsers following the dashboard's live updates at once; more are refused. */
export const DASHBOARD_EVENT_CLIENTS_MAX = 32;
/**
 * Bytes of updates waiting to reach one follower; past it the follower is
 * dropped (its browser reconnects and starts afresh) instead of buffering
 * for a tab that stopped reading. An update with ten minutes of charts is
 * some tens of KB.
 */
export const DASHBOARD_EVENT_BACKLOG_BYTES_MAX = 4 * 1024 * 1024;
/** Divergent keys the dashboard lists after a scan (it counts them all). */
export const DASHBOARD_DIVERGENT_SHOWN_MAX = 20;

/**
 * While a node's disk is full, how often it tries one small write to learn
 * that space is back (it then reports its disk fine in status and metrics).
 */
export const DISK_FULL_PROBE_INTERVAL_MS = 5000;

/**
 * Compare-and-set (src/paxos/). Request ids of recent commits each replica
 * remembers per key, so that a retried cas finds its own earlier commit: a
 * retry after more later commits than this to the same key, or after
 * PAXOS_STATE_GRACE_MS, may be answered "not applied" although it was.
 */
export const PAXOS_RECENT_REQUESTS_MAX = 64;
/** Paxos state of a key with nothing in progress is deleted this long after its newest ballot; older ballots are refused. */
export const PAXOS_STATE_GRACE_MS = 60 * 60 * 1000;
/** How often a node sweeps forgettable Paxos state, and how many keys' state one sweep deletes at most. */
export const PAXOS_CLEANUP_INTERVAL_MS = 60_000;
export const PAXOS_CLEANUP_ROWS_MAX = 1000;
/** Paxos rounds one cas or SERIAL read may run (contention, in-progress proposals to finish) before TimedOut. */
export const PAXOS_ROUNDS_MAX = 10;
/** Random back-off between rounds after contention: uniform in [0, min(MAX, MIN * 2^round)). */
export const PAXOS_BACKOFF_MS_MIN = 5;
export const PAXOS_BACKOFF_MS_MAX = 200;
/**
 * Paxos messages a replica holds waiting for their turn (each key's messages
 * run one at a time): per key, and over all keys. Past either, the message
 * is refused with Unavailable, which its proposer counts as no answer from
 * this replica; a key with that many waiting is under contention that backing
 * off serves better than queueing.
 */
export const PAXOS_KEY_WAITING_MAX = 64;
export const PAXOS_WAITING_MAX = 10_000;
/**
 * Keys' Paxos state in one page of a membership stream (paxosRows,
 * paxosMerge): each row is some hundreds of bytes (64 request ids at most),
 * and a page's merge queues one message per key, far below PAXOS_WAITING_MAX.
 */
export const PAXOS_STREAM_ROWS_MAX = 200;
/** Longest request id a cas may carry. */
export const REQUEST_ID_BYTES_MAX = 64;
/** Attempts KvClient.cas makes, with the same request id, when a reply is lost (TimedOut, or the connection died). */
export const CAS_CLIENT_ATTEMPTS_MAX = 3;
/** The chaos checker's linearizability search (chaos/linearizability.ts): operations per register, and search steps, before it answers "unknown". */
export const LINEARIZABILITY_OPS_MAX = 20_000;
export const LINEARIZABILITY_STEPS_MAX = 2_000_000;

/**
 * Hash-tree repair (repair/hash-tree.ts). A tree per replicated range has
 * 2^TREE_LEAF_BITS leaves (segments of the key-hash space) under
 * TREE_BRANCHES branches, 8 bytes each: 512 KiB of leaves per range, so a
 * node replicating three ranges holds about 1.5 MiB of trees. With a
 * million keys in a range a segment holds about 15 of them, which is what
 * one differing segment costs to list.
 */
export const TREE_LEAF_BITS = 16;
export const TREE_BRANCH_BITS = 8;
/** The bound on one range's tree, in bytes (leaves, branches and root): what the counters report against. */
export const TREE_BYTES_PER_RANGE_MAX = (2 ** TREE_LEAF_BITS + 2 ** TREE_BRANCH_BITS + 1) * 8;
/** Tree hashes (leaves or branches) asked for in one call: 128 KiB of answer. */
export const TREE_HASHES_PER_CALL_MAX = 16_384;
/** Segments whose keys one call lists. */
export const REPAIR_SEGMENTS_PER_CALL_MAX = 4096;
/**
 * Key digests in one segment listing; the answer stops after the segment
 * that passes it, or that passes REPAIR_CALL_BYTES_MAX of keys. Fewer,
 * larger listings: a repair of 100,000 missing keys lists some 50,000
 * segments, and each listing is a round trip.
 */
export const REPAIR_DIGESTS_PER_CALL_MAX = 16_000;
/** Keys fetched from or sent to a peer in one call during a repair (and at most REPAIR_CALL_BYTES_MAX of them). */
export const REPAIR_KEYS_PER_CALL_MAX = 1000;
/** Bytes of keys and values in one repair call, either way: a call sends less, an answer stops early and the rest is asked again. */
export const REPAIR_CALL_BYTES_MAX = 4 * 1024 * 1024;
/** Such calls in flight to one peer at once during a repair. */
export const REPAIR_CALLS_IN_FLIGHT_MAX = 4;
/**
 * How long an exchange waits before checking again the segments that
 * differed: a write still on its way to both replicas makes their leaves
 * differ for a moment, and streaming it would be wasted.
 */
export const REPAIR_RECHECK_PAUSE_MS = 150;
/**
 * The same pause in background anti-entropy, longer on purpose. A leaf
 * covers a 65,536th of a range, so it seldom changes twice within a pause:
 * what tells a write in flight from a real difference is only whether the
 * write lands before the second look. On a busy node the replica a QUORUM
 * write does not wait for can lag by more than 150 ms (the p99 of the write
 * itself was 100-200 ms in the saturated A/B runs of docs/benchmarks.md), and
 * a step would list and stream those writes as differences. Not longer than
 * this: the simulator's seeds give anti-entropy 3.5 s after the faults heal,
 * and with 1 s two of the first 1,000 did not converge in it. A full repair
 * keeps REPAIR_RECHECK_PAUSE_MS, and a faster background pace a shorter
 * pause (repair/repairer.ts, backgroundPauseMs).
 */
export const ANTI_ENTROPY_RECHECK_PAUSE_MS = 600;
/**
 * Branches whose leaves one call asks for at least, when an exchange looks
 * for a few differing segments (a background step): under a write load
 * most differing branches hold one differing leaf, and a call per branch
 * would be a round trip per write in flight. 16 branches are 4,096 leaves,
 * 32 KiB of answer.
 */
export const TREE_BRANCHES_PER_CALL_MIN = 16;
/**
 * Segments one background anti-entropy step repairs at most: it keeps the
 * background pace (one step per antiEntropyIntervalMs) to a small share of a
 * node's work. A full repair (admin repair, catching up) has no such cap.
 */
export const REPAIR_STEP_SEGMENTS_MAX = 64;
/**
 * Most background anti-entropy steps skipped in a row. A step whose
 * differences all moved during its re-check pause (writes in flight, nothing
 * to repair) makes the next steps skip, twice as many each time up to this
 * (32 steps of the default 500 ms: 16 s); a step that meets both kinds keeps
 * the skip as it is, and one that finds its ranges in sync, or only
 * differences that held still, ends the back-off. Under a
 * steady write load the trees never agree, and comparing them twice a second
 * would find only writes on their way.
 */
export const ANTI_ENTROPY_BACKOFF_STEPS_MAX = 32;
/** Passes a full repair makes over a range with one peer before it reports that they still disagree. */
export const REPAIR_ROUNDS_MAX = 5;
/** How often a catching-up node tries again to repair its ranges when a peer was missing. */
export const CATCH_UP_RETRY_MS = 250;
/** How often a node stores the time it was last alive (meta row alive_at_ms), to tell at start how long it was down. */
export const ALIVE_WRITE_INTERVAL_MS = 10_000;
/** How long `admin repair` waits for one node's full repair before it gives up on it. */
export const REPAIR_CALL_TIMEOUT_MS = 30 * 60_000;
/** How often `admin repair` reads the repairing node's counters to show progress. */
export const REPAIR_PROGRESS_INTERVAL_MS = 250;

/** Most keys one getMany call may ask for; the client library splits a longer list into calls of this many. */
export const GET_MANY_KEYS_MAX = 100;

/**
 * Bytes of values one getMany answer may carry: half the smallest frame a
 * node takes for its value limit, so that the answer fits a client's frame
 * with room to spare, and always at least one value of the largest size.
 */
export function getManyReplyBytesMax(valueBytesMax: number): number {
  return Math.floor(frameBytesMax(valueBytesMax) / 2);
}

/** Most writes one batch may carry (distinct keys); a longer batch is refused, not split, since a split is no longer one batch. */
export const BATCH_WRITES_MAX = 100;

/**
 * Bytes of keys and values one batch may carry: half the smallest frame a
 * node takes for its value limit (4 MiB at the default), so that a batch
 * always fits a frame, and one log row stays well under it; at least one
 * value of the largest size.
 */
export function batchBytesMax(valueBytesMax: number): number {
  return Math.floor(frameBytesMax(valueBytesMax) / 2);
}

/** The sentence for a batch past batchBytesMax, said alike by the node and the client library. */
export function batchTooLarge(bytes: number, max: number): string {
  return `the batch's keys and values take ${bytes} bytes, more than the ${max} one batch may carry; split it into smaller batches`;
}
/**
 * Batches a node's batch log may hold that have not reached every key's
 * level yet, and their bytes: past either, new batches to this node are
 * refused with Unavailable until replays drain it. The count bounds the
 * replayer's work after a long outage; the bytes bound the disk it takes.
 */
export const BATCH_LOG_BATCHES_MAX = 10_000;
/**
 * Other nodes that keep a copy of each logged batch, as Cassandra's two:
 * with them, a batch is lost only with its coordinator's disk and theirs.
 * Copies count towards their holder's log limits.
 */
export const BATCH_LOG_COPIES = 2;
/** Copies one storeBatchCopies or forgetBatchCopies call may carry (a coordinator sends one a call). */
export const BATCH_COPIES_PER_CALL_MAX = 64;

/** Characters of a snapshot's name (a directory name under the node's snapshots/). */
export const SNAPSHOT_NAME_MAX = 64;
/** Snapshots one listSnapshots call names at most (the first by name): one answer stays small. */
export const SNAPSHOTS_LISTED_MAX = 1000;
/**
 * Free disk a snapshot must leave on its file system beyond the copy
 * itself: the node's own log goes on growing there, and a snapshot must
 * never be what fills the disk under it (a full disk stops its writes).
 */
export const SNAPSHOT_FREE_BYTES_MIN = 256 * 1024 * 1024;
/** How long admin.sh snapshot waits for a node to write its copy: a file of several GiB takes minutes on a slow disk. */
export const SNAPSHOT_TIMEOUT_MS = 30 * 60_000;
export const BATCH_LOG_BYTES_MAX = 256 * 1024 * 1024;
/**
 * How often a node writes again the batches in its log that no live call is
 * writing (a failed batch, or one left by a crash). A tick with an empty log
 * costs nothing; a peer coming back starts one at once too.
 */
export const BATCH_REPLAY_INTERVAL_MS = 2_000;
/** Longest wait before a logged batch whose replays keep failing is tried again (the wait doubles from one interval). */
export const BATCH_REPLAY_BACKOFF_MAX_MS = 60_000;
/** Batches read from the log per page while replaying, and written at once (all are written, or failed, before the next page). */
export const BATCH_REPLAY_PAGE_MAX = 16;

/** Most keys one scan call may ask for (its `limit`); the client library pages through more. */
export const SCAN_LIMIT_MAX = 10_000;
/** Keys a traced scan page asks for when its request names no limit (the client library's page size too). */
export const SCAN_PAGE_LIMIT_DEFAULT = 1000;
/** Keys one replica returns for one round of a scan. */
export const SCAN_REPLICA_PAGE_KEYS_MAX = 1000;
/** Bytes of keys and values one replica returns for one round of a scan, about (at least one key). */
export const SCAN_REPLICA_PAGE_BYTES_MAX = 2 * 1024 * 1024;
/** Changes one call of a node's change feed may return (its `limit`); the client library asks for CHANGES_PAGE_LIMIT_DEFAULT. */
export const CHANGES_LIMIT_MAX = 1000;
/** Changes a watch asks each node for per call. */
export const CHANGES_PAGE_LIMIT_DEFAULT = 500;
/** Bytes of keys and values after which a change feed's page ends (at least one change). */
export const CHANGES_PAGE_BYTES_MAX = 2 * 1024 * 1024;
/**
 * Log rows one call of the change feed reads, of every range: a feed of a
 * small range on a busy node answers with no changes but a later position
 * rather than reading the whole log in one call.
 */
export const CHANGES_ROWS_READ_MAX = 5000;
/** Longest a change feed call may wait for a change (its `waitMs`); the watch asks for CHANGES_WAIT_MS_DEFAULT. */
export const CHANGES_WAIT_MS_MAX = 10_000;
export const CHANGES_WAIT_MS_DEFAULT = 2000;
/**
 * How long a waiting change feed call, once woken by a change, waits for
 * more before it reads the log: under a steady load of writes a call then
 * carries several changes rather than one, for a few milliseconds more of a
 * change's delay.
 */
export const CHANGES_GATHER_MS = 10;
/** Change feed calls one node keeps waiting at once; one more is refused as Unavailable. */
export const CHANGES_WAITERS_MAX = 256;
/** Changes a watch holds for its reader before it stops asking the nodes for more. */
export const WATCH_BUFFERED_CHANGES_MAX = 2000;
/** A watch's wait before it asks a range's nodes again once each has failed, doubling to WATCH_RETRY_DELAY_MAX_MS. */
export const WATCH_RETRY_DELAY_MS = 250;
export const WATCH_RETRY_DELAY_MAX_MS = 5000;
/**
 * Bytes of keys and values after which a scan call answers with what it has:
 * with one more replica page on top, a reply stays within the smallest frame.
 */
export const SCAN_REPLY_BYTES_MAX = 2 * 1024 * 1024;
/**
 * Rounds of replica pages one scan call makes before it answers, keys or
 * not: a long run of tombstones or an empty stretch of ranges is walked over
 * several calls, each holding the coordinator for a bounded time.
 */
export const SCAN_ROUNDS_MAX = 32;

/** Longest TTL a put may give: ten years, in seconds. */
export const TTL_SECONDS_MAX = 10 * 365 * 24 * 3600;

/**
 * Membership operations (membership/operator.ts, streaming/): the bytes of
 * keys and values one range stream moves per second, at most, so that a join
 * or decommission leaves the disks and the network to the client load.
 */
export const STREAM_BYTES_PER_SECOND_MAX = 48 * 1024 * 1024;
/**
 * Pages of one range stream on their way at once (read from the source and
 * not yet durable at the target): a stream holds at most this many times
 * STREAM_PAGE_BYTES_MAX in memory.
 */
export const STREAM_BATCHES_IN_FLIGHT_MAX = 4;
/**
 * Range streams one operation runs at once. An operation's memory for
 * streaming is at most this many times the window of one stream
 * (STREAM_BATCHES_IN_FLIGHT_MAX pages of STREAM_PAGE_BYTES_MAX). One: three
 * at once streamed 10-20% faster on a loaded two-core machine but took the
 * client writes down to a quarter to a half of their rate, against 80-96%
 * with one (docs/benchmarks.md).
 */
export const STREAM_RANGES_IN_PARALLEL_MAX = 1;
/** Keys in one page of a range stream (a readRange page: at most SCAN_REPLICA_PAGE_KEYS_MAX). */
export const STREAM_PAGE_KEYS_MAX = 1000;
/** Bytes of keys and values in one page of a range stream, about. */
export const STREAM_PAGE_BYTES_MAX = 1024 * 1024;
/**
 * How often a stream stores how far it is (the key after its last durable
 * page), at most: a save replaced the progress file whole (a write, a
 * rename: 370-530 µs of CPU) after every page, and held up the next read
 * while it ran. A stream that starts again sends again what it streamed
 * since its last save, at most this long's worth of pages (24 MiB at
 * STREAM_BYTES_PER_SECOND_MAX), which is harmless: the target merges them
 * by last-write-wins.
 */
export const STREAM_PROGRESS_SAVE_INTERVAL_MS = 500;
/** A page a stream could not read or write is tried again this many times (a timeout on a loaded node), then the operation stops. */
export const STREAM_PAGE_ATTEMPTS_MAX = 5;
/** How long an operation's step waits for the affected nodes to take up the previous epoch before it stops. */
export const EPOCH_BARRIER_TIMEOUT_MS = 60_000;
/** How often the barrier asks the nodes that have not taken up the epoch yet. */
export const EPOCH_BARRIER_POLL_MS = 100;
/** How long a node starting an operation waits for its peers' heartbeats (a new node knows nobody up yet). */
export const OPERATION_PEERS_UP_TIMEOUT_MS = 30_000;
/** How long a leaving node waits for the hints it holds to be delivered, and its logged batches written, before it exits anyway (and says so). */
export const DECOMMISSION_HINTS_DRAIN_TIMEOUT_MS = 60_000;
/** Proposals of one epoch slot before the operation gives up (each a full Paxos cas, which retries on its own). */
export const EPOCH_SLOT_ATTEMPTS_MAX = 5;
/** Times one epoch slot's cas may time out (its value perhaps chosen, not yet committed) before the operation gives up. */
export const EPOCH_SLOT_TIMEOUTS_MAX = 5;
/** Keys of a range the join planner keeps to find their median; past this it keeps every second one, and so on. */
export const TOKEN_SAMPLE_KEYS_MAX = 1_000_000;
/** How often the operator's tools ask a node where its operation is. */
export const OPERATION_POLL_MS = 500;
/** A node running an operation that does not answer the operator's tool for this long counts as gone. */
export const OPERATION_SILENCE_MS_MAX = 30_000;
/**
 * How long the operator's tool waits for a node to answer that its move or
 * decommission has started: the node catches up on the epoch log and
 * sequences the operation's first epoch (a Paxos round, tried again on a
 * timeout) before it answers. The status calls' 3 s ran out on a node
 * starved of CPU although the operation then started.
 */
export const OPERATION_START_ANSWER_TIMEOUT_MS = OPERATION_SILENCE_MS_MAX;
/** The last epochs an operation pushes with each barrier poll; a node further behind fetches the rest from the sender. */
export const EPOCH_PUSH_ENTRIES_MAX = 16;
/**
 * Times a request refused by a replica as placed by a stale epoch is placed
 * again after this node took up the log (each try waits at most
 * EPOCH_CATCH_UP_WAIT_MS for it); past it the request answers as it stands.
 */
export const EPOCH_RETRIES_MAX = 3;
/**
 * How long a node waits for the membership log from a peer that named a
 * newer epoch (on a request, or by refusing one of ours) before it goes on
 * with the log it has: the request must still answer within its timeout.
 */
export const EPOCH_CATCH_UP_WAIT_MS = 1_000;
/** How long a node that starts waits for its peers' logs before it serves with the epochs it has (and says so). */
export const EPOCH_START_CATCH_UP_MS = 5_000;
/**
 * How long a node that started without hearing enough of its ring
 * (membership/ring-heard.ts: a majority of its ring, itself counted) answers peers
 * but refuses clients, asking the nodes not heard yet at each heartbeat;
 * after it, it answers clients with the epochs it has, and says so. A whole
 * cluster started at once hears itself within a few heartbeats.
 */
export const EPOCH_START_MAJORITY_WAIT_MS = 30_000;
/** Placements of past epochs a node keeps, to judge requests placed by them (each a few KiB). */
export const EPOCH_PLACEMENTS_CACHED_MAX = 8;
/**
 * Keys a hash tree being rebuilt (a range that split, or that this node
 * newly replicates, when the ring changed) takes from the store per turn of
 * the event loop: the rebuild never holds the loop for longer than one page.
 */
export const TREE_BUILD_PAGE_KEYS = 2000;
/** The ring's own keys (epoch slots) a node counts to leave them out of its key count: one per epoch at most. */
export const RESERVED_KEYS_COUNTED_MAX = 100_000;
/**
 * Keys one cleanup batch removes (operations/cleanup.ts): one
 * transaction of row deletes, after which the commits queued meanwhile run,
 * so a cleanup holds writes back for one such batch at a time.
 */
export const CLEANUP_BATCH_KEYS_MAX = 1000;
/**
 * How long a node's measure of its reclaimable data (keys it holds outside
 * the ranges it replicates) is reused for its counters: measuring walks
 * those keys, and status, the dashboard and metrics read the counters often.
 * A new epoch or a cleanup measures again at once.
 */
export const RECLAIMABLE_MEASURE_INTERVAL_MS = 10_000;
/**
 * Steps an abort takes at most: reads-back and abort, each sequenced again
 * when the operation's own next step won its epoch first (then the abort
 * goes on from where that step left the operation).
 */
export const ABORT_STEPS_MAX = 4;
/**
 * How long the operator's tool waits for an abort to answer: its two steps,
 * each sequenced and waited for by the barrier (EPOCH_BARRIER_TIMEOUT_MS),
 * and the operation's run stopping first.
 */
export const ABORT_ANSWER_TIMEOUT_MS = 3 * EPOCH_BARRIER_TIMEOUT_MS;
/** A stream's pace can be set in the cluster file (settings.streamBytesPerSecond) down to this, for tests and slow links. */
export const STREAM_BYTES_PER_SECOND_MIN = 1024;
/**
 * The default pace of a stream while its node is loaded (settings.streamBytesPerSecondUnderLoad,
 * streaming/foreground-pace.ts): 2.25 MiB/s, about 20,000 keys/s of 100-byte values. On two cores
 * a million-key join took 54-56 s at this pace while a QUORUM write load kept 41-55% of its rate
 * (docs/benchmarks.md, A pace that follows the client load): a lower pace takes the join over a
 * minute, a higher one takes more from the writes.
 */
export const STREAM_BYTES_PER_SECOND_UNDER_LOAD = 2304 * 1024;
/**
 * Foreground operations a second (client requests coordinated, replica reads and writes served for
 * peers) from which a streaming node counts as loaded. One client writing one request at a time
 * gives a node a few hundred; a load that fills the machine, thousands.
 */
export const STREAM_LOADED_OPS_PER_SECOND_MIN = 1000;
/**
 * A loaded streaming node counts as idle again only under this many: a stream at full pace holds the
 * clients' rate down, so the way back needs the clients gone, not slowed (streaming/foreground-pace.ts).
 */
export const STREAM_IDLE_OPS_PER_SECOND_MAX = 100;
/** Windows in a row under the mark before a streaming node counts as idle (streaming/foreground-pace.ts): one second. */
export const STREAM_IDLE_WINDOWS = 2;
/** How long a stream's node counts its foreground operations before it judges its load again. */
export const STREAM_LOAD_WINDOW_MS = 500;
/** Moves `admin.sh rebalance --apply` makes at most in one run. */
export const REBALANCE_MOVES_MAX = 64;
/** How often a node looks whether it is quiet and holds garbage worth a collection (node/idle-collection.ts). */
export const IDLE_GC_CHECK_MS = 1000;
/**
 * Share of the last check interval the event loop may have been busy for
 * the node to count as quiet. The nodes of the restart workload idling with
 * heartbeats and anti-entropy only were under it (each collected once in
 * its 20 s of idling); a node taking load is well over it.
 */
export const IDLE_GC_BUSY_SHARE_MAX = 0.1;
/**
 * Heap bytes in use above what the last full collection left before a quiet
 * node collects: below this a collection would not be worth its pause (a
 * full collection of a node's heap stopped it for 17-99 ms on a loaded
 * machine).
 */
export const IDLE_GC_GARBAGE_BYTES_MIN = 8 * 1024 * 1024;

// Speculative reads (coordinator/speculation.ts).
/** A percentile is measured over at least this long, and at least SPECULATION_WINDOW_SAMPLES_MIN answers. */
export const SPECULATION_WINDOW_MS = 1000;
export const SPECULATION_WINDOW_SAMPLES_MIN = 100;
/**
 * The wait before the first window is measured: long enough never to fire
 * on a healthy cluster, short enough that a read of a paused replica is not
 * left to its timeout (requestTimeoutMs, 2 s by default).
 */
export const SPECULATION_UNMEASURED_DELAY_MS = 100;
/** A percentile's wait (setting speculativeRetry) is at least this (a timer cannot fire sooner) ... */
export const SPECULATION_DELAY_MIN_MS = 1;
/**
 * ... and at most this share of the request timeout, so that the extra
 * replica always has time to answer: after a replica was paused, its late
 * answers would otherwise push the percentile up to the pause's length.
 */
export const SPECULATION_DELAY_MAX_TIMEOUT_SHARE = 0.5;

// Tracing (coordinator/trace.ts).
/** Steps kept per trace; later ones are counted, not kept (a write's replicas and hints are a dozen at most). */
export const TRACE_EVENTS_MAX = 100;

// The slow request log (metrics/slow-requests.ts).
/** A request at least this slow is told to the node's log by default (settings.slowRequestMs; Cassandra's slow query log uses 500 ms too). */
export const SLOW_REQUEST_MS_DEFAULT = 500;
/** Slow requests are told in one line per this long, grouped by op, level and key. */
export const SLOW_REQUEST_REPORT_INTERVAL_MS = 5000;
/** Groups named in one line; slow requests beyond them are counted ("and N more"), so a burst makes one bounded line. */
export const SLOW_REQUEST_GROUPS_MAX = 20;
/** A key is shown in a log or trace line up to this many characters (escapes included), then cut (common/bytes.ts displayKey). */
export const KEY_SHOWN_CHARS_MAX = 64;

// Sampled tracing (coordinator/trace-sampler.ts).
/** Sampled traces a node keeps, the oldest dropped first: at most this many times TRACE_EVENTS_MAX steps in memory. */
export const SAMPLED_TRACES_KEPT = 200;

// Export and import (cli/copy.ts).
/** Keys an export asks for in one scan call. */
export const COPY_EXPORT_PAGE_KEYS = 1000;
/**
 * Lines an import writes in one unlogged batch, at most (BATCH_WRITES_MAX is
 * the node's limit). Lines a batch x batches in flight: 50 x 8 imported
 * 100,000 keys in 2.4-3.2 s here; 25 x 16, 10 x 32, 50 x 16, 100 x 4 and
 * 100 x 8 in 2.6-3.9 s; one put a key, 64 in flight, in 4.5-8.3 s.
 */
export const COPY_IMPORT_BATCH_WRITES_MAX = 50;
/** Keys' and values' bytes an import puts in one batch, at most; a larger entry goes alone (batchBytesMax still fits it). */
export const COPY_IMPORT_BATCH_BYTES_MAX = 1024 * 1024;
/** Batches an import keeps in flight at once. */
export const COPY_IMPORT_BATCHES_IN_FLIGHT_MAX = 8;
/** Largest --rate an import takes, keys a second (far above what a cluster takes: a typo, not a limit). */
export const COPY_IMPORT_RATE_MAX = 10_000_000;
/** Longest line an import reads: a largest value (1 MiB) in hex with its key, and room for a larger value setting. */
export const COPY_IMPORT_LINE_CHARS_MAX = 8 * 1024 * 1024;
