/**
 * A strict reader of the Prometheus text format, for the metrics tests:
 * every line must be `# HELP name text`, `# TYPE name type` or a sample
 * `name{label="value",...} number`, and every sample must belong to a family
 * declared by a TYPE line before it. Throws on anything else.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  /** Family name → its TYPE. */
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
const SUFFIXES: Readonly<Record<string, readonly string[]>> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (m === null || m.index !== at) throw new Error(`bad labels in: ${line}`);
    if (m[1]! in labels) throw new Error(`label ${m[1]} twice in: ${line}`);
    labels[m[1]!] = m[2]!;
  }
  return labels;
}

function parseValue(text: string, line: string): number {
  // Prometheus reads values with Go's ParseFloat, which takes these words in any case
  // (prom-client writes "Nan" for an event-loop histogram with no sample yet).
  const word = text.toLowerCase();
  if (word === '+inf' || word === 'inf') return Number.POSITIVE_INFINITY;
  if (word === '-inf') return Number.NEGATIVE_INFINITY;
  if (word === 'nan') return Number.NaN;
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new Error(`bad value in: ${line}`);
  return v;
}

/** The family a sample name belongs to, among those declared so far. */
function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name) && !SUFFIXES[types.get(name)!]) return name;
  for (const [family, type] of types) {
    for (const suffix of SUFFIXES[type] ?? []) if (name === family + suffix) return family;
  }
  return undefined;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const h = HELP.exec(line);
    if (h) {
      help.set(h[1]!, h[2]!);
      continue;
    }
    const t = TYPE.exec(line);
    if (t) {
      if (types.has(t[1]!)) throw new Error(`TYPE of ${t[1]} twice`);
      types.set(t[1]!, t[2]!);
      continue;
    }
    const s = SAMPLE.exec(line);
    if (!s) throw new Error(`not a line of the Prometheus text format: ${line}`);
    if (familyOf(s[1]!, types) === undefined) throw new Error(`sample of an undeclared family: ${line}`);
    samples.push({ name: s[1]!, labels: parseLabels(s[2] ?? '', line), value: parseValue(s[3]!, line) });
  }
  return { types, help, samples };
}

/** The samples named `name` whose labels include every label of `labels`. */
export function find(e: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample that matches, or an error that says how many did. */
export function one(e: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const found = find(e, name, labels);
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]!.value;
}
