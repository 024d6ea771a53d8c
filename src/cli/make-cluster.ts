/**
 * Writes the default four-node cluster file:
 *   node dist/src/cli/make-cluster.js FILE BASE_PORT [HOST]
 * The file holds the cluster secret, so it is created readable by its owner only.
 */
import { writeFileSync } from 'node:fs';
import { defaultLayout } from '../config/layout';

const [file, portText, host] = process.argv.slice(2);
const basePort = Number(portText);
if (!file || !Number.isInteger(basePort) || basePort < 1 || basePort > 65532) {
  process.stderr.write('usage: make-cluster FILE BASE_PORT [HOST]  (BASE_PORT..BASE_PORT+3 must be valid ports)\n');
  process.exit(2);
}
writeFileSync(file, JSON.stringify(defaultLayout(4, basePort, host), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
