/**
 * The console's trace command against four real node processes: a traced
 * put, get, delete, cas, SERIAL get, scan page, mget and batch run as usual
 * and come back with their coordinator's steps; a failure comes back with its steps too; a bad trace
 * is refused.
 */
import test, { type ExecutionContext } from 'ava';
import { LocalCluster } from '../../src/harness/local-cluster';
import { KvClient } from '../../src/client/client';
import { isKvError } from '../../src/common/errors';
import { types } from '../../src/rpc/thrift';
import { rawCall, runAdmin, runConsole } from './cluster-calls';

let cluster: LocalCluster | undefined;

test.after.always(async () => {
  await cluster?.destroy();
});

type Traced = { ok: boolean; traced: string; coordinator: number; events: Array<{ elapsedUs: number; activity: string }> } & Record<
  string,
  unknown
>;

test.serial('trace put, get and delete in the console: each runs, and shows whom its coordinator asked and who answered', async (t) => {
  cluster = await LocalCluster.start();
  const out = await runConsole(
    cluster,
    [
      'trace put A hello ALL',
      'trace get A QUORUM',
      'get A ONE',
      'trace delete A ALL',
      'trace get A ALL',
      'trace get A',
      'trace scan A QUORUM',
    ].join('\n'),
    true,
  );
  const [put, get, plain, del, gone, short, unknown] = out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Traced);
  // Key 'A' has replicas 0, 1, 2: an ALL write is acknowledged by each, and the trace waits for all of them.
  t.true(put!.ok, JSON.stringify(put));
  t.is(typeof put!.ts, 'number');
  const putSteps = put!.events.map((e) => e.activity);
  t.regex(putSteps[0]!, /^ALL write placed by epoch \d+: 3 of node \d, node \d, node \d needed$/);
  for (const id of [0, 1, 2])
    t.true(
      putSteps.some((s) => s.startsWith(`node ${id} acknowledged`) || s.startsWith(`its own copy (node ${id})`)),
      putSteps.join('\n'),
    );
  t.true(
    putSteps.some((s) => s.startsWith('answers the client: 3 of 3')),
    putSteps.join('\n'),
  );
  t.true(
    put!.events.every((e, i) => i === 0 || e.elapsedUs >= put!.events[i - 1]!.elapsedUs),
    'steps in time order',
  );
  t.true([0, 1, 2].includes(put!.coordinator), 'token routing sent it to a replica');
  t.like(get, { ok: true, traced: 'get', found: true, value: 'hello' });
  t.true(
    get!.events.some((e) => /^newest of node \d, node \d: ts=\d+ \(5 bytes\)$/.test(e.activity)),
    JSON.stringify(get!.events),
  );
  t.like(plain, { ok: true, found: true, value: 'hello' }, 'a traced write is a write');
  t.true(del!.ok && typeof del!.ts === 'number', JSON.stringify(del));
  t.like(gone, { ok: true, found: false, value: null });
  t.true(
    gone!.events.some((e) => /holds a tombstone ts=\d+/.test(e.activity)),
    JSON.stringify(gone!.events),
  );
  t.like(short, { ok: false, error: 'InvalidRequest' });
  t.regex(String(short!.message), /^trace takes a get, put, delete, cas, scan, mget or batch with its arguments/);
  t.like(unknown, { ok: false, error: 'InvalidRequest' });
});

