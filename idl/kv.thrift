/*
 * ringkv wire protocol: one service, framed transport, binary protocol.
 *
 * The client calls (put/get/remove/ping/cas) may be sent by anyone who can reach
 * the port. The internode and admin calls (replicate/readLocal/hello/dump/sync,
 * setClockOffset, paxosPrepare/paxosPropose/paxosCommit)
 * carry the cluster secret as their first argument; a node refuses them with
 * Unauthorized when it does not match.
 *
 * Timestamps are microseconds since the Unix epoch from the coordinator's
 * hybrid logical clock.
 */

namespace js ringkv

enum Level {
  ONE = 1,
  QUORUM = 2,
  ALL = 3,
  /**
   * Added later, for get only: the latest linearizable value, read through a
   * Paxos round (see cas). Clients that do not know it never send it.
   */
  SERIAL = 4,
  /**
   * Added later: two (TWO) or three (THREE) of the key's replicas, whatever
   * the replication factor, as Cassandra's levels of those names. Refused
   * with InvalidRequest where the factor is smaller. Clients that do not
   * know them never send them.
   */
  TWO = 5,
  THREE = 6,
  /**
   * Added later, for put, putWithTtl and remove only: answered once one copy
   * of the write is durable, on a replica or as a hint on the coordinator,
   * so it succeeds while every replica of the key is down; no read is sure
   * to see it until the hint is handed over. A read at ANY is refused with
   * InvalidRequest. Clients that do not know it never send it.
   */
  ANY = 7
}

/** The request itself is wrong (bad key, value, level, ...); retrying will not help. */
exception InvalidRequest {
  1: string message
}

/** Fewer replicas are alive than the level needs; nothing was written. */
exception Unavailable {
  1: string message,
  2: i32 needed,
  3: i32 alive
}

/**
 * The level was not reached in time. A write may be partly applied.
 * reason (added later, optional): "StorageFull" when replicas refused the
 * write because their disk is full, rather than answering too late.
 */
exception TimedOut {
  1: string message,
  2: i32 acked,
  3: i32 needed,
  4: optional string reason
}

/**
 * Internode (added later): the caller placed the request by an older epoch
 * than this node's, and the placement of a key it names changed since. The
 * caller takes up the membership log (up to `epoch`) and tries again. Sent
 * only to a caller that gave its epoch, so an older build never meets it.
 */
exception StaleEpoch {
  1: string message,
  2: i64 epoch
}

/** An internode or admin call without the right cluster secret. */
exception Unauthorized {
  1: string message
}

/** What a read returns. found=false means no live value (absent or deleted). */
struct ReadResult {
  1: bool found,
  2: binary value,
  3: i64 ts
}

/** One replica-level version of a key: a value or a tombstone. */
struct Mutation {
  1: binary key,
  2: binary value,
  3: i64 ts,
  4: bool deleted,
  /** (added later) A value with a TTL: µs since the epoch from which it reads as absent; absent for none. */
  5: optional i64 expires
}

/** A replica's answer for one key: exists=false means it holds nothing. */
struct LocalRead {
  1: bool exists,
  2: binary value,
  3: i64 ts,
  4: bool deleted,
  /** (added later) As Mutation.expires. */
  5: optional i64 expires
}

/** Anti-entropy: a replica's version of a key, without the value's bytes. */
struct Digest {
  1: binary key,
  2: i64 ts,
  3: bool deleted,
  /** A 32-bit hash of the value, to tell apart equal timestamps with different values. */
  4: i32 valueHash
}

/** Anti-entropy: what the callee found comparing the caller's digests with its own data. */
struct SyncReply {
  /** The callee's versions that are newer, or that the caller does not have. */
  1: list<Mutation> newer,
  /** Keys whose caller's version is newer, or that the callee does not have. */
  2: list<binary> missing,
  /** End (exclusive) of the key hashes compared: the range's end, or less when the reply hit its size limit. */
  3: i64 coveredTo
}

/** Repair: hashes of one level of a node's hash tree of a range (repair/hash-tree.ts). */
struct TreeHashes {
  /** 8 bytes per index asked: two unsigned 32-bit words, little-endian. */
  1: binary hashes,
  /** True while the callee is catching up: its copy is not yet repaired, and says nothing of what the range should hold. */
  2: optional bool catchingUp
}

