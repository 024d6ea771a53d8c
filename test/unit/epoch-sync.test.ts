/**
 * EpochSync with fake peer links over real epoch logs: taking up a peer's
 * newer epochs page by page, not waiting for a peer that a replacement
 * says is gone for good, refusing a request placed by an older epoch whose
 * key moved, telling a peer that is behind, and a starting node's wait for
 * a majority of its ring. The ring: four nodes at d, h, l, p (RF 3); this
 * node is node 0.
 */
import test from 'ava';
import { systemTime } from '../../src/clock/time';
import { isKvError } from '../../src/common/errors';
import type { Change, EpochEntry } from '../../src/membership/changes';
import { EpochLog } from '../../src/membership/epoch-log';
import { EpochSync } from '../../src/node/epoch-sync';
import type { EpochState, PeerLink, PeerTransport } from '../../src/rpc/transport';
import { ArrayEpochStore, BOOT } from './four-node-ring';

/** Node 4 joins at 'f': key 'e' leaves node 3 for node 4 (writes from the begin on). */
const JOIN: Change[] = [
  { kind: 'join-begin', node: 4, token: 'f' },
  { kind: 'reads-switch', node: 4 },
  { kind: 'join-complete', node: 4 },
];
const entriesOf = (changes: readonly Change[]): EpochEntry[] => changes.map((change, i) => ({ epoch: i + 2, change }));

/** A peer whose log holds `entries` (after the bootstrap); it answers one entry a page, or never. */
class FakePeer {
  readonly pushed: EpochEntry[][] = [];
  asked = 0;
  constructor(
    private readonly entries: readonly EpochEntry[],
    private readonly answers = true,
  ) {}
  get epoch(): number {
    return this.entries[this.entries.length - 1]?.epoch ?? 1;
  }
  link(): PeerLink {
    const link = {
      membership: (afterEpoch: number): Promise<{ epoch: number; entries: EpochEntry[] }> => {
        this.asked++;
        if (!this.answers) return new Promise(() => undefined);
        return Promise.resolve({ epoch: this.epoch, entries: this.entries.filter((e) => e.epoch > afterEpoch).slice(0, 1) });
      },
      learnEpochs: (entries: readonly EpochEntry[]): Promise<EpochState> => {
        this.pushed.push([...entries]);
        return Promise.resolve({ epoch: this.epoch, settled: this.epoch });
      },
      close: () => undefined,
    };
    return link as unknown as PeerLink;
  }
}

const NO_TRANSPORT: PeerTransport = {
  link: () => {
    throw new Error('no passing link in these tests');
  },
};

async function setup(o: { own?: readonly Change[]; peers: ReadonlyMap<number, FakePeer>; neverRan?: boolean }) {
  const epochs = await EpochLog.open(new ArrayEpochStore(), BOOT);
  await epochs.learn(entriesOf(o.own ?? []));
  const links = new Map([...o.peers].map(([id, peer]) => [id, peer.link()]));
  const counters = { epochFetchFailures: 0, staleEpochRefusals: 0, newerEpochsSeen: 0, ringLearning: 0, epochsPushedToLagging: 0 };
  const lines: string[] = [];
  const sync = new EpochSync({
    selfId: 0,
    epochs,
    links,
    transport: NO_TRANSPORT,
    addresses: undefined,
    time: systemTime,
    counters,
    log: (line) => lines.push(line),
    neverRan: o.neverRan ?? false,
    stopping: () => false,
    leaving: () => false,
  });
  return { sync, epochs, counters, lines };
}

test('at start, the epochs a peer holds beyond this node are taken up, page after page', async (t) => {
  const ahead = new FakePeer(entriesOf(JOIN));
  const level = new FakePeer([]);
  const { sync, epochs } = await setup({
    peers: new Map([
      [1, ahead],
      [2, level],
    ]),
  });
  const r = await sync.catchUpAll(60_000);
  t.deepEqual(r, { from: 1, to: 4, outcome: 'answered' });
  t.is(epochs.epoch, 4);
  t.true(ahead.asked >= 3, `asked ${ahead.asked} times for one entry a page`);
});

