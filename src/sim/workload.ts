/**
 * The simulated clients: each a loop of puts, gets and deletes at a random
 * level, on a small key set (so that operations on one key overlap), each
 * sent to a node picked at random (usually one of the key's replicas in the
 * ring the clients learnt, its write replicas for a write and its read
 * replicas for a read, as a token-aware client would; sometimes any node of
 * that ring) and recorded in the history the chaos checker reads. Values
 * are unique across the run.
 */
import { History, ReadOp, TOMBSTONE_VALUE, WriteOp } from '../chaos/history';
import { LevelName, WriteLevelName } from '../coordinator/levels';
import type { Random } from '../common/random';
import type { KvNode } from '../node/node';
import { KEY_LETTERS } from './cluster';
import { clientCall, SimNetwork } from './network';
import type { SimRing } from './ring';

/**
 * The levels the simulated clients draw from: the three there were when its
 * seeds were found, so that a seed keeps its trace. TWO and THREE need the
 * replicas QUORUM and ALL need at three replicas, so they add no case here.
 */
const SIM_LEVELS: readonly LevelName[] = ['ONE', 'QUORUM', 'ALL'];
/** With anyWrites, the share of writes that go at ANY instead of their drawn level. */
const ANY_WRITES_SHARE = 0.25;
/** With batches, the share of puts that go as a logged batch, with BATCH_KEYS_MAX keys at most. */
const BATCH_SHARE = 0.25;
const BATCH_KEYS_MAX = 3;
/** Of those batches, the share sent unlogged: all or nothing is not promised for them, but each write is checked as any put is. */
const UNLOGGED_SHARE = 0.25;

/** A batch the clients sent: one write op per key, sharing one answer; the node it was sent to; whether it went unlogged. */
export interface BatchRecord {
  readonly node: number;
  readonly ops: readonly WriteOp[];
  readonly unlogged: boolean;
}

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  /** A client's pause between two operations, ms: uniform in [0, thinkMsMax]. */
  readonly thinkMsMax: number;
  /** A client gives up on an answer after this long (the coordinator's own deadline comes first). */
  readonly clientTimeoutMs: number;
  /** Some writes go at ANY (ANY_WRITES_SHARE); off, the random draws are those the seeds were found with. */
  readonly anyWrites?: boolean;
  /** Some puts go as batches of two or three keys (BATCH_SHARE), some of those unlogged (UNLOGGED_SHARE); off, the draws are as without them. */
  readonly batches?: boolean;
}

/** Chance that an operation goes to any node rather than one of the key's replicas. */
const ANY_COORDINATOR = 0.2;