/** Repair: the callee's digests of its keys of a range in the first `covered` segments asked. */
struct SegmentKeys {
  1: list<Digest> digests,
  2: i32 covered
}

/** Admin: what a full repair of a node's ranges did. */
struct RepairSummary {
  /** (range, peer) pairs compared, and those skipped because the peer was down. */
  1: i32 rangesCompared,
  2: i32 rangesSkipped,
  /** Tree segments that still differed after the re-check, and keys that differed in them. */
  3: i64 segmentsDiffered,
  4: i64 keysDiffered,
  /** Versions sent to peers and fetched from them, and their key and value bytes. */
  5: i64 keysSent,
  6: i64 keysFetched,
  7: i64 bytesSent,
  8: i64 bytesFetched,
  9: i64 elapsedMs,
  /** True when every pair compared ended with equal trees, or differing only by writes in flight. */
  10: bool agreed,
  /** Bytes of tree hashes and key digests exchanged. */
  11: i64 compareBytes
}

struct HintCount {
  1: i32 target,
  2: i32 count
}

/** Everything the inspector shows about one node. */
struct NodeDump {
  1: i32 id,
  2: list<Mutation> entries,
  3: list<HintCount> hints,
  4: map<string, i64> counters,
  5: list<i32> downPeers,
  /** True when entries stopped at the limit and another page follows. */
  6: bool more
}

/** What a cas answers: whether it was applied, and the key's value now (the new one when applied). */
struct CasResult {
  1: bool applied,
  2: ReadResult current
}

/** Internode (cas): a Paxos ballot, a hybrid-clock reading and the proposing node's id. */
struct Ballot {
  1: i64 ts,
  2: i32 node
}

/** Internode (cas): a value proposed under a ballot for one client request. */
struct Proposal {
  1: Ballot ballot,
  2: binary value,
  3: string requestId
}

/** Internode (cas): a replica's answer to a prepare, with its Paxos state and current version of the key. */
struct PaxosPromise {
  1: bool promised,
  /** When not promised: the newer ballot promised instead. */
  2: optional Ballot refusedBy,
  3: optional Proposal accepted,
  /** The most recent commit this replica knows. */
  4: optional Proposal committed,
  /** True when the prepare's request id is among the replica's recent commits. */
  5: bool requestCommitted,
  6: LocalRead current
}

/** Internode (membership streams): a recent commit's request id, with its ballot's timestamp (µs). */
struct RecentRequest {
  1: string requestId,
  2: i64 ts
}

/**
 * Internode (membership streams): one key's Paxos state on a replica, moved
 * with the range's values so that the node gaining the range knows which
 * cas requests were committed (a retry of one then answers applied).
 */
struct PaxosRow {
  1: binary key,
  2: optional Ballot promised,
  3: optional Proposal accepted,
  4: optional Proposal committed,
  /** Oldest first. */
  5: list<RecentRequest> recent
}

/** Internode (membership streams): a page of a replica's Paxos rows, in key order. */
struct PaxosRowsPage {
  1: list<PaxosRow> rows,
  /** True when the replica stopped at the limit: ask again after the last key. */
  2: bool more
}

/** Internode (cas): a replica's answer to a proposal. */
struct PaxosAccept {
  1: bool accepted,
  2: optional Ballot refusedBy
}

/**
 * One key of a scan and its value. (Added later) `expiresMicros`: when the
 * value expires (µs since 1970), absent when it does not. (Added later) `ts`:
 * the value's write timestamp (µs since 1970, the one last-write-wins
 * compares).
 */
struct ScanEntry {
  1: binary key,
  2: binary value,
  3: optional i64 expiresMicros,
  4: optional i64 ts
}

/** A page of a scan. */
struct ScanResult {
  /** Live keys in unsigned byte order. */
  1: list<ScanEntry> entries,
  /** True when the range may hold more keys: call scan again with `cursor`. */
  2: bool more,
  /** Where the next call goes on (set when more is true). */
  3: optional binary cursor
}

/** Internode (scans): a replica's versions of the keys of a range, in order, tombstones included. */
struct RangePage {
  1: list<Mutation> entries,
  /** True when the replica stopped at its limit before the range's end. */
  2: bool more
}

