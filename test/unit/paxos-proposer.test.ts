/**
 * The proposer against three in-memory acceptors (the pure state machine
 * behind the `Acceptor` contract, with a switch to drop each one's messages):
 * contention between proposers, a proposer that died between accept and
 * commit, and retries with the same request id.
 */
import test, { ExecutionContext } from 'ava';
import { HybridClock } from '../../src/clock/hlc';
import { systemTime } from '../../src/clock/time';
import { isKvError } from '../../src/common/errors';
import { Random } from '../../src/common/random';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { bootstrapPlacement } from '../../src/membership/placement';
import { AcceptorState, EMPTY_STATE, mergeStates, onCommit, onPrepare, onPropose, Proposal } from '../../src/paxos/acceptor';
import { Acceptor, Promised, Proposer } from '../../src/paxos/proposer';
import { Trace } from '../../src/coordinator/trace';
import { newest, Version } from '../../src/storage/version';

const placement = bootstrapPlacement(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
/** Owned by node 0: its replicas are nodes 0, 1 and 2. */
const KEY = 'A';

class MemoryAcceptor implements Acceptor {
  state: AcceptorState = EMPTY_STATE;
  data: Version | undefined;
  /** Which messages are lost on the way here. */
  drop = { prepare: false, propose: false, commit: false };

  private lost(what: string): Promise<never> {
    return Promise.reject(new Error(`${what} lost`));
  }

  async prepare(_key: string, ballot: { ts: number; node: number }, requestId: string): Promise<Promised> {
    if (this.drop.prepare) return this.lost('prepare');
    const r = onPrepare(this.state, ballot, requestId, 0);
    this.state = r.state;
    return { reply: r.reply, current: this.data };
  }

  async propose(_key: string, p: Proposal) {
    if (this.drop.propose) return this.lost('propose');
    const r = onPropose(this.state, p, 0);
    this.state = r.state;
    return r.reply;
  }

  async commit(_key: string, p: Proposal): Promise<void> {
    if (this.drop.commit) return this.lost('commit');
    this.data = newest(this.data, { value: p.value, ts: p.ballot.ts, deleted: false });
    this.state = onCommit(this.state, p);
  }
}

/** Four in-memory acceptors and a maker of proposers over them; `isUp` is every proposer's failure detector. */
function cluster(isUp: (id: number) => boolean = () => true) {
  const acceptors = [new MemoryAcceptor(), new MemoryAcceptor(), new MemoryAcceptor(), new MemoryAcceptor()];
  const hinted: number[] = [];
  const proposer = (selfId: number, seed = selfId) => {
    const random = new Random(seed);
    return new Proposer({
      selfId,
      placement: () => placement,
      acceptors: new Map(acceptors.map((a, id) => [id, a])),
      isUp,
      hints: { add: async (target) => hinted.push(target) > 0 },
      clock: new HybridClock(() => Date.now() * 1000),
      time: systemTime,
      timeoutMs: 2000,
      random: () => random.float(),
    });
  };
  return { acceptors, proposer, hinted };
}

test('cas applies only on the expected value, and answers with the current one', async (t) => {
  const { proposer, acceptors } = cluster();
  const p = proposer(0);
  t.like(await p.cas({ key: KEY, expected: null, value: 'a', requestId: 'r1', level: 'QUORUM' }), {
    applied: true,
    current: { value: 'a' },
  });
  t.like(await p.cas({ key: KEY, expected: null, value: 'b', requestId: 'r2', level: 'QUORUM' }), {
    applied: false,
    current: { value: 'a' },
  });
  t.like(await p.cas({ key: KEY, expected: 'x', value: 'b', requestId: 'r3', level: 'QUORUM' }), {
    applied: false,
    current: { value: 'a' },
  });
  t.like(await p.cas({ key: KEY, expected: 'a', value: 'b', requestId: 'r4', level: 'QUORUM' }), {
    applied: true,
    current: { value: 'b' },
  });
  t.is((await p.serialRead(KEY))?.value, 'b');
  t.is(acceptors[3]!.data, undefined, 'node 3 is no replica of the key');
});

test('a proposer that died between accept and commit: the next round finishes its value first', async (t) => {
  const { proposer, acceptors } = cluster();
  // The dead proposer (node 2) got promises and accepts from nodes 0 and 1, and no commit went out.
  const dead: Proposal = { ballot: { ts: Date.now() * 1000 - 1000, node: 2 }, value: 'half', requestId: 'dead' };
  for (const a of acceptors.slice(0, 2)) {
    a.state = onPropose(onPrepare(a.state, dead.ballot, 'dead', 0).state, dead, 0).state;
  }
  const p = proposer(1);
  t.like(await p.cas({ key: KEY, expected: null, value: 'mine', requestId: 'r1', level: 'QUORUM' }), {
    applied: false,
    current: { value: 'half' },
  });
  t.is(p.counters.completedOthers, 1);
  t.like(await p.cas({ key: KEY, expected: 'half', value: 'mine', requestId: 'r2', level: 'QUORUM' }), { applied: true });
  t.is((await p.serialRead(KEY))?.value, 'mine');
});

test('a retry of a cas whose reply was lost answers applied, even after later commits', async (t) => {
  const { proposer } = cluster();
  const p = proposer(0);
  const first = await p.cas({ key: KEY, expected: null, value: '1', requestId: 'inc-1', level: 'QUORUM' });
  t.true(first.applied);
  await p.cas({ key: KEY, expected: '1', value: '2', requestId: 'inc-2', level: 'QUORUM' });
  // The reply to inc-1 was "lost": the client sends it again, unchanged.
  const retry = await proposer(1).cas({ key: KEY, expected: null, value: '1', requestId: 'inc-1', level: 'QUORUM' });
  t.true(retry.applied, 'not a false "not applied"');
  t.is((await p.serialRead(KEY))?.value, '2', 'and not applied twice');
});

test('a retry whose first attempt was accepted by a quorum but never committed finishes it and answers applied', async (t) => {
  const { proposer, acceptors } = cluster();
  const p = proposer(0);
  for (const a of acceptors) a.drop.commit = true;
  await t.throwsAsync(p.cas({ key: KEY, expected: null, value: 'once', requestId: 'r-lost', level: 'QUORUM' }), { name: 'TimedOut' });
  for (const a of acceptors) a.drop.commit = false;
  const retry = await proposer(1).cas({ key: KEY, expected: null, value: 'once', requestId: 'r-lost', level: 'QUORUM' });
  t.true(retry.applied);
  t.is((await p.serialRead(KEY))?.value, 'once');
});

/** A cluster where cas r1 (null -> 'v') from node 0 timed out with its commit on node 0 only (the others dropped it). */
async function committedOnOneReplica(t: ExecutionContext): Promise<ReturnType<typeof cluster>> {
  const c = cluster();
  const [, second, third] = c.acceptors;
  second!.drop.commit = true;
  third!.drop.commit = true;
  await t.throwsAsync(c.proposer(0).cas({ key: KEY, expected: null, value: 'v', requestId: 'r1', level: 'QUORUM' }), { name: 'TimedOut' });
  second!.drop.commit = false;
  third!.drop.commit = false;
  return c;
}

test('a commit that reached one replica is repaired to the others before the next proposal', async (t) => {
  const { proposer, acceptors } = await committedOnOneReplica(t);
  t.is((await proposer(2).serialRead(KEY))?.value, 'v');
  t.is(acceptors[1]!.data?.value, 'v');
  t.is(acceptors[2]!.data?.value, 'v');
});

test('a retry that finds its request committed on one replica only commits it to the quorum before answering applied', async (t) => {
  // Simulator seed 850335 (5 nodes): the first attempt's commit reached only its coordinator (the others refused it
  // as placed by a stale epoch), a retry answered applied from that one commit, and after a join the key's new
  // quorum held no trace of the value: a second cas applied 13 -> 14 again.
  const { proposer, acceptors } = await committedOnOneReplica(t);
  const retrying = proposer(1);
  const retry = await retrying.cas({ key: KEY, expected: null, value: 'v', requestId: 'r1', level: 'QUORUM' });
  t.true(retry.applied);
  t.true(retrying.counters.commitRepairs >= 1);
  // Every promiser of the retry holds the commit now, value and request id: any later quorum meets one of them.
  const holders = acceptors.slice(0, 3).filter((a) => a.data?.value === 'v' && a.state.committed?.requestId === 'r1');
  t.true(holders.length >= 2, `the commit is on ${holders.length} of the 3 replicas`);
});

test("a retry asked of a quorum with a replacement answers applied once the replacement took the survivors' Paxos rows", async (t) => {
  // Simulator seed 2551: node 0's cas 21 -> 22 was accepted by it and node 3 and never committed by node 0 (it
  // crashed); node 2 finished it, committed with node 3, and later cas went on. Node 3 was replaced by node 4
  // with the values streamed and no Paxos rows; the retry's quorum, nodes 0 and 4, answered "not applied, now 25".
  const scenario = async (rowsMove: boolean) => {
    const { proposer, acceptors } = cluster();
    await proposer(0).cas({ key: KEY, expected: null, value: 'a', requestId: 'r-a', level: 'QUORUM' });
    // Node 0's cas a -> b: accepted by nodes 0 and 2, no commit anywhere.
    acceptors[1]!.drop.propose = true;
    for (const a of acceptors) a.drop.commit = true;
    await t.throwsAsync(proposer(0).cas({ key: KEY, expected: 'a', value: 'b', requestId: 'r-b', level: 'QUORUM' }), {
      name: 'TimedOut',
    });
    for (const a of acceptors) a.drop = { prepare: false, propose: false, commit: false };
    // Node 0 down: node 1 finishes r-b with node 2, then applies b -> c.
    acceptors[0]!.drop = { prepare: true, propose: true, commit: true };
    t.like(await proposer(1).cas({ key: KEY, expected: 'b', value: 'c', requestId: 'r-c', level: 'QUORUM' }), { applied: true });
    acceptors[0]!.drop = { prepare: false, propose: false, commit: false };
    // Node 2 replaced: its successor holds the streamed value, and with the rows moved, the survivors' Paxos rows.
    const replacement = new MemoryAcceptor();
    replacement.data = acceptors[2]!.data;
    if (rowsMove) replacement.state = [0, 1, 3].reduce((s, id) => mergeStates(s, acceptors[id]!.state), EMPTY_STATE);
    acceptors[2] = replacement;
    // Node 1 out of reach: the retry's quorum is node 0 and the replacement.
    acceptors[1]!.drop.prepare = true;
    return proposer(0).cas({ key: KEY, expected: 'a', value: 'b', requestId: 'r-b', level: 'QUORUM' });
  };
  t.like(await scenario(true), { applied: true });
  t.like(await scenario(false), { applied: false }, 'without the rows, the wrong answer of seed 2551');
});

/** Runs a call again while it times out (contention past the round limit), at most 50 times. */
async function again<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isKvError(err, 'TimedOut') || attempt >= 50) throw err;
    }
  }
}