export function simKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${KEY_LETTERS[(i * 7) % KEY_LETTERS.length]}${i}`);
}

/** A read's answer as a client sees it. */
async function readAt(node: KvNode, key: string, level: LevelName): Promise<{ found: boolean; value: Buffer; ts: number }> {
  const v = node.coordinator.readsLocally(key, level) ? node.store.get(key) : await node.coordinator.read(key, level);
  const found = v !== undefined && !v.deleted;
  return { found, value: Buffer.from(found ? v.value : '', 'latin1'), ts: v?.ts ?? 0 };
}

export class SimWorkload {
  readonly keys: string[];
  /** The batches sent, for the checker's all-or-nothing rule (runner.ts, checkBatches). */
  readonly batches: BatchRecord[] = [];
  private nextRequest = 0;

  constructor(
    private readonly net: SimNetwork,
    private readonly ring: SimRing,
    private readonly history: History,
    private readonly options: WorkloadOptions,
  ) {
    this.keys = simKeys(options.keys);
  }

  /** Runs every client until virtual time `untilMs`; resolves when the last answer came. */
  run(untilMs: number, random: Random): Promise<void> {
    const loops = Array.from({ length: this.options.clients }, (_, c) => this.client(`c${c}`, untilMs, random.fork()));
    return Promise.all(loops).then(() => undefined);
  }

  private async client(name: string, untilMs: number, random: Random): Promise<void> {
    let n = 0;
    while (this.net.sched.nowMs < untilMs) {
      const key = random.pick(this.keys);
      const level = random.pick(SIM_LEVELS);
      const kind = random.weighted([
        ['put', 45],
        ['get', 40],
        ['delete', 15],
      ] as const);
      if (kind === 'get') await this.get(name, random, key, level);
      else if (kind === 'put' && this.options.batches === true && random.chance(BATCH_SHARE))
        await this.batch(name, random, key, () => `${name}.${n++}`, this.writeLevel(level, random));
      else await this.write(name, random, key, kind === 'delete' ? TOMBSTONE_VALUE : `${name}.${n++}`, this.writeLevel(level, random));
      const think = random.float() * this.options.thinkMsMax;
      await new Promise<void>((resolve) => this.net.sched.at(think, resolve));
    }
  }

  /** A write's level: the drawn one, or with anyWrites sometimes ANY (a draw only then, so that seeds keep their traces). */
  private writeLevel(drawn: LevelName, random: Random): WriteLevelName {
    return this.options.anyWrites === true && random.chance(ANY_WRITES_SHARE) ? 'ANY' : drawn;
  }

  /** The node a client sends an operation on `key` to (a write to one of its write replicas, a read to a read replica). */
  coordinatorFor(key: string, random: Random, writing = false): number {
    if (random.chance(ANY_COORDINATOR)) return random.pick(this.ring.topology.routable);
    const range = this.ring.rangeOf(key);
    return random.pick(writing ? range.writes : range.reads);
  }

  write(name: string, random: Random, key: string, value: string, level: WriteLevelName): Promise<WriteOp> {
    const node = this.coordinatorFor(key, random, true);
    const deleted = value === TOMBSTONE_VALUE;
    const id = this.nextRequest++;
    const send = (): Promise<{ ts: number }> =>
      clientCall(
        this.net,
        node,
        deleted ? 'delete' : 'put',
        id,
        (n) => n.coordinator.write(key, deleted ? '' : value, deleted, level).then((ts) => ({ ts })),
        this.options.clientTimeoutMs,
      );
    return this.history.write(name, node, key, value, send, { level, deleted }).then((op) => this.answered(op));
  }

  /**
   * A batch of puts, logged or (UNLOGGED_SHARE) unlogged: `first` and one
   * or two other keys, each with a value of its own, sent to a write
   * replica of the first. Each key is recorded as a write of its own, all
   * answered alike.
   */
  batch(name: string, random: Random, first: string, value: () => string, level: WriteLevelName): Promise<WriteOp[]> {
    const keys = [first];
    const count = Math.min(this.keys.length, 2 + Math.floor(random.float() * (BATCH_KEYS_MAX - 1)));
    while (keys.length < count) {
      const k = random.pick(this.keys);
      if (!keys.includes(k)) keys.push(k);
    }
    const writes = keys.map((key) => ({ key, value: value(), deleted: false, ttlSeconds: 0 }));
    const unlogged = random.chance(UNLOGGED_SHARE);
    const node = this.coordinatorFor(first, random, true);
    const id = this.nextRequest++;
    let answer: Promise<{ ts: number }> | undefined;
    const send = (): Promise<{ ts: number }> =>
      (answer ??= clientCall(
        this.net,
        node,
        'batch',
        id,
        (n) => (unlogged ? n.batches.writeUnlogged(writes, level) : n.batches.write(writes, level)).then((ts) => ({ ts })),
        this.options.clientTimeoutMs,
      ));
    const ops = writes.map((w) => this.history.write(name, node, w.key, w.value, send, { level }).then((op) => this.answered(op)));
    return Promise.all(ops).then((done) => {
      this.batches.push({ node, ops: done, unlogged });
      return done;
    });
  }

  get(name: string, random: Random, key: string, level: LevelName, final = false): Promise<ReadOp> {
    const node = final ? random.pick(this.ring.rangeOf(key).reads) : this.coordinatorFor(key, random);
    const id = this.nextRequest++;
    const send = () => clientCall(this.net, node, 'get', id, (n) => readAt(n, key, level), this.options.clientTimeoutMs);
    return this.history.read(name, node, key, send, final, { level }).then((op) => this.answered(op));
  }

  private answered<T extends WriteOp | ReadOp>(op: T): T {
    if (op.outcome === 'ConnectionError' || op.outcome === 'Unavailable') this.ring.soon();
    const what = op.kind === 'write' ? `${op.key}=${op.deleted ? '(deleted)' : op.value}` : `${op.key}->${op.found ? op.value : '-'}`;
    this.net.trace.noteText('answer', `#${op.id} ${op.kind} ${what} ${op.outcome} ts=${op.ts ?? ''}`);
    return op;
  }
}
