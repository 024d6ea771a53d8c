import test from 'ava';
import { LevelName } from '../../src/coordinator/levels';
import { UniformChooser } from '../../src/bench/keys';
import { Random as Prng } from '../../src/common/random';
import { Runner } from '../../src/bench/runner';
import {
  BAD_ECHO_ERROR,
  BenchClient,
  loadOperation,
  NOT_FOUND_ERROR,
  VALUE_POOL_OFFSETS,
  ValuePool,
  WorkloadName,
  workloadOperation,
} from '../../src/bench/workloads';

/** A client that records what it was asked, and holds whatever was put. */
class FakeClient implements BenchClient {
  readonly calls: string[] = [];
  constructor(
    private readonly store: Map<string, Buffer>,
    private readonly echoLength?: number,
  ) {}

  async put(key: string, value: Buffer, level: LevelName): Promise<void> {
    this.calls.push(`put ${key} ${level}`);
    this.store.set(key, value);
  }

  async get(key: string, level: LevelName): Promise<{ found: boolean }> {
    this.calls.push(`get ${key} ${level}`);
    return { found: this.store.has(key) };
  }

  async ping(payload: Buffer): Promise<Buffer> {
    this.calls.push('ping');
    return this.echoLength === undefined ? payload : Buffer.alloc(this.echoLength);
  }

  async getMany(keys: readonly string[], level: LevelName): Promise<{ found: boolean }[]> {
    this.calls.push(`getMany ${keys.length} ${level}`);
    return keys.map((k) => ({ found: this.store.has(k) }));
  }

  readonly batchKeys: string[][] = [];
  readonly batchValues: string[] = [];

  async batch(writes: readonly { key: string; value: Buffer }[], level: LevelName): Promise<void> {
    this.calls.push(`batch ${writes.length} ${level}`);
    this.batchKeys.push(writes.map((w) => w.key));
    for (const w of writes) this.batchValues.push(w.value.toString('hex'));
  }

  async scanPage(start: string, end: string, level: LevelName, limit: number): Promise<{ entries: string[] }> {
    this.calls.push(`scan ${start} ${end} ${level} ${limit}`);
    return {
      entries: [...this.store.keys()]
        .filter((k) => k >= start)
        .sort()
        .slice(0, limit),
    };
  }
}

function setup(name: WorkloadName, store = new Map<string, Buffer>(), echoLength?: number, scanned?: { keys: number }) {
  const clients = [0, 1, 2, 3].map(() => new FakeClient(store, echoLength));
  const op = workloadOperation(name, {
    clients,
    level: 'QUORUM',
    keys: 100,
    values: new ValuePool(new Prng(3), 10),
    chooser: new UniformChooser(100, new Prng(1)),
    rng: new Prng(2),
    spread: [''],
    ...(scanned ? { scanned } : {}),
  });
  return { clients, op, store };
}

const calls = (clients: FakeClient[]): string[] => clients.flatMap((c) => c.calls);

test('load writes each key once, round robin over the clients', async (t) => {
  const store = new Map<string, Buffer>();
  const clients = [0, 1, 2, 3].map(() => new FakeClient(store));
  const r = await new Runner(loadOperation({ clients, level: 'ALL', keys: 100, values: new ValuePool(new Prng(3), 1), spread: [''] }), {
    concurrency: 8,
    ops: 100,
  }).run();
  t.is(r.successes, 100);
  t.is(store.size, 100);
  t.true(store.has('key000000') && store.has('key000099'));
  for (const c of clients) t.is(c.calls.length, 25);
  t.true(clients[0]!.calls.every((c) => c.endsWith(' ALL')));
});

const mixes: [WorkloadName, number][] = [
  ['write', 0],
  ['read', 1],
  ['mixed', 0.5],
  ['read-mostly', 0.95],
];

for (const [name, readShare] of mixes) {
  test(`${name}: ${readShare * 100}% reads, spread over every client`, async (t) => {
    const store = new Map<string, Buffer>();
    for (let i = 0; i < 100; i++) store.set(`key${String(i).padStart(6, '0')}`, Buffer.alloc(1));
    const { clients, op } = setup(name, store);
    const r = await new Runner(op, { concurrency: 4, ops: 4000 }).run();
    t.is(r.successes, 4000);
    const reads = calls(clients).filter((c) => c.startsWith('get')).length;
    t.true(Math.abs(reads / 4000 - readShare) < 0.03, `reads ${reads}`);
    for (const c of clients) t.is(c.calls.length, 1000);
  });
}

test('a read that finds nothing after a preload is a NotFound error', async (t) => {
  const { op } = setup('read');
  const r = await new Runner(op, { concurrency: 1, ops: 10 }).run();
  t.deepEqual(r.errors, { [NOT_FOUND_ERROR]: 10 });
});

