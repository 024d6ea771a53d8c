/**
 * The scan coordinator over in-memory replicas: each replica is a sorted
 * map of versions, so the walk across ranges, failover, repair and the
 * cursor are checked without processes (test/integration/scan.test.ts runs
 * real ones).
 */
import test from 'ava';
import { systemTime, Time } from '../../src/clock/time';
import { DEFAULT_TOKENS } from '../../src/config/layout';
import { isKvError } from '../../src/common/errors';
import { SCAN_ROUNDS_MAX } from '../../src/common/limits';
import { parseSpeculativeRetry } from '../../src/config/speculative-retry';
import { RangeReplica, RangeScanner, ScanRequest } from '../../src/coordinator/range-scan';
import { SpeculationDelay } from '../../src/coordinator/speculation';
import { Trace } from '../../src/coordinator/trace';
import { bootstrapEntry, replayLog } from '../../src/membership/changes';
import { bootstrapPlacement, Placement } from '../../src/membership/placement';
import { Owner, Scheduler } from '../../src/sim/scheduler';
import { KeyedVersion, supersedes, Version } from '../../src/storage/version';

// Tokens M < f < p < 0x7f, ids in token order.
const placement = bootstrapPlacement(
  DEFAULT_TOKENS.map((token, id) => ({ id, token })),
  3,
);
const NOW_US = systemTime.nowMs() * 1000;
const TIMEOUT_MS = 2000;
const val = (value: string, ts = 1): Version => ({ value, ts, deleted: false });

/** A replica holding a map of versions; `failing` rejects every range read, `silent` never answers one; counts range reads. */
class MemoryReplica implements RangeReplica {
  readonly data = new Map<string, Version>();
  failing = false;
  silent = false;
  rangeReads = 0;
  constructor(readonly id: number) {}
  async apply(items: readonly KeyedVersion[]): Promise<void> {
    for (const { key, version } of items) if (supersedes(version, this.data.get(key))) this.data.set(key, version);
  }
  async read(key: string): Promise<Version | undefined> {
    return this.data.get(key);
  }
  async readRange(from: string, to: string | undefined, limit: number) {
    this.rangeReads++;
    if (this.failing) throw new Error(`node ${this.id} failed`);
    if (this.silent) return new Promise<never>(() => undefined);
    const keys = [...this.data.keys()].filter((k) => k >= from && (to === undefined || k < to)).sort();
    return { entries: keys.slice(0, limit).map((key) => ({ key, version: this.data.get(key)! })), more: keys.length > limit };
  }
}

function setup(
  selfId = 0,
  down: ReadonlySet<number> = new Set(),
  placed: Placement = placement,
  speculativeRetry?: string,
  time: Time = systemTime,
) {
  const replicas = new Map<number, MemoryReplica>();
  for (let id = 0; id < 5; id++) replicas.set(id, new MemoryReplica(id));
  const hinted: Array<{ target: number; items: readonly KeyedVersion[] }> = [];
  const scanner = new RangeScanner({
    selfId,
    placement: () => placed,
    replicas,
    isUp: (id) => !down.has(id),
    hints: { add: async (target, items) => hinted.push({ target, items }) > 0 },
    observe: () => undefined,
    time,
    timeoutMs: TIMEOUT_MS,
    ...(speculativeRetry === undefined
      ? {}
      : { speculation: new SpeculationDelay(parseSpeculativeRetry(speculativeRetry)!, TIMEOUT_MS, () => time.monotonicMs()) }),
  });
  /** Writes a version on every replica of its key (or those listed). */
  const write = (key: string, version: Version, on = placement.rangeOf(key).reads): void => {
    for (const id of on) replicas.get(id)!.data.set(key, version);
  };
  return { scanner, replicas, write, hinted };
}

const request = (over: Partial<ScanRequest> = {}): ScanRequest => ({
  start: '',
  end: undefined,
  level: 'QUORUM',
  limit: 100,
  cursor: undefined,
  ...over,
});