test('competing proposers: every increment applies exactly once, whatever the interleaving', async (t) => {
  const { proposer } = cluster();
  const proposers = [proposer(0, 11), proposer(1, 12), proposer(2, 13)];
  const perClient = 15;
  let applied = 0;
  await Promise.all(
    proposers.map(async (p, c) => {
      for (let i = 0; i < perClient; i++) {
        for (let attempt = 0; ; attempt++) {
          const now = await again(() => p.serialRead(KEY));
          const value = now === undefined ? 0 : Number(now.value);
          // A cas that timed out goes again with the same request id: it may have been applied.
          const requestId = `c${c}-${i}-${attempt}`;
          const expected = now === undefined ? null : now.value;
          const r = await again(() => p.cas({ key: KEY, expected, value: String(value + 1), requestId, level: 'QUORUM' }));
          if (r.applied) {
            applied++;
            break;
          }
        }
      }
    }),
  );
  t.is(applied, proposers.length * perClient);
  t.is((await proposers[0]!.serialRead(KEY))?.value, String(applied));
});

test('too few live replicas: Unavailable, and nothing proposed', async (t) => {
  const { acceptors, proposer } = cluster((id) => id === 0);
  const p = proposer(0);
  await t.throwsAsync(p.cas({ key: KEY, expected: null, value: 'v', requestId: 'r', level: 'QUORUM' }), { name: 'Unavailable' });
  t.deepEqual(acceptors[0]!.state, EMPTY_STATE);
});

