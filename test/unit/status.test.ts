import test from 'ava';
import { NodeStatus, ownershipShares, statusHeadline } from '../../src/client/status';

const table: Array<[keys: number[], rf: number, shares: number[]]> = [
  [[300, 300, 300, 300], 3, [0.75, 0.75, 0.75, 0.75]],
  [[100, 100, 100], 3, [1, 1, 1]],
  [[0, 0, 0, 0], 3, [0, 0, 0, 0]],
  [[400, 200, 200, 400], 3, [1, 0.5, 0.5, 1]],
  [[10, 0], 1, [1, 0]],
];

for (const [keys, rf, shares] of table) {
  test(`ownership of ${JSON.stringify(keys)} at rf ${rf} is ${JSON.stringify(shares)}`, (t) => {
    t.deepEqual(ownershipShares(keys, rf), shares);
  });
}

test('statusHeadline: nodes that left are counted apart, not as down', (t) => {
  const node = (id: number, up: boolean, state: string): NodeStatus => ({ id, up, state }) as NodeStatus;
  const ring = [node(0, true, 'NORMAL'), node(1, true, 'NORMAL'), node(2, false, 'NORMAL'), node(3, true, 'NORMAL')];
  t.is(statusHeadline({ epoch: 3, replicationFactor: 3, nodes: ring }), 'epoch 3, 4 nodes, 3 up, replication factor 3');
  t.is(
    statusHeadline({ epoch: 7, replicationFactor: 3, nodes: [...ring, node(4, false, 'LEFT')] }),
    'epoch 7, 4 nodes, 3 up, 1 left the ring, replication factor 3',
  );
  t.is(
    statusHeadline({ epoch: null, replicationFactor: 3, nodes: [node(0, false, 'NORMAL')] }),
    'epoch unknown (no node answered), 1 node, 0 up, replication factor 3',
  );
});
