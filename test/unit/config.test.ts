import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClusterConfig, ConfigError, DEFAULT_SETTINGS, metricsPortOf, parseCluster } from '../../src/config/cluster';
import { loadTls } from '../../src/config/tls';
import { DEFAULT_TOKENS, defaultLayout } from '../../src/config/layout';

const SECRET = 'file-secret-123';

/** A valid four-node config like the default layout, with overrides. */
function config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    replicationFactor: 3,
    secret: SECRET,
    nodes: DEFAULT_TOKENS.map((token, id) => ({ id, host: '127.0.0.1', port: 9000 + id, token })),
    settings: {},
    ...overrides,
  };
}

/** The default config with node `index` changed. */
function withNode(index: number, patch: Record<string, unknown>, drop: string[] = []): Record<string, unknown> {
  const base = config();
  const nodes = (base.nodes as Record<string, unknown>[]).map((n, i) => {
    if (i !== index) return n;
    const copy: Record<string, unknown> = { ...n, ...patch };
    for (const key of drop) delete copy[key];
    return copy;
  });
  return { ...base, nodes };
}

test('the default layout parses', (t) => {
  const c = parseCluster(defaultLayout(4, 9000));
  t.is(c.replicationFactor, 3);
  t.true(c.secret.length >= 8);
  t.deepEqual(
    c.nodes.map((n) => [n.id, n.host, n.port, n.token]),
    DEFAULT_TOKENS.map((token, id) => [id, '127.0.0.1', 9000 + id, token]),
  );
  t.deepEqual(c.settings, DEFAULT_SETTINGS);
});

test('a default-like config parses; nodes come back sorted by id', (t) => {
  const raw = config();
  (raw.nodes as unknown[]).reverse();
  const c = parseCluster(raw);
  t.deepEqual(
    c.nodes.map((n) => n.id),
    [0, 1, 2, 3],
  );
  t.is(c.nodes[3]!.token, '\u007f');
  t.is(c.nodes[3]!.port, 9003);
  t.is(c.secret, SECRET);
});

test('settings are optional and merged with the defaults', (t) => {
  t.deepEqual(parseCluster(config({ settings: undefined })).settings, DEFAULT_SETTINGS);
  const c = parseCluster(config({ settings: { requestTimeoutMs: 500, sqliteSynchronous: 'FULL' } }));
  t.deepEqual(c.settings, { ...DEFAULT_SETTINGS, requestTimeoutMs: 500, sqliteSynchronous: 'FULL' });
});

test('the replication factor defaults to min(3, nodes)', (t) => {
  t.is(parseCluster(config({ replicationFactor: undefined })).replicationFactor, 3);
  const two = config({ replicationFactor: undefined });
  two.nodes = (two.nodes as unknown[]).slice(0, 2);
  t.is(parseCluster(two).replicationFactor, 2);
});

test('the secret from the environment overrides the file', (t) => {
  t.is(parseCluster(config(), 'env-secret-456').secret, 'env-secret-456');
  t.is(parseCluster(config({ secret: undefined }), 'env-secret-456').secret, 'env-secret-456');
  t.throws(() => parseCluster(config(), 'short'), { instanceOf: ConfigError, message: /secret/ });
  t.is(parseCluster(config(), '').secret, SECRET, 'an empty environment secret counts as unset');
});

test('a secret of exactly 8 characters is enough', (t) => {
  t.is(parseCluster(config({ secret: '12345678' })).secret, '12345678');
});

const tokenTable: Array<[patch: Record<string, unknown>, latin1: string, why: string]> = [
  [{ token: 'é' }, '\u00c3\u00a9', 'a text token is its UTF-8 bytes'],
  [{ token: undefined, tokenHex: 'ff00' }, '\u00ff\u0000', 'hex bytes, lower case'],
  [{ token: undefined, tokenHex: 'FF7F' }, '\u00ff\u007f', 'hex bytes, upper case'],
  [{ token: undefined, tokenHex: '4d' }, 'M', 'hex for an ASCII letter'],
];

for (const [patch, latin1, why] of tokenTable) {
  test(`tokens: ${why}`, (t) => {
    const c = parseCluster(withNode(0, patch, patch.token === undefined ? ['token'] : []));
    t.is(c.nodes[0]!.token, latin1);
  });
}

