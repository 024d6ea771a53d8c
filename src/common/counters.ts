/**
 * Node-wide counters. Each part of a node keeps its own plain counter object
 * (cheap to bump on a hot path) and registers it here under a namespace; a
 * snapshot names every counter `namespace.name`, so two parts can never
 * shadow each other's numbers, and readers (the admin dump, the inspector,
 * metrics) see one flat, stable list.
 */
import { assert } from './assert';

/** An object of plain number counters (an interface is fine: no index signature needed). */
export type Counters<T> = { readonly [K in keyof T]: number };
/** Reads a part's counters when a snapshot is taken. */
export type CounterSource = () => object;

const NAMESPACE = /^[a-z][a-zA-Z]*$/;

export class CounterCollector {
  private readonly sources: Array<readonly [string, CounterSource]> = [];

  /** Registers a part's counters; a namespace is taken once. */
  add<T extends Counters<T>>(namespace: string, source: T | (() => T)): void {
    assert(NAMESPACE.test(namespace), `a counter namespace is a lowerCamel word, not "${namespace}"`);
    assert(!this.sources.some(([n]) => n === namespace), `counter namespace "${namespace}" registered twice`);
    const read: CounterSource = typeof source === 'function' ? source : () => source;
    this.sources.push([namespace, read]);
  }

  /** Every counter now, as `namespace.name` → value, in registration order. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [namespace, read] of this.sources) {
      for (const [name, value] of Object.entries(read())) out[`${namespace}.${name}`] = value as number;
    }
    return out;
  }
}