/** A node of the ring as the membership log's bootstrap names it. */
struct RingMember {
  1: i32 id,
  2: binary token
}

/**
 * One change of the ring's membership and its epoch (1, 2, 3, ...). `kind` is
 * one of bootstrap, join-begin, leave-begin, move-begin, replace-begin,
 * reads-switch, join-complete, leave-complete, move-complete,
 * replace-complete, reads-back, abort; the optional fields are those the kind needs
 * (docs/ARCHITECTURE.md, The epoch log).
 */
struct EpochChange {
  1: i64 epoch,
  2: string kind,
  /** The node the change is about (all kinds but bootstrap). */
  3: optional i32 node,
  /** join-begin: the joining node's token; move-begin: where the node moves to. */
  4: optional binary token,
  /** replace-begin: the node being replaced. */
  5: optional i32 replaces,
  /** bootstrap: the initial ring. */
  6: optional i32 replicationFactor,
  7: optional list<RingMember> members,
  /** join-begin, replace-begin: where the new node listens (the bootstrap nodes' addresses are the cluster file's). */
  8: optional string host,
  9: optional i32 port,
  /**
   * (added later) leave-begin of a removal: the node that runs the leave of
   * node `node`, which is down for good. A node of an older build takes the
   * change up as the leave it is, without it.
   */
  10: optional i32 by
}

/** A node's membership log after an epoch, and the node's own epoch. */
struct MembershipLog {
  1: i64 epoch,
  /** In epoch order, at most 1000: a caller further behind asks again after the last one. */
  2: list<EpochChange> changes,
  /**
   * The newest epoch this node has fully taken up: no write it coordinates
   * still runs under an older one. An operation's barrier waits on it.
   */
  3: optional i64 settledEpoch
}

/**
 * A node's own membership operation (a join it runs, its decommission or its move):
 * where it is and how much it streamed. `state` is the node's state
 * (JOINING, LEAVING, MOVING, NORMAL, LEFT); `error` the sentence that stopped it.
 */
struct OperationProgress {
  1: string state,
  2: i64 keys,
  3: i64 bytes,
  4: i32 rangesDone,
  5: i32 rangesTotal,
  /** About how much of the data to stream has been, from 0 to 1. */
  6: double fraction,
  7: bool done,
  8: optional string error
  /**
   * The pace the node's streams go at now, in bytes of keys and values a
   * second: the full pace on a quiet node, a share under client load.
   * Absent before the first page, once done, and from older nodes.
   */
  9: optional i64 paceBytesPerSecond
}

/**
 * A node's cleanup (deleting the data it holds for ranges it does not
 * replicate): keys and bytes (of keys and values) deleted so far, the epoch
 * whose ring it cleans for, whether it is done, and the sentence it stopped
 * with, if any.
 */
struct CleanupProgress {
  1: i64 keys,
  2: i64 bytes,
  3: i64 epoch,
  4: bool done,
  5: optional string error
}

/**
 * (added later) One write of a batch: `value`, or with `remove` a
 * tombstone (then no value). `ttlSeconds` as putWithTtl's (absent or 0:
 * none; not with remove). (Added later) `timestamp`: the write's timestamp
 * (µs since 1970) instead of the coordinator's clock, as CQL's `USING
 * TIMESTAMP`, so that a copy keeps the times its values were written; not
 * with remove, and at most 5 minutes ahead of the coordinator's clock. A
 * value's TTL counts from it. Nodes of an older build ignore it.
 */
struct BatchWrite {
  1: binary key,
  2: optional binary value,
  3: optional bool remove,
  4: optional i32 ttlSeconds,
  5: optional i64 timestamp
}

/**
 * (added later) A copy of a logged batch, kept by a node other than its
 * coordinator (storeBatchCopies): the batch's id in the coordinator's
 * batch log, when the coordinator logged it (ms since 1970 on its clock),
 * and its writes, stamped as the coordinator sends them.
 */
struct BatchCopy {
  1: i64 ownerBatch,
  2: i64 createdMs,
  3: list<Mutation> writes
}