test.serial("trace cas and a SERIAL get in the console: each shows its Paxos round's phases", async (t) => {
  const out = await runConsole(
    cluster!,
    ['trace cas L - me', 'trace cas L - you', 'trace get L SERIAL', 'trace cas L me'].join('\n'),
    true,
  );
  const [first, second, serial, short] = out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Traced);
  t.like(first, { ok: true, traced: 'cas', applied: true, value: 'me' });
  const phases = first!.events.map((e) => e.activity);
  const expected = [
    /^round 1: prepare ballot \d+\.\d to node \d, node \d, node \d \(needs 2 promises\)$/,
    /^promised by node \d, node \d/,
    /^the expectation holds: proposes the new value \(2 bytes\) under ballot \d+\.\d$/,
    /^propose to node \d, node \d, node \d \(needs 2 accepts\)$/,
    /^accepted by node \d, node \d/,
    /^commit ts=\d+ to node \d, node \d, node \d at QUORUM \(needs 2\)$/,
    /^commit acknowledged by node \d, node \d/,
  ];
  t.is(phases.length, expected.length, phases.join('\n'));
  phases.forEach((line, i) => t.regex(line, expected[i]!));
  t.like(second, { ok: true, traced: 'cas', applied: false, value: 'me' });
  t.regex(second!.events.at(-1)!.activity, /^expects no value, holds ts=\d+ \(2 bytes\): not applied$/);
  t.like(serial, { ok: true, traced: 'get', found: true, value: 'me' });
  t.regex(serial!.events[0]!.activity, /^round 1: prepare ballot/);
  t.regex(serial!.events.at(-1)!.activity, /^nothing left unfinished: reads the promises' newest, ts=\d+ \(2 bytes\)$/);
  t.like(short, { ok: false, error: 'InvalidRequest' });

  // The text form names the outcome as the cas command does.
  const text = await runConsole(cluster!, 'trace cas L me mine\ntrace cas L me again\n');
  t.regex(text, /^cas coordinated by node \d: applied\n/);
  t.regex(text, /\ncas coordinated by node \d: not applied; the value is mine\n/);
});

test.serial('trace scan in the console: a page of a scan, round by round', async (t) => {
  const out = await runConsole(cluster!, ['put K1 a ALL', 'put K2 b ALL', 'trace scan K L QUORUM', 'trace scan K QUORUM'].join('\n'), true);
  const [, , scan, short] = out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Traced);
  t.like(scan, { ok: true, traced: 'scan', rows: 2 });
  const steps = scan!.events.map((e) => e.activity);
  t.is(steps[0], 'QUORUM scan from "K" to "L", at most 1000 keys');
  t.regex(steps[1]!, /^round 1: from "K" up to "L": 2 of node 0, node 1, node 2 needed, up: node 0, node 1, node 2$/);
  t.true(steps.filter((s) => /^node \d sent 2 versions$/.test(s)).length >= 2, steps.join('\n'));
  t.is(steps.at(-1), 'answers with 2 keys, the scan done');
  t.like(short, { ok: false, error: 'InvalidRequest' });
  const text = await runConsole(cluster!, 'trace scan K L ONE\ntrace scan K1 K2 ONE\n');
  t.regex(text, /^scan coordinated by node \d: 2 keys\n/);
  t.regex(text, /\nscan coordinated by node \d: 1 key\n/);
});

