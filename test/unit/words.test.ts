import test from 'ava';
import { tokenize } from '../../src/common/words';
import { KvError } from '../../src/common/errors';

const table: Array<[line: string, words: string[], why: string]> = [
  ['get foo', ['get', 'foo'], 'plain words'],
  ['  put   a   b  ', ['put', 'a', 'b'], 'runs of spaces'],
  ['\tget\tkey\n', ['get', 'key'], 'tabs and newlines separate'],
  ['', [], 'an empty line'],
  ['   ', [], 'only spaces'],
  ['put k "hello world"', ['put', 'k', 'hello world'], 'a quoted word with a space'],
  ['"a  b" c', ['a  b', 'c'], 'a quoted first word keeps inner spaces'],
  ['put "a\\"b"', ['put', 'a"b'], 'an escaped quote inside quotes'],
  ['put "a\\\\b"', ['put', 'a\\b'], 'an escaped backslash inside quotes'],
  ['put "\\\\"', ['put', '\\'], 'a quoted lone backslash'],
  ['put "a\\nb"', ['put', 'anb'], 'a backslash before another char drops the backslash'],
  ['""', [''], 'the empty quoted word'],
  ['put k ""', ['put', 'k', ''], 'an empty quoted value'],
  ['"" ""', ['', ''], 'two empty quoted words'],
  ['a"b c"d', ['ab cd'], 'quotes inside a word join it'],
  ['"a""b"', ['ab'], 'adjacent quoted parts make one word'],
  ['a\\b', ['a\\b'], 'a backslash outside quotes is literal'],
  ['put ключ "значение с пробелом"', ['put', 'ключ', 'значение с пробелом'], 'non-ASCII text'],
];

for (const [line, words, why] of table) {
  test(`tokenize(${JSON.stringify(line)}): ${why}`, (t) => {
    t.deepEqual(tokenize(line), words);
  });
}

const unclosed = ['"abc', 'put "a b', 'put k "', 'put "a\\"', 'put "abc\\', '"a" "b'];

for (const line of unclosed) {
  test(`tokenize(${JSON.stringify(line)}) throws InvalidRequest for an unclosed quote`, (t) => {
    const err = t.throws(() => tokenize(line), { instanceOf: KvError, message: /not closed/ });
    t.is(err?.code, 'InvalidRequest');
  });
}