/** (added later) Which copy a coordinator means in forgetBatchCopies. */
struct BatchCopyRef {
  1: i64 ownerBatch,
  2: i64 createdMs
}

/**
 * (added later) What a snapshot wrote: the file, on the node's machine,
 * its bytes, and how long writing it took.
 */
struct SnapshotInfo {
  1: string path,
  2: i64 bytes,
  3: i64 tookMs
}

/**
 * (added later) A snapshot a node holds: its name, the node's file in it,
 * its bytes, and when the file was last written (ms since 1970).
 */
struct SnapshotEntry {
  1: string name,
  2: string path,
  3: i64 bytes,
  4: i64 writtenMs
}

/**
 * (added later) What `trace` runs: a get, a put or a remove, as those calls
 * take them. op is "get", "put" or "remove"; value is a put's only.
 * (Added later still) A get at SERIAL, and op "cas": value is the new value,
 * `expected` the value the key must hold, or `expectAbsent` true; level the
 * commit's, QUORUM or ALL. A traced cas gets a fresh request id from the node.
 * (Added later still) op "scan": one page of a scan from `key` (empty: the
 * first key) up to `stop` (absent or empty: the last), at most `limit` keys
 * (default 1,000), as `scan` takes them.
 * (Added later still) op "getMany": `keys` the keys, as getMany takes
 * them; op "batch": `writes` the writes and `unlogged`, as batch takes
 * them. For both, `key` is their first key (the client routes by it) and
 * is not read.
 */
struct TraceRequest {
  1: string op,
  2: binary key,
  3: optional binary value,
  4: Level level,
  5: optional binary expected,
  6: optional bool expectAbsent,
  7: optional binary stop,
  8: optional i32 limit,
  9: optional list<binary> keys,
  10: optional list<BatchWrite> writes,
  11: optional bool unlogged
}

/** (added later) One step of a traced request, as its coordinator took it, with the µs since it began. */
struct TraceEvent {
  1: i64 elapsedMicros,
  2: string activity
}

/**
 * (added later) A traced request's outcome and steps. A get that succeeded
 * has `found` (its ReadResult; not named `read`, which would hide the
 * generated JavaScript struct's read method), a put or remove `ts`; a request that failed has `errorCode`
 * ("Unavailable", "TimedOut", "StorageFull") and its sentence in `error`,
 * since a failure's steps are the ones worth reading. `dropped`: steps past
 * the 100 kept. (Added later) A cas that ran has `applied`, and in `found`
 * the key's value after it (the new one when applied); a scan page `rows`,
 * the keys it answered with. (Added later still) A getMany that
 * succeeded has `results`, one ReadResult a key in the order asked, and
 * `rows`, how many were found; a batch has `ts`, its one timestamp.
 */
struct TraceReport {
  1: i32 coordinator,
  2: list<TraceEvent> events,
  3: optional ReadResult found,
  4: optional i64 ts,
  5: optional string errorCode,
  6: optional string error,
  7: optional i32 dropped,
  8: optional bool applied,
  9: optional i32 rows,
  10: optional list<ReadResult> results
}

/**
 * (added later) A request this node traced because it was sampled
 * (setTraceProbability), as recentTraces gives it: what was asked, when
 * (ms since 1970), how long until the client's answer (µs), and the trace
 * itself, in the form `trace` answers with.
 */
struct SampledTrace {
  1: string op,
  2: binary key,
  3: Level level,
  4: i64 startedMs,
  5: i64 durationMicros,
  6: TraceReport report
}

/**
 * (added later) One change of a node's change feed: a version of a key as
 * that node's log took it, at position `seq` of the log.
 */
struct Change {
  1: binary key,
  /** Empty for a deletion. */
  2: binary value,
  3: i64 ts,
  4: bool deleted,
  /** When the value expires (µs since 1970); absent when it does not. */
  5: optional i64 expires,
  6: i64 seq
}

/** (added later) A page of a node's change feed (see changes). */
struct ChangesPage {
  1: list<Change> changes,
  /** The log the positions belong to: a number the node draws at each start. */
  2: i64 incarnation,
  /** Where the next call goes on: pass it as afterSeq, with incarnation. */
  3: i64 position,
  /**
   * The position asked for was not one of this log's (another incarnation,
   * or before a deletion purged since): the page starts again from the
   * beginning of the range's log, and what follows is every version it holds.
   */
  4: bool restarted,
  /** Nothing more after position now. */
  5: bool caughtUp,
  /** The node's ring epoch: a newer one than the caller's means the ranges may have moved. */
  6: i64 epoch
}

