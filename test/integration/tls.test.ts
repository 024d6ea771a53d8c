/**
 * A cluster on mutual TLS, end to end: certificates from scripts/make-certs.sh,
 * requests and hints over TLS, and every wrong certificate, and a plain-text
 * client, refused with a clear error while the node keeps serving.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KvClient } from '../../src/client/client';
import { inspect } from '../../src/client/inspect';
import { TLS_HANDSHAKE_TIMEOUT_MS } from '../../src/common/limits';
import { loadClusterFile } from '../../src/config/cluster';
import { defaultLayout } from '../../src/config/layout';
import { loadTls, TlsMaterial } from '../../src/config/tls';
import { errorOf } from './error-of';
import { LocalCluster, waitFor } from '../../src/harness/local-cluster';
import { Ring } from '../../src/partitioner/ring';
import { RpcConnection } from '../../src/rpc/connection';
import { RpcServer } from '../../src/rpc/server';
import { ProcessorClass } from '../../src/rpc/thrift';

const MAKE_CERTS = resolve(__dirname, '../../../scripts/make-certs.sh');

let dir: string;
let c: LocalCluster;
const clients: KvClient[] = [];

async function makeCerts(name: string, ...args: string[]): Promise<string> {
  const out = join(dir, name);
  await promisify(execFile)('bash', [MAKE_CERTS, out, ...args]);
  return out;
}

/** The CA of `caDir`, and the pair `name` (client, node-0, ...) of `pairDir`. */
function material(caDir: string, pairDir: string, name: string): TlsMaterial {
  return {
    ca: readFileSync(join(caDir, 'ca.pem')),
    cert: readFileSync(join(pairDir, `${name}.pem`)),
    key: readFileSync(join(pairDir, `${name}-key.pem`)),
  };
}

let certs: string;
let otherCa: string;
let expired: string;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringkv-tls-'));
  certs = await makeCerts('certs', '--nodes', '4');
  otherCa = await makeCerts('other', '--nodes', '1');
  expired = await makeCerts('expired', '--nodes', '1', '--ca', certs, '--expired');
  c = await LocalCluster.start({ tls: { dir: certs } });
});

