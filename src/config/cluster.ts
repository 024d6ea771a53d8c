/**
 * The cluster file: which nodes exist, where they listen, their tokens, the
 * replication factor, the shared secret and tunable settings. Every node, the
 * console, the inspector and the tools read the same file.
 *
 *   {
 *     "replicationFactor": 3,
 *     "secret": "…",                      // or KV_CLUSTER_SECRET in the environment
 *     "nodes": [ { "id": 0, "host": "127.0.0.1", "port": 9000, "token": "M" }, … ],
 *                                         // optional per node: "metricsPort" (0: none)
 *     "settings": { "requestTimeoutMs": 2000, … },  // all optional
 *     "tls": { "ca": "certs/ca.pem", "cert": "certs/client.pem", "key": "certs/client-key.pem" }  // optional
 *   }
 *
 * A token is UTF-8 text ("token") or hex bytes ("tokenHex"). With "tls",
 * every connection runs over mutual TLS (see config/tls.ts): a node may name
 * its own pair, `"tls": { "cert": …, "key": … }` beside its port, and uses
 * the top-level pair otherwise; clients always use the top-level pair. Paths
 * are relative to the cluster file's folder. Only the paths are checked here:
 * each process reads the files it needs (a host holds its own key only).
 */
import { toByteString } from '../common/bytes';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  SLOW_REQUEST_MS_DEFAULT,
  STREAM_BYTES_PER_SECOND_MAX,
  STREAM_BYTES_PER_SECOND_MIN,
  STREAM_BYTES_PER_SECOND_UNDER_LOAD,
  VALUE_BYTES_MAX_CEILING,
  VALUE_BYTES_MAX_DEFAULT,
} from '../common/limits';
import { formatSpeculativeRetry, parseSpeculativeRetry, SPECULATIVE_RETRY_DEFAULT } from './speculative-retry';

export interface NodeAddress {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  /** Token as a latin1 string (one char per byte). */
  readonly token: string;
  /** Where the node serves Prometheus metrics over HTTP, on its host; 0: nowhere. Unset: see metricsPortOf. */
  readonly metricsPort?: number;
  /** This node's own certificate and key, if it has its own (absolute paths). */
  readonly tls?: TlsKeyPair;
}

/** A node's metrics port when the cluster file names none: its port plus this. */
export const METRICS_PORT_OFFSET = 1000;

/**
 * The port a node serves metrics on, or 0 for none: the cluster file's
 * `metricsPort`, else the node's port + METRICS_PORT_OFFSET when that is a
 * port (a node listening above 64535 has no default, rather than a refused file).
 */
export function metricsPortOf(node: NodeAddress): number {
  if (node.metricsPort !== undefined) return node.metricsPort;
  const port = node.port + METRICS_PORT_OFFSET;
  return port <= 65535 ? port : 0;
}

/** The HTTP path of a node's Prometheus metrics. */
export const METRICS_PATH = '/metrics';

/** Where a node serves its metrics, or null when it serves none. */
export function metricsUrlOf(node: NodeAddress): string | null {
  const port = metricsPortOf(node);
  return port === 0 ? null : `http://${node.host.includes(':') ? `[${node.host}]` : node.host}:${port}${METRICS_PATH}`;
}

/** Paths of a PEM certificate (chain) and its private key. */
export interface TlsKeyPair {
  readonly cert: string;
  readonly key: string;
}

/** The cluster's TLS files: the CA every side verifies against, and the clients' (and default nodes') pair. */
export interface TlsFiles extends TlsKeyPair {
  readonly ca: string;
}

