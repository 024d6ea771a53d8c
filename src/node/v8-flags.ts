/**
 * V8 flags and environment every node process is started with (by the
 * harness, the chaos checker's namespaces and scripts/common.sh, which
 * repeats them; a unit test checks that it does).
 *
 * --max-semi-space-size=4 (MB; V8's default on 64-bit is 16): a node's young
 * generation stays small. A node keeps its data outside the V8 heap (see
 * storage/memtable.ts), so the young generation holds only short-lived
 * request objects; a large one mostly holds garbage that counts in the
 * node's resident memory. Replaying a million log rows at start left
 * 316 MB resident against 278-285 MB with 4 MB, and at 11,000 writes/s p99
 * was no worse (docs/benchmarks.md).
 *
 * --heap-growing-percent=100: after each full collection V8 lets the old
 * generation grow to twice what was live before the next one, where it
 * would otherwise pick up to four times (the more so the idler the node
 * was at that collection). A node's live heap is small (its data is off the
 * heap), so the difference is mostly garbage resident between collections:
 * a node restarted with a million keys peaked at 269.5 MB taking its hints
 * where it had reached 292.0 MB (heap 36 MB against 55 MB; one run each).
 * The price is more full collections under load: in one profiled pair of
 * QUORUM write runs the collector took 5.2% of the nodes' main threads
 * against 4.7% (docs/benchmarks.md).
 *
 * --expose-gc: a node collects its garbage right after the replay
 * (node/start-state.ts, collectReplayGarbage) and when it turns quiet holding
 * garbage (node/idle-collection.ts), never otherwise by hand.
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=100', '--expose-gc'];

/**
 * Environment added to a node process's own.
 *
 * MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own malloc
 * arena, up to eight per core, and keeps what each arena freed for that
 * arena. A node's SQLite statements run on libuv's four pool threads, so a
 * replay left their arenas holding memory the main thread could not reuse.
 * Two arenas (the main thread's and one the pool threads share; they run one
 * statement at a time, so they hardly contend) held a replayed million-key
 * store in 12 MB less, and its peak while it took 75,000 writes after the
 * replay 8-14 MB lower (docs/benchmarks.md).
 */
export const NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
