/**
 * The coalescing a run achieved: how many internode calls each node made and
 * how many items they carried. A node coalesces the mutations (`replicate`)
 * and reads (`readLocal`) it sends one peer in one event-loop turn into one
 * call, and counts both since it started (the counters of its `dump` admin
 * call); the benchmark reads them before and after a measured run.
 */
import type { NodeAdmin } from '../client/client';
import { int64ToNumber, Int64 } from '../rpc/thrift';

/** The counters a node keeps of the calls it sent its peers, summed over peers. */
export const PEER_CALL_COUNTERS = ['replicateCalls', 'replicateItems', 'readLocalCalls', 'readLocalItems'] as const;

export type PeerCalls = Record<(typeof PEER_CALL_COUNTERS)[number], number>;

/** By node id; null for a node that did not answer. */
export type PeerCallsByNode = Record<string, PeerCalls | null>;

/** The peer-call counters of a dump's counters; undefined if one is missing (a node of an older build). */
export function peerCallsOf(counters: Record<string, Int64 | number>): PeerCalls | undefined {
  const out: Partial<PeerCalls> = {};
  for (const name of PEER_CALL_COUNTERS) {
    // The node's counter collector names them peers.<name> (node/node.ts).
    const v = counters[`peers.${name}`];
    if (v === undefined) return undefined;
    out[name] = int64ToNumber(v);
  }
  return out as PeerCalls;
}

/** What each node sent between two readings; null for a node missing from either. */
export function peerCallsDelta(before: PeerCallsByNode, after: PeerCallsByNode): PeerCallsByNode {
  const out: PeerCallsByNode = {};
  for (const id of Object.keys(before)) {
    const b = before[id];
    const a = after[id];
    if (!b || !a) {
      out[id] = null;
      continue;
    }
    const d: Partial<PeerCalls> = {};
    for (const name of PEER_CALL_COUNTERS) d[name] = a[name] - b[name];
    out[id] = d as PeerCalls;
  }
  return out;
}

/** Items per call; null for no calls. */
export function itemsPerCall(calls: number, items: number): number | null {
  return calls > 0 ? items / calls : null;
}

/** Reads every node's counters, one admin connection at a time; `admin(id)` opens one to node id. */
export async function readPeerCalls(ids: readonly number[], admin: (id: number) => NodeAdmin): Promise<PeerCallsByNode> {
  const out: PeerCallsByNode = {};
  for (const id of ids) {
    const a = admin(id);
    try {
      out[String(id)] = peerCallsOf((await a.status()).counters) ?? null;
    } catch {
      out[String(id)] = null;
    } finally {
      a.close();
    }
  }
  return out;
}
