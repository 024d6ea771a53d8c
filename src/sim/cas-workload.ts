/**
 * The simulated compare-and-set clients: each a loop of increments of a few
 * counter keys (their own keys: no plain write ever touches them, which
 * would give up linearizability by design), cas(v, v + 1) through the
 * proposer of a node picked as the plain clients pick theirs, where v is what
 * the client last learnt of the counter: its last cas's answer, or a SERIAL
 * read (always when it knows nothing, sometimes anyway).
 * A cas whose answer is lost (TimedOut, ConnectionError) is sent again with
 * the same request id, as KvClient.cas does, up to CAS_CLIENT_ATTEMPTS_MAX
 * attempts: the exactly-once path. Every operation is recorded with its
 * interval on virtual time in the chaos tool's RegisterRecord form, for
 * chaos/cas-check.ts.
 */
import { RegisterRecord } from '../chaos/cas-workload';
import { Outcome, outcomeOf } from '../chaos/history';
import { isKvError } from '../common/errors';
import { CAS_CLIENT_ATTEMPTS_MAX } from '../common/limits';
import type { Random } from '../common/random';
import type { KvNode } from '../node/node';
import { liveValue } from '../paxos/proposer';
import { KEY_LETTERS } from './cluster';
import { clientCall, SimNetwork } from './network';
import type { SimRing } from './ring';

export interface CasWorkloadOptions {
  /** Clients running cas increments; 0 runs no cas at all. */
  readonly clients: number;
  readonly counters: number;
  /** A client's pause between two increments, ms: uniform in [0, thinkMsMax]. */
  readonly thinkMsMax: number;
  readonly clientTimeoutMs: number;
}

/** Chance that a client reads a counter at SERIAL before its cas even when it knows the value from its last answer. */
const SERIAL_READ_SHARE = 0.3;

/** Counter keys: spread over the ring, and named apart from the plain workload's (sim/workload.ts simKeys). */
export function counterKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${KEY_LETTERS[(i * 11 + 5) % KEY_LETTERS.length]}cas${i}`);
}

/** What the cas clients did beyond the records: how many cas went out again with their request id. */
export interface CasWorkloadCounts {
  retried: number;
}

export class SimCasWorkload {
  readonly keys: string[];
  readonly records: RegisterRecord[] = [];
  readonly counts: CasWorkloadCounts = { retried: 0 };
  private nextRequest = 0;

  constructor(
    private readonly net: SimNetwork,
    private readonly ring: SimRing,
    private readonly pickNode: (key: string, random: Random) => number,
    private readonly options: CasWorkloadOptions,
  ) {
    this.keys = counterKeys(options.clients > 0 ? options.counters : 0);
  }

  /** Runs every cas client until virtual time `untilMs`. */
  run(untilMs: number, random: Random): Promise<void> {
    const loops = Array.from({ length: this.options.clients }, (_, c) => this.client(`x${c}`, untilMs, random.fork()));
    return Promise.all(loops).then(() => undefined);
  }

  /** One SERIAL read of every counter, recorded as final, through each of its read replicas in the clients' ring until one answers. */
  async finalReads(): Promise<void> {
    for (const key of this.keys) {
      for (const node of this.ring.rangeOf(key).reads) {
        if ((await this.read('final', node, key, true)).outcome === 'ok') break;
      }
    }
  }

  private async client(name: string, untilMs: number, random: Random): Promise<void> {
    // The value this client last learnt of each counter; a cas not applied tells the one it met instead.
    const known = new Map<string, string | null>();
    while (this.net.sched.nowMs < untilMs) {
      const key = random.pick(this.keys);
      if (!known.has(key) || random.chance(SERIAL_READ_SHARE)) {
        const seen = await this.read(name, this.pickNode(key, random), key);
        if (seen.outcome === 'ok') known.set(key, seen.current ?? null);
        else known.delete(key);
      }
      if (known.has(key)) {
        const now = known.get(key)!;
        const r = await this.cas(name, random, key, now, String(now === null ? 1 : Number(now) + 1));
        if (r.outcome === 'ok') known.set(key, r.applied ? r.value! : (r.current ?? null));
        else known.delete(key);
      }
      const think = random.float() * this.options.thinkMsMax;
      await new Promise<void>((resolve) => this.net.sched.at(think, resolve));
    }
  }

  private record(r: Omit<RegisterRecord, 'id' | 'start' | 'end' | 'outcome'>): RegisterRecord {
    const rec: RegisterRecord = { ...r, id: this.records.length, start: this.net.sched.nowMs, end: NaN, outcome: 'ok' };
    this.records.push(rec);
    return rec;
  }

  private async read(process: string, node: number, key: string, final = false): Promise<RegisterRecord> {
    const rec = this.record({ process, node, key, kind: 'read', final });
    try {
      const v = await clientCall(
        this.net,
        node,
        'serial',
        this.nextRequest++,
        (n) => n.proposer.serialRead(key),
        this.options.clientTimeoutMs,
      );
      rec.current = liveValue(v) ?? null;
    } catch (err) {
      this.failed(rec, outcomeOf(err), err);
    }
    return this.answered(rec);
  }

  /**
   * One cas as a client sees it: attempts with one request id, each through
   * a node picked afresh, until one answers or its outcome stays unknown.
   */
  private async cas(process: string, random: Random, key: string, expected: string | null, value: string): Promise<RegisterRecord> {
    const requestId = `sim-${this.nextRequest}`;
    const rec = this.record({ process, node: this.pickNode(key, random), key, kind: 'cas', expected, value });
    for (let attempt = 1; ; attempt++) {
      const node = attempt === 1 ? rec.node : this.pickNode(key, random);
      const send = (n: KvNode) => n.proposer.cas({ key, expected, value, requestId, level: 'QUORUM' });
      try {
        const r = await clientCall(this.net, node, 'cas', this.nextRequest++, send, this.options.clientTimeoutMs);
        rec.applied = r.applied;
        rec.current = liveValue(r.current) ?? null;
        return this.answered(rec);
      } catch (err) {
        // A retry refused as Unavailable says nothing of the first attempt: its outcome stays unknown.
        const outcome = attempt > 1 && isKvError(err, 'Unavailable') ? 'TimedOut' : outcomeOf(err);
        if ((outcome !== 'TimedOut' && outcome !== 'ConnectionError') || attempt >= CAS_CLIENT_ATTEMPTS_MAX) {
          this.failed(rec, outcome, err);
          return this.answered(rec);
        }
        this.counts.retried++;
      }
    }
  }

  private failed(rec: RegisterRecord, outcome: Outcome, err: unknown): void {
    if (outcome === 'ConnectionError' || outcome === 'Unavailable') this.ring.soon();
    rec.outcome = outcome;
    rec.error = (err as Error)?.message ?? String(err);
  }

  private answered(rec: RegisterRecord): RegisterRecord {
    rec.end = this.net.sched.nowMs;
    const what = rec.kind === 'cas' ? `cas ${rec.key} ${rec.expected ?? '-'}->${rec.value}` : `serial ${rec.key}`;
    const got =
      rec.outcome !== 'ok'
        ? rec.outcome
        : rec.kind === 'cas'
          ? `${rec.applied ? 'applied' : 'not applied'} ${rec.current ?? '-'}`
          : (rec.current ?? '-');
    this.net.trace.noteText('answer', `#x${rec.id} ${what} ${got}`);
    return rec;
  }
}