/** A QUORUM logged batch of a put and a remove, traced: its logging and copies, then each write placed, led by its place. */
function loggedPutAndRemove(t: ExecutionContext, events: ReadonlyArray<{ activity: string }>): void {
  t.regex(events[0]!.activity, /^logged as batch \d+ of 2 writes, ts=\d+: durable here$/);
  t.regex(events[1]!.activity, /^its copy held by node \d.* \(asked node \d/);
  for (const [place, what] of [
    ['key 1 of 2: ', 'write'],
    ['key 2 of 2: ', 'remove'],
  ])
    t.true(
      events.some((e) => e.activity.startsWith(`${place}QUORUM ${what} placed by epoch`)),
      `${place}${JSON.stringify(events)}`,
    );
}

/** Steps of part `place` ("key 1 of 2: ") that are a replica's acknowledgement. */
const acksOf = (events: Traced['events'], place: string): number =>
  events.filter(
    (e) => e.activity.startsWith(place) && /^(node \d acknowledged|its own copy \(node \d\))/.test(e.activity.slice(place.length)),
  ).length;

test.serial('trace batch and trace mget in the console: each key of the call traced, led by its place', async (t) => {
  const out = await runConsole(
    cluster!,
    [
      'trace batch put M1 one delete M2 QUORUM',
      'trace mget M1 M2 Mx QUORUM',
      'trace mget QUORUM',
      'trace mget M1 SERIAL',
      'trace batch put M1 x SERIAL',
      'trace batch put M1 x put M1 y ONE',
    ].join('\n'),
    true,
  );
  const [batch, many, short, serial, serialBatch, twice] = out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Traced);
  t.like(batch, { ok: true, traced: 'batch', writes: 2 });
  t.is(typeof batch!.ts, 'number');
  loggedPutAndRemove(t, batch!.events);
  // The report waits for each write's last live replica, not only the two QUORUM needs.
  for (const place of ['key 1 of 2: ', 'key 2 of 2: ']) t.is(acksOf(batch!.events, place), 3, JSON.stringify(batch!.events));
  t.like(many, { ok: true, traced: 'mget', rows: 1 });
  t.deepEqual(
    (many!.entries as Array<Record<string, unknown>>).map((e) => [e.key, e.found, e.value]),
    [
      ['M1', true, 'one'],
      ['M2', false, null],
      ['Mx', false, null],
    ],
  );
  for (const place of ['key 1 of 3: ', 'key 2 of 3: ', 'key 3 of 3: '])
    t.true(
      many!.events.some((e) => e.activity.startsWith(`${place}QUORUM read placed by epoch`)),
      `${place}${JSON.stringify(many!.events)}`,
    );
  t.like(short, { ok: false, error: 'InvalidRequest' });
  t.regex(String(short!.message), /^mget takes one or more keys, then a level/);
  t.like(serial, { ok: false, error: 'InvalidRequest' });
  t.regex(String(serial!.message), /SERIAL/);
  t.like(serialBatch, { ok: false, error: 'InvalidRequest' });
  t.like(twice, { ok: false, error: 'InvalidRequest' });
  t.regex(String(twice!.message), /write 2 of 2: its key is write 1's too/);

  const text = await runConsole(cluster!, 'trace mget M1 Mx ONE\ntrace batch unlogged put M3 three ONE\n');
  t.regex(text, /^mget coordinated by node \d: 1 of 2 found\nM1 {2}one\nMx {2}\(not found\)\n +\d+ µs {2}key 1 of 2: /);
  t.regex(text, /\nbatch coordinated by node \d: OK \(1 write, unlogged\)\n +\d+ µs {2}an unlogged batch of 1 write, ts=\d+\n/);
});

test.serial('a trace request on the wire: getMany and batch take their own fields, and only they do', async (t) => {
  const call = (req: Record<string, unknown>): Promise<unknown> =>
    rawCall(cluster!, (c) => c.trace(new types.TraceRequest({ key: Buffer.from('M1'), level: 2 as never, ...req } as never)));
  const many = (await call({ op: 'getMany', keys: [Buffer.from('M1'), Buffer.from('Mx')] })) as types.TraceReport;
  t.deepEqual(
    many.results!.map((r) => [r.found, r.value.toString()]),
    [
      [true, 'one'],
      [false, ''],
    ],
  );
  t.is(many.rows, 1);
  const written = (await call({
    op: 'batch',
    writes: [new types.BatchWrite({ key: Buffer.from('M4'), value: Buffer.from('four') })],
  })) as types.TraceReport;
  t.true(Number(written.ts) > 0);
  for (const [req, why] of [
    [{ op: 'get', keys: [Buffer.from('M1')] }, /only a traced getMany carries a list of keys/],
    [{ op: 'put', value: Buffer.from('v'), writes: [] }, /only a traced batch carries writes/],
    [{ op: 'getMany' }, /getMany needs at least one key/],
    [{ op: 'getMany', keys: [Buffer.from('M1')], value: Buffer.from('v') }, /a traced getMany carries no value/],
    [{ op: 'getMany', keys: [Buffer.from('M1')], writes: [] }, /a traced getMany carries keys, not writes/],
    [{ op: 'batch', writes: [] }, /a batch needs at least one write/],
    [{ op: 'batch', keys: [Buffer.from('M1')], writes: [] }, /a traced batch carries writes, not a list of keys/],
    [{ op: 'nothing' }, /trace runs a "get", "put", "remove", "cas", "scan", "getMany" or "batch", not "nothing"/],
  ] as const) {
    const err = await call(req);
    t.true(isKvError(err, 'InvalidRequest'), `${JSON.stringify(req)}: ${String(err)}`);
    t.regex((err as Error).message, why);
  }
});

test.serial(
  'sampled tracing: admin.sh trace-probability makes the nodes keep traces of ordinary requests; traces lists them',
  async (t) => {
    const set = await runAdmin(cluster!, 'trace-probability', '1');
    t.is(set.code, 0, set.stderr);
    t.regex(set.stdout, /^node 0: 0 -> 1\nnode 1: 0 -> 1\nnode 2: 0 -> 1\nnode 3: 0 -> 1\n$/);
    // Node 3 is no replica of B (replicas 0, 1, 2): it coordinates each request, and none is a local read.
    const endpoint = cluster!.endpoint(3);
    const client = new KvClient([{ host: endpoint.host, port: endpoint.port }], { routing: 'node' });
    try {
      await client.put('B', 'sampled', 'QUORUM');
      t.is((await client.get('B', 'QUORUM')).value.toString(), 'sampled');
      t.is((await client.scanPage('B', 'C', 'QUORUM', 10)).entries.length, 1);
      t.deepEqual(
        (await client.getMany(['B', 'Bx'], 'QUORUM')).map((r) => r.found),
        [true, false],
      );
      await client.batch(
        [
          { key: 'Bb', value: 'one' },
          { key: 'Bc', remove: true },
        ],
        'QUORUM',
      );
    } finally {
      client.close();
    }
    const listed = await runAdmin(cluster!, 'traces', '3', '--json');
    t.is(listed.code, 0, listed.stderr);
    const { traces: all } = JSON.parse(listed.stdout) as {
      traces: Array<Record<string, unknown> & { events: Array<{ activity: string }> }>;
    };
    // A batch and a getMany are traced as a whole, under their first key, each key's steps led by its place.
    const [batch, many, ...traces] = all;
    t.like(batch, { node: 3, op: 'batch', key: '"Bb"', level: 'QUORUM' });
    t.regex(String(batch!.outcome), /^written, ts=\d+$/);
    loggedPutAndRemove(t, batch!.events);
    t.like(many, { node: 3, op: 'getMany', key: '"B"', level: 'QUORUM', outcome: '1 key' });
    for (const place of ['key 1 of 2: ', 'key 2 of 2: '])
      t.true(
        many!.events.some((e) => e.activity.startsWith(`${place}QUORUM read placed by epoch`)),
        `${place}${JSON.stringify(many!.events)}`,
      );
    t.like(traces[0], { node: 3, op: 'scan', key: '"B"', level: 'QUORUM', outcome: '1 key' });
    t.like(traces[1], { node: 3, op: 'get', key: '"B"', level: 'QUORUM', outcome: 'found, 7 bytes' });
    t.like(traces[2], { node: 3, op: 'put', key: '"B"', level: 'QUORUM' });
    t.regex(String(traces[2]!.outcome), /^written, ts=\d+$/);
    t.regex(traces[1]!.events[0]!.activity, /^QUORUM read placed by epoch \d+: 2 of node 0, node 1, node 2 needed$/);
    t.true(
      traces[2]!.events.some((e) => e.activity.startsWith('answers the client')),
      JSON.stringify(traces[2]!.events),
    );
    const text = await runAdmin(cluster!, 'traces', '3', '--limit', '4');
    t.regex(text.stdout, /\n\d{4}-\d\d-\d\dT[\d:.]+Z node 3: get QUORUM "B" [\d.]+ ms: found, 7 bytes\n +\d+ µs {2}QUORUM read placed/);

    const off = await runAdmin(cluster!, 'trace-probability', '0');
    t.regex(off.stdout, /^node 0: 1 -> 0\n/);
    const bad = await runAdmin(cluster!, 'trace-probability', '1.5');
    t.is(bad.code, 2);
    t.regex(bad.stderr, /trace-probability takes a share from 0 to 1/);
    const admin = cluster!.admin(0);
    try {
      const refused = await admin.setTraceProbability(Number.NaN).catch((e: unknown) => e);
      t.true(isKvError(refused, 'InvalidRequest'), String(refused));
      const tooMany = await admin.recentTraces(201).catch((e: unknown) => e);
      t.true(isKvError(tooMany, 'InvalidRequest'), String(tooMany));
    } finally {
      admin.close();
    }
  },
);

test.serial('a traced request that fails comes back with its error and the steps that led to it', async (t) => {
  await cluster!.kill(2);
  const out = await runConsole(cluster!, 'trace put A x ALL\ntrace get A ALL\n');
  const lines = out.trim().split('\n');
  // Text output: the outcome first, then one line a step.
  t.regex(lines[0]!, /^put coordinated by node \d: Unavailable: ALL needs 3 of the key's 3 replicas but only 2 are up$/, out);
  t.regex(lines[1]!, /^\s+\d+ µs {2}cannot place the write: ALL needs 3/, out);
  const getAt = lines.findIndex((l) => l.startsWith('get coordinated'));
  t.regex(lines[getAt]!, /^get coordinated by node \d: Unavailable: /, out);
});
