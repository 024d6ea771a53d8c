import test from 'ava';
import { plotData, plotHtml } from '../../src/bench/plot';
import type { BenchResult } from '../../src/bench/report';
import { Timeline, TIMELINE_SECONDS_MAX } from '../../src/bench/timeline';

test('a timeline counts each second, its errors and its percentiles, with empty seconds between', (t) => {
  const tl = new Timeline();
  for (let i = 1; i <= 100; i++) tl.record(100 + i, i);
  tl.record(900, undefined);
  tl.record(2500, 7);
  tl.record(3100, 7);
  const points = tl.finish(3600);
  t.deepEqual(
    points.map((p) => [p.second, p.ops, p.errors]),
    [
      [0, 101, 1],
      [1, 0, 0],
      [2, 1, 0],
    ],
  );
  t.true(Math.abs(points[0]!.p50Ms - 50) <= 1 && Math.abs(points[0]!.p99Ms - 99) <= 1, JSON.stringify(points[0]));
  t.is(points[1]!.p99Ms, 0, 'a second without successes has no latency');
  t.true(Math.abs(points[2]!.p50Ms - 7) < 0.1);
  t.is(points.length, 3, 'the partial last second is left out');
});

test('a timeline keeps at most its first TIMELINE_SECONDS_MAX seconds', (t) => {
  const tl = new Timeline();
  tl.record(0, 1);
  tl.record((TIMELINE_SECONDS_MAX + 5) * 1000, 1);
  t.is(tl.finish((TIMELINE_SECONDS_MAX + 10) * 1000).length, TIMELINE_SECONDS_MAX);
});

function result(workload: string, opsPerSecond: number[]): BenchResult {
  return {
    workload,
    level: workload === 'echo' ? null : 'QUORUM',
    opsPerSec: 100,
    latencyMs: { mean: 1, p50: 1, p95: 2, p99: 3, p999: 4, max: 5 },
    errors: {},
    ops: 0,
    seconds: opsPerSecond.length,
    seed: 1,
    config: {} as BenchResult['config'],
    timeline: opsPerSecond.map((ops, second) => ({ second, ops, errors: 1, p50Ms: 1, p99Ms: 2 })),
    histogram: [
      [0.5, 10],
      [1, 3],
    ],
    cpu: { nodeMicrosPerOp: 1, nodeMainThreadMicrosPerOp: 1, clientMicrosPerOp: 1, nodesRead: 4, nodes: 4, coresBusy: null },
    internode: null,
  };
}

test('compare plots both sides on shared seconds, successes only, the shorter run padded', (t) => {
  const d = plotData([
    { label: 'echo', result: result('echo', [10, 20, 30]) },
    { label: 'write', result: result('write', [5, 6]) },
  ]) as { x: number[]; ops: Array<Array<number | null>>; labels: string[]; title: string };
  t.deepEqual(d.x, [0, 1, 2]);
  t.deepEqual(d.ops, [
    [9, 19, 29],
    [4, 5, null],
  ]);
  t.deepEqual(d.labels, ['echo', 'write']);
  t.regex(d.title, /echo: echo, 100 op\/s, p99 3 ms {2}vs {2}write: write QUORUM/);
});

test('the page inlines uPlot and its data, and no inlined text can close the script early', (t) => {
  const page = plotHtml([{ label: 'x</script><b>', result: result('write', [1]) }], { js: 'var uPlot = 1; // </script>', css: '.u{}' });
  t.true(page.startsWith('<!doctype html>'));
  t.is(page.match(/<\/script>/g)?.length, 2, 'only the two script elements close');
  t.true(page.includes('var uPlot = 1;'));
  t.false(page.includes('src="http'), 'nothing is loaded from the network');
});
