/**
 * V8 flags every node process is started with (by the harness, the chaos
 * checker's namespaces and scripts/common.sh, which repeats them; a unit
 * test checks that it does).
 *
 * --max-semi-space-size=4 (MB; V8's default on 64-bit is 16): a node's young
 * generation stays small. A node keeps its data outside the V8 heap (see
 * storage/memtable.ts), so the young generation holds only short-lived
 * request objects; a large one mostly holds garbage that counts in the
 * node's resident memory. Replaying a million log rows at start left
 * 316 MB resident against 278-285 MB with 4 MB, and at 11,000 writes/s p99
 * was no worse (docs/benchmarks.md).
 *
 * --expose-gc: a node collects its garbage once, right after the replay
 * (node/node.ts, collectReplayGarbage), and never otherwise by hand.
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--expose-gc'];
