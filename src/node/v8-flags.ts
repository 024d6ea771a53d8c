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
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * Environment every node process is started with, beside NODE_V8_FLAGS (and
 * repeated in scripts/common.sh the same way).
 *
 * MALLOC_MMAP_THRESHOLD_=1048576: glibc's malloc serves requests of 1 MiB
 * and more with their own mappings, returned to the system when freed.
 * Unset, the threshold moves: each freed mapping raises it to its size (up
 * to 32 MiB), so once a replay freed the memtable's old arrays as they
 * doubled, its later transients (the key sort's arrays, SQLite's result
 * buffers) came from the heap instead and left holes there that the
 * system never got back. A node that replayed a million keys kept 258 MB
 * resident against 238 MB with the threshold fixed, its data the same; the
 * node that wrote them held 241 MB. Requests below 1 MiB, the common ones,
 * stay on the heap as before.
 */
export const NODE_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '1048576' };
