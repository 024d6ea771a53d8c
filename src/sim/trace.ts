/**
 * What happened in a simulation, as a hash and (when asked for) as text.
 * Every message sent, dropped and delivered, every fault and every client
 * answer is mixed into the hash, so two runs of one seed can be compared by
 * it; the text, one line per event, is what `--trace` prints.
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class Trace {
  private h = FNV_OFFSET;
  readonly lines: string[] | undefined;

  constructor(
    keepLines: boolean,
    private readonly nowMs: () => number,
  ) {
    this.lines = keepLines ? [] : undefined;
  }

  private mix(n: number): void {
    this.h = Math.imul(this.h ^ (n | 0), FNV_PRIME) >>> 0;
    this.h = Math.imul(this.h ^ ((n / 0x1_0000_0000) | 0), FNV_PRIME) >>> 0;
  }

  private mixText(s: string): void {
    for (let i = 0; i < s.length; i++) this.h = Math.imul(this.h ^ s.charCodeAt(i), FNV_PRIME) >>> 0;
  }

  /** One event: a kind, up to two numbers (nodes, ids), and text built only when lines are kept. */
  note(kind: string, a: number, b: number, text?: () => string): void {
    this.mix(Math.round(this.nowMs() * 1000));
    this.mixText(kind);
    this.mix(a);
    this.mix(b);
    if (this.lines) this.lines.push(`${this.nowMs().toFixed(3).padStart(10)}ms ${kind} ${a}->${b}${text ? ` ${text()}` : ''}`);
  }

  /** Text that belongs in the hash (a client's answer). */
  noteText(kind: string, text: string): void {
    this.mix(Math.round(this.nowMs() * 1000));
    this.mixText(kind);
    this.mixText(text);
    if (this.lines) this.lines.push(`${this.nowMs().toFixed(3).padStart(10)}ms ${kind} ${text}`);
  }

  get hash(): string {
    return this.h.toString(16).padStart(8, '0');
  }
}
