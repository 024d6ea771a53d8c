/**
 * The import graph of src/ has no cycle, between files or between top-level
 * folders: the core (partitioner, clock, coordinator, storage, ...) must not
 * depend on the I/O that depends on it. Read from the sources themselves, so
 * a new cycle fails here, not in review.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(__dirname, '../../../src');
/** Generated code imports only itself and the thrift runtime. */
const SKIPPED = new Set(['gen']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIPPED.has(name) ? [] : sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative module specifiers of every import and export-from, type-only ones included. */
export function importedSpecifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'(\.[^']+)'/gms)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s+'(\.[^']+)'/gm)) out.push(m[1]!);
  return out;
}

/** The graph: file (relative to src/, without .ts) → files it imports. */
function fileGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sources(SRC)) {
    const from = relative(SRC, file).replace(/\.ts$/, '');
    const edges = new Set<string>();
    for (const spec of importedSpecifiers(readFileSync(file, 'utf8'))) {
      const target = relative(SRC, resolve(dirname(file), spec));
      if (!target.startsWith('gen/')) edges.add(target);
    }
    graph.set(from, edges);
  }
  return graph;
}

/** Strongly connected components with more than one member (or a self-loop): the cycles. */
export function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

function folderGraph(files: ReadonlyMap<string, ReadonlySet<string>>): Map<string, Set<string>> {
  const top = (file: string): string => file.split('/')[0]!;
  const graph = new Map<string, Set<string>>();
  for (const [from, targets] of files) {
    const edges = graph.get(top(from)) ?? new Set<string>();
    for (const t of targets) if (top(t) !== top(from)) edges.add(top(t));
    graph.set(top(from), edges);
  }
  return graph;
}

test('the cycle finder finds a cycle, a self-loop, and none in a chain', (t) => {
  const g = (edges: Record<string, string[]>): Map<string, Set<string>> => new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)]));
  t.deepEqual(cycles(g({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] })), [['a', 'b', 'c']]);
  t.deepEqual(cycles(g({ a: ['a'], b: [] })), [['a']]);
  t.deepEqual(cycles(g({ a: ['b'], b: ['c'], c: [] })), []);
});

test('import lines are read whatever their shape', (t) => {
  const text = [
    "import { a } from './a';",
    "import type { B } from '../b/b';",
    'import {',
    '  c,',
    '  d,',
    "} from './c';",
    "export { e } from './e';",
    "import './side-effect';",
    "import chalk from 'chalk';",
  ].join('\n');
  t.deepEqual(importedSpecifiers(text), ['./a', '../b/b', './c', './e', './side-effect']);
});

test('no import cycle between files of src/', (t) => {
  const graph = fileGraph();
  t.true(graph.size > 50, `read ${graph.size} files`);
  t.deepEqual(cycles(graph), []);
});

test('no import cycle between the top-level folders of src/', (t) => {
  t.deepEqual(cycles(folderGraph(fileGraph())), []);
});
