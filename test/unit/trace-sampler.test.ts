/**
 * Sampled tracing (coordinator/trace-sampler.ts): which requests are traced,
 * what is kept of them, and for how long.
 */
import test from 'ava';
import { SAMPLED_TRACES_KEPT } from '../../src/common/limits';
import { KvError } from '../../src/common/errors';
import { TraceSampler } from '../../src/coordinator/trace-sampler';

/** A sampler on a hand-driven clock whose random draws come from `draws`, in turn. */
function sampler(draws: number[] = [0.5]) {
  let now = 1000;
  let i = 0;
  const s = new TraceSampler(
    () => now,
    () => 1_796_000_000_000 + now,
    () => draws[i++ % draws.length]!,
  );
  return { s, advance: (ms: number) => (now += ms) };
}

const request = (key: string) => ({ op: 'put' as const, key: Buffer.from(key), level: 2 });

test('at share 0 nothing is traced and no draw is made; at 1 everything; between, the draws decide', (t) => {
  const { s } = sampler([0.9, 0.3, 0.7]);
  t.is(s.sample(), undefined);
  t.is(s.setProbability(1), 0, 'answers the share before');
  t.truthy(s.sample());
  t.is(s.setProbability(0.5), 1);
  t.truthy(s.sample(), 'a draw of 0.3 is under 0.5');
  t.is(s.sample(), undefined, 'a draw of 0.7 is not');
  t.is(s.probability, 0.5);
});

test('a kept request gets its duration and outcome when it settles, and is listed only then, newest first', async (t) => {
  const { s, advance } = sampler();
  s.setProbability(1);
  let finish!: (ts: number) => void;
  const slow = new Promise<number>((resolve) => {
    finish = resolve;
  });
  const trace = s.sample()!;
  trace.note('first step');
  const answered = s.keep(trace, request('a'), slow, (ts) => ({ ts }));
  t.deepEqual(s.recent(10), [], 'a request still running is not listed');
  advance(7);
  finish(42);
  t.is(await answered, 42, 'the caller gets its own answer');
  const failing = s.sample()!;
  await t.throwsAsync(s.keep(failing, request('b'), Promise.reject(new KvError('TimedOut', 'too slow')), () => ({})));
  const [newest, older] = s.recent(10);
  t.like(newest, { op: 'put', key: Buffer.from('b'), outcome: { errorCode: 'TimedOut', error: 'too slow' } });
  t.like(older, { key: Buffer.from('a'), durationUs: 7000, outcome: { ts: 42 } });
  t.deepEqual(
    older!.trace.events.map((e) => e.activity),
    ['first step'],
  );
  t.is(s.recent(1).length, 1, 'at most the limit');
});

test('the key is copied: the frame it came in may be reused', async (t) => {
  const { s } = sampler();
  s.setProbability(1);
  const key = Buffer.from('user:1');
  await s.keep(s.sample()!, { op: 'get', key, level: 1 }, Promise.resolve(1), () => ({}));
  key.fill(0);
  t.is(s.recent(1)[0]!.key.toString(), 'user:1');
});

test(`only the last ${SAMPLED_TRACES_KEPT} are kept, the oldest dropped first`, async (t) => {
  const { s } = sampler();
  s.setProbability(1);
  for (let i = 0; i < SAMPLED_TRACES_KEPT + 25; i++) await s.keep(s.sample()!, request(`k${i}`), Promise.resolve(i), (ts) => ({ ts }));
  const kept = s.recent(SAMPLED_TRACES_KEPT + 25);
  t.is(kept.length, SAMPLED_TRACES_KEPT);
  t.is(kept[0]!.key.toString(), `k${SAMPLED_TRACES_KEPT + 24}`);
  t.is(kept.at(-1)!.key.toString(), 'k25');
});