// [name, raw config, message pattern]
const errorTable: Array<[string, unknown, RegExp]> = [
  ['not an object', null, /JSON object/],
  ['an array', [], /JSON object/],
  ['no nodes key', config({ nodes: undefined }), /"nodes" must be a non-empty list/],
  ['empty nodes', config({ nodes: [] }), /"nodes" must be a non-empty list/],
  ['a node that is not an object', config({ nodes: ['x'] }), /nodes\[0\] must be an object/],
  ['duplicate ids', withNode(1, { id: 0 }), /node ids must be 0\.\.3, each once/],
  ['an id outside 0..n-1', withNode(3, { id: 4 }), /nodes\[3\]\.id must be an integer from 0 to 3/],
  ['a negative id', withNode(0, { id: -1 }), /nodes\[0\]\.id/],
  ['a non-integer id', withNode(0, { id: 0.5 }), /nodes\[0\]\.id/],
  ['a missing id', withNode(2, {}, ['id']), /nodes\[2\]\.id/],
  ['duplicate tokens', withNode(1, { token: 'M' }), /different token/],
  ['duplicate tokens, one as hex', withNode(1, { tokenHex: '4d' }, ['token']), /different token/],
  ['port 0', withNode(0, { port: 0 }), /nodes\[0\]\.port must be an integer from 1 to 65535/],
  ['port 65536', withNode(1, { port: 65536 }), /nodes\[1\]\.port/],
  ['a port as a string', withNode(2, { port: '9002' }), /nodes\[2\]\.port/],
  ['a fractional port', withNode(0, { port: 9000.5 }), /nodes\[0\]\.port/],
  [
    'a negative metricsPort',
    withNode(0, { metricsPort: -1 }),
    /nodes\[0\]\.metricsPort \(0: no metrics\) must be an integer from 0 to 65535/,
  ],
  ['metricsPort 65536', withNode(1, { metricsPort: 65536 }), /nodes\[1\]\.metricsPort/],
  ['a metricsPort as a string', withNode(2, { metricsPort: '10002' }), /nodes\[2\]\.metricsPort/],
  ['a metricsPort equal to the port', withNode(3, { metricsPort: 9003 }), /nodes\[3\]\.metricsPort must differ from its port 9003/],
  ['a missing host', withNode(0, {}, ['host']), /nodes\[0\]\.host/],
  ['an empty host', withNode(0, { host: '' }), /nodes\[0\]\.host/],
  ['a missing token', withNode(2, {}, ['token']), /nodes\[2\] needs a "token"/],
  ['a numeric token', withNode(2, { token: 5 }), /nodes\[2\] needs a "token"/],
  ['tokenHex with an odd length', withNode(0, { tokenHex: 'abc' }, ['token']), /nodes\[0\] needs a "token"/],
  ['tokenHex with non-hex digits', withNode(0, { tokenHex: 'zz' }, ['token']), /nodes\[0\] needs a "token"/],
  ['tokenHex with a 0x prefix', withNode(0, { tokenHex: '0x4d' }, ['token']), /nodes\[0\] needs a "token"/],
  ['an unknown setting', config({ settings: { requestTimeout: 5 } }), /unknown setting "requestTimeout"/],
  ['settings that are not an object', config({ settings: [1] }), /settings must be an object/],
  ['a setting out of range', config({ settings: { requestTimeoutMs: 5 } }), /settings\.requestTimeoutMs/],
  ['a setting of the wrong type', config({ settings: { failureTimeoutMs: '2000' } }), /settings\.failureTimeoutMs/],
  ['a bad sqliteSynchronous', config({ settings: { sqliteSynchronous: 'OFF' } }), /sqliteSynchronous/],
  [
    'a speculativeRetry of 100p',
    config({ settings: { speculativeRetry: '100p' } }),
    /speculativeRetry must be a percentile .*, not "100p"/,
  ],
  ['a speculativeRetry as a number', config({ settings: { speculativeRetry: 99 } }), /speculativeRetry must be .*, not 99$/],
  [
    'a speculativeRetry wait as long as the request timeout',
    config({ settings: { speculativeRetry: '2000ms' } }),
    /waits 2000 ms, which must be less than settings\.requestTimeoutMs \(2000\)/,
  ],
  [
    'a negative slowRequestMs',
    config({ settings: { slowRequestMs: -1 } }),
    /settings\.slowRequestMs must be an integer from 0 to 600000, got -1/,
  ],
  ['a slowRequestMs as text', config({ settings: { slowRequestMs: '500ms' } }), /settings\.slowRequestMs must be an integer/],
  ['RF larger than the node count', config({ replicationFactor: 5 }), /replicationFactor must be an integer from 1 to 4/],
  ['RF 0', config({ replicationFactor: 0 }), /replicationFactor/],
  ['a fractional RF', config({ replicationFactor: 2.5 }), /replicationFactor/],
  ['no secret', config({ secret: undefined }), /secret of at least 8 characters/],
  ['a short secret', config({ secret: '1234567' }), /secret of at least 8 characters/],
  ['a secret that is not a string', config({ secret: 12345678 }), /secret of at least 8 characters/],
  ['tls that is not an object', config({ tls: 'certs' }), /tls must be an object/],
  ['tls without a CA', config({ tls: { cert: 'c.pem', key: 'k.pem' } }), /tls\.ca must be the path of a PEM file/],
  ['tls with an empty key path', config({ tls: { ca: 'ca.pem', cert: 'c.pem', key: '' } }), /tls\.key must be the path/],
  ['an unknown tls field', config({ tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem', verify: false } }), /unknown field tls\.verify/],
  ['a node pair without a cert', withNode(1, { tls: { key: 'k.pem' } }), /nodes\[1\]\.tls\.cert must be the path/],
  ['a node pair without top-level tls', withNode(1, { tls: { cert: 'c.pem', key: 'k.pem' } }), /no top-level "tls"/],
];

test('slowRequestMs defaults to 500, and 0 (the log off) is accepted', (t) => {
  t.is(DEFAULT_SETTINGS.slowRequestMs, 500);
  t.is(parseCluster(config({ settings: { slowRequestMs: 0 } })).settings.slowRequestMs, 0);
});

test('speculativeRetry defaults to 99p, and is kept in the form it is parsed back from', (t) => {
  t.is(parseCluster(config()).settings.speculativeRetry, '99p');
  t.is(parseCluster(config({ settings: { speculativeRetry: ' none ' } })).settings.speculativeRetry, 'NONE');
  t.is(parseCluster(config({ settings: { speculativeRetry: '20MS' } })).settings.speculativeRetry, '20ms');
  t.is(parseCluster(config({ settings: { speculativeRetry: '99.9P' } })).settings.speculativeRetry, '99.9p');
});

test('the metrics port defaults to the port + 1000, may be set per node, and 0 turns it off', (t) => {
  t.deepEqual(parseCluster(config()).nodes.map(metricsPortOf), [10000, 10001, 10002, 10003]);
  const c = parseCluster(withNode(1, { metricsPort: 0 }));
  t.deepEqual(c.nodes.map(metricsPortOf), [10000, 0, 10002, 10003]);
  t.is(metricsPortOf(parseCluster(withNode(2, { metricsPort: 9500 })).nodes[2]!), 9500);
  // No default above 64535 (a file that loaded before metrics still loads).
  t.is(metricsPortOf(parseCluster(withNode(0, { port: 65000 })).nodes[0]!), 0);
});

for (const [name, raw, message] of errorTable) {
  test(`parseCluster rejects ${name} with a ConfigError`, (t) => {
    const err = t.throws(() => parseCluster(raw), { instanceOf: ConfigError, message });
    t.is(err?.name, 'ConfigError');
  });
}

test("tls paths are relative to the cluster file's folder; a node's own pair is kept apart", (t) => {
  const tls = { ca: 'certs/ca.pem', cert: 'certs/client.pem', key: '/abs/client-key.pem' };
  const parsed = parseCluster(
    { ...withNode(2, { tls: { cert: 'certs/node-2.pem', key: 'certs/node-2-key.pem' } }), tls },
    undefined,
    '/etc/ringkv',
  );
  t.deepEqual(parsed.tls, { ca: '/etc/ringkv/certs/ca.pem', cert: '/etc/ringkv/certs/client.pem', key: '/abs/client-key.pem' });
  t.deepEqual(parsed.nodes[2]!.tls, { cert: '/etc/ringkv/certs/node-2.pem', key: '/etc/ringkv/certs/node-2-key.pem' });
  t.is(parsed.nodes[1]!.tls, undefined);
  t.is(parseCluster(config()).tls, undefined, 'plain TCP without "tls"');
});

test('loadTls names a missing file, a file that is not PEM, and a key that does not match its certificate', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-tls-config-'));
  try {
    execFileSync('bash', [resolve(__dirname, '../../../scripts/make-certs.sh'), dir, '--nodes', '2'], { stdio: 'ignore' });
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    const files = (over: Record<string, string>): ClusterConfig =>
      parseCluster({ ...config(), tls: { ca: 'ca.pem', cert: 'client.pem', key: 'client-key.pem', ...over } }, undefined, dir);
    const material = loadTls(files({}));
    t.true(material!.cert.equals(readFileSync(join(dir, 'client.pem'))));
    const node1 = parseCluster(
      {
        ...withNode(1, { tls: { cert: 'node-1.pem', key: 'node-1-key.pem' } }),
        tls: { ca: 'ca.pem', cert: 'client.pem', key: 'client-key.pem' },
      },
      undefined,
      dir,
    );
    t.true(loadTls(node1, 1)!.cert.equals(readFileSync(join(dir, 'node-1.pem'))), 'a node presents its own pair');
    t.true(loadTls(node1, 0)!.cert.equals(readFileSync(join(dir, 'client.pem'))), 'a node without one presents the top-level pair');
    t.throws(() => loadTls(files({ ca: 'nope.pem' })), {
      instanceOf: ConfigError,
      message: /cannot read the TLS CA certificate .*nope\.pem: ENOENT/,
    });
    t.throws(() => loadTls(files({ cert: 'junk.pem' })), {
      instanceOf: ConfigError,
      message: /the TLS certificate .*junk\.pem is not a PEM file/,
    });
    t.throws(() => loadTls(files({ key: 'node-0-key.pem' })), {
      instanceOf: ConfigError,
      message: /certificate .*client\.pem and key .*node-0-key\.pem cannot be used together/,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
