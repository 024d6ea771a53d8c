import test from 'ava';
import { ownershipShares } from '../../src/client/status';

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