service KeyValue {
  /** Writes key=value at the level; returns the write's timestamp. */
  i64 put(1: binary key, 2: binary value, 3: Level level)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable, 3: TimedOut timedOut),

  ReadResult get(1: binary key, 2: Level level)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable, 3: TimedOut timedOut),

  /** Deletes by writing a tombstone; returns its timestamp. */
  i64 remove(1: binary key, 2: Level level)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable, 3: TimedOut timedOut),

  /** Answers with the same bytes and does nothing else: the RPC stack's ceiling. */
  binary ping(1: binary payload)
    throws (1: InvalidRequest invalid),

  /**
   * Internode: apply versions on this replica; returns once they are durable.
   * `epoch`, `fromNode` (added later, absent from older builds): the caller's
   * membership epoch and id. A callee behind it takes up the caller's log
   * before it goes on; one ahead refuses with StaleEpoch when a key's
   * placement changed since the caller's epoch.
   */
  void replicate(1: string secret, 2: list<Mutation> mutations, 3: i64 epoch, 4: i32 fromNode)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /** Internode: this replica's versions of the keys, in order. `epoch`, `fromNode`: as replicate's. */
  list<LocalRead> readLocal(1: string secret, 2: list<binary> keys, 3: i64 epoch, 4: i32 fromNode)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /**
   * Internode: heartbeat, and "I am back" after a restart. Carries the
   * caller's clock reading and returns the callee's, so the hybrid logical
   * clocks of live nodes stay close together. `epoch`: the caller's membership
   * epoch (absent from older builds); a callee behind it fetches the log.
   */
  i64 hello(1: string secret, 2: i32 fromNode, 3: i64 clock, 4: i64 epoch)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * Admin: one page of the node's replica contents (keys after startAfter, in
   * byte order, at most limit of them), its hints and counters. With limit
   * <= 0 no entries: a status call that does not make the node sort its keys.
   */
  NodeDump dump(1: string secret, 2: binary startAfter, 3: i32 limit)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * Internode (anti-entropy): compares the caller's versions of the keys
   * that both nodes replicate and whose 32-bit key hash is in
   * [fromHash, toHash), 0 <= fromHash < toHash <= 2^32, with this node's own.
   */
  SyncReply sync(1: string secret, 2: i32 fromNode, 3: i64 fromHash, 4: i64 toHash, 5: list<Digest> digests)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * Admin fault switch for testing: sets the offset (ms, may be negative) of
   * this node's physical clock source. The hybrid clock still never goes
   * backwards. Returns the clock's reading after the change.
   */
  i64 setClockOffset(1: string secret, 2: i32 offsetMs)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * Compare-and-set, linearizable per key (a Paxos round among the key's
   * replicas): writes value only if the key now holds expected, or, with
   * expectAbsent, holds nothing. requestId (at most 64 bytes, the same on
   * every retry of one request) makes retries exactly-once: a retry of a cas
   * that was applied answers applied=true. level is the commit's: QUORUM or
   * ALL. TimedOut means the outcome is unknown; retry with the same requestId.
   */
  CasResult cas(1: binary key, 2: bool expectAbsent, 3: binary expected, 4: binary value, 5: string requestId, 6: Level level)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable, 3: TimedOut timedOut),

  /** Internode (cas): Paxos phase 1 for a key. `epoch`, `fromNode` (these three calls): as replicate's. */
  PaxosPromise paxosPrepare(1: string secret, 2: binary key, 3: Ballot ballot, 4: string requestId, 5: i64 epoch, 6: i32 fromNode)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /** Internode (cas): Paxos phase 2 for a key. */
  PaxosAccept paxosPropose(1: string secret, 2: binary key, 3: Proposal proposal, 4: i64 epoch, 5: i32 fromNode)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /** Internode (cas): the proposal was chosen; returns once its value and the commit are durable here. */
  void paxosCommit(1: string secret, 2: binary key, 3: Proposal proposal, 4: i64 epoch, 5: i32 fromNode)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /**
   * Internode (repair): this node's hashes at `indices` of one level (0 root,
   * 1 branches, 2 leaves) of its hash tree of the range owned by node
   * `range`, which both nodes must replicate. Added later (absent from older
   * builds): `epoch`, the caller's, and the range as the keys after
   * `rangeStart` up to and including `rangeEnd` (the current ring's ranges
   * are named by their bounds, not by an owner: a node may own two while it
   * moves); a callee that keeps no tree of exactly that range refuses, with
   * StaleEpoch when its epoch differs from the caller's.
   */
  TreeHashes treeHashes(1: string secret, 2: i32 fromNode, 3: i32 range, 4: i32 level, 5: list<i32> indices, 6: i64 epoch, 7: binary rangeStart, 8: binary rangeEnd)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /** Internode (repair): digests of this node's keys of the range in these tree segments, in the order asked. `epoch`, `rangeStart`, `rangeEnd`: as treeHashes'. */
  SegmentKeys segmentKeys(1: string secret, 2: i32 fromNode, 3: i32 range, 4: list<i32> segments, 5: i64 epoch, 6: binary rangeStart, 7: binary rangeEnd)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /**
   * Internode (repair): this replica's versions of the keys, in order, as
   * readLocal; answered also while this node is catching up (readLocal is
   * refused then, so that its copy counts towards no read). The answer may
   * stop after some megabytes of values: it is then for the first keys only.
   */
  list<LocalRead> fetchVersions(1: string secret, 2: list<binary> keys)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * Admin: repairs every range this node replicates now, with each of its
   * other replicas (only those in `peers`, when not empty); returns when done.
   */
  RepairSummary repair(1: string secret, 2: list<i32> peers)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: Unavailable unavailable),

  /**
   * The live keys in [start, stop) in unsigned byte order, at most `limit`
   * (1 to 10000), read at `level` range by range: each range from as many
   * replicas as the level needs, newest version winning, and (at every level
   * but ONE) replicas that were behind repaired before the answer. An empty start is the first key,
   * an empty stop the last. Pass the result's cursor to go on; an empty
   * cursor starts at `start`.
   */
  ScanResult scan(1: binary start, 2: binary stop, 3: Level level, 4: i32 limit, 5: binary cursor)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable, 3: TimedOut timedOut),

  /** Internode (scans): this replica's versions of the keys in [start, stop) (empty stop: no end), at most limit, about bytesMax. `epoch`, `fromNode`: as replicate's. */
  RangePage readRange(1: string secret, 2: binary start, 3: binary stop, 4: i32 limit, 5: i32 bytesMax, 6: i64 epoch, 7: i32 fromNode)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /**
   * Internode (membership streams), added later: this replica's Paxos rows of
   * the keys in [start, stop) (empty stop: no end), at most limit (1 to
   * 200). `epoch`, `fromNode`: as replicate's.
   */
  PaxosRowsPage paxosRows(1: string secret, 2: binary start, 3: binary stop, 4: i32 limit, 5: i64 epoch, 6: i32 fromNode)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /**
   * Internode (membership streams), added later: another replica's Paxos rows
   * (at most 200), each merged with this replica's state of the key; returns
   * once durable.
   */
  void paxosMerge(1: string secret, 2: list<PaxosRow> rows, 3: i64 epoch, 4: i32 fromNode)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: StaleEpoch stale),

  /** put with a time to live: after ttlSeconds (1 to 10 years) the value reads as not found and is purged like a tombstone. */
  i64 putWithTtl(1: binary key, 2: binary value, 3: Level level, 4: i32 ttlSeconds)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable, 3: TimedOut timedOut),

  /**
   * The node's membership changes after `afterEpoch` (0 for all of them) and
   * its current epoch: how a node or client that is behind catches up. No
   * secret: the ring's tokens are what a token-aware client needs to route,
   * and they are no secret.
   */
  MembershipLog membership(1: i64 afterEpoch)
    throws (1: InvalidRequest invalid)

  /**
   * Internode: the sender's last epochs, in order, for a node that is behind
   * to take up (one further behind fetches the rest with membership); answers
   * with the receiver's epoch and settled epoch (no changes). An operation
   * pushes each new epoch with it and polls it for its barrier.
   */
  MembershipLog learnEpochs(1: string secret, 2: i32 fromNode, 3: MembershipLog log)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * Admin: this node leaves the ring, streaming its ranges to their new
   * replicas, and its process exits at the end. Starts it on the first call;
   * every call answers where it is, so the operator polls it.
   */
  OperationProgress decommission(1: string secret)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /** Admin: where this node's own operation is (its join, its decommission). */
  OperationProgress operationProgress(1: string secret)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * Admin: with start, this node deletes the data it holds for ranges it no
   * longer replicates, in the background (refused while a membership
   * operation runs; a cleanup running already goes on); without, only
   * reports. Answers where the last cleanup is, so the operator polls it.
   */
  CleanupProgress cleanup(1: string secret, 2: bool start)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid)

  /**
   * Admin: this node moves to `token`: the ranges that change hands stream
   * from the replicas that give them up, and the node is NORMAL at its new
   * token at the end. Starts it on the first call (the move-begin is
   * sequenced before the answer, so a refusal comes back here and changes
   * nothing); every call answers where it is, so the operator polls it, or
   * operationProgress.
   */
  OperationProgress move(1: string secret, 2: binary token)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: Unavailable unavailable),

  /**
   * Admin: undoes the membership operation in progress (a join, leave, move
   * or replace not yet complete), back to the placement before it, and stops
   * its streams; any node can be asked. Answers once the abort's epochs are
   * taken up, with the operation aborted in words.
   */
  string abortOperation(1: string secret)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: Unavailable unavailable),

  /**
   * (added later) Reads several keys at one level in one call: one
   * ReadResult per key, in the order asked (a key asked twice is read
   * twice). Each key is read as `get` reads it, at ONE, TWO, THREE, QUORUM
   * or ALL (not SERIAL, which reads one key through Paxos). At most 100
   * keys a call, and at most half a frame of values in the answer: too
   * many is InvalidRequest. When any key cannot be read at the level, the
   * call fails as a whole with that key's error (Unavailable, TimedOut),
   * as Cassandra's `IN` query does.
   */
  list<ReadResult> getMany(1: list<binary> keys, 2: Level level)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable, 3: TimedOut timedOut),

  /**
   * (added later) A logged batch: writes 1 to 100 distinct keys at one
   * level (ANY too, not SERIAL), all with one timestamp, which it returns.
   * The coordinator makes the batch durable in its batch log before it
   * sends any write, and writes it again from there until every key has
   * reached its level: once one write of a batch is applied, all of them
   * will be (unless the coordinator's disk is lost). Not isolated: a
   * reader may see some of the writes before the others. Unavailable,
   * checked for every key first, means nothing was written; TimedOut
   * names the first key that missed its level, and the batch stays logged
   * and is written again. At most half a frame of keys and values (4 MiB
   * at the default value limit): more is InvalidRequest.
   * `unlogged` (added later; absent: false): Cassandra's UNLOGGED BATCH.
   * The same checks and one timestamp, but no batch log and no copies, so
   * it costs what its writes cost; a write that fails may leave the batch
   * applied in part for good (TimedOut says so).
   */
  i64 batch(1: list<BatchWrite> writes, 2: Level level, 3: bool unlogged)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable, 3: TimedOut timedOut),

  /**
   * (added later) Internode: copies of logged batches that `fromNode`
   * coordinates, for this node's batch log; answers once they are durable.
   * A coordinator stores a copy of each batch on two other live nodes
   * before it sends the batch's writes, so that the batch outlives the
   * coordinator's disk. This node writes a copy itself, at ONE, once it is
   * older than twice the request timeout, its coordinator has not told it
   * to forget it, and the coordinator, asked (heldBatches), no longer holds
   * the batch or cannot answer. A copy held already is acknowledged again. At most 64
   * copies a call and 100 writes a copy; Unavailable while this node's
   * batch log is full.
   */
  void storeBatchCopies(1: string secret, 2: i32 fromNode, 3: list<BatchCopy> copies)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: Unavailable unavailable),

  /**
   * (added later) Internode: `fromNode` has written these batches: this
   * node drops its copies of them (one it does not hold is no error).
   * At most 64 a call.
   */
  void forgetBatchCopies(1: string secret, 2: i32 fromNode, 3: list<BatchCopyRef> copies)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * (added later) Internode: a holder asks the coordinator of these batches
   * (this node) which of them its batch log still holds, by id and time.
   * Those it holds it writes itself, so the holder keeps its copies and
   * asks again later; the others were written, or lost with this node's
   * disk, and the holder writes its copies. At most 64 a call.
   */
  list<BatchCopyRef> heldBatches(1: string secret, 2: i32 fromNode, 3: list<BatchCopyRef> batches)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * (added later) Admin: writes a consistent copy of this node's data file
   * (its rows, hints, batch log, ring log and Paxos state, as a restart
   * would find them) under its data directory, in snapshots/<name>/, while
   * it serves. `name`: 1 to 64 letters, digits, '.', '_' or '-', not
   * starting with '.', and not taken on this node. Unavailable while
   * another snapshot is being written or when the copy cannot be written
   * (a full disk, say); nothing is left of a failed one.
   */
  SnapshotInfo snapshot(1: string secret, 2: string name)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: Unavailable unavailable),

  /** (added later) Admin: the snapshots this node holds a file in, by name (at most 1,000). */
  list<SnapshotEntry> listSnapshots(1: string secret)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * (added later) Admin: deletes this node's file of snapshot `name` (and
   * its directory once empty). InvalidRequest when it holds none by that
   * name; Unavailable while that snapshot is being written.
   */
  void clearSnapshot(1: string secret, 2: string name)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: Unavailable unavailable),

  /**
   * (added later) Runs one get, put or remove (later also a cas, a scan
   * page, a getMany or a batch; see TraceRequest) as usual and answers with what
   * its coordinator did, step by step (Cassandra's TRACING ON): whom it
   * asked, who answered what and when, speculative asks, read repairs,
   * hints, and for a write, each replica's acknowledgement until every live
   * one answered (or the request timeout). Unavailable and TimedOut are not
   * thrown but reported, with the steps that led to them.
   */
  TraceReport trace(1: TraceRequest request)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable),

  /**
   * (added later) Sets the share of client requests (get, put, remove, cas,
   * scan) this node coordinates that it traces and keeps, from 0 (none, the
   * start) to 1 (all; Cassandra's nodetool settraceprobability). Answers
   * the share before. A restart sets it back to 0.
   */
  double setTraceProbability(1: string secret, 2: double probability)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /** (added later) The sampled traces this node keeps (the last 200), newest first, at most `limit`. */
  list<SampledTrace> recentTraces(1: string secret, 2: i32 limit)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid),

  /**
   * (added later) This node's change feed of the keys in [start, stop)
   * (empty stop: no end), which must lie in one range of the ring that this
   * node takes reads of: the versions its log took, in the order it took
   * them, after position afterSeq of log incarnation (afterSeq 0: from the
   * beginning of the log, every version it holds; -1: from now on), at most
   * limit (1 to 1000). With no change yet, waits up to waitMs (0 to 10000)
   * for one. Unavailable when this node does not take reads of the range
   * (the ring moved, or it is catching up) or has too many calls waiting:
   * ask another of its replicas, from the beginning.
   */
  ChangesPage changes(1: binary start, 2: binary stop, 3: i64 incarnation, 4: i64 afterSeq, 5: i32 limit, 6: i32 waitMs)
    throws (1: InvalidRequest invalid, 2: Unavailable unavailable),

  /**
   * (added later) Admin: this node removes node `node`, which is down for
   * good, from the ring (Cassandra's nodetool removenode): a leave run here,
   * each range the dead node gives up copied to the replica that gains it
   * from every surviving replica of the range. Refused while node `node`
   * answers (decommission it instead). Starts it on the first call (the
   * begin is sequenced before the answer, so a refusal changes nothing);
   * every call answers where it is, so the operator polls it, or
   * operationProgress, on this node.
   */
  OperationProgress removeNode(1: string secret, 2: i32 node)
    throws (1: Unauthorized unauthorized, 2: InvalidRequest invalid, 3: Unavailable unavailable)
}
