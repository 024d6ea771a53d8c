import test from 'ava';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { NODE_ENV, NODE_V8_FLAGS } from '../../src/node/v8-flags';

test('scripts/common.sh starts nodes with the same V8 flags as the harness', (t) => {
  const script = readFileSync(resolve(__dirname, '../../../scripts/common.sh'), 'utf8');
  const m = /^node_v8_flags=\(([^)]*)\)$/m.exec(script);
  t.truthy(m, 'common.sh sets node_v8_flags');
  t.deepEqual(m![1]!.trim().split(/\s+/), [...NODE_V8_FLAGS]);
});

test('scripts/common.sh starts nodes with the same environment as the harness', (t) => {
  const script = readFileSync(resolve(__dirname, '../../../scripts/common.sh'), 'utf8');
  const m = /^node_env=\(([^)]*)\)$/m.exec(script);
  t.truthy(m, 'common.sh sets node_env');
  const pairs = m![1]!
    .trim()
    .split(/\s+/)
    .map((kv) => kv.split('=') as [string, string]);
  t.deepEqual(Object.fromEntries(pairs), { ...NODE_ENV });
});
