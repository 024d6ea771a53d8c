/**
 * The quorum-copies check (sim/quorum-copies.ts): what a disk holds after
 * its transactions, and which acknowledged writes a new ring holds on too
 * few replicas.
 */
import test from 'ava';
import type { WriteOp } from '../../src/chaos/history';
import type { WriteLevelName } from '../../src/coordinator/levels';
import { bootstrapPlacement } from '../../src/membership/placement';
import type { Txn } from '../../src/sim/disk';
import { DiskHoldings, holdingsOf, quorumCopyProblems } from '../../src/sim/quorum-copies';

const row = (key: string, ts: number, seq = ts) => ({ seq, key, version: { value: `v${ts}`, ts, deleted: false } });
const hint = (id: number, target: number, key: string, ts: number) => ({
  id,
  target,
  key,
  version: { value: `v${ts}`, ts, deleted: false },
  createdMs: 0,
});

test('holdingsOf: the newest row of each key, a purge drops a key, a delivered hint goes', (t) => {
  const txns: Txn[] = [
    { rows: [row('a', 5), row('b', 3)] },
    { rows: [row('a', 4)] },
    { hintsAdded: [hint(1, 2, 'a', 7), hint(2, 2, 'a', 6), hint(3, 1, 'b', 9)] },
    { purged: ['b'] },
    { hintsRemoved: [1] },
  ];
  const h = holdingsOf(txns);
  t.deepEqual([...h.rows], [['a', 5]]);
  t.deepEqual([...h.hints].sort(), [
    ['1\0b', 9],
    ['2\0a', 6],
  ]);
});

// Four nodes, replication factor 3: the key "k" is replicated by three of them.
const nodes = ['A', 'H', 'P', 'X'].map((token, id) => ({ id, host: '127.0.0.1', port: 9000 + id, token }));
const placement = bootstrapPlacement(nodes, 3);
const replicas = placement.rangeOf('k').reads;

let nextId = 0;
function write(ts: number, level: WriteLevelName = 'QUORUM', end = 10): WriteOp {
  return { kind: 'write', id: nextId++, process: 'c0', key: 'k', value: `v${ts}`, start: 0, end, outcome: 'ok', ts, node: 0, level };
}

/** Disks from node → [rows of k as ts] and hints as [holder, target, ts]. */
function disks(rows: Record<number, number>, hints: [number, number, number][] = []): Map<number, DiskHoldings> {
  const out = new Map<number, { rows: Map<string, number>; hints: Map<string, number> }>();
  for (const n of nodes) out.set(n.id, { rows: new Map(), hints: new Map() });
  for (const [id, ts] of Object.entries(rows)) out.get(Number(id))!.rows.set('k', ts);
  for (const [holder, target, ts] of hints) out.get(holder)!.hints.set(`${target}\0k`, ts);
  return out;
}

const r = (i: number): number => replicas[i]!;
const outside = nodes.map((n) => n.id).find((id) => !replicas.includes(id))!;

const cases: { name: string; ops: WriteOp[]; disks: Map<number, DiskHoldings>; short: boolean }[] = [
  { name: 'two replicas hold it', ops: [write(5)], disks: disks({ [r(0)]: 5, [r(1)]: 5 }), short: false },
  { name: 'one holds it and one is hinted it', ops: [write(5)], disks: disks({ [r(0)]: 5 }, [[outside, r(2), 5]]), short: false },
  { name: 'one holds it, a newer version on another', ops: [write(5)], disks: disks({ [r(0)]: 5, [r(2)]: 8 }), short: false },
  { name: 'one holds it, an older version on the others', ops: [write(5)], disks: disks({ [r(0)]: 5, [r(1)]: 4, [r(2)]: 4 }), short: true },
  {
    name: 'one holds it, the hint is for a node not a replica',
    ops: [write(5)],
    disks: disks({ [r(0)]: 5 }, [[r(0), outside, 5]]),
    short: true,
  },
  {
    name: 'the newest QUORUM write is judged, not an older one',
    ops: [write(5), write(9)],
    disks: disks({ [r(0)]: 9, [r(1)]: 5 }),
    short: true,
  },
  { name: 'an ALL write too', ops: [write(5, 'ALL')], disks: disks({ [r(1)]: 5 }), short: true },
  { name: 'a ONE write is not judged', ops: [write(5, 'ONE')], disks: disks({ [r(1)]: 5 }), short: false },
  { name: 'a write answered after now is not judged', ops: [write(5, 'QUORUM', 50)], disks: disks({}), short: false },
];

for (const c of cases)
  test(`quorumCopyProblems: ${c.name}`, (t) => {
    const problems = quorumCopyProblems('epoch 3, the leave-complete of node 9', placement, c.disks, c.ops, 20, 3);
    if (!c.short) t.deepEqual(problems, []);
    else {
      t.is(problems.length, 1);
      t.regex(
        problems[0]!,
        /^ {2}quorum copies: at epoch 3, the leave-complete of node 9 \(20\.000 ms\), k's (QUORUM|ALL) write #\d+ \(ts \d+\) is held by (node \d+ only|none) of its replicas \d+, \d+, \d+$/,
      );
    }
  });
