/**
 * The `speculativeRetry` setting (coordinator/speculation.ts), in Cassandra's
 * spelling: `99p` (the default: a read waits for the 99th percentile of its
 * coordinator's recent replica reads before it asks one replica more),
 * `50ms` (a fixed wait), `ALWAYS` (the extra replica is asked at once) or
 * `NONE` (never: a slow replica is waited for until the request timeout).
 */
export type SpeculativeRetry =
  | { readonly kind: 'none' }
  | { readonly kind: 'always' }
  | { readonly kind: 'fixed'; readonly ms: number }
  | { readonly kind: 'percentile'; readonly percentile: number };

export const SPECULATIVE_RETRY_DEFAULT = '99p';

const SETTING_FORM = /^(?:(none|always)|(\d+(?:\.\d+)?)(p|ms))$/i;

/**
 * The setting as text, or undefined when it is not one of the four forms
 * (or a percentile outside (0, 100), or a fixed wait of 0 ms or less).
 */
export function parseSpeculativeRetry(text: string): SpeculativeRetry | undefined {
  const m = SETTING_FORM.exec(text.trim());
  if (m === null) return undefined;
  if (m[1] !== undefined) return m[1].toLowerCase() === 'none' ? { kind: 'none' } : { kind: 'always' };
  const n = Number(m[2]);
  if (m[3]!.toLowerCase() === 'ms') return n > 0 ? { kind: 'fixed', ms: n } : undefined;
  return n > 0 && n < 100 ? { kind: 'percentile', percentile: n } : undefined;
}

/** The setting as a user writes it (the form parseSpeculativeRetry reads). */
export function formatSpeculativeRetry(s: SpeculativeRetry): string {
  switch (s.kind) {
    case 'none':
      return 'NONE';
    case 'always':
      return 'ALWAYS';
    case 'fixed':
      return `${s.ms}ms`;
    case 'percentile':
      return `${s.percentile}p`;
  }
}
