/**
 * A move is checked before it begins: the reducer's refusals, and every
 * replica it would stream with up (a range streams only from the replica
 * that gives it up), each refused in one sentence.
 */
import test from 'ava';
import { checkMove } from '../../src/operations/move';
import { operationWords } from '../../src/operations/abort';
import { after } from './four-node-ring';

// Node 0 from d to j gains (d, h] from node 3 and gives (j, l] to node 1 (membership-abort.test.ts).
const allUp = (): boolean => true;

test('a move whose streams have both ends up is allowed', (t) => {
  t.notThrows(() => checkMove(after(), 0, 'j', allUp));
  t.notThrows(() => checkMove(after(), 0, 'j', (id) => id !== 2), 'node 2 neither gives nor takes a range');
});

test('a move is refused when the replica that would give it a range is down', (t) => {
  t.throws(() => checkMove(after(), 0, 'j', (id) => id !== 3), {
    name: 'Unavailable',
    message: /^node 3, which would give up a range to node 0 in this move, is down; start node 3 again, then move/,
  });
});

test('a move is refused when the replica that would take a range from it is down', (t) => {
  t.throws(() => checkMove(after(), 0, 'j', (id) => id !== 1), {
    name: 'Unavailable',
    message: /^node 1, which would take over a range from node 0 in this move, is down; start node 1 again, then move$/,
  });
});

test("the reducer's refusals come first, whatever is up", (t) => {
  t.throws(() => checkMove(after(), 0, 'h', allUp), { name: 'InvalidRequest', message: /^token "h" is already taken by node 1$/ });
  t.throws(() => checkMove(after({ kind: 'leave-begin', node: 2 }), 0, 'j', allUp), {
    message: /^another operation \(leave of node 2\) is in progress$/,
  });
});

test('operations in words, as the abort reports them', (t) => {
  t.is(operationWords({ kind: 'move', node: 1, token: 'k', readsSwitched: false }), 'move of node 1 to k');
  t.is(operationWords({ kind: 'move', node: 1, token: '\u0000\u00ff', readsSwitched: false }), 'move of node 1 to 0x00ff');
  t.is(operationWords({ kind: 'replace', node: 5, replaces: 2, readsSwitched: true }), 'replace of node 2 by node 5');
  t.is(operationWords({ kind: 'join', node: 4, readsSwitched: false }), 'join of node 4');
});