export interface Settings {
  /** How long a coordinator waits for a level to be reached. */
  readonly requestTimeoutMs: number;
  readonly maxValueBytes: number;
  /** Tombstones older than this are purged. */
  readonly tombstoneGraceSeconds: number;
  /** Hints older than this are dropped instead of delivered. */
  readonly hintWindowSeconds: number;
  readonly heartbeatIntervalMs: number;
  /** A peer silent for this long is treated as down. */
  readonly failureTimeoutMs: number;
  /** SQLite `synchronous`: NORMAL survives process crashes, FULL also power loss. */
  readonly sqliteSynchronous: 'NORMAL' | 'FULL';
  /**
   * Which thread runs SQLite's statements: `inline` (the node's own: no
   * hand-off, the event loop waits while a statement runs), `thread` (a
   * worker: every call pays a hand-off, the event loop never waits) or
   * `auto`: inline with NORMAL, thread with FULL, whose commits wait for the disk.
   */
  readonly sqliteDriver: 'auto' | 'inline' | 'thread';
  /** Period of the anti-entropy steps (each compares one page of keys with one peer); 0 turns it off. */
  readonly antiEntropyIntervalMs: number;
  /** The pace of a membership operation's range streams, in bytes of keys and values per second, on a node with little client load. */
  readonly streamBytesPerSecond: number;
  /** The same while the streaming node is busy with clients (streaming/foreground-pace.ts); at most streamBytesPerSecond is used. */
  readonly streamBytesPerSecondUnderLoad: number;
  /**
   * When a read asks one replica more than its level needs, as one it asked
   * is slow (coordinator/speculation.ts, Cassandra's speculative_retry):
   * `99p` (after the 99th percentile of recent replica reads), `20ms`,
   * `ALWAYS` or `NONE`.
   */
  readonly speculativeRetry: string;
  /** A client request this slow or slower is told to the node's log (metrics/slow-requests.ts); 0 turns the log off. */
  readonly slowRequestMs: number;
}

export interface ClusterConfig {
  readonly replicationFactor: number;
  readonly secret: string;
  readonly nodes: readonly NodeAddress[];
  readonly settings: Settings;
  /** Set when every connection runs over TLS. */
  readonly tls?: TlsFiles;
}