test('echo pings with the value as payload and checks the reply length', async (t) => {
  const ok = setup('echo');
  const r = await new Runner(ok.op, { concurrency: 2, ops: 8 }).run();
  t.is(r.successes, 8);
  t.true(calls(ok.clients).every((c) => c === 'ping'));
  const short = setup('echo', new Map(), 3);
  const bad = await new Runner(short.op, { concurrency: 2, ops: 8 }).run();
  t.deepEqual(bad.errors, { [BAD_ECHO_ERROR]: 8 });
});

test('the same seeds give the same operations', async (t) => {
  const a = setup('mixed');
  const b = setup('mixed');
  await new Runner(a.op, { concurrency: 1, ops: 200 }).run();
  await new Runner(b.op, { concurrency: 1, ops: 200 }).run();
  t.deepEqual(calls(a.clients), calls(b.clients));
});

test('load with a ring spread puts each key behind its prefix, in turn', async (t) => {
  const store = new Map<string, Buffer>();
  const clients = [new FakeClient(store)];
  await new Runner(loadOperation({ clients, level: 'ONE', keys: 8, values: new ValuePool(new Prng(3), 1), spread: ['a', 'g', 'q', 'A'] }), {
    concurrency: 1,
    ops: 8,
  }).run();
  t.deepEqual([...store.keys()].sort(), [
    'Akey000003',
    'Akey000007',
    'akey000000',
    'akey000004',
    'gkey000001',
    'gkey000005',
    'qkey000002',
    'qkey000006',
  ]);
});

test('the value pool hands out values of the asked size that differ from one number to the next', (t) => {
  const pool = new ValuePool(new Prng(7), 100);
  const seen = new Set<string>();
  for (let n = 0; n < 1000; n++) {
    const v = pool.at(n);
    t.is(v.length, 100);
    seen.add(v.toString('hex'));
  }
  t.is(seen.size, 1000);
  t.deepEqual(pool.at(5 + VALUE_POOL_OFFSETS), pool.at(5));
  t.is(new ValuePool(new Prng(7), 0).at(3).length, 0);
});

test('a load writes each key its own value', async (t) => {
  const store = new Map<string, Buffer>();
  await new Runner(
    loadOperation({ clients: [new FakeClient(store)], level: 'ONE', keys: 50, values: new ValuePool(new Prng(3), 16), spread: [''] }),
    { concurrency: 4, ops: 50 },
  ).run();
  t.is(new Set([...store.values()].map((v) => v.toString('hex'))).size, 50);
});

test('scan asks for pages of 1000 keys from a random key to the end, round robin, and counts the keys it got', async (t) => {
  const store = new Map<string, Buffer>();
  for (let i = 0; i < 100; i++) store.set(`key${String(i).padStart(6, '0')}`, Buffer.from('v'));
  const scanned = { keys: 0 };
  const { clients, op } = setup('scan', store, undefined, scanned);
  let expected = 0;
  for (let seq = 0; seq < 8; seq++) expected += ((await op(seq)) as { entries: string[] }).entries.length;
  t.is(scanned.keys, expected);
  t.true(expected > 0);
  for (const c of clients) {
    t.is(c.calls.length, 2);
    t.true(
      c.calls.every((call) => /^scan key\d{6}  QUORUM 1000$/.test(call)),
      c.calls.join('; '),
    );
  }
});

test('multiget asks for 10 random keys a call at the level, round robin, and fails a call that misses a preloaded key', async (t) => {
  const store = new Map<string, Buffer>();
  for (let i = 0; i < 100; i++) store.set(`key${String(i).padStart(6, '0')}`, Buffer.from('v'));
  const { clients, op } = setup('multiget', store);
  for (let seq = 0; seq < 8; seq++) t.is(((await op(seq)) as unknown[]).length, 10);
  for (const c of clients) t.deepEqual(c.calls, ['getMany 10 QUORUM', 'getMany 10 QUORUM']);
  store.clear();
  const err = await t.throwsAsync(Promise.resolve(op(8)));
  t.is(err!.name, NOT_FOUND_ERROR);
});

test('batch writes 10 distinct random keys a call at the level, each its own value, round robin', async (t) => {
  const { clients, op } = setup('batch', new Map());
  for (let seq = 0; seq < 8; seq++) await op(seq);
  for (const c of clients) t.deepEqual(c.calls, ['batch 10 QUORUM', 'batch 10 QUORUM']);
  for (const c of clients)
    for (const keys of c.batchKeys) {
      t.is(new Set(keys).size, keys.length, 'no key twice in a batch');
      t.true(keys.every((k) => /^key\d{6}$/.test(k)));
    }
  t.is(new Set(clients.flatMap((c) => c.batchValues)).size, 80, 'every write has a value of its own');
});
