/**
 * The operator's side of membership operations: planning a join (the next
 * node id and a token), and following a join or a decommission on the node
 * that runs it (its operationProgress) until it is done, with a progress
 * line. The nodes do the work; this only asks and shows.
 */
import { fromByteString, mebibytes, toByteString } from '../common/bytes';
import { isKvError, KvError } from '../common/errors';
import {
  OPERATION_POLL_MS,
  OPERATION_SILENCE_MS_MAX,
  STREAM_PAGE_BYTES_MAX,
  STREAM_PAGE_KEYS_MAX,
  TOKEN_SAMPLE_KEYS_MAX,
} from '../common/limits';
import type { ClusterConfig } from '../config/cluster';
import { loadTls } from '../config/tls';
import { applyChange, Membership, replayLog, ringMembers } from '../membership/changes';
import { EPOCH_SLOT_KEY_PREFIX } from '../membership/epoch-log';
import { Placement } from '../membership/placement';
import { intervalsOf } from '../membership/stream-plan';
import { splitToken } from '../membership/tokens';
import type { types } from '../rpc/thrift';
import { NodeAdmin, NodeEndpoint } from './client';
import { STATUS_TIMEOUT_MS } from './status';

/** An admin connection to a node of the cluster, over TLS when the cluster file says so. */
export function adminAt(config: ClusterConfig, at: NodeEndpoint): NodeAdmin {
  return new NodeAdmin(at, config.secret, STATUS_TIMEOUT_MS, loadTls(config));
}

/** The membership of the first node (cluster file order) that gives its log. */
export async function currentMembership(config: ClusterConfig): Promise<Membership> {
  const failures: string[] = [];
  for (const n of config.nodes) {
    const admin = adminAt(config, n);
    try {
      return replayLog((await admin.membership()).entries);
    } catch (err) {
      if (!isKvError(err)) throw err;
      failures.push(`node ${n.id}: ${err.message}`);
    } finally {
      admin.close();
    }
  }
  throw new KvError('Unavailable', `the cluster is not answering: no node gave its membership log (${failures.join('; ')})`);
}

/** Where node `id` listens: the cluster file's address, or the one its join named. */
export function endpointOf(config: ClusterConfig, m: Membership, id: number): NodeEndpoint {
  const member = m.members.find((n) => n.id === id);
  if (member === undefined)
    throw new KvError('InvalidRequest', `there is no node ${id} in the ring (nodes: ${m.members.map((n) => n.id).join(', ')})`);
  const known = config.nodes[id];
  if (known !== undefined) return known;
  if (member.host === undefined || member.port === undefined) throw new KvError('InvalidRequest', `node ${id}'s address is not known`);
  return { host: member.host, port: member.port };
}

/** The keys node `holder` has in (start, end], in byte order; at most TOKEN_SAMPLE_KEYS_MAX, evenly thinned past that. */
async function keysIn(admin: NodeAdmin, start: string, end: string): Promise<string[]> {
  let keys: string[] = [];
  let step = 1;
  let seen = 0;
  for (const { from, to } of intervalsOf(start, end)) {
    let cursor = from;
    for (;;) {
      const page = await admin.readRange(fromByteString(cursor), fromByteString(to ?? ''), STREAM_PAGE_KEYS_MAX, STREAM_PAGE_BYTES_MAX);
      for (const e of page.entries) {
        if (seen++ % step === 0) keys.push(toByteString(e.key));
        if (keys.length >= TOKEN_SAMPLE_KEYS_MAX) {
          keys = keys.filter((_, i) => i % 2 === 0);
          step *= 2;
        }
      }
      if (!page.more || page.entries.length === 0) break;
      cursor = `${toByteString(page.entries[page.entries.length - 1]!.key)}\u0000`;
    }
  }
  return keys;
}

export interface JoinPlan {
  readonly id: number;
  readonly token: string;
  /** How the token was chosen, for the operator. */
  readonly why: string;
}

/**
 * The next node id (ids are never reused) and the token to join at: the
 * one given, else the median key of the busiest node's primary range (the
 * byte midpoint when it holds too few keys). Refused, in one sentence,
 * when the membership does not allow a join now.
 */
export async function planJoin(config: ClusterConfig, token: string | undefined): Promise<JoinPlan> {
  const m = await currentMembership(config);
  const id = Math.max(...m.members.map((n) => n.id), config.nodes.length - 1) + 1;
  if (token !== undefined) {
    applyChange(m, { epoch: m.epoch + 1, change: { kind: 'join-begin', node: id, token } });
    return { id, token, why: 'given' };
  }
  applyChange(m, { epoch: m.epoch + 1, change: { kind: 'join-begin', node: id, token: '\u0000' } });
  const busiest = await busiestRange(config, m);
  const chosen = splitToken(busiest.start, busiest.end, busiest.keys);
  return {
    id,
    token: chosen,
    why: `splits node ${busiest.owner}'s primary range, the one holding the most keys (${busiest.keys.length}${busiest.keys.length >= TOKEN_SAMPLE_KEYS_MAX / 2 ? ' or more' : ''})`,
  };
}

