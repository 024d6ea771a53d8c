/**
 * The few pieces of the Apache Thrift runtime this project uses, with types.
 * Only framed transport and binary protocol; our own server and connection
 * loops (server.ts, connection.ts) replace the runtime's, which lack error
 * handling, deadlines and limits.
 */
import Int64 from 'node-int64';
import * as KeyValue from '../gen/KeyValue';
import * as types from '../gen/kv_types';
import { FastBinaryWriter, FrameBuilder, NumberI64Reader } from './fast-protocol';
import { ByteBudget, FrameDecoder } from './frames';
import type { ReplicaPage } from '../coordinator/scan-merge';
import { readRangeReply } from './range-page-wire';
import { GetHandler, GetProtocol, processGet } from './get-reply';
import { processReadLocal, ReadLocalHandler, ReadLocalProtocol, readLocalAnswer } from './read-local-reply';
import type { Version } from '../storage/version';

const runtime = require('thrift');

export interface FrameTransport {
  flush(): void;
}

export interface Protocol {
  readMessageBegin(): { fname: string; mtype: number; rseqid: number };
}

export interface Processor {
  process(input: Protocol, output: Protocol): void;
}

type ProtocolClass = new (transport: FrameTransport) => Protocol;

/** Reads binary protocol (i64 as numbers where exact). */
export const InputProtocol: ProtocolClass = NumberI64Reader as unknown as ProtocolClass;
/** Writes binary protocol into a FrameBuilder. */
export const OutputProtocol: ProtocolClass = FastBinaryWriter as unknown as ProtocolClass;

/** A transport that hands each flushed, length-prefixed frame to `onFrame`. */
export function frameWriter(onFrame: (frame: Buffer) => void): FrameTransport {
  return new FrameBuilder(onFrame);
}

/**
 * The runtime's read transport over one complete frame, for InputProtocol:
 * a TFramedTransport made without its constructors. Reading uses only the
 * frame and a position (`inBuf`, `readPos`); the constructors also set up
 * the header transport's writing state, a zero-length Buffer and two
 * objects, for every frame a node reads: 4.8% of a node's main thread
 * under ONE reads (docs/benchmarks.md).
 */
function FrameReadTransport(this: { inBuf: Buffer; readPos: number }, frame: Buffer): void {
  this.inBuf = frame;
  this.readPos = 0;
}
FrameReadTransport.prototype = Object.create(runtime.TFramedTransport.prototype);
const ReadTransport = FrameReadTransport as unknown as new (frame: Buffer) => FrameTransport;

export function frameTransport(frame: Buffer): FrameTransport {
  return new ReadTransport(frame);
}

/**
 * A stream decoder: feed it socket data, it calls `onFrame` with a transport
 * per complete frame. Throws FrameError when a frame's length prefix exceeds
 * `frameBytesMax` (before buffering it) or the shared budget is exhausted.
 */
export function frameReader(
  onFrame: (frame: FrameTransport) => void,
  frameBytesMax: number,
  budget?: ByteBudget,
): { push(data: Buffer): void; dispose(): void } {
  return new FrameDecoder(frameBytesMax, (frame) => onFrame(frameTransport(frame)), budget);
}

/**
 * Writes frames to a socket, coalescing those written in the same event-loop
 * turn into one syscall (cork now, uncork in setImmediate, after the turn's
 * I/O callbacks). Pipelined replies and batched requests then cost one write
 * instead of one each. On loopback a write costs about as much CPU as the
 * rest of a request: uncorking on the next tick instead (one write per I/O
 * callback) gave 23-28% fewer echo ops/s and up to 15% fewer QUORUM reads/s
 * in the same session (docs/benchmarks.md).
 */
export function corkedWriter(socket: import('node:net').Socket): (frame: Buffer, done?: () => void) => void {
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  return (frame, done) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    socket.write(frame, done);
  };
}

/**
 * The generated client, except that two answers are read straight into
 * versions: readRange's into keyed versions (range-page-wire.ts), the form
 * a joining node applies them in (a stream's pages are the largest answers
 * a node reads), and readLocal's into each key's version
 * (read-local-reply.ts), as a coordinator compares them (every QUORUM read
 * reads one).
 */
const generatedRecv = KeyValue.Client.prototype as unknown as Record<string, (...args: unknown[]) => void>;

class KvClient extends KeyValue.Client {
  recv_readRange(input: NumberI64Reader, mtype: number, rseqid: number): void {
    if (mtype === runtime.Thrift.MessageType.EXCEPTION) return generatedRecv.recv_readRange!.call(this, input, mtype, rseqid);
    const reply = readRangeReply(input);
    answer(this, rseqid, 'failure' in reply ? reply : { value: reply.page });
  }

  recv_readLocal(input: NumberI64Reader, mtype: number, rseqid: number): void {
    if (mtype === runtime.Thrift.MessageType.EXCEPTION) return generatedRecv.recv_readLocal!.call(this, input, mtype, rseqid);
    const reply = readLocalAnswer(input);
    answer(this, rseqid, 'failure' in reply ? reply : { value: reply.rows });
  }
}

/** Hands a call's answer to the callback the generated client left for its seqid. */
function answer(client: KvClient, rseqid: number, reply: { failure: unknown } | { value: unknown }): void {
  const internals = client as unknown as ClientInternals;
  const callback = internals._reqs[rseqid];
  delete internals._reqs[rseqid];
  if ('failure' in reply) callback?.(reply.failure);
  else callback?.(null, reply.value);
}

