/**
 * The fuzzer knows the whole service: every method of idl/kv.thrift, with
 * the IDL's argument fields and declared exceptions, and the structs its
 * arguments carry. Read from the IDL file itself, so that a method or an
 * argument added there fails here until the fuzzer sends it.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  ARGS,
  ArgSpec,
  BALLOT,
  BATCH_WRITE,
  DIGEST,
  EPOCH_CHANGE,
  MEMBERSHIP_LOG,
  METHODS,
  MUTATION,
  PROPOSAL,
  RING_MEMBER,
  SECRET_BEARING,
  SECRET_CHECKED,
  SECRET_NEVER,
  SECRET_REFUSED_ONLY,
  THROWS,
} from '../../src/fuzz/methods';
import { TType } from '../../src/fuzz/thrift-wire';

const IDL = readFileSync(resolve(__dirname, '../../../idl/kv.thrift'), 'utf8');

interface IdlField {
  readonly id: number;
  readonly type: string;
  readonly name: string;
}

interface IdlMethod {
  readonly name: string;
  readonly returns: string;
  readonly args: IdlField[];
  readonly throws: IdlField[];
}

/** The IDL without its comments. */
function stripped(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

/** `body` cut at the commas that are not inside <...>. */
function topLevelParts(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of body) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** `1: optional list<Mutation> mutations` → its id, type and name. */
function parseFields(body: string): IdlField[] {
  return topLevelParts(body).map((part) => {
    const m = /^(-?\d+)\s*:\s*(?:optional\s+|required\s+)?(.+?)\s+(\w+)$/s.exec(part);
    if (m === null) throw new Error(`cannot read the IDL field "${part}"`);
    return { id: Number(m[1]), type: m[2]!.replace(/\s+/g, ''), name: m[3]! };
  });
}

/** The text between the braces that follow `header`. */
function block(text: string, header: RegExp): string {
  const m = header.exec(text);
  if (m === null) throw new Error(`no ${header} in the IDL`);
  const open = text.indexOf('{', m.index);
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`unclosed ${header}`);
}

function serviceMethods(): IdlMethod[] {
  const body = block(stripped(IDL), /\bservice\s+KeyValue\b/);
  const methods: IdlMethod[] = [];
  const re = /([\w<>, ]+?)\s+(\w+)\s*\(([^)]*)\)\s*(?:throws\s*\(([^)]*)\))?\s*[,;]?/g;
  for (const m of body.matchAll(re)) {
    methods.push({ returns: m[1]!.trim(), name: m[2]!, args: parseFields(m[3]!), throws: parseFields(m[4] ?? '') });
  }
  return methods;
}

function structFields(name: string): IdlField[] {
  return parseFields(block(stripped(IDL), new RegExp(`\\b(?:struct|exception)\\s+${name}\\b`)).replace(/\n/g, ','));
}

const ENUMS = new Set([...stripped(IDL).matchAll(/\benum\s+(\w+)/g)].map((m) => m[1]!));

/** The wire type of an IDL type. */
function ttypeOf(type: string): number {
  if (type === 'binary' || type === 'string') return TType.STRING;
  if (type === 'i32' || ENUMS.has(type)) return TType.I32;
  if (type === 'i64') return TType.I64;
  if (type === 'bool') return TType.BOOL;
  if (type === 'double') return TType.DOUBLE;
  if (type.startsWith('list<')) return TType.LIST;
  if (type.startsWith('map<')) return TType.MAP;
  if (type.startsWith('set<')) return TType.SET;
  return TType.STRUCT;
}

function asSpecs(fields: readonly IdlField[]): [number, number, string][] {
  return fields.map((f) => [f.id, ttypeOf(f.type), f.name]);
}

function withoutGenerators(spec: readonly ArgSpec[]): [number, number, string][] {
  return spec.map(([id, type, name]) => [id, type, name]);
}

test('the reader of the IDL finds the service and its methods', (t) => {
  const methods = serviceMethods();
  t.true(methods.length >= 28, `found ${methods.length}`);
  const put = methods.find((m) => m.name === 'put')!;
  t.deepEqual(put.args, [
    { id: 1, type: 'binary', name: 'key' },
    { id: 2, type: 'binary', name: 'value' },
    { id: 3, type: 'Level', name: 'level' },
  ]);
  t.is(put.returns, 'i64');
  t.deepEqual(
    put.throws.map((e) => e.type),
    ['InvalidRequest', 'Unavailable', 'TimedOut'],
  );
});

test('METHODS is every method of the IDL, in its order', (t) => {
  t.deepEqual(
    [...METHODS],
    serviceMethods().map((m) => m.name),
  );
});

test("every method's arguments are the IDL's: ids, types and names", (t) => {
  for (const m of serviceMethods()) {
    t.deepEqual(withoutGenerators(ARGS[m.name as keyof typeof ARGS]), asSpecs(m.args), m.name);
  }
});

test("every method's declared exceptions and result are the IDL's", (t) => {
  for (const m of serviceMethods()) {
    const throws = THROWS[m.name as keyof typeof THROWS];
    const idOf = (type: string): number | undefined => m.throws.find((e) => e.type === type)?.id;
    t.deepEqual(
      throws.declared,
      m.throws.map((e) => e.id),
      m.name,
    );
    t.is(throws.invalid as number | undefined, idOf('InvalidRequest'), `${m.name}: InvalidRequest`);
    t.is(throws.unauthorized, idOf('Unauthorized'), `${m.name}: Unauthorized`);
    t.is(throws.void === true, m.returns === 'void', `${m.name}: void`);
    // What a valid call may be refused with is among what the method declares.
    for (const id of throws.operational) t.true(throws.declared.includes(id), `${m.name}: ${id}`);
    t.is(SECRET_CHECKED.has(m.name as never), m.args[0]?.name === 'secret', `${m.name}: secret`);
  }
});

test("the structs that arguments carry are the IDL's", (t) => {
  const structs: [string, readonly ArgSpec[]][] = [
    ['Mutation', MUTATION],
    ['Digest', DIGEST],
    ['Ballot', BALLOT],
    ['Proposal', PROPOSAL],
    ['MembershipLog', MEMBERSHIP_LOG],
    ['EpochChange', EPOCH_CHANGE],
    ['RingMember', RING_MEMBER],
    ['BatchWrite', BATCH_WRITE],
  ];
  for (const [name, spec] of structs) t.deepEqual(withoutGenerators(spec), asSpecs(structFields(name)), name);
});

test('the secret rules name only methods that take the secret, and never both bearing and never', (t) => {
  for (const m of [...SECRET_BEARING, ...SECRET_NEVER]) t.true(SECRET_CHECKED.has(m), m);
  for (const m of SECRET_REFUSED_ONLY) t.true(SECRET_BEARING.has(m), m);
  for (const m of SECRET_NEVER) t.false(SECRET_BEARING.has(m), m);
  // Every method that takes the secret is decided one way or the other.
  for (const m of SECRET_CHECKED) t.true(SECRET_BEARING.has(m) || SECRET_NEVER.has(m), m);
});
