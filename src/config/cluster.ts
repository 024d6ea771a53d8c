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
 *     "settings": { "requestTimeoutMs": 2000, … }   // all optional
 *   }
 *
 * A token is UTF-8 text ("token") or hex bytes ("tokenHex").
 */
import { toByteString } from '../common/bytes';
import { readFileSync } from 'node:fs';
import { VALUE_BYTES_MAX_CEILING, VALUE_BYTES_MAX_DEFAULT } from '../common/limits';

export interface NodeAddress {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  /** Token as a latin1 string (one char per byte). */
  readonly token: string;
  /** Where the node serves Prometheus metrics over HTTP, on its host; 0: nowhere. Unset: see metricsPortOf. */
  readonly metricsPort?: number;
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
  /** Period of the anti-entropy steps (each compares one page of keys with one peer); 0 turns it off. */
  readonly antiEntropyIntervalMs: number;
}

export interface ClusterConfig {
  readonly replicationFactor: number;
  readonly secret: string;
  readonly nodes: readonly NodeAddress[];
  readonly settings: Settings;
}

export const DEFAULT_SETTINGS: Settings = {
  requestTimeoutMs: 2000,
  maxValueBytes: VALUE_BYTES_MAX_DEFAULT,
  tombstoneGraceSeconds: 10 * 24 * 3600,
  hintWindowSeconds: 3 * 3600,
  heartbeatIntervalMs: 500,
  failureTimeoutMs: 2000,
  sqliteSynchronous: 'NORMAL',
  antiEntropyIntervalMs: 500,
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
  return parseCluster(raw, env.KV_CLUSTER_SECRET);
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

function parseNode(x: unknown, index: number, count: number): NodeAddress {
  const where = `nodes[${index}]`;
  if (!isObject(x)) throw new ConfigError(`${where} must be an object`);
  const id = integerIn(x.id, 0, count - 1, `${where}.id`);
  if (typeof x.host !== 'string' || x.host === '') throw new ConfigError(`${where}.host must be a host name`);
  const port = integerIn(x.port, 1, 65535, `${where}.port`);
  const node = { id, host: x.host, port, token: parseToken(x, where) };
  if (x.metricsPort === undefined) return node;
  const metricsPort = integerIn(x.metricsPort, 0, 65535, `${where}.metricsPort (0: no metrics)`);
  if (metricsPort === port) throw new ConfigError(`${where}.metricsPort must differ from its port ${port}`);
  return { ...node, metricsPort };
}

function parseSettings(x: unknown): Settings {
  if (x === undefined) return DEFAULT_SETTINGS;
  if (!isObject(x)) throw new ConfigError('settings must be an object');
  const known = Object.keys(DEFAULT_SETTINGS);
  for (const key of Object.keys(x)) {
    if (!known.includes(key)) throw new ConfigError(`unknown setting "${key}" (known: ${known.join(', ')})`);
  }
  const s = { ...DEFAULT_SETTINGS, ...x } as Record<string, unknown>;
  const sync = s.sqliteSynchronous;
  if (sync !== 'NORMAL' && sync !== 'FULL') throw new ConfigError('settings.sqliteSynchronous must be "NORMAL" or "FULL"');
  return {
    requestTimeoutMs: integerIn(s.requestTimeoutMs, 10, 600_000, 'settings.requestTimeoutMs'),
    maxValueBytes: integerIn(s.maxValueBytes, 1, VALUE_BYTES_MAX_CEILING, 'settings.maxValueBytes'),
    tombstoneGraceSeconds: integerIn(s.tombstoneGraceSeconds, 0, 10 * 365 * 24 * 3600, 'settings.tombstoneGraceSeconds'),
    hintWindowSeconds: integerIn(s.hintWindowSeconds, 0, 30 * 24 * 3600, 'settings.hintWindowSeconds'),
    heartbeatIntervalMs: integerIn(s.heartbeatIntervalMs, 10, 60_000, 'settings.heartbeatIntervalMs'),
    failureTimeoutMs: integerIn(s.failureTimeoutMs, 50, 60_000, 'settings.failureTimeoutMs'),
    sqliteSynchronous: sync,
    antiEntropyIntervalMs: integerIn(s.antiEntropyIntervalMs, 0, 3600_000, 'settings.antiEntropyIntervalMs'),
  };
}

export function parseCluster(raw: unknown, secretFromEnv?: string): ClusterConfig {
  if (!isObject(raw)) throw new ConfigError('the cluster file must hold a JSON object');
  if (!Array.isArray(raw.nodes) || raw.nodes.length === 0) throw new ConfigError('"nodes" must be a non-empty list');
  const count = raw.nodes.length;
  const nodes = raw.nodes.map((n, i) => parseNode(n, i, count)).sort((a, b) => a.id - b.id);
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
  return { replicationFactor: rf, secret, nodes, settings: parseSettings(raw.settings) };
}