test.after.always(async () => {
  clients.forEach((k) => k.close());
  await c?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function client(tls: TlsMaterial): KvClient {
  const k = new KvClient(c.config.nodes, { tls, timeoutMs: 3000 });
  clients.push(k);
  return k;
}

async function counter(id: number, name: string): Promise<number> {
  const admin = c.admin(id);
  try {
    return Number((await admin.status()).counters[name]);
  } finally {
    admin.close();
  }
}

async function stillServes(t: { is(a: unknown, b: unknown): void }, key: string): Promise<void> {
  const k = KvClient.fromClusterFile(c.clusterFile);
  clients.push(k);
  await k.put(key, 'served', 'QUORUM');
  t.is((await k.get(key, 'QUORUM')).value.toString(), 'served');
}

test.serial('QUORUM writes and reads over TLS, and hints for a killed replica are delivered over TLS', async (t) => {
  t.regex(c.log(0), /serving \d+ keys on 127\.0\.0\.1:\d+ over TLS/);
  const k = KvClient.fromClusterFile(c.clusterFile);
  clients.push(k);
  for (let i = 0; i < 20; i++) await k.put(`k${i}`, `v${i}`, 'QUORUM');
  for (let i = 0; i < 20; i++) t.is((await k.get(`k${i}`, 'QUORUM')).value.toString(), `v${i}`);

  const key = 'pear';
  const victim = new Ring(c.config.nodes, c.config.replicationFactor).replicas(Buffer.from(key).toString('latin1'))[1]!;
  await c.kill(victim);
  await k.put(key, 'during', 'QUORUM');
  t.is((await k.get(key, 'QUORUM')).value.toString(), 'during');
  // The coordinator may learn of the death only when its call to the victim fails, just after it answered (the mark
  // covers the victim meanwhile): the hint follows the answer, so it is waited for.
  await waitFor('coordinators to hold hints for the dead replica', async () => {
    const held = await inspect(c.config);
    return held.nodes.reduce((n, node) => n + (node.hints[String(victim)] ?? 0), 0) > 0;
  });

  await c.restart(victim);
  const settled = await waitFor('hints to be delivered over TLS and replicas to agree', async () => {
    const now = await inspect(c.config);
    const pending = now.nodes.reduce((n, node) => n + Object.values(node.hints).reduce((a, b) => a + b, 0), 0);
    return pending === 0 && now.divergent.length === 0 ? now : null;
  });
  t.is(settled.nodes[victim]!.entries.find((e) => e.key === key)?.value, 'during');
});

test.serial(
  'a plain-text client gets a closed connection, a silent one too after the handshake timeout, and the node still serves',
  async (t) => {
    const node = c.config.nodes[0]!;
    const before = await counter(0, 'server.tlsHandshakesFailed');
    const plain = new RpcConnection({ host: node.host, port: node.port, frameBytesMax: 1 << 20 });
    const err = await errorOf(plain.call((cl) => cl.ping(Buffer.from('hi')), 5000));
    plain.close();
    t.is(err.code, 'ConnectionError');
    t.regex(err.message, /connection to 127\.0\.0\.1:\d+ was lost/);

    // A client that connects and says nothing is closed once the handshake timeout passes.
    const silentClosed = await new Promise<boolean>((done) => {
      const socket = net.connect(node.port, node.host);
      socket.on('error', () => undefined);
      socket.on('close', () => done(true));
      setTimeout(() => {
        socket.destroy();
        done(false);
      }, TLS_HANDSHAKE_TIMEOUT_MS * 3).unref();
    });
    t.true(silentClosed, 'the node closed a connection that never started its handshake');

    await waitFor('the node to count both', async () => (await counter(0, 'server.tlsHandshakesFailed')) >= before + 2);
    await waitFor('the node to log the plain-text client', () =>
      /WARN a TLS handshake with a client failed once since start \(last error: 127\.0\.0\.1:\d+: not TLS: the other side sent plain bytes/.test(
        c.log(0),
      ),
    );
    await stillServes(t, 'after-plain');
  },
);

test.serial('a client of another CA is refused on both sides, with a clear error', async (t) => {
  // It does not trust the nodes' certificates.
  const stranger = await errorOf(client(material(otherCa, otherCa, 'client')).put('x', 'y', 'QUORUM'));
  t.is(stranger.code, 'ConnectionError');
  t.regex(stranger.message, /TLS handshake with 127\.0\.0\.1:\d+ failed: the node's certificate is not signed by the cluster's CA/);

  // It trusts them, but its own certificate is from another CA: the node refuses it and says why.
  const before = await counter(0, 'server.tlsHandshakesFailed');
  const impostor = new RpcConnection({
    host: c.config.nodes[0]!.host,
    port: c.config.nodes[0]!.port,
    frameBytesMax: 1 << 20,
    tls: material(certs, otherCa, 'client'),
  });
  const refused = await errorOf(impostor.call((cl) => cl.ping(Buffer.from('hi')), 5000));
  impostor.close();
  t.is(refused.code, 'ConnectionError');
  t.regex(
    refused.message,
    /TLS with 127\.0\.0\.1:\d+ failed: the node refused our certificate: certificate is not signed by the cluster's CA/,
  );
  t.true((await counter(0, 'server.tlsHandshakesFailed')) > before);
  await stillServes(t, 'after-stranger');
});

test.serial("an expired certificate is refused: the server's by the client, the client's by the node", async (t) => {
  const before = await counter(0, 'server.tlsHandshakesFailed');
  const expiredClient = await errorOf(client(material(certs, expired, 'client')).get('k1', 'QUORUM'));
  t.is(expiredClient.code, 'ConnectionError');
  t.regex(expiredClient.message, /^TLS with 127\.0\.0\.1:\d+ failed: the node refused our certificate: certificate has expired$/);
  // The log says it once a minute (the earlier tests' refusals came first); the counter counts each.
  t.true((await counter(0, 'server.tlsHandshakesFailed')) > before);

  // A node serving an expired certificate (in this process, so that its side can be watched).
  const serverSide: string[] = [];
  const server = new RpcServer(new ProcessorClass({ ping: (p: Buffer) => p }), {
    host: '127.0.0.1',
    port: 0,
    frameBytesMax: 1 << 20,
    tls: material(certs, expired, 'node-0'),
    onTlsError: (reason) => serverSide.push(reason),
  });
  await server.listen();
  const conn = new RpcConnection({ host: '127.0.0.1', port: server.port, frameBytesMax: 1 << 20, tls: material(certs, certs, 'client') });
  try {
    const err = await errorOf(conn.call((cl) => cl.ping(Buffer.from('hi')), 5000));
    t.is(err.code, 'ConnectionError');
    t.regex(err.message, /^TLS handshake with 127\.0\.0\.1:\d+ failed: certificate has expired$/);
    t.true(err.details.notSent === 1, 'nothing was sent: another node may be tried');
    await waitFor('the server to see the refusal', () => serverSide.length > 0);
    t.regex(serverSide[0]!, /the client hung up during the handshake/);
  } finally {
    conn.close();
    await server.close();
  }
});

/** Points node `id`'s pair in the cluster file's folder at node-0's pair of `from`. */
function swapPair(id: number, from: string): void {
  copyFileSync(join(from, 'node-0.pem'), join(certs, `node-${id}.pem`));
  copyFileSync(join(from, 'node-0-key.pem'), join(certs, `node-${id}-key.pem`));
}

test.serial('a node whose certificate expired is refused by its peers, which see it down, and the cluster serves on', async (t) => {
  const good = join(dir, 'good-3');
  mkdirSync(good);
  copyFileSync(join(certs, 'node-3.pem'), join(good, 'node-0.pem'));
  copyFileSync(join(certs, 'node-3-key.pem'), join(good, 'node-0-key.pem'));
  const port = c.config.nodes[3]!.port;
  await c.stopNode(3);
  swapPair(3, expired);
  c.spawnNode(3);
  await waitFor('node 0 to refuse node 3', () =>
    new RegExp(
      `TLS with a peer failed .*\\(last error: TLS handshake with 127\\.0\\.0\\.1:${port} failed: certificate has expired\\)`,
    ).test(c.log(0)),
  );
  await waitFor('node 3 to learn that its peers refuse it', () =>
    /TLS with a peer failed .*\(last error: TLS with 127\.0\.0\.1:\d+ failed: the node refused our certificate: certificate has expired\)/.test(
      c.log(3),
    ),
  );
  t.regex(c.log(3), /WARN its TLS certificate expired on/);
  t.true((await counter(0, 'node.peerTlsFailures')) > 0, 'node 0 counts its refusals of node 3');
  await waitFor('node 0 to see node 3 down', async () => (await c.downPeers(0)).includes(3));
  await stillServes(t, 'while-3-is-refused');

  await c.stopNode(3);
  swapPair(3, good);
  await c.restart(3);
  await c.waitAllSeeEachOther();
  await stillServes(t, 'after-3-is-back');
});

test('make-certs.sh --cluster makes a pair for each node of a cluster file and turns TLS on in it', async (t) => {
  const file = join(dir, 'made', 'cluster.json');
  mkdirSync(join(dir, 'made'));
  const layout = defaultLayout(4, 9000) as { nodes: Record<string, unknown>[] };
  layout.nodes[2] = { ...layout.nodes[2]!, host: 'db2.example' };
  writeFileSync(file, JSON.stringify(layout));
  await promisify(execFile)('bash', [MAKE_CERTS, '--cluster', file]);
  const config = loadClusterFile(file);
  t.is(config.tls?.ca, join(dir, 'made', 'certs', 'ca.pem'));
  t.is(config.nodes[3]!.tls?.cert, join(dir, 'made', 'certs', 'node-3.pem'));
  t.truthy(loadTls(config, 3), 'node 3 can load its pair');
  t.truthy(loadTls(config), 'a client can load its pair');
  t.regex(new X509Certificate(readFileSync(join(dir, 'made', 'certs', 'node-2.pem'))).subjectAltName ?? '', /DNS:db2\.example/);
  t.is(statSync(file).mode & 0o777, 0o600, 'the cluster file stays readable by its owner only');
});
