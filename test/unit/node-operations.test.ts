/**
 * NodeOperations with a scripted operator and fake links over a real epoch
 * log (four nodes at d, h, l, p; this node is node 0): one run of an
 * operation at a time, an unfinished operation gone on with at start but
 * not one being aborted, a replacement of a node that answers refused (and
 * of one that is down run), and the answer of a cleanup that never ran.
 */
import test from 'ava';
import { HybridClock } from '../../src/clock/hlc';
import { systemTime } from '../../src/clock/time';
import type { Change } from '../../src/membership/changes';
import { EpochLog } from '../../src/membership/epoch-log';
import { NodeOperations } from '../../src/operations/node-operations';
import type { Operator } from '../../src/operations/operator';
import type { PeerLink } from '../../src/rpc/transport';
import type { ReplicaStorage } from '../../src/storage/replica-storage';
import { ArrayEpochStore, BOOT } from './four-node-ring';

/** An operator that records its calls; its sequence and run resolve when told to. */
class ScriptedOperator {
  readonly report = { keys: 0, bytes: 0, rangesDone: 0, rangesTotal: 0, fraction: 0, done: false } as { done: boolean; error?: string };
  readonly sequenced: Change[] = [];
  readonly runs: (Change | undefined)[] = [];
  private finish: (() => void) | undefined;
  pace(): number | undefined {
    return undefined;
  }
  stop(): void {}
  async sequence(change: Change): Promise<void> {
    this.sequenced.push(change);
    // A begin takes a few turns to be decided, as a Paxos round over the network does.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
  run(begin: Change | undefined): Promise<void> {
    this.runs.push(begin);
    return new Promise((resolve) => {
      this.finish = resolve;
    });
  }
  done(): void {
    this.report.done = true;
    this.finish?.();
  }
}

/** Polls `done` every turn of the event loop, for at most a second of turns. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
}

async function setup(o: { own?: readonly Change[]; answering?: readonly number[]; down?: readonly number[]; selfId?: number } = {}) {
  const selfId = o.selfId ?? 0;
  const down = new Set(o.down ?? []);
  const epochs = await EpochLog.open(new ArrayEpochStore(), BOOT);
  await epochs.learn((o.own ?? []).map((change, i) => ({ epoch: i + 2, change })));
  const operators: ScriptedOperator[] = [];
  const lines: string[] = [];
  const answering = new Set(o.answering ?? []);
  const links = new Map<number, PeerLink>(
    [1, 2, 3].map((id) => [
      id,
      { hello: () => (answering.has(id) ? Promise.resolve(0) : Promise.reject(new Error('no answer'))) } as unknown as PeerLink,
    ]),
  );
  let leaving = false;
  const ops = new NodeOperations({
    selfId,
    epochs,
    time: systemTime,
    log: (line) => lines.push(line),
    store: {} as ReplicaStorage,
    links,
    clock: new HybridClock(() => systemTime.nowMs() * 1000),
    isUp: (id) => !down.has(id),
    heartbeatIntervalMs: 10,
    failureTimeoutMs: 100,
    address: () => ({ id: selfId, host: '127.0.0.1', port: 9000 + selfId, token: '' }),
    newOperator: () => {
      const op = new ScriptedOperator();
      operators.push(op);
      return op as unknown as Operator;
    },
    catchUpEpochs: async () => undefined,
    reclaimableStale: () => undefined,
    startLeaving: () => {
      if (leaving) return false;
      leaving = true;
      return true;
    },
    leave: async () => undefined,
  });
  return { ops, epochs, operators, lines };
}

test('two decommission calls at once sequence the leave once and run it once; both answer where it is', async (t) => {
  const { ops, operators } = await setup();
  const answers = await Promise.all([ops.decommission(), ops.decommission()]);
  const sequenced = operators.flatMap((op) => op.sequenced);
  t.deepEqual(sequenced, [{ kind: 'leave-begin', node: 0 }]);
  t.is(operators.flatMap((op) => op.runs).length, 1);
  t.true(ops.running);
  for (const a of answers) t.like(a, { state: 'NORMAL', done: false });
  operators[0]!.done();
  await Promise.resolve();
  t.true(ops.operationProgress().done);
});

test('at start, this node’s unfinished operation is gone on with; one being aborted is not', async (t) => {
  const resumed = await setup({ own: [{ kind: 'leave-begin', node: 0 }] });
  resumed.ops.resumeOrJoin(undefined);
  await until(() => resumed.operators.some((op) => op.runs.length > 0));
  t.deepEqual(
    resumed.operators.map((op) => op.runs),
    [[undefined]],
  );
  t.regex(resumed.lines.join('\n'), /node 0 goes on with its leave/);

  const aborting = await setup({
    own: [
      { kind: 'leave-begin', node: 0 },
      { kind: 'reads-switch', node: 0 },
      { kind: 'reads-back', node: 0 },
    ],
  });
  aborting.ops.resumeOrJoin(undefined);
  t.deepEqual(aborting.operators, []);
  t.false(aborting.ops.running);
  t.regex(aborting.lines.join('\n'), /node 0's leave is being aborted: it does not go on/);
});

test('a new node asked to replace a node that answers refuses, saying why, and runs nothing; one that is down it replaces', async (t) => {
  const up = await setup({ selfId: 4, answering: [3] });
  up.ops.replaceIfNew(3);
  await until(() => !up.ops.running);
  t.deepEqual(
    up.operators.flatMap((op) => op.runs),
    [],
  );
  t.is(
    up.ops.operationProgress().error,
    'node 3 is up (it answers); only a node that is down for good can be replaced: stop it first, or decommission it instead',
  );
  t.regex(up.lines.join('\n'), /node 4: the operation stopped: node 3 is up/);

  const down = await setup({ selfId: 4, down: [3] });
  down.ops.replaceIfNew(3);
  await until(() => down.operators.some((op) => op.runs.length > 0));
  t.deepEqual(down.operators[0]!.runs, [{ kind: 'replace-begin', node: 4, replaces: 3, host: '127.0.0.1', port: 9004 }]);
  t.is(down.ops.operationProgress().error, undefined);

  // A member of the ring replaces no one.
  const member = await setup({ down: [3] });
  member.ops.replaceIfNew(3);
  t.deepEqual(member.operators, []);
});

test('a cleanup that never ran reports nothing to do, at the current epoch', async (t) => {
  const { ops } = await setup({ own: [{ kind: 'leave-begin', node: 2 }] });
  t.deepEqual(ops.cleanup(false), { keys: 0, bytes: 0, epoch: 2, done: true });
});
