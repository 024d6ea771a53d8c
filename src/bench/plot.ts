/**
 * A bench run as a page to look at (--plot FILE.html): throughput and p50/p99
 * latency second by second, and the latency histogram, drawn by uPlot. The
 * page is one self-contained file: uPlot's script and style are inlined, so
 * it opens offline and can be kept beside the JSON. With --compare both
 * sides share each chart. Pure: the caller passes uPlot's files in.
 */
import type { BenchResult } from './report';

/** One side of the plot: a run and its name in the legends. */
export interface PlotRun {
  readonly label: string;
  readonly result: BenchResult;
}

/** uPlot's browser build and stylesheet, as text. */
export interface UplotAssets {
  readonly js: string;
  readonly css: string;
}

/** Colours of the runs' lines, in order; a third run would reuse the first. */
const COLOURS = ['#1f77b4', '#d62728'];

/** The data the page's script draws: one series per run and measure, aligned on seconds. */
export function plotData(runs: readonly PlotRun[]): object {
  const seconds = Math.max(0, ...runs.map((r) => r.result.timeline.length));
  const x = Array.from({ length: seconds }, (_, i) => i);
  const at = (r: PlotRun, pick: (p: BenchResult['timeline'][number]) => number): Array<number | null> =>
    x.map((i) => {
      const p = r.result.timeline[i];
      return p === undefined ? null : pick(p);
    });
  return {
    title: runs.map((r) => describe(r)).join('  vs  '),
    colours: runs.map((_, i) => COLOURS[i % COLOURS.length]),
    labels: runs.map((r) => r.label),
    x,
    ops: runs.map((r) => at(r, (p) => p.ops - p.errors)),
    p50: runs.map((r) => at(r, (p) => p.p50Ms)),
    p99: runs.map((r) => at(r, (p) => p.p99Ms)),
    histogram: runs.map((r) => r.result.histogram),
  };
}

function describe(r: PlotRun): string {
  const level = r.result.level === null ? '' : ` ${r.result.level}`;
  return `${r.label}: ${r.result.workload}${level}, ${r.result.opsPerSec} op/s, p99 ${r.result.latencyMs.p99} ms`;
}

/** `</script>` inside inlined text would end the script element early. */
function inlineSafe(text: string): string {
  return text.replace(/<\/(script|style)/gi, '<\\/$1');
}

export function plotHtml(runs: readonly PlotRun[], uplot: UplotAssets): string {
  const data = inlineSafe(JSON.stringify(plotData(runs)));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ringkv bench</title>
<style>${inlineSafe(uplot.css)}
body { font: 14px system-ui, sans-serif; margin: 1.5em; } h1 { font-size: 1.1em; } .chart { margin: 1em 0 2em; }</style>
<script>${inlineSafe(uplot.js)}</script>
</head><body>
<h1 id="title"></h1>
<div class="chart" id="ops"></div><div class="chart" id="latency"></div><div class="chart" id="histogram"></div>
<script>
const d = ${data};
document.getElementById('title').textContent = d.title;
const width = Math.min(1000, window.innerWidth - 40);
const axes = (y) => [{ label: 'seconds' }, { label: y, size: 70 }];
const seconds = { x: { time: false } };
new uPlot({ title: 'successful operations per second', width, height: 260, scales: seconds, axes: axes('op/s'),
  series: [{}, ...d.labels.map((l, i) => ({ label: l, stroke: d.colours[i] }))] }, [d.x, ...d.ops], document.getElementById('ops'));
new uPlot({ title: 'latency per second: p50 (solid) and p99 (dashed), ms', width, height: 260, scales: seconds, axes: axes('ms'),
  series: [{}, ...d.labels.flatMap((l, i) => [{ label: l + ' p50', stroke: d.colours[i] }, { label: l + ' p99', stroke: d.colours[i], dash: [6, 4] }])] },
  [d.x, ...d.p50.flatMap((p50, i) => [p50, d.p99[i]])], document.getElementById('latency'));
// The histogram: every run's buckets on one log-scaled latency axis.
const xs = [...new Set(d.histogram.flatMap((h) => h.map((b) => b[0])))].sort((a, b) => a - b);
const counts = d.histogram.map((h) => { const m = new Map(h); return xs.map((x) => m.get(x) ?? null); });
new uPlot({ title: 'latency histogram (successes per bucket)', width, height: 260,
  scales: { x: { time: false, distr: 3 } }, axes: [{ label: 'ms' }, { label: 'count' }],
  series: [{}, ...d.labels.map((l, i) => ({ label: l, stroke: d.colours[i], paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } }))] },
  [xs, ...counts], document.getElementById('histogram'));
</script>
</body></html>
`;
}