export const DEFAULT_SETTINGS: Settings = {
  requestTimeoutMs: 2000,
  maxValueBytes: VALUE_BYTES_MAX_DEFAULT,
  tombstoneGraceSeconds: 10 * 24 * 3600,
  hintWindowSeconds: 3 * 3600,
  heartbeatIntervalMs: 500,
  failureTimeoutMs: 2000,
  sqliteSynchronous: 'NORMAL',
  sqliteDriver: 'auto',
  antiEntropyIntervalMs: 500,
  streamBytesPerSecond: STREAM_BYTES_PER_SECOND_MAX,
  streamBytesPerSecondUnderLoad: STREAM_BYTES_PER_SECOND_UNDER_LOAD,
  speculativeRetry: SPECULATIVE_RETRY_DEFAULT,
  slowRequestMs: SLOW_REQUEST_MS_DEFAULT,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadClusterFile(path: string, env: NodeJS.ProcessEnv = process.env): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read cluster file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`cluster file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseCluster(raw, env.KV_CLUSTER_SECRET, dirname(resolve(path)));
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function integerIn(x: unknown, lo: number, hi: number, what: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) {
    throw new ConfigError(`${what} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(x)}`);
  }
  return x;
}

function parseToken(node: Record<string, unknown>, where: string): string {
  if (typeof node.token === 'string') return toByteString(Buffer.from(node.token, 'utf8'));
  if (typeof node.tokenHex === 'string' && /^([0-9a-fA-F]{2})*$/.test(node.tokenHex)) {
    return toByteString(Buffer.from(node.tokenHex, 'hex'));
  }
  throw new ConfigError(`${where} needs a "token" (text) or "tokenHex" (hex bytes)`);
}

function tlsPath(x: Record<string, unknown>, name: string, where: string, baseDir: string): string {
  const p = x[name];
  if (typeof p !== 'string' || p === '') throw new ConfigError(`${where}.${name} must be the path of a PEM file`);
  return resolve(baseDir, p);
}

function checkKeys(x: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(x)) {
    if (!known.includes(key)) throw new ConfigError(`unknown field ${where}.${key} (known: ${known.join(', ')})`);
  }
}

function parseKeyPair(x: Record<string, unknown>, where: string, baseDir: string): TlsKeyPair {
  return { cert: tlsPath(x, 'cert', where, baseDir), key: tlsPath(x, 'key', where, baseDir) };
}

function parseTls(x: unknown, baseDir: string): TlsFiles | undefined {
  if (x === undefined) return undefined;
  if (!isObject(x)) throw new ConfigError('tls must be an object: { "ca": …, "cert": …, "key": … }');
  checkKeys(x, ['ca', 'cert', 'key'], 'tls');
  return { ca: tlsPath(x, 'ca', 'tls', baseDir), ...parseKeyPair(x, 'tls', baseDir) };
}

function parseNode(x: unknown, index: number, count: number, baseDir: string): NodeAddress {
  const where = `nodes[${index}]`;
  if (!isObject(x)) throw new ConfigError(`${where} must be an object`);
  const id = integerIn(x.id, 0, count - 1, `${where}.id`);
  if (typeof x.host !== 'string' || x.host === '') throw new ConfigError(`${where}.host must be a host name`);
  const port = integerIn(x.port, 1, 65535, `${where}.port`);
  const node = { id, host: x.host, port, token: parseToken(x, where) };
  let parsed: NodeAddress = node;
  if (x.metricsPort !== undefined) {
    const metricsPort = integerIn(x.metricsPort, 0, 65535, `${where}.metricsPort (0: no metrics)`);
    if (metricsPort === port) throw new ConfigError(`${where}.metricsPort must differ from its port ${port}`);
    parsed = { ...parsed, metricsPort };
  }
  if (x.tls !== undefined) {
    if (!isObject(x.tls)) throw new ConfigError(`${where}.tls must be an object: { "cert": …, "key": … }`);
    checkKeys(x.tls, ['cert', 'key'], `${where}.tls`);
    parsed = { ...parsed, tls: parseKeyPair(x.tls, `${where}.tls`, baseDir) };
  }
  return parsed;
}

export function parseSettings(x: unknown): Settings {
  if (x === undefined) return DEFAULT_SETTINGS;
  if (!isObject(x)) throw new ConfigError('settings must be an object');
  const known = Object.keys(DEFAULT_SETTINGS);
  for (const key of Object.keys(x)) {
    if (!known.includes(key)) throw new ConfigError(`unknown setting "${key}" (known: ${known.join(', ')})`);
  }
  const s = { ...DEFAULT_SETTINGS, ...x } as Record<string, unknown>;
  const sync = s.sqliteSynchronous;
  if (sync !== 'NORMAL' && sync !== 'FULL') throw new ConfigError('settings.sqliteSynchronous must be "NORMAL" or "FULL"');
  const driver = s.sqliteDriver;
  if (driver !== 'auto' && driver !== 'inline' && driver !== 'thread') {
    throw new ConfigError('settings.sqliteDriver must be "auto", "inline" or "thread"');
  }
  const requestTimeoutMs = integerIn(s.requestTimeoutMs, 10, 600_000, 'settings.requestTimeoutMs');
  return {
    requestTimeoutMs,
    maxValueBytes: integerIn(s.maxValueBytes, 1, VALUE_BYTES_MAX_CEILING, 'settings.maxValueBytes'),
    tombstoneGraceSeconds: integerIn(s.tombstoneGraceSeconds, 0, 10 * 365 * 24 * 3600, 'settings.tombstoneGraceSeconds'),
    hintWindowSeconds: integerIn(s.hintWindowSeconds, 0, 30 * 24 * 3600, 'settings.hintWindowSeconds'),
    heartbeatIntervalMs: integerIn(s.heartbeatIntervalMs, 10, 60_000, 'settings.heartbeatIntervalMs'),
    failureTimeoutMs: integerIn(s.failureTimeoutMs, 50, 60_000, 'settings.failureTimeoutMs'),
    sqliteSynchronous: sync,
    sqliteDriver: driver,
    antiEntropyIntervalMs: integerIn(s.antiEntropyIntervalMs, 0, 3600_000, 'settings.antiEntropyIntervalMs'),
    streamBytesPerSecond: integerIn(
      s.streamBytesPerSecond,
      STREAM_BYTES_PER_SECOND_MIN,
      STREAM_BYTES_PER_SECOND_MAX,
      'settings.streamBytesPerSecond',
    ),
    streamBytesPerSecondUnderLoad: integerIn(
      s.streamBytesPerSecondUnderLoad,
      STREAM_BYTES_PER_SECOND_MIN,
      STREAM_BYTES_PER_SECOND_MAX,
      'settings.streamBytesPerSecondUnderLoad',
    ),
    speculativeRetry: speculativeRetryIn(s.speculativeRetry, requestTimeoutMs),
    slowRequestMs: integerIn(s.slowRequestMs, 0, 600_000, 'settings.slowRequestMs'),
  };
}

/** The setting checked, in the form formatSpeculativeRetry writes. */
function speculativeRetryIn(x: unknown, requestTimeoutMs: number): string {
  const what = 'settings.speculativeRetry must be a percentile ("99p", above 0 and below 100), a wait ("20ms"), "ALWAYS" or "NONE"';
  const parsed = typeof x === 'string' ? parseSpeculativeRetry(x) : undefined;
  if (parsed === undefined) throw new ConfigError(`${what}, not ${JSON.stringify(x)}`);
  if (parsed.kind === 'fixed' && parsed.ms >= requestTimeoutMs) {
    throw new ConfigError(
      `settings.speculativeRetry waits ${parsed.ms} ms, which must be less than settings.requestTimeoutMs (${requestTimeoutMs})`,
    );
  }
  return formatSpeculativeRetry(parsed);
}

/** `baseDir`: what relative TLS paths are relative to (the cluster file's folder). */
export function parseCluster(raw: unknown, secretFromEnv?: string, baseDir = '.'): ClusterConfig {
  if (!isObject(raw)) throw new ConfigError('the cluster file must hold a JSON object');
  if (!Array.isArray(raw.nodes) || raw.nodes.length === 0) throw new ConfigError('"nodes" must be a non-empty list');
  const count = raw.nodes.length;
  const nodes = raw.nodes.map((n, i) => parseNode(n, i, count, baseDir)).sort((a, b) => a.id - b.id);
  nodes.forEach((n, i) => {
    if (n.id !== i) throw new ConfigError(`node ids must be 0..${count - 1}, each once`);
  });
  const tokens = new Set(nodes.map((n) => n.token));
  if (tokens.size !== count) throw new ConfigError('every node needs a different token');
  const rf = integerIn(raw.replicationFactor ?? Math.min(3, count), 1, count, 'replicationFactor');
  // An empty KV_CLUSTER_SECRET counts as unset.
  const secret = secretFromEnv || raw.secret;
  if (typeof secret !== 'string' || secret.length < 8) {
    throw new ConfigError('a cluster secret of at least 8 characters is needed ("secret" or KV_CLUSTER_SECRET)');
  }
  const tls = parseTls(raw.tls, baseDir);
  if (tls === undefined && nodes.some((n) => n.tls !== undefined))
    throw new ConfigError('a node names its own TLS pair but the file has no top-level "tls" (with the CA)');
  const config = { replicationFactor: rf, secret, nodes, settings: parseSettings(raw.settings) };
  return tls === undefined ? config : { ...config, tls };
}

/** The driver a node opens its log with: `auto` keeps the event loop free of FULL's waits for the disk. */
export function sqliteDriverOf(settings: Settings): 'inline' | 'thread' {
  if (settings.sqliteDriver !== 'auto') return settings.sqliteDriver;
  return settings.sqliteSynchronous === 'FULL' ? 'thread' : 'inline';
}
