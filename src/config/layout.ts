/**
 * The default cluster layout written by scripts/server.sh.
 *
 * Tokens are chosen for everyday keys, which are mostly ASCII text. Each node
 * owns (previous token, its token]:
 *   node 0  token "M"     digits, "A".."L" (and anything above 0x7f, by wrap-round)
 *   node 1  token "f"     "M".."Z", punctuation between the cases, "a".."e"
 *   node 2  token "p"     "f".."o"
 *   node 3  token 0x7f    "p".."z"
 * An even split of the first byte (0x00/0x40/0x80/0xC0) would put all of this
 * text on two owners.
 */
import { randomBytes } from 'node:crypto';
import { assert } from '../common/assert';

export const DEFAULT_TOKENS = ['M', 'f', 'p', '\u007f'];

export function defaultLayout(nodeCount: number, basePort: number, host = '127.0.0.1'): object {
  assert(nodeCount === DEFAULT_TOKENS.length, `the default layout has ${DEFAULT_TOKENS.length} nodes`);
  return {
    replicationFactor: 3,
    secret: randomBytes(18).toString('base64url'),
    nodes: DEFAULT_TOKENS.map((token, id) => ({ id, host, port: basePort + id, token })),
    settings: {},
  };
}