test('a peer that never answers makes the start late; one a replacement takes over from is not waited for', async (t) => {
  const silent = new Map([[1, new FakePeer([], false)]]);
  t.is((await (await setup({ peers: silent })).sync.catchUpAll(20)).outcome, 'late');
  // Node 4 replaces node 3: node 3 never answers again, and the start goes on without it (no 60 s wait).
  const replacing: Change[] = [{ kind: 'replace-begin', node: 4, replaces: 3, host: 'h4', port: 4 }];
  const peers = new Map([
    [1, new FakePeer(entriesOf(replacing))],
    [3, new FakePeer([], false)],
  ]);
  const { sync } = await setup({ own: replacing, peers });
  t.true(sync.lostForGood(3));
  t.is((await sync.catchUpAll(60_000)).outcome, 'answered');
});

test('a request placed by an older epoch is refused when its key moved since, and only then', async (t) => {
  const { sync, counters } = await setup({ own: JOIN, peers: new Map() });
  t.is(sync.checkPeerEpoch(1, 4, ['e'], true), undefined, 'the same epoch: nothing to do');
  t.is(sync.checkPeerEpoch(1, 0, ['e'], true), undefined, 'epoch 0: an older build or a tool');
  t.is(sync.checkPeerEpoch(1, 1, ['g'], true), undefined, "'g' is on nodes 1, 2, 3 before and after the join");
  const err = t.throws(() => sync.checkPeerEpoch(1, 1, ['g', 'e'], true));
  t.true(isKvError(err, 'StaleEpoch'), String(err));
  t.regex(err!.message, /node 0 is at epoch 4 and the replicas of a key placed at epoch 1 changed since/);
  t.is(counters.staleEpochRefusals, 1);
});

test('a request placed by a newer epoch makes this node take up the log from its sender first', async (t) => {
  const ahead = new FakePeer(entriesOf(JOIN));
  const { sync, epochs, counters } = await setup({ peers: new Map([[1, ahead]]) });
  const waiting = sync.checkPeerEpoch(1, 4, ['e'], true);
  t.not(waiting, undefined);
  await waiting;
  t.is(epochs.epoch, 4);
  t.is(counters.newerEpochsSeen, 1);
  // From a node it keeps no link to (a tool, a node that left): nothing to fetch from.
  t.is(sync.checkPeerEpoch(7, 9, ['e'], true), undefined);
});

test('a peer whose hello names an older epoch is told the epochs after its own', async (t) => {
  const behind = new FakePeer([]);
  const { sync, counters } = await setup({ own: JOIN, peers: new Map([[1, behind]]) });
  sync.heard(1, 2);
  sync.heard(1, 2); // one push to a peer at a time: this one is not sent while the first is under way
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(
    behind.pushed.map((entries) => entries.map((e) => e.epoch)),
    [[3, 4]],
  );
  t.is(counters.epochsPushedToLagging, 1);
});

test('a node that ran before answers clients once it has heard a majority of its ring; one that never ran at once', async (t) => {
  const peers = new Map([
    [1, new FakePeer([])],
    [2, new FakePeer([])],
    [3, new FakePeer([])],
  ]);
  const { sync, counters, lines } = await setup({ peers });
  sync.decideRingLearning();
  t.is(sync.refusal, 'node 0 is still learning the ring from its peers');
  t.is(counters.ringLearning, 1);
  sync.heard(1, 1);
  t.not(sync.refusal, undefined, 'itself and one peer are 2 of 4: no majority');
  sync.heard(2, 1);
  t.is(sync.refusal, undefined);
  t.is(counters.ringLearning, 0);
  t.regex(lines.join('\n'), /has the membership logs of 2 of the ring's other nodes and answers clients at epoch 1/);

  const fresh = await setup({ peers, neverRan: true });
  fresh.sync.decideRingLearning();
  t.is(fresh.sync.refusal, undefined);
});
