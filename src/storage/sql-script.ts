/**
 * Builds a commit's SQL script as ASCII bytes in one buffer, turned into a
 * string once per piece of about SQL_SCRIPT_PIECE_BYTES.
 *
 * Why: a commit of a few thousand rows built as template strings made, per
 * row, a Buffer and a hex string of its value (bytesLiteral), a row string,
 * and then joined them all: several allocations a row, which the main
 * thread paid for and the young-generation collector paid for again: the
 * largest main-thread cost of applying a streamed page (docs/benchmarks.md,
 * `--workload join`).
 * The text is the same as sql-literal.ts's: keys and values of printable
 * ASCII as quoted TEXT, anything else as X'…' BLOBs.
 */
import { assert } from '../common/assert';
import { SQL_SCRIPT_PIECE_BYTES, SQL_SCRIPT_SCRATCH_BYTES_KEPT } from '../common/limits';

const QUOTE = 0x27;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Per byte value, its two hex digits as one little-endian 16-bit number (first digit low). */
const HEX_PAIRS = new Uint16Array(256);
for (let b = 0; b < 256; b++) HEX_PAIRS[b] = HEX_DIGITS[b >> 4]! | (HEX_DIGITS[b & 15]! << 8);

/** A byte string's literal kind: printable ASCII goes as TEXT (see bytesLiteral). */
function isPlainText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** A buffer the last finished script left for the next one (undefined while a script holds it). */
let scratch: Buffer | undefined;

/**
 * Strings shorter than this are copied char by char: a call into
 * Buffer.write costs about 190 ns whatever the length, a loop over ten
 * chars 70-170 ns, over a hundred 640-810 ns.
 */
const NATIVE_WRITE_CHARS_MIN = 16;

/** Writes a latin1 string's chars at `at` (room reserved); returns the position after them. */
function copyChars(buf: Buffer, at: number, s: string): number {
  if (s.length >= NATIVE_WRITE_CHARS_MIN) return at + buf.write(s, at, 'latin1');
  for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
  return at;
}
const SCRATCH_BYTES_FIRST = 2 * SQL_SCRIPT_PIECE_BYTES;

export class SqlScript {
  private buf: Buffer;
  private pos = 0;
  private readonly pieces: string[] = [];

  constructor() {
    this.buf = scratch ?? Buffer.allocUnsafe(SCRATCH_BYTES_FIRST);
    scratch = undefined;
  }

  /** Room for `n` more bytes. */
  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** SQL text of ASCII characters, as it is. */
  text(s: string): this {
    this.reserve(s.length);
    this.pos = copyChars(this.buf, this.pos, s);
    return this;
  }

  /** One ASCII character, by its code. */
  char(code: number): this {
    this.reserve(1);
    this.buf[this.pos++] = code;
    return this;
  }

  /** A non-negative safe integer in decimal. */
  int(n: number): this {
    assert(Number.isSafeInteger(n) && n >= 0, 'a script integer is a non-negative safe integer');
    this.reserve(16);
    if (n < 10) {
      this.buf[this.pos++] = 0x30 + n;
      return this;
    }
    let digits = 0;
    for (let m = n; m >= 1; m = Math.floor(m / 10)) digits++;
    let at = this.pos + digits;
    this.pos = at;
    for (let m = n; m >= 1; m = Math.floor(m / 10)) this.buf[--at] = 0x30 + (m % 10);
    return this;
  }

  /** A latin1 key or value as bytesLiteral writes it: quoted TEXT for printable ASCII, an X'…' BLOB otherwise. */
  bytes(s: string): this {
    if (isPlainText(s)) return this.quoted(s);
    const n = s.length;
    this.reserve(3 + 2 * n);
    const buf = this.buf;
    let at = this.pos;
    buf[at++] = 0x58; // X
    buf[at++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const pair = HEX_PAIRS[s.charCodeAt(i)]!;
      buf[at++] = pair & 0xff;
      buf[at++] = pair >> 8;
    }
    buf[at++] = QUOTE;
    this.pos = at;
    return this;
  }

  /** Printable ASCII in single quotes, each quote doubled. */
  private quoted(s: string): this {
    if (s.includes("'")) return this.text(`'${s.replace(/'/g, "''")}'`);
    this.reserve(s.length + 2);
    this.buf[this.pos] = QUOTE;
    this.pos = copyChars(this.buf, this.pos + 1, s);
    this.buf[this.pos++] = QUOTE;
    return this;
  }

  /** Bytes written to the current piece. */
  get length(): number {
    return this.pos;
  }

  /** Ends the current piece (see SQL_SCRIPT_PIECE_BYTES); the next text starts a new one. */
  cut(): void {
    if (this.pos === 0) return;
    this.pieces.push(this.buf.toString('latin1', 0, this.pos));
    this.pos = 0;
  }

  /** The script's pieces; the writer is done with its buffer (a small one is kept for the next script). */
  finish(): string[] {
    this.cut();
    // Kept unless one huge row grew it: that memory goes back.
    if (this.buf.length <= SQL_SCRIPT_SCRATCH_BYTES_KEPT) scratch = this.buf;
    this.buf = Buffer.alloc(0);
    return this.pieces;
  }
}
