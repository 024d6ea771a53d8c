/**
 * The three prom-client classes this store uses, each loaded from its own
 * file. The package's index loads everything it has: its default metrics
 * (and with them OpenTelemetry's API), summaries, the push gateway and the
 * cluster aggregator, about a fifth of a node's module loading at every start
 * for code a node never runs (process.ts keeps its own process metrics).
 * The lock file pins the version, so these paths move only with an upgrade,
 * and a moved one fails every node's start and the metrics tests at once.
 */
import type * as prom from 'prom-client';

export const Counter: typeof prom.Counter = require('prom-client/lib/counter');
export type Counter<T extends string = string> = prom.Counter<T>;
export const Gauge: typeof prom.Gauge = require('prom-client/lib/gauge');
export type Gauge<T extends string = string> = prom.Gauge<T>;
export const Registry: typeof prom.Registry = require('prom-client/lib/registry');
export type Registry = prom.Registry;
export type Metric<T extends string = string> = prom.Metric<T>;
