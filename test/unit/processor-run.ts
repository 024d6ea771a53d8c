/**
 * Runs one call's frame through a processor in process, for the tests that
 * compare the node's own answers (get-reply.ts, read-local-reply.ts) with
 * the generated processor's. Not a test file.
 */
import * as KeyValue from '../../src/gen/KeyValue';
import { FastBinaryWriter, FrameBuilder } from '../../src/rpc/fast-protocol';
import { ClientClass, frameReader, frameWriter, InputProtocol, OutputProtocol, ProcessorClass } from '../../src/rpc/thrift';

type Processor = { process(input: unknown, output: unknown): void };

/** The frame a generated client writes for one call (`send` calls its send_ method). */
export function callFrame(send: (client: Record<string, (...args: unknown[]) => void>) => void): Buffer {
  const frames: Buffer[] = [];
  const client = new ClientClass(new FrameBuilder((b) => frames.push(b)) as never, FastBinaryWriter as never);
  send(client as unknown as Record<string, (...args: unknown[]) => void>);
  return Buffer.concat(frames);
}

/** Feeds `frame` to `processor`: how many reply frames were written before it returned, and a promise of all of them. */
export function run(processor: Processor, frame: Buffer): { atOnce: number; all: Promise<Buffer> } {
  const out: Buffer[] = [];
  const output = new OutputProtocol(frameWriter((b) => out.push(b)));
  frameReader((transport) => processor.process(new InputProtocol(transport), output), 1 << 20).push(frame);
  const atOnce = out.length;
  return { atOnce, all: new Promise((resolve) => setImmediate(() => resolve(Buffer.concat(out)))) };
}

/** The generated processor's replies to `frame` and the node's, both over the same handler. */
export async function bothReplies(frame: Buffer, handler: object): Promise<{ ours: Buffer; theirs: Buffer; atOnce: number }> {
  const theirs = run(new KeyValue.Processor(handler as never) as unknown as Processor, frame);
  const ours = run(new ProcessorClass(handler) as unknown as Processor, frame);
  return { ours: await ours.all, theirs: await theirs.all, atOnce: ours.atOnce };
}

/** A rejected promise made on demand, its rejection handled by the processor a moment later. */
export const rejected =
  <T>(err: unknown) =>
  (): Promise<T> => {
    const p = Promise.reject(err);
    p.catch(() => undefined);
    return p;
  };
