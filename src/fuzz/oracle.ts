/**
 * Is a node's reply to a generated frame the right one? Shared by the runner
 * (against real nodes) and the unit test (against the processor and handler
 * in process), so both judge by the same rules.
 */
import { assert } from '../common/assert';
import type { FuzzFrame } from './frames';
import { METHODS, MethodName, THROWS } from './methods';
import { APPLICATION_EXCEPTION_UNKNOWN_METHOD, DecodedMessage, MessageType } from './thrift-wire';

/** Text of the node's "unknown method" application exception (its type is checked too). */
export const UNKNOWN_METHOD_TEXT = 'Unknown function';

/** Result struct field of a method's return value. */
const SUCCESS_ID = 0;

function describe(m: DecodedMessage): string {
  const kind = m.type === MessageType.REPLY ? 'REPLY' : m.type === MessageType.EXCEPTION ? 'EXCEPTION' : `type ${m.type}`;
  const ids = [...m.fields.keys()].join(',') || 'none';
  const text = m.fields.get(1)?.bytes?.toString('utf8');
  return `${kind} ${JSON.stringify(m.name)} fields [${ids}]${m.type === MessageType.EXCEPTION && text ? `: ${text}` : ''}`;
}

/** Null when `reply` is a right answer to `frame`, else what is wrong with it. */
export function judgeReply(frame: Pick<FuzzFrame, 'method' | 'expect' | 'echo'>, reply: DecodedMessage): string | null {
  const wrong = (): string => `expected ${frame.expect}, got ${describe(reply)}`;
  if (reply.type !== MessageType.REPLY && reply.type !== MessageType.EXCEPTION) return `reply of message type ${reply.type}`;
  const ids = [...reply.fields.keys()];
  const only = (id: number): boolean => reply.type === MessageType.REPLY && ids.length === 1 && ids[0] === id;
  switch (frame.expect) {
    case 'any':
      return null;
    case 'close':
      return `a frame the node should have refused was answered: ${describe(reply)}`;
    case 'unknown-method': {
      const text = reply.fields.get(1)?.bytes?.toString('utf8') ?? '';
      const type = reply.fields.get(2)?.i32;
      return reply.type === MessageType.EXCEPTION && text.includes(UNKNOWN_METHOD_TEXT) && type === APPLICATION_EXCEPTION_UNKNOWN_METHOD
        ? null
        : wrong();
    }
    case 'unauthorized':
      return frame.method !== null && reply.name === frame.method && only(THROWS[methodOf(frame.method)].unauthorized ?? -1)
        ? null
        : wrong();
    case 'invalid':
      return frame.method !== null && reply.name === frame.method && only(THROWS[methodOf(frame.method)].invalid) ? null : wrong();
    case 'declared':
    case 'ok': {
      if (frame.method === null || reply.name !== frame.method || reply.type !== MessageType.REPLY) return wrong();
      const t = THROWS[methodOf(frame.method)];
      // A void method's success is an empty result struct.
      if (ids.length === 0) return t.void ? null : wrong();
      if (ids.length !== 1) return wrong();
      if (ids[0] === SUCCESS_ID) {
        if (frame.echo !== undefined && !reply.fields.get(SUCCESS_ID)?.bytes?.equals(frame.echo))
          return 'ping answered with other bytes than it was sent';
        return null;
      }
      const allowed = frame.expect === 'ok' ? t.operational : t.declared;
      return allowed.includes(ids[0]!) ? null : wrong();
    }
  }
}

function methodOf(name: string): MethodName {
  assert((METHODS as readonly string[]).includes(name), `a frame's method is one of the IDL's: ${name}`);
  return name as MethodName;
}
