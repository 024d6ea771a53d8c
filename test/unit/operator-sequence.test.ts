/**
 * How an operation gets its change into the next epoch's slot
 * (Operator.sequence) when the slot's cas times out: the slot is asked
 * again, so a value that was chosen but not yet committed everywhere (ours,
 * or a rival's) is what the log takes up, never skipped. Slots here are a
 * map of first proposals; a timeout is scripted per call.
 */
import test from 'ava';
import { systemTime } from '../../src/clock/time';
import { KvError, timedOut } from '../../src/common/errors';
import { EPOCH_SLOT_TIMEOUTS_MAX } from '../../src/common/limits';
import type { Change, EpochEntry } from '../../src/membership/changes';
import { EpochLog, encodeChange } from '../../src/membership/epoch-log';
import { Operator } from '../../src/operations/operator';
import { MemoryStreamProgress } from '../../src/streaming/memory-progress';
import { Pacer } from '../../src/streaming/pacer';
import { ArrayEpochStore, BOOT } from './four-node-ring';

/** No Paxos rows to move: these operations stream nothing. */
const NO_PAXOS_ROWS = { paxosRows: async () => ({ rows: [], more: false }), paxosMerge: async () => true };

const LEAVE_1: Change = { kind: 'leave-begin', node: 1 };
const LEAVE_2: Change = { kind: 'leave-begin', node: 2 };

/**
 * Node 1's operator over slots that keep their first value. `script` says,
 * call by call, what happens after the slot is decided: 'ok' answers it;
 * 'timeout' throws TimedOut, as a commit that reached too few replicas in
 * time does, after `meanwhile` ran (a rival's publish reaching this log).
 */
async function setup(
  script: ('ok' | 'timeout' | 'unavailable')[],
  meanwhile: (log: EpochLog) => Promise<void> = async () => undefined,
  catchUp: (log: EpochLog) => Promise<void> = async () => undefined,
) {
  const log = await EpochLog.open(new ArrayEpochStore(), BOOT);
  const slots = new Map<number, string>();
  const calls: number[] = [];
  const said: string[] = [];
  const decideSlot = async (epoch: number, value: string): Promise<string> => {
    calls.push(epoch);
    const step = script.shift() ?? 'ok';
    if (step === 'unavailable') throw new KvError('Unavailable', 'cas needs 2 of the slot key replicas up; 1 is');
    if (!slots.has(epoch)) slots.set(epoch, value);
    if (step === 'timeout') {
      await meanwhile(log);
      throw timedOut('cas commit at QUORUM reached 1 of 2 replicas; the value was chosen and will be applied', 1, 2);
    }
    return slots.get(epoch)!;
  };
  const operator = new Operator({
    selfId: 1,
    log,
    time: systemTime,
    decideSlot,
    catchUp: () => catchUp(log),
    link: () => undefined,
    isUp: () => true,
    settledHere: () => log.epoch,
    local: { range: () => ({ entries: [], more: false }), apply: async () => undefined, ...NO_PAXOS_ROWS },
    progress: new MemoryStreamProgress(),
    pacer: new Pacer(systemTime, 1 << 20),
    say: (m) => said.push(m),
  });
  return { log, operator, slots, calls, said };
}

test('a slot cas that timed out after choosing our change is asked again, and the change is ours', async (t) => {
  const { log, operator, calls } = await setup(['timeout', 'ok']);
  const entry = await operator.sequence(LEAVE_1);
  t.deepEqual(entry, { epoch: 2, change: LEAVE_1 });
  t.deepEqual(calls, [2, 2], 'the same slot both times');
  t.is(log.epoch, 2);
  t.deepEqual(log.membership.operation && { kind: log.membership.operation.kind, node: log.membership.operation.node }, {
    kind: 'leave',
    node: 1,
  });
});

test('our own change learned from a publish while the slot timed out is still ours, not "another operation"', async (t) => {
  // The CI failure this guards: the log took up epoch 2 (our leave) before the retry, and a retry at the next
  // slot would have checked the leave against a membership that already had it and refused it as another operation.
  const ours: EpochEntry = { epoch: 2, change: LEAVE_1 };
  const { log, operator, calls } = await setup(['timeout', 'ok'], async (l) => {
    await l.learn([ours]);
  });
  t.deepEqual(await operator.sequence(LEAVE_1), ours);
  t.deepEqual(calls, [2, 2]);
  t.is(log.epoch, 2);
});

test('a rival chose the slot and our cas timed out: the retry takes the rival up and refuses ours in one sentence', async (t) => {
  const { log, operator, slots, calls } = await setup(['timeout', 'ok']);
  slots.set(2, encodeChange(LEAVE_2));
  const err = await t.throwsAsync(operator.sequence(LEAVE_1));
  t.is(err!.message, 'another operation (leave of node 2) is in progress');
  t.deepEqual(calls, [2, 2]);
  t.is(log.epoch, 2, "the rival's change is in the log");
});

test("a rival's slot learnt late, its operation done since: the log catches up and ours takes the next slot", async (t) => {
  // Simulator seed 681: a joining node's slot cas timed out for 2 s; asked again, the slot held a leave that had
  // completed meanwhile, and checked against a log stopped there the join was refused as "another operation".
  const rival: Change[] = [
    { kind: 'move-begin', node: 2, token: 'k' },
    { kind: 'reads-switch', node: 2 },
    { kind: 'move-complete', node: 2 },
  ];
  const ring = rival.map((change, i) => ({ epoch: i + 2, change }));
  let catchUps = 0;
  const { log, operator, slots, calls } = await setup(['timeout', 'ok'], undefined, async (l) => {
    if (catchUps++ > 0) await l.learn(ring.filter((e) => e.epoch > l.epoch));
  });
  slots.set(2, encodeChange(rival[0]!));
  t.deepEqual(await operator.sequence(LEAVE_1), { epoch: 5, change: LEAVE_1 });
  t.deepEqual(calls, [2, 2, 5], 'the same slot again, then the one after the epochs caught up');
  t.is(log.epoch, 5);
});

test('other errors are not retried, and a slot that keeps timing out gives up with the last timeout', async (t) => {
  const down = await setup(['unavailable']);
  await t.throwsAsync(down.operator.sequence(LEAVE_1), { message: /needs 2 of the slot key replicas up/ });
  t.deepEqual(down.calls, [2]);
  t.is(down.log.epoch, 1);

  const slow = await setup(Array<'timeout'>(EPOCH_SLOT_TIMEOUTS_MAX).fill('timeout'));
  const err = await t.throwsAsync(slow.operator.sequence(LEAVE_1));
  t.true(err instanceof KvError && err.code === 'TimedOut', String(err));
  t.is(slow.calls.length, EPOCH_SLOT_TIMEOUTS_MAX);
  t.is(slow.said.length, EPOCH_SLOT_TIMEOUTS_MAX - 1);
});
