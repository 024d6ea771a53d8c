/**
 * TWO and THREE against real nodes where each key has only two replicas: TWO
 * works as ALL does there, THREE can never be met and is refused as a wrong
 * request (not Unavailable: no node coming back would help), for reads,
 * writes and scans alike, and the nodes count it under its own level label.
 * Where each key has three replicas, cluster.test.ts tries both levels with
 * a replica down.
 */
import test from 'ava';
import type { KvClient } from '../../src/client/client';
import { LocalCluster } from '../../src/harness/local-cluster';
import { errorOf } from './error-of';

let c: LocalCluster;
let client: KvClient;

test.before(async () => {
  c = await LocalCluster.start({ tokens: ['M', 'f'], replicationFactor: 2 });
  client = c.client();
});

test.after.always(async () => {
  client?.close();
  await c?.destroy();
});

const REFUSED = /^THREE needs 3 replicas of the key, but this cluster keeps 2 of each key \(replicationFactor\); use QUORUM or ALL$/;

test.serial('TWO reads and writes on both replicas', async (t) => {
  await client.put('apple', 'red', 'TWO');
  t.is((await client.get('apple', 'TWO')).value.toString(), 'red');
  t.is((await client.get('apple', 'ONE')).value.toString(), 'red');
  await client.delete('apple', 'TWO');
  t.false((await client.get('apple', 'ALL')).found);
});

test.serial('THREE is refused in one sentence for a write, a read and a scan, and nothing is written', async (t) => {
  const put = await errorOf(client.put('pear', 'green', 'THREE'));
  t.is(put.code, 'InvalidRequest');
  t.regex(put.message, REFUSED);
  const get = await errorOf(client.get('pear', 'three'));
  t.is(get.code, 'InvalidRequest');
  t.regex(get.message, REFUSED);
  const scan = await errorOf(client.scanPage('a', 'z', 'THREE', 10));
  t.is(scan.code, 'InvalidRequest');
  t.regex(scan.message, REFUSED);
  t.false((await client.get('pear', 'ALL')).found, 'the refused write left nothing behind');
});

test.serial('a cas is refused at TWO: it commits at QUORUM or ALL', async (t) => {
  const err = await errorOf(client.cas('plum', null, 'x', { level: 'TWO' as never }));
  t.is(err.code, 'InvalidRequest');
  t.regex(err.message, /^a cas commits at QUORUM or ALL, not TWO$/);
});