test('a cas at ALL with a replica down is Unavailable before anything is sent', async (t) => {
  const { acceptors, proposer } = cluster((id) => id !== 2);
  const p = proposer(0);
  await t.throwsAsync(p.cas({ key: KEY, expected: null, value: 'v', requestId: 'r', level: 'ALL' }), { name: 'Unavailable' });
  for (const a of acceptors) t.deepEqual(a.state, EMPTY_STATE);
});

test('a commit that misses its level is TimedOut, and the chosen value is applied all the same', async (t) => {
  const { proposer, acceptors, hinted } = cluster();
  acceptors[2]!.drop.commit = true;
  await t.throwsAsync(proposer(0).cas({ key: KEY, expected: null, value: 'chosen', requestId: 'r', level: 'ALL' }), {
    name: 'TimedOut',
    message: /will be applied/,
  });
  t.deepEqual(hinted, [2], 'the replica that missed the commit is hinted');
  acceptors[2]!.drop.commit = false;
  t.is((await proposer(1).serialRead(KEY))?.value, 'chosen');
});

/** A trace's steps with timestamps (ten digits or more) written as T, so that they can be compared. */
const steps = (trace: Trace): string[] => trace.events.map((e) => e.activity.replace(/\d{10,}/g, 'T'));
/** `promised by` and `accepted by` lines name two or three nodes: the phase ends at two, the third may be in by then. */
const twoOrThree = /^(promised|accepted|commit acknowledged) by node 0, node 1(, node 2)?$/;

