/**
 * Cuts a TCP byte stream into Thrift frames (a 4-byte big-endian length,
 * then that many bytes). Used instead of the runtime's decoder so that the
 * bytes a connection has buffered are known: each node caps them per
 * connection (one frame, checked against the limit before it is buffered)
 * and in total across connections (see InputBudget).
 */

export class FrameError extends Error {
  override name = 'FrameError';
}

/** Bytes buffered by all connections of a node; over budget, the connection adding more is closed. */
export class ByteBudget {
  used = 0;
  constructor(readonly max: number) {}
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the frame being collected, or -1 while its prefix is incomplete. */
  private need = -1;

  constructor(
    private readonly frameBytesMax: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly budget?: ByteBudget,
  ) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds bytes; calls onFrame for each complete frame. Throws FrameError on a bad prefix or an exhausted budget. */
  push(data: Buffer): void {
    this.take(data.length);
    this.chunks.push(data);
    this.buffered += data.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return;
        this.need = this.peekLength();
      }
      if (this.buffered < 4 + this.need) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      const frame = all.subarray(4, 4 + this.need);
      const rest = all.subarray(4 + this.need);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.release(this.buffered - rest.length);
      this.buffered = rest.length;
      this.need = -1;
      this.onFrame(frame);
    }
  }

  /** Returns whatever is still buffered to the budget (the connection closed). */
  dispose(): void {
    this.release(this.buffered);
    this.chunks = [];
    this.buffered = 0;
  }

  private peekLength(): number {
    const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const n = head.readInt32BE(0);
    if (n < 0 || n > this.frameBytesMax) {
      throw new FrameError(`frame of ${n} bytes is outside 0..${this.frameBytesMax}`);
    }
    return n;
  }

  private take(n: number): void {
    if (!this.budget) return;
    if (this.budget.used + n > this.budget.max) {
      throw new FrameError(`the node's input buffers are full (${this.budget.max} bytes)`);
    }
    this.budget.used += n;
  }

  private release(n: number): void {
    if (this.budget) this.budget.used -= n;
  }
}
