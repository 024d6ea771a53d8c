import test from 'ava';
import { Inspection, InspectedEntry, writeJson } from '../../src/cli/inspector';

const entry = (i: number): InspectedEntry => ({ key: `k${i}`, value: `"v${i}"\n`, ts: i, deleted: i % 7 === 0 });

function inspection(entries: number): Inspection {
  return {
    nodes: [
      { id: 0, address: '127.0.0.1:9000', up: true, entries: Array.from({ length: entries }, (_, i) => entry(i)), hints: { 2: 5 } },
      { id: 1, address: '127.0.0.1:9001', up: false, error: 'connection refused', entries: [], hints: {} },
    ],
    divergent: Array.from({ length: 2500 }, (_, i) => `d${i}`),
  };
}

function render(ins: Inspection, max: number): { text: string; writes: number } {
  const parts: string[] = [];
  writeJson(ins, max, (s) => parts.push(s));
  return { text: parts.join(''), writes: parts.length };
}

test('writeJson: one JSON document with every entry, written in pieces', (t) => {
  const ins = inspection(2345);
  const { text, writes } = render(ins, Infinity);
  t.true(text.endsWith('}\n'));
  t.true(writes > 6, `${writes} writes`);
  t.deepEqual(JSON.parse(text), {
    nodes: [
      { id: 0, address: '127.0.0.1:9000', up: true, hints: { 2: 5 }, keys: 2345, entries: ins.nodes[0]!.entries },
      { id: 1, address: '127.0.0.1:9001', up: false, error: 'connection refused', hints: {}, keys: 0, entries: [] },
    ],
    divergent: ins.divergent,
  });
});

test('writeJson: --max-entries cuts each node\'s entries but not its key count', (t) => {
  for (const max of [0, 1, 1000, 1001]) {
    const report = JSON.parse(render(inspection(1500), max).text);
    t.is(report.nodes[0].keys, 1500);
    t.deepEqual(report.nodes[0].entries, Array.from({ length: max }, (_, i) => entry(i)), `max ${max}`);
    t.is(report.divergent.length, 2500);
  }
});