test('a traced cas notes each phase of its round: prepare, promises, proposal, accepts, commit', async (t) => {
  const { proposer } = cluster();
  const p = proposer(0);
  const trace = new Trace(() => systemTime.monotonicMs());
  t.like(await p.cas({ key: KEY, expected: null, value: 'a', requestId: 'r1', level: 'QUORUM' }, trace), { applied: true });
  const s = steps(trace);
  t.deepEqual(
    s.filter((line) => !twoOrThree.test(line)),
    [
      'round 1: prepare ballot T.0 to node 0, node 1, node 2 (needs 2 promises)',
      'the expectation holds: proposes the new value (1 bytes) under ballot T.0',
      'propose to node 0, node 1, node 2 (needs 2 accepts)',
      'commit ts=T to node 0, node 1, node 2 at QUORUM (needs 2)',
    ],
  );
  t.deepEqual(
    s.filter((line) => twoOrThree.test(line)).map((line) => line.split(' by ')[0]),
    ['promised', 'accepted', 'commit acknowledged'],
  );
  const elapsed = trace.events.map((e) => e.elapsedUs);
  t.deepEqual(
    elapsed,
    [...elapsed].sort((a, b) => a - b),
    'steps in time order',
  );

  const again = new Trace(() => systemTime.monotonicMs());
  t.like(await p.cas({ key: KEY, expected: null, value: 'b', requestId: 'r2', level: 'QUORUM' }, again), { applied: false });
  t.is(steps(again).at(-1), 'expects no value, holds ts=T (1 bytes): not applied');
  const serial = new Trace(() => systemTime.monotonicMs());
  t.is((await p.serialRead(KEY, serial))?.value, 'a');
  t.is(steps(serial).at(-1), "nothing left unfinished: reads the promises' newest, ts=T (1 bytes)");
});

test("a traced cas shows the round finishing another proposer's accepted value first, and too few replicas up", async (t) => {
  const { proposer, acceptors } = cluster();
  const dead: Proposal = { ballot: { ts: Date.now() * 1000 - 1000, node: 2 }, value: 'half', requestId: 'dead' };
  for (const a of acceptors.slice(0, 2)) {
    a.state = onPropose(onPrepare(a.state, dead.ballot, 'dead', 0).state, dead, 0).state;
  }
  const trace = new Trace(() => systemTime.monotonicMs());
  await proposer(1).cas({ key: KEY, expected: null, value: 'mine', requestId: 'r1', level: 'QUORUM' }, trace);
  const s = steps(trace);
  t.true(s.includes('finishes an unfinished proposal (4 bytes) first, under this ballot'), s.join('\n'));
  t.true(s.includes('round 2: prepare ballot T.1 to node 0, node 1, node 2 (needs 2 promises)'), s.join('\n'));
  t.is(s.at(-1), 'expects no value, holds ts=T (4 bytes): not applied');

  const down = cluster((id) => id === 0);
  const failed = new Trace(() => systemTime.monotonicMs());
  await t.throwsAsync(down.proposer(0).cas({ key: KEY, expected: null, value: 'v', requestId: 'r', level: 'QUORUM' }, failed), {
    name: 'Unavailable',
  });
  t.deepEqual(steps(failed), ['QUORUM needs 2 of node 0, node 1, node 2; up: node 0']);
});