/** Every page of a scan, following cursors. */
async function scanAll(scanner: RangeScanner, req: ScanRequest): Promise<{ keys: string[]; calls: number }> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let calls = 1; ; calls++) {
    const page = await scanner.scan({ ...req, cursor });
    keys.push(...page.rows.map((r) => r.key));
    if (page.cursor === undefined) return { keys, calls };
    cursor = page.cursor;
  }
}

const SPREAD = ['', '0', 'A', 'M', 'M\u0000', 'Z', 'a', 'f', 'f1', 'o', 'p', 'pp', 'z', '\u007f', '\u007f\u0000', '\u00c3', '\u00ff\u00ff'];

test('a scan walks every range in byte order, across the wrap-round, page by page', async (t) => {
  const { scanner, write } = setup();
  for (const key of SPREAD) write(key, val(`v${key}`));
  for (const limit of [1, 2, 5, 100]) {
    const { keys } = await scanAll(scanner, request({ limit }));
    t.deepEqual(keys, [...SPREAD].sort(), `limit ${limit}`);
  }
  t.deepEqual((await scanAll(scanner, request({ start: 'M', end: 'p' }))).keys, ['M', 'M\u0000', 'Z', 'a', 'f', 'f1', 'o']);
  t.deepEqual((await scanAll(scanner, request({ start: '\u007f' }))).keys, ['\u007f', '\u007f\u0000', '\u00c3', '\u00ff\u00ff']);
  t.deepEqual((await scanAll(scanner, request({ start: 'b', end: 'b' }))).keys, []);
});

test('a full page that reaches the end of the scan says there is no more; one that stops inside a range says there may be', async (t) => {
  const { scanner, write } = setup();
  for (const key of ['a', 'b', 'c']) write(key, val(key));
  // 'a'..'c' lie in one range; the scan ends at 'd', inside it.
  t.is(
    (await scanner.scan(request({ start: 'a', end: 'd', limit: 3 }))).cursor,
    undefined,
    'exactly the last keys: no empty page to ask for',
  );
  t.is((await scanner.scan(request({ start: 'a', end: 'd', limit: 2 }))).cursor, 'b');
  // To the end of the key space, the page ends in the first range of several: other ranges may hold keys.
  t.is((await scanner.scan(request({ start: 'a', limit: 3 }))).cursor, 'c');
});

test('tombstones and expired values are hidden but the walk passes them', async (t) => {
  const { scanner, write } = setup();
  write('a', val('1'));
  write('b', { value: '', ts: 2, deleted: true });
  write('c', { value: 'x', ts: 2, deleted: false, expires: NOW_US - 1 });
  write('d', { value: 'y', ts: 2, deleted: false, expires: NOW_US + 60_000_000 });
  t.deepEqual((await scanAll(scanner, request({ limit: 1 }))).keys, ['a', 'd']);
});

test('at QUORUM the newest version wins and a replica that was behind is repaired before the answer', async (t) => {
  // Node 1 coordinates the range of 'a' (replicas 1, 2, 3): it reads itself and node 2.
  const { scanner, replicas, write } = setup(1);
  write('a', val('old', 1));
  write('a', val('new', 5), [2, 3]);
  write('b', val('only-on-1', 3), [1]);
  const page = await scanner.scan(request({ start: 'a', end: 'c' }));
  t.deepEqual(page.rows, [
    { key: 'a', value: 'new', ts: 5 },
    { key: 'b', value: 'only-on-1', ts: 3 },
  ]);
  t.deepEqual(replicas.get(1)!.data.get('a'), val('new', 5), 'node 1 repaired');
  t.deepEqual(replicas.get(2)!.data.get('b'), val('only-on-1', 3), 'node 2 repaired');
  t.is(scanner.counters.scanRepairs, 2);
});

