import test from 'ava';
import { FailureDetector } from '../../src/membership/failure-detector';

const TIMEOUT_MS = 1000;
const detector = (): FailureDetector => new FailureDetector(0, [1, 2, 3], TIMEOUT_MS);

test('at start every peer is down and self is up', (t) => {
  const d = detector();
  t.true(d.isUp(0));
  for (const id of [1, 2, 3]) t.false(d.isUp(id), `peer ${id}`);
  t.deepEqual(d.downPeers(), [1, 2, 3]);
});

test('heard() brings a peer up once; hearing it again is not a transition', (t) => {
  const d = detector();
  t.true(d.heard(2, 100));
  t.true(d.isUp(2));
  t.false(d.heard(2, 200));
  t.true(d.isUp(2));
  t.deepEqual(d.downPeers(), [1, 3]);
});

test('lost() takes an up peer down once', (t) => {
  const d = detector();
  d.heard(1, 100);
  t.true(d.lost(1));
  t.false(d.isUp(1));
  t.false(d.lost(1), 'already down');
  t.deepEqual(d.downPeers(), [1, 2, 3]);
  t.true(d.heard(1, 200), 'heard again: up again');
  t.true(d.isUp(1));
});

test('lost() of a peer that was never up is not a transition', (t) => {
  t.false(detector().lost(3));
});

test('self is always up: heard/lost/expire never change it', (t) => {
  const d = detector();
  t.false(d.heard(0, 100));
  t.false(d.lost(0));
  t.true(d.isUp(0));
  t.deepEqual(d.expire(1_000_000), []);
  t.true(d.isUp(0));
  t.false(d.downPeers().includes(0));
});

test('unknown ids are ignored', (t) => {
  const d = detector();
  t.false(d.heard(9, 100));
  t.false(d.isUp(9));
  t.false(d.lost(9));
  t.deepEqual(d.expire(100), []);
  t.deepEqual(d.downPeers(), [1, 2, 3]);
});

test('expire() takes down peers silent for more than the timeout, exactly at the timeout they stay up', (t) => {
  const d = detector();
  d.heard(1, 1000);
  d.heard(2, 1500);
  t.deepEqual(d.expire(1000 + TIMEOUT_MS), [], 'silent for exactly the timeout');
  t.true(d.isUp(1));
  t.deepEqual(d.expire(1000 + TIMEOUT_MS + 1), [1]);
  t.false(d.isUp(1));
  t.true(d.isUp(2));
  t.deepEqual(d.downPeers(), [1, 3]);
  t.deepEqual(d.expire(1000 + TIMEOUT_MS + 1), [], 'a down peer is not reported again');
  t.deepEqual(d.expire(1500 + TIMEOUT_MS + 1), [2]);
  t.deepEqual(d.downPeers(), [1, 2, 3]);
});

test('hearing from a peer resets its silence', (t) => {
  const d = detector();
  d.heard(3, 0);
  d.heard(3, 900);
  t.deepEqual(d.expire(1500), []);
  t.true(d.isUp(3));
  t.deepEqual(d.expire(1901), [3]);
});

test('a peer expired then heard from is up again and can expire again', (t) => {
  const d = detector();
  d.heard(2, 0);
  t.deepEqual(d.expire(2000), [2]);
  t.true(d.heard(2, 2500));
  t.deepEqual(d.expire(3000), []);
  t.deepEqual(d.expire(3501), [2]);
});

test('several peers expiring at once are all reported', (t) => {
  const d = detector();
  d.heard(1, 0);
  d.heard(2, 0);
  d.heard(3, 800);
  t.deepEqual(d.expire(1500).sort(), [1, 2]);
  t.deepEqual(d.downPeers(), [1, 2]);
});
