import test from 'ava';
import { KvClient } from '../../src/client/client';
import { replicasOfKey } from '../../src/client/ring';
import { fitsSeeds, topologyOf } from '../../src/client/topology';
import { bootstrapEntry, Change, EpochEntry } from '../../src/membership/changes';

// Four bootstrap nodes, RF 3: node i owns (previous token, its token].
const BOOT = bootstrapEntry(
  [
    { id: 0, token: 'd' },
    { id: 1, token: 'h' },
    { id: 2, token: 'l' },
    { id: 3, token: 'p' },
  ],
  3,
);
const SEEDS = [0, 1, 2, 3].map((id) => ({ id, host: '10.0.0.1', port: 9000 + id, token: 'dhlp'[id]! }));

function log(...changes: Change[]): EpochEntry[] {
  return [BOOT, ...changes.map((change, i) => ({ epoch: i + 2, change }))];
}

const JOIN: Change = { kind: 'join-begin', node: 4, token: 'f', host: '10.0.0.9', port: 9100 };

test('bootstrap only: every seed routable at its own address, reads and writes alike', (t) => {
  const topo = topologyOf(log(), SEEDS);
  t.is(topo.epoch, 1);
  t.deepEqual(topo.routable, [0, 1, 2, 3]);
  t.deepEqual(topo.unreachable, []);
  t.deepEqual(topo.locations[2], { host: '10.0.0.1', port: 9002 });
  for (const r of topo.placement.ranges) t.deepEqual(r.reads, r.writes);
});

test('a joining node: reached at the address its join named, a write replica of its new range but not a read one', (t) => {
  const topo = topologyOf(log(JOIN), SEEDS);
  t.is(topo.epoch, 2);
  t.deepEqual(topo.routable, [0, 1, 2, 3, 4]);
  t.deepEqual(topo.locations[4], { host: '10.0.0.9', port: 9100 });
  t.is(topo.members.find((m) => m.id === 4)?.state, 'JOINING');
  const range = topo.placement.rangeOf('e'); // (d, f]: node 4's range on the new ring
  t.false(range.reads.includes(4));
  t.true(range.writes.includes(4));
});

test('after reads switch, the joined node takes reads; after complete, the old replica no longer takes writes', (t) => {
  const switched = topologyOf(log(JOIN, { kind: 'reads-switch', node: 4 }), SEEDS);
  t.true(switched.placement.rangeOf('e').reads.includes(4));
  const done = topologyOf(log(JOIN, { kind: 'reads-switch', node: 4 }, { kind: 'join-complete', node: 4 }), SEEDS);
  const r = done.placement.rangeOf('e');
  t.deepEqual([...r.reads], [...r.writes]);
  t.deepEqual([...r.reads], [4, 1, 2]);
  t.is(done.members.find((m) => m.id === 4)?.state, 'NORMAL');
});

test('a node that left is a member shown as LEFT, and nobody routes to it', (t) => {
  const topo = topologyOf(
    log({ kind: 'leave-begin', node: 3 }, { kind: 'reads-switch', node: 3 }, { kind: 'leave-complete', node: 3 }),
    SEEDS,
  );
  t.deepEqual(topo.routable, [0, 1, 2]);
  t.is(topo.locations[3], undefined);
  t.deepEqual(
    topo.members.map((m) => [m.id, m.state]),
    [
      [0, 'NORMAL'],
      [1, 'NORMAL'],
      [2, 'NORMAL'],
      [3, 'LEFT'],
    ],
  );
  for (const r of topo.placement.ranges) t.false(r.writes.includes(3));
});

test('a replacement: the new node at its own address, the replaced one LEFT once it completes', (t) => {
  const begin: Change = { kind: 'replace-begin', node: 4, replaces: 1, host: '10.0.0.7', port: 9200 };
  const topo = topologyOf(log(begin, { kind: 'reads-switch', node: 4 }, { kind: 'replace-complete', node: 4 }), SEEDS);
  t.deepEqual(topo.routable, [0, 2, 3, 4]);
  t.deepEqual(topo.locations[4], { host: '10.0.0.7', port: 9200 });
  t.is(topo.members.find((m) => m.id === 4)?.token, 'h');
});

