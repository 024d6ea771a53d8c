import test from 'ava';
import { LEVEL_CODES, levelFromCode, LevelName, parseLevel, requiredReplicas } from '../../src/coordinator/levels';

// rf -> [ONE, QUORUM, ALL]
const requiredTable: Array<[rf: number, one: number, quorum: number, all: number]> = [
  [1, 1, 1, 1],
  [2, 1, 2, 2],
  [3, 1, 2, 3],
  [4, 1, 3, 4],
  [5, 1, 3, 5],
  [6, 1, 4, 6],
  [7, 1, 4, 7],
];

for (const [rf, one, quorum, all] of requiredTable) {
  test(`requiredReplicas at RF ${rf}: ONE=${one} QUORUM=${quorum} ALL=${all}`, (t) => {
    t.is(requiredReplicas('ONE', rf), one);
    t.is(requiredReplicas('QUORUM', rf), quorum);
    t.is(requiredReplicas('ALL', rf), all);
  });
}

test('any two quorums overlap: 2 * QUORUM > RF for RF 1..7', (t) => {
  for (let rf = 1; rf <= 7; rf++) t.true(2 * requiredReplicas('QUORUM', rf) > rf, `rf ${rf}`);
});

test('requiredReplicas rejects a non-positive replication factor', (t) => {
  t.throws(() => requiredReplicas('ONE', 0), { message: /replication factor/ });
  t.throws(() => requiredReplicas('QUORUM', -1), { message: /replication factor/ });
});

const parseTable: Array<[text: string, level: LevelName | undefined]> = [
  ['ONE', 'ONE'],
  ['one', 'ONE'],
  ['One', 'ONE'],
  ['QUORUM', 'QUORUM'],
  ['quorum', 'QUORUM'],
  ['qUoRuM', 'QUORUM'],
  ['ALL', 'ALL'],
  ['all', 'ALL'],
  ['', undefined],
  ['on', undefined],
  ['ones', undefined],
  ['quorums', undefined],
  ['al', undefined],
  ['ANY', undefined],
  ['TWO', undefined],
  ['LOCAL_QUORUM', undefined],
  ['1', undefined],
  ['ALL!', undefined],
  ['constructor', undefined],
];

for (const [text, level] of parseTable) {
  test(`parseLevel(${JSON.stringify(text)}) is ${level ?? 'undefined'}`, (t) => {
    t.is(parseLevel(text), level);
  });
}

const codeTable: Array<[code: number, level: LevelName | undefined]> = [
  [1, 'ONE'],
  [2, 'QUORUM'],
  [3, 'ALL'],
  [0, undefined],
  [4, undefined],
  [-1, undefined],
  [1.5, undefined],
  [Number.NaN, undefined],
];

for (const [code, level] of codeTable) {
  test(`levelFromCode(${code}) is ${level ?? 'undefined'}`, (t) => {
    t.is(levelFromCode(code), level);
  });
}

test('levelFromCode inverts LEVEL_CODES', (t) => {
  for (const [name, code] of Object.entries(LEVEL_CODES)) t.is(levelFromCode(code), name as LevelName);
});
