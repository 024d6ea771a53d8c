import test from 'ava';
import {
  LEVEL_CODES,
  LEVEL_LIST,
  levelFromCode,
  LevelName,
  parseLevel,
  parseWriteLevel,
  READ_LEVEL_LIST,
  requiredReplicas,
  unknownLevel,
  unreachableLevel,
  WRITE_LEVEL_CODES,
  WRITE_LEVEL_LIST,
  writeAcksNeeded,
  writeLevelFromCode,
  WriteLevelName,
} from '../../src/coordinator/levels';

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

test('TWO and THREE are fixed counts, whatever the replication factor', (t) => {
  for (let rf = 1; rf <= 7; rf++) {
    t.is(requiredReplicas('TWO', rf), 2, `rf ${rf}`);
    t.is(requiredReplicas('THREE', rf), 3, `rf ${rf}`);
  }
});

// rf -> the levels no cluster of that factor can meet
const unreachableTable: Array<[rf: number, unreachable: LevelName[]]> = [
  [1, ['TWO', 'THREE']],
  [2, ['THREE']],
  [3, []],
  [5, []],
];

for (const [rf, unreachable] of unreachableTable) {
  test(`unreachableLevel at RF ${rf}: ${unreachable.join(', ') || 'none'}`, (t) => {
    for (const level of Object.keys(LEVEL_CODES) as LevelName[]) {
      const why = unreachableLevel(level, rf);
      if (!unreachable.includes(level)) t.is(why, undefined, level);
      else t.regex(why ?? '', new RegExp(`^${level} needs \\d replicas of the key, but this cluster keeps ${rf} of each key`), level);
    }
  });
}

test('unreachableLevel says what to use instead', (t) => {
  t.regex(unreachableLevel('TWO', 1)!, /use ONE$/);
  t.regex(unreachableLevel('THREE', 2)!, /use QUORUM or ALL$/);
});

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
  ['TWO', 'TWO'],
  ['two', 'TWO'],
  ['THREE', 'THREE'],
  ['Three', 'THREE'],
  ['ANY', undefined],
  ['TWOS', undefined],
  ['SERIAL', undefined],
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
  [5, 'TWO'],
  [6, 'THREE'],
  [0, undefined],
  [4, undefined],
  [7, undefined],
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

// ANY: a write's level only. The read parsers above refuse it (parseLevel('ANY') is undefined).
const writeParseTable: Array<[text: string, level: WriteLevelName | undefined]> = [
  ['ANY', 'ANY'],
  ['any', 'ANY'],
  ['Any', 'ANY'],
  ['ONE', 'ONE'],
  ['three', 'THREE'],
  ['SERIAL', undefined],
  ['ANYONE', undefined],
  ['', undefined],
];

for (const [text, level] of writeParseTable) {
  test(`parseWriteLevel(${JSON.stringify(text)}) is ${level ?? 'undefined'}`, (t) => {
    t.is(parseWriteLevel(text), level);
  });
}

test('writeLevelFromCode: 7 is ANY, which levelFromCode (reads, scans) does not know; it inverts WRITE_LEVEL_CODES', (t) => {
  t.is(writeLevelFromCode(7), 'ANY');
  t.is(levelFromCode(7), undefined);
  for (const code of [0, 4, 8, -1]) t.is(writeLevelFromCode(code), undefined, `code ${code}`);
  for (const [name, code] of Object.entries(WRITE_LEVEL_CODES)) t.is(writeLevelFromCode(code), name as WriteLevelName);
});

test('ANY needs no acknowledgement, pending replicas or not, and no factor makes it unreachable', (t) => {
  for (let rf = 1; rf <= 5; rf++) {
    for (const pending of [0, 1, 2]) t.is(writeAcksNeeded('ANY', rf, pending), 0, `rf ${rf}, ${pending} pending`);
    t.is(unreachableLevel('ANY', rf), undefined, `rf ${rf}`);
  }
  t.is(writeAcksNeeded('ONE', 3, 1), 2, 'beside it, ONE adds the pending replica');
});

test('a read level typed as ANY is told ANY is for writes; any other unknown level gets the list', (t) => {
  t.is(
    unknownLevel('any', LEVEL_LIST),
    "ANY is a level for writes only: a read needs a replica's answer; use ONE, TWO, THREE, QUORUM or ALL",
  );
  t.is(unknownLevel('most', READ_LEVEL_LIST), 'unknown consistency level "most"; use ONE, TWO, THREE, QUORUM, ALL or SERIAL');
  t.is(WRITE_LEVEL_LIST, 'ANY, ONE, TWO, THREE, QUORUM or ALL');
});