test('nodes whose address nobody gave are unreachable, not guessed', (t) => {
  const noAddress: Change = { kind: 'join-begin', node: 4, token: 'f' };
  const topo = topologyOf(log(noAddress), SEEDS.slice(0, 2));
  t.deepEqual(topo.routable, [0, 1]);
  t.deepEqual(topo.unreachable, [2, 3, 4]);
});

test('fitsSeeds: a log of the seeds ring, or of a ring of which the file lists only some nodes; not another ring', (t) => {
  t.true(fitsSeeds(log(JOIN), SEEDS));
  t.true(fitsSeeds(log(), SEEDS.slice(0, 2)));
  t.false(fitsSeeds(log(), [{ ...SEEDS[0]!, token: 'x' }]));
  t.false(fitsSeeds([], SEEDS));
});

test('a client routes by a newer log it adopts: new nodes get connections, LEFT ones lose them', (t) => {
  const client = new KvClient(SEEDS, { routing: 'token', replicationFactor: 3 });
  t.is(client.epoch, 1);
  client.adopt(log(JOIN));
  t.is(client.epoch, 2);
  t.deepEqual(
    client.endpoints.map((e) => [e.id, e.host, e.port]),
    [
      [0, '10.0.0.1', 9000],
      [1, '10.0.0.1', 9001],
      [2, '10.0.0.1', 9002],
      [3, '10.0.0.1', 9003],
      [4, '10.0.0.9', 9100],
    ],
  );
  client.adopt(log(JOIN)); // not newer: nothing changes
  t.is(client.epoch, 2);
  const left = log(
    JOIN,
    { kind: 'reads-switch', node: 4 },
    { kind: 'join-complete', node: 4 },
    { kind: 'leave-begin', node: 0 },
    { kind: 'reads-switch', node: 0 },
    { kind: 'leave-complete', node: 0 },
  );
  client.adopt(left);
  t.is(client.epoch, 7);
  t.deepEqual(
    client.endpoints.map((e) => e.id),
    [1, 2, 3, 4],
  );
  client.close();
});

test('a client ignores a log of another ring (a node of another cluster where one of ours was)', (t) => {
  const client = new KvClient(SEEDS, { routing: 'token', replicationFactor: 3 });
  const other = [bootstrapEntry([{ id: 0, token: 'z' }], 1)];
  client.adopt([...other, { epoch: 2, change: JOIN }]);
  t.is(client.epoch, 1);
  client.close();
});

test('a client whose cluster file lists only some bootstrap nodes routes to those, and to nodes that joined', (t) => {
  const client = new KvClient(SEEDS.slice(0, 2), { routing: 'token', replicationFactor: 2 });
  client.adopt(log(JOIN));
  t.is(client.epoch, 2);
  t.deepEqual(
    client.endpoints.map((e) => e.id),
    [0, 1, 4],
  );
  t.deepEqual(client.topology?.unreachable, [2, 3]);
  t.is(client.topology?.placement.replicationFactor, 3, "the ring's replication factor, not the file's");
  client.close();
});

test("a key's replicas (admin.sh replicas): its range, then the read replicas, then one a join adds for writes only, each at its address", (t) => {
  const view = (topology: ReturnType<typeof topologyOf>) => ({ node: 0, placement: topology.placement, topology });
  const before = replicasOfKey(view(topologyOf(log(), SEEDS)), 'e');
  t.deepEqual(before.range, { start: 'd', end: 'h' });
  t.deepEqual(
    before.replicas.map((r) => [r.node, r.address, r.reads, r.writes]),
    [
      [1, '10.0.0.1:9001', true, true],
      [2, '10.0.0.1:9002', true, true],
      [3, '10.0.0.1:9003', true, true],
    ],
  );
  const joining = replicasOfKey(view(topologyOf(log(JOIN), SEEDS)), 'e');
  t.deepEqual(joining.range, { start: 'd', end: 'f' }, "node 4's new range");
  t.deepEqual(
    joining.replicas.map((r) => [r.node, r.address, r.reads, r.writes]),
    [
      [1, '10.0.0.1:9001', true, true],
      [2, '10.0.0.1:9002', true, true],
      [3, '10.0.0.1:9003', true, true],
      [4, '10.0.0.9:9100', false, true],
    ],
  );
});
