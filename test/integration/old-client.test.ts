/**
 * A client generated from the IDL as it was before compare-and-set (the
 * SERIAL level, the cas and paxos methods and their structs) keeps working
 * against today's nodes, and reads what a cas wrote. The old code is
 * generated at test time with the Thrift compiler; without the compiler the
 * test says it skipped.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalCluster } from '../../src/harness/local-cluster';

const ROOT = resolve(__dirname, '../../..');
const OLD_IDL = join(ROOT, 'test/fixtures/kv-before-cas.thrift');

function hasCompiler(): boolean {
  try {
    execFileSync('thrift', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface OldClient {
  put(key: Buffer, value: Buffer, level: number): Promise<unknown>;
  get(key: Buffer, level: number): Promise<{ found: boolean; value: Buffer }>;
  remove(key: Buffer, level: number): Promise<unknown>;
  ping(payload: Buffer): Promise<Buffer>;
}

const withCompiler = hasCompiler() ? test : test.skip;

withCompiler('a client generated from the IDL before cas works unchanged against the new nodes', async (t) => {
  // Inside dist/, so that the generated code finds the thrift runtime in node_modules.
  const out = mkdtempSync(join(ROOT, 'dist/old-client-'));
  const c = await LocalCluster.start();
  const thrift = require('thrift');
  let connection: { end(): void } | undefined;
  try {
    execFileSync('thrift', ['--gen', 'js:node,es6,ts', '-out', out, OLD_IDL]);
    const OldKeyValue = require(join(out, 'KeyValue.js'));
    const node = c.config.nodes[0]!;
    const conn = thrift.createConnection(node.host, node.port, { transport: thrift.TFramedTransport, protocol: thrift.TBinaryProtocol });
    connection = conn;
    conn.on('error', () => undefined);
    const old: OldClient = thrift.createClient(OldKeyValue, conn);
    const QUORUM = 2;
    await old.put(Buffer.from('apple'), Buffer.from('red'), QUORUM);
    t.is((await old.get(Buffer.from('apple'), QUORUM)).value.toString(), 'red');
    t.is((await old.ping(Buffer.from('hi'))).toString(), 'hi');
    // What a new client writes through cas, the old one reads as any value.
    const k = c.client();
    try {
      t.true((await k.cas('apple', 'red', 'green')).applied);
    } finally {
      k.close();
    }
    t.is((await old.get(Buffer.from('apple'), QUORUM)).value.toString(), 'green');
    await old.remove(Buffer.from('apple'), QUORUM);
    t.false((await old.get(Buffer.from('apple'), QUORUM)).found);
  } finally {
    connection?.end();
    await c.destroy();
    rmSync(out, { recursive: true, force: true });
  }
});
