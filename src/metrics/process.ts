/**
 * The process's own metrics: memory, CPU, start time and event-loop lag,
 * under the names Prometheus' client libraries use (prom-client's defaults
 * among them), so existing dashboards and alerts work.
 *
 * Not prom-client's collectDefaultMetrics: its GC-duration metric keeps a
 * PerformanceObserver on every garbage collection, and a node collects
 * garbage all the time under load. A synthetic allocating loop spent 14–63%
 * more CPU with the defaults on, 25–34% with that observer alone
 * (docs/benchmarks.md, Cost of the metrics). Everything here is read at
 * scrape time; the one thing running between scrapes is Node's event-loop
 * delay sampler, whose cost in the same loop was within the noise.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from './prom';

/** How often the event-loop delay is sampled, ms (prom-client's default too). */
const EVENT_LOOP_SAMPLE_MS = 10;

/** Adds the process metrics to `registry`; the result stops the event-loop sampler. */
export function addProcessMetrics(registry: Registry): () => void {
  const registers = [registry];
  const memory: ReadonlyArray<readonly [string, string, (m: NodeJS.MemoryUsage) => number]> = [
    ['process_resident_memory_bytes', 'Resident memory size in bytes.', (m) => m.rss],
    ['nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', (m) => m.heapUsed],
    ['nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', (m) => m.heapTotal],
    ['nodejs_external_memory_bytes', 'Node.js external memory size in bytes (array buffers included).', (m) => m.external],
  ];
  for (const [name, help, read] of memory) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(process.memoryUsage()));
      },
    });
  }
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
    registers,
    collect() {
      const used = process.cpuUsage();
      this.reset();
      this.inc((used.user + used.system) / 1e6);
    },
  });
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds.',
    registers,
    collect() {
      this.set(startSeconds);
    },
  });
  return addEventLoopLag(registers);
}

function addEventLoopLag(registers: Registry[]): () => void {
  new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of the event loop in seconds, measured at the scrape (one setImmediate).',
    registers,
    async collect() {
      const start = performance.now();
      await new Promise((resolve) => setImmediate(resolve));
      this.set((performance.now() - start) / 1000);
    },
  });
  const delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_SAMPLE_MS });
  delay.enable();
  // Made second and without a collect of its own: the p99 gauge's collect, which runs first, sets it.
  let max: Gauge | undefined;
  new Gauge({
    name: 'nodejs_eventloop_lag_p99_seconds',
    help: 'The 99th percentile of the event-loop delay since the last scrape.',
    registers,
    collect() {
      // Without a sample yet the histogram reads NaN; 0 says the same thing more usefully.
      const nanos = (v: number): number => (Number.isFinite(v) ? v / 1e9 : 0);
      this.set(nanos(delay.percentile(99)));
      max?.set(nanos(delay.max));
      delay.reset();
    },
  });
  max = new Gauge({ name: 'nodejs_eventloop_lag_max_seconds', help: 'The longest event-loop delay since the last scrape.', registers });
  return () => delay.disable();
}