export type Client = Omit<KeyValue.Client, 'readRange' | 'readLocal'> & {
  readLocal(secret: string, keys: Buffer[], epoch: Int64, fromNode: number): Promise<(Version | undefined)[]>;
  readRange(
    secret: string,
    start: Buffer,
    stop: Buffer,
    limit: number,
    bytesMax: number,
    epoch: Int64,
    fromNode: number,
  ): Promise<ReplicaPage>;
};
export const ClientClass = KvClient as unknown as new (output: FrameTransport, protocol: ProtocolClass) => Client;

/** The runtime's protocol calls a processor makes, as far as this file uses them. */
interface ProcessorProtocol {
  readMessageBegin(): { fname: string; rseqid: number };
  readMessageEnd(): void;
  skip(type: number): void;
  writeMessageBegin(name: string, type: number, seqid: number): void;
  writeMessageEnd(): void;
  flush(): void;
}

type MethodProcessor = (seqid: number, input: ProcessorProtocol, output: ProcessorProtocol) => void;

/**
 * The generated processor, except that `get` and `readLocal` are answered
 * by get-reply.ts and read-local-reply.ts (a plain answer written in the
 * same call), and that it answers an unknown method itself. The runtime's
 * TApplicationException.write writes its exception type from a
 * `code` field that the constructor never sets, so the generated answer
 * carried the message "Unknown function X" but no type: a client could not
 * tell it from any other application error. This answer carries
 * UNKNOWN_METHOD (1), like other Thrift servers'.
 */
class KvProcessor extends KeyValue.Processor {
  override process(input: ProcessorProtocol, output: ProcessorProtocol): void {
    const { fname, rseqid } = input.readMessageBegin();
    if (fname === 'get') {
      const handler = (this as unknown as { _handler: GetHandler })._handler;
      return processGet(handler, rseqid, input as unknown as GetProtocol, output as unknown as GetProtocol);
    }
    if (fname === 'readLocal') {
      const handler = (this as unknown as { _handler: ReadLocalHandler })._handler;
      return processReadLocal(handler, rseqid, input as unknown as ReadLocalProtocol, output as unknown as ReadLocalProtocol);
    }
    const method = (this as unknown as Record<string, MethodProcessor | undefined>)[`process_${fname}`];
    if (typeof method === 'function') return method.call(this, rseqid, input, output);
    input.skip(runtime.Thrift.Type.STRUCT);
    input.readMessageEnd();
    const err = new runtime.Thrift.TApplicationException(UNKNOWN_METHOD, `Unknown function ${fname}`);
    err.code = err.type; // what the runtime's writer reads
    output.writeMessageBegin(fname, runtime.Thrift.MessageType.EXCEPTION, rseqid);
    err.write(output);
    output.writeMessageEnd();
    output.flush();
  }
}

/** TApplicationExceptionType.UNKNOWN_METHOD: the type of the answer to a method the IDL does not have. */
export const UNKNOWN_METHOD: number = runtime.Thrift.TApplicationExceptionType.UNKNOWN_METHOD;

export const ProcessorClass = KvProcessor as unknown as new (handler: object) => Processor;

/**
 * What a node sends instead of serving a TLS client whose certificate it
 * refused (server.ts): one EXCEPTION message with no method name and seqid 0,
 * then it closes. No call has that name, so no generated client mistakes it
 * for a reply; ours reads it (isRefusal) and fails its calls with the reason.
 * Node's TLS server would otherwise close such a connection without an alert,
 * and the client could only say that it was lost.
 */
export function refusalFrame(message: string): Buffer {
  let frame: Buffer | undefined;
  const output = new OutputProtocol(
    frameWriter((f) => {
      frame = f;
    }),
  ) as unknown as ProcessorProtocol;
  const err = new runtime.Thrift.TApplicationException(runtime.Thrift.TApplicationExceptionType.UNKNOWN, message);
  err.code = err.type; // what the runtime's writer reads
  output.writeMessageBegin('', runtime.Thrift.MessageType.EXCEPTION, 0);
  err.write(output);
  output.writeMessageEnd();
  output.flush();
  return frame!;
}

/** Whether a message header is a node's refusal (refusalFrame). */
export function isRefusal(header: { fname: string; mtype: number }): boolean {
  return header.fname === '' && header.mtype === runtime.Thrift.MessageType.EXCEPTION;
}

/** The reason a refusal carries, read from its input after the header. */
export function refusalReason(input: Protocol): string {
  const err = new runtime.Thrift.TApplicationException();
  err.read(input);
  return String(err.message);
}

/** Generated client internals we manage ourselves (deadlines, closed sockets). */
export interface ClientInternals {
  _seqid: number;
  _reqs: Record<number, (err: unknown, result?: unknown) => void>;
}

export { Int64, types };

/** i64 from the wire to a number; timestamps stay below 2^53. */
/** An optional i64 field as a number; undefined when the sender left it out (an older build's frame). */
export function optionalInt64(x: Int64 | number | null | undefined): number | undefined {
  return x === null || x === undefined ? undefined : int64ToNumber(x);
}

export function int64ToNumber(x: Int64 | number | null | undefined): number {
  if (x === null || x === undefined) return NaN;
  return typeof x === 'number' ? x : x.toNumber(true);
}

/**
 * An argument added to the IDL later, left out: the generated client writes
 * no field for null. A tool's internode call (placed by no ring) sends no
 * epoch this way, like an older build.
 */
export const ABSENT = null as never;