test('a replica that fails is replaced by the next live one; too few up is Unavailable', async (t) => {
  const { scanner, replicas, write } = setup(1);
  write('a', val('1'));
  replicas.get(2)!.failing = true;
  t.deepEqual((await scanner.scan(request({ start: 'a', end: 'b' }))).rows, [{ key: 'a', value: '1', ts: 1 }]);
  t.is(replicas.get(3)!.rangeReads, 1, 'node 3 asked after node 2 failed');
  t.deepEqual((await scanAll(scanner, request())).keys, ['a'], 'the whole ring: two answers in every range all the same');
  replicas.get(3)!.failing = true;
  const err = await scanner.scan(request({ start: 'a', end: 'b' })).catch((e: unknown) => e);
  t.true(isKvError(err, 'TimedOut'), 'two of three failing: TimedOut');
  const downTwo = setup(1, new Set([2, 3]));
  const unavailable = await downTwo.scanner.scan(request({ start: 'a', end: 'b' })).catch((e: unknown) => e);
  t.true(isKvError(unavailable, 'Unavailable'));
});

/** The outcome of `promise`, run on virtual time (a loaded machine cannot stall one timer past another). */
async function onVirtualTime<T>(scheduler: Scheduler, promise: Promise<T>): Promise<T> {
  const settled = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!(await scheduler.runWhile(settled, 10 * TIMEOUT_MS))) throw new Error('still running after ten timeouts of virtual time');
  const outcome = await settled;
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

test('a replica that sends no page is passed over once the speculative wait is over; without speculation the round times out', async (t) => {
  const scheduler = new Scheduler();
  const time = scheduler.timeFor(new Owner('node 1'));
  const spec = setup(1, new Set(), placement, '20ms', time);
  spec.write('a', val('1'));
  spec.replicas.get(2)!.silent = true;
  t.deepEqual((await onVirtualTime(scheduler, spec.scanner.scan(request({ start: 'a', end: 'b' })))).rows, [
    { key: 'a', value: '1', ts: 1 },
  ]);
  t.is(spec.replicas.get(3)!.rangeReads, 1, 'node 3 asked after node 2 was slow');
  t.is(spec.scanner.counters.scanSpeculations, 1);
  t.true(scheduler.nowMs < TIMEOUT_MS, `answered at ${scheduler.nowMs} ms of virtual time`);
  const none = setup(1, new Set(), placement, 'NONE', time);
  none.write('a', val('1'));
  none.replicas.get(2)!.silent = true;
  const err = await onVirtualTime(scheduler, none.scanner.scan(request({ start: 'a', end: 'b' }))).catch((e: unknown) => e);
  t.true(isKvError(err, 'TimedOut'), String(err));
  t.is(none.replicas.get(3)!.rangeReads, 0, 'node 3 never asked');
  t.is(none.scanner.counters.scanSpeculations, 0);
});

test('ALWAYS asks one replica more than the level needs from the start, and a fast round asks no more', async (t) => {
  const always = setup(1, new Set(), placement, 'ALWAYS');
  always.write('a', val('1'));
  t.deepEqual((await always.scanner.scan(request({ start: 'a', end: 'b' }))).rows, [{ key: 'a', value: '1', ts: 1 }]);
  t.deepEqual(
    [1, 2, 3].map((id) => always.replicas.get(id)!.rangeReads),
    [1, 1, 1],
  );
  const waits = setup(1, new Set(), placement, '1000ms');
  waits.write('a', val('1'));
  t.deepEqual((await waits.scanner.scan(request({ start: 'a', end: 'b' }))).rows, [{ key: 'a', value: '1', ts: 1 }]);
  t.deepEqual(
    [1, 2, 3].map((id) => waits.replicas.get(id)!.rangeReads),
    [1, 1, 0],
  );
  t.is(waits.scanner.counters.scanSpeculations, 0);
});

