import test from 'ava';
import { compareKeyStrings, displayBytes, fromByteString, toByteString } from '../../src/common/bytes';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');
const u = (text: string): Buffer => Buffer.from(text, 'utf8');

const displayTable: Array<[bytes: Buffer, shown: string, why: string]> = [
  [u('hello'), 'hello', 'ASCII text'],
  [u('hello world'), 'hello world', 'a space is text'],
  [u('héllo'), 'héllo', 'UTF-8 text with an accent'],
  [u('ключ'), 'ключ', 'Cyrillic'],
  [u('😀'), '😀', 'a four-byte character'],
  [u('\ufffd'), '\ufffd', 'a real U+FFFD is valid text'],
  [u(''), '', 'no bytes: empty text'],
  [h('ff'), '0xff', 'a byte that is never UTF-8'],
  [h('00'), '0x00', 'a zero byte'],
  [u('a\tb'), '0x610962', 'a tab'],
  [u('line\n'), '0x6c696e650a', 'a newline'],
  [u('\u001b[31m'), '0x1b5b33316d', 'an escape sequence'],
  [h('7f'), '0x7f', 'DEL'],
  [h('c3'), '0xc3', 'a truncated sequence'],
  [h('c080'), '0xc080', 'an overlong encoding'],
  [h('eda080'), '0xeda080', 'an encoded surrogate'],
  [h('f4908080'), '0xf4908080', 'above U+10FFFF'],
  [h('61ff62'), '0x61ff62', 'an invalid byte among text'],
  [h('deadbeef'), '0xdeadbeef', 'binary'],
];

for (const [bytes, shown, why] of displayTable) {
  test(`displayBytes(0x${bytes.toString('hex')}): ${why}`, (t) => {
    t.is(displayBytes(bytes), shown);
  });
}

// The C1 controls U+0080..U+009F are valid UTF-8 (0xc2 0x9b is CSI, which
// some terminals obey like ESC [), so they must be shown as hex too.
test('displayBytes shows C1 control characters (U+0080..U+009F) as hex', (t) => {
  t.is(displayBytes(h('c29b')), '0xc29b');
  t.is(displayBytes(h('c285')), '0xc285');
});

test('toByteString and fromByteString round-trip every byte', (t) => {
  const all = Buffer.from([...Array(256).keys()]);
  const s = toByteString(all);
  t.is(s.length, 256);
  t.true(fromByteString(s).equals(all));
  // A slice of a larger buffer converts only its own bytes.
  t.is(toByteString(all.subarray(10, 13)), '\u000a\u000b\u000c');
});

const compareTable: Array<[a: string, b: string, sign: -1 | 0 | 1]> = [
  ['a', 'b', -1],
  ['b', 'a', 1],
  ['a', 'a', 0],
  ['', '\u0000', -1],
  ['a', 'ab', -1],
  ['\u007f', '\u0080', -1],
  ['\u00ff', 'z', 1],
  ['Z', 'a', -1],
];

for (const [a, b, sign] of compareTable) {
  test(`compareKeyStrings(${JSON.stringify(a)}, ${JSON.stringify(b)}) has sign ${sign}, as Buffer.compare`, (t) => {
    t.is(Math.sign(compareKeyStrings(a, b)), sign);
    t.is(Buffer.compare(fromByteString(a), fromByteString(b)), sign);
  });
}