/**
 * The primary range (the one a node's token ends) holding the most keys,
 * with its keys, each read from its owner. Every range is read once.
 */
async function busiestRange(config: ClusterConfig, m: Membership): Promise<{ owner: number; start: string; end: string; keys: string[] }> {
  let best: { owner: number; start: string; end: string; keys: string[] } | undefined;
  const failures: string[] = [];
  for (const range of Placement.of(m).ranges) {
    const owner = range.reads[0]!;
    const admin = adminAt(config, endpointOf(config, m, owner));
    try {
      const keys = (await keysIn(admin, range.start, range.end)).filter((k) => !k.startsWith(EPOCH_SLOT_KEY_PREFIX));
      if (best === undefined || keys.length > best.keys.length) best = { owner, start: range.start, end: range.end, keys };
    } catch (err) {
      if (!isKvError(err)) throw err;
      failures.push(`node ${owner}: ${err.message}`);
    } finally {
      admin.close();
    }
  }
  if (best === undefined) throw new KvError('Unavailable', `the cluster is not answering (${failures.join('; ')})`);
  return best;
}

/** One poll of an operation, for the progress line. */
export interface OperationView {
  readonly progress: types.OperationProgress;
  readonly elapsedMs: number;
}

/** The progress line: keys, bytes, rate, ETA. */
export function progressLine(what: string, v: OperationView): string {
  const p = v.progress;
  const keys = Number(p.keys);
  const seconds = Math.max(v.elapsedMs / 1000, 0.001);
  const rate = Math.round(keys / seconds);
  const eta = p.fraction > 0.01 && p.fraction < 1 ? `, ETA ${Math.ceil((seconds * (1 - p.fraction)) / p.fraction)} s` : '';
  const pace = p.paceBytesPerSecond != null ? `, paced at ${mebibytes(Number(p.paceBytesPerSecond))}/s` : '';
  return `${what}: ${p.state}, ${keys} keys, ${mebibytes(Number(p.bytes))}, ${rate} keys/s${pace}, ranges ${p.rangesDone}/${p.rangesTotal}${eta}`;
}

/**
 * Polls the node's operation until `finished` says it is done; throws the
 * node's error, or an Unavailable when the node stays silent for too long
 * or `alive` says it is gone (its process exited, or it has left the ring).
 */
export async function followOperation(
  admin: NodeAdmin,
  finished: (p: types.OperationProgress) => boolean,
  show: (v: OperationView) => void,
  alive: () => boolean | Promise<boolean>,
): Promise<types.OperationProgress> {
  const started = Date.now();
  let lastHeard = Date.now();
  for (;;) {
    try {
      const progress = await admin.operationProgress();
      lastHeard = Date.now();
      show({ progress, elapsedMs: Date.now() - started });
      if (progress.error) throw new KvError('Unavailable', progress.error);
      if (finished(progress)) return progress;
    } catch (err) {
      if (!isKvError(err, 'ConnectionError') && !isKvError(err, 'TimedOut')) throw err;
      if (!(await alive()) || Date.now() - lastHeard > OPERATION_SILENCE_MS_MAX)
        throw new KvError('Unavailable', `the node stopped answering (${err.message})`);
    }
    await new Promise((resolve) => setTimeout(resolve, OPERATION_POLL_MS));
  }
}

/**
 * The ring members to ask (every one, or `only`), each with an admin
 * connection waiting `timeoutMs` a call. A node not in the ring, or one
 * that left, is refused in one sentence before any node is asked.
 */
export async function memberAdmins(
  config: ClusterConfig,
  only: number | undefined,
  timeoutMs = STATUS_TIMEOUT_MS,
): Promise<{ id: number; admin: () => NodeAdmin }[]> {
  const m = await currentMembership(config);
  const ids = only === undefined ? ringMembers(m).map((n) => n.id) : [only];
  if (only !== undefined && m.members.find((n) => n.id === only)?.state === 'LEFT')
    throw new KvError('InvalidRequest', `node ${only} has left the ring; it holds no data`);
  return ids.map((id) => {
    const at = endpointOf(config, m, id);
    return { id, admin: () => new NodeAdmin(at, config.secret, timeoutMs, loadTls(config)) };
  });
}

/** Runs `call` on each target at once; a node's operating error becomes its `error`. */
export async function onEach<T>(
  targets: { id: number; admin: () => NodeAdmin }[],
  call: (admin: NodeAdmin, id: number) => Promise<T>,
): Promise<(T | { node: number; error: string })[]> {
  return Promise.all(
    targets.map(async ({ id, admin: open }) => {
      const admin = open();
      try {
        return await call(admin, id);
      } catch (err) {
        if (!isKvError(err)) throw err;
        return { node: id, error: err.message };
      } finally {
        admin.close();
      }
    }),
  );
}