test('a traced scan notes each round: the replicas asked, their pages, the merge, a repair, and the answer', async (t) => {
  const { scanner, replicas, write } = setup(1);
  write('a', val('new', 2), [1, 2]);
  write('a', val('old', 1), [3]);
  write('b', val('1'));
  const trace = new Trace(() => systemTime.monotonicMs());
  const page = await scanner.scan(request({ start: 'a', end: 'c' }), trace);
  t.deepEqual(page.rows, [
    { key: 'a', value: 'new', ts: 2 },
    { key: 'b', value: '1', ts: 1 },
  ]);
  const steps = trace.events.map((e) => e.activity);
  t.deepEqual(steps.slice(0, 4), [
    'QUORUM scan from "a" to "c", at most 100 keys',
    'round 1: from "a" up to "c": 2 of node 1, node 2, node 3 needed, up: node 1, node 2, node 3',
    'asks node 1',
    'asks node 2',
  ]);
  t.deepEqual(steps.slice(4, 6).sort(), ['node 1 sent 2 versions', 'node 2 sent 2 versions']);
  t.deepEqual(steps.slice(6), ['2 keys merged, 2 of them live and taken', 'answers with 2 keys, the scan done']);

  // Node 3 is behind on "a": asked in place of a failing node 2, it is repaired before the answer.
  replicas.get(2)!.failing = true;
  const repaired = new Trace(() => systemTime.monotonicMs());
  await scanner.scan(request({ start: 'a', end: 'c' }), repaired);
  const lines = repaired.events.map((e) => e.activity);
  t.true(lines.includes('node 2 failed: node 2 failed'), lines.join('\n'));
  t.true(lines.includes('asks node 3'), lines.join('\n'));
  t.true(lines.includes('repairs node 3: 1 version it was behind on'), lines.join('\n'));
});

test('a long stretch of tombstones is walked over several calls, each of at most SCAN_ROUNDS_MAX rounds', async (t) => {
  const { scanner, write } = setup();
  const n = 1000 * (SCAN_ROUNDS_MAX + 3);
  for (let i = 0; i < n; i++) write(`a${String(i).padStart(6, '0')}`, { value: '', ts: 1, deleted: true });
  write('b', val('live'));
  const { keys, calls } = await scanAll(scanner, request({ start: 'a', end: 'c', limit: 1000 }));
  t.deepEqual(keys, ['b']);
  t.true(calls >= 2, `${calls} calls`);
});

test('while node 4 joins, a scan reads one replica more than its level, among them the pending one, and repairs it', async (t) => {
  const joining = Placement.of(
    replayLog([
      bootstrapEntry(
        DEFAULT_TOKENS.map((token, id) => ({ id, token })),
        3,
      ),
      { epoch: 2, change: { kind: 'join-begin', node: 4, token: 'B' } },
    ]),
  );
  t.deepEqual(
    [joining.rangeOf('A').reads, joining.rangeOf('A').writes],
    [
      [0, 1, 2],
      [0, 1, 2, 4],
    ],
  );
  // Node 1 asks itself, 2, then the pending 4, which holds nothing yet.
  const { scanner, replicas, write } = setup(1, new Set(), joining);
  write('A', val('a'));
  t.deepEqual((await scanAll(scanner, request({ start: 'A', end: 'B' }))).keys, ['A']);
  t.deepEqual(
    [...replicas.values()].map((r) => r.rangeReads),
    [0, 1, 1, 0, 1],
  );
  t.deepEqual(replicas.get(4)!.data.get('A'), val('a'), 'what the scan returned is on the pending replica');
  const down = setup(1, new Set([2, 4]), joining).scanner;
  const err = await t.throwsAsync(down.scan(request({ start: 'A', end: 'B' })));
  t.true(isKvError(err, 'Unavailable'), String(err));
  t.is(err!.message, 'QUORUM needs 3 of the 4 replicas of the range from "A" (1 of them pending) but only 2 are up');
});
