/**
 * Used by scripts/server.sh: waits until the given nodes answer, then (for a
 * few seconds at most) until they see each other, and prints where each listens
 * and serves its metrics.
 *   wait-ready --cluster FILE --ids 0,1,2,3 --pids P0,P1,P2,P3 [--timeout-ms MS]
 * Fails early, naming the node, if one of the processes exits.
 */
import { processAlive as alive } from '../common/procfs';
import { NodeAdmin } from '../client/client';
import { isKvError } from '../common/errors';
import { ClusterConfig, loadClusterFile, metricsUrlOf, NodeAddress } from '../config/cluster';
import type { NodeState } from '../membership/changes';
import { loadTls } from '../config/tls';
import { currentMembership, endpointOf } from '../client/operations';
import { parseArgs, UsageError } from '../common/args';

const POLL_MS = 100;
const SETTLE_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Node `id`'s state in the ring as its peers give it; undefined while none answers. */
async function stateInRing(config: ClusterConfig, id: number): Promise<NodeState | 'NONE' | undefined> {
  const m = await currentMembership(config).catch(() => undefined);
  return m === undefined ? undefined : (m.members.find((n) => n.id === id)?.state ?? 'NONE');
}

/** Whether a node's status says it answers its peers but not clients yet. */
function learningRing(page: { counters: unknown }): boolean {
  return Number((page.counters as Record<string, unknown>)['node.ringLearning'] ?? 0) !== 0;
}

async function main(): Promise<number> {
  const argv = parseArgs(process.argv.slice(2), [], ['cluster', 'ids', 'pids', 'timeout-ms']);
  const file = argv.flags.get('cluster');
  const ids = String(argv.flags.get('ids') ?? '')
    .split(',')
    .filter(Boolean)
    .map(Number);
  const pids = String(argv.flags.get('pids') ?? '')
    .split(',')
    .filter(Boolean)
    .map(Number);
  if (typeof file !== 'string' || ids.length === 0 || pids.length !== ids.length)
    throw new UsageError('usage: wait-ready --cluster FILE --ids A,B --pids P,Q');
  const config = loadClusterFile(file);
  const deadline = Date.now() + Number(argv.flags.get('timeout-ms') ?? 60_000);
  // A node that joined is not in the cluster file: the ring's log has its address.
  const joined = ids.some((id) => config.nodes[id] === undefined) ? await currentMembership(config) : undefined;
  const addressOf = (id: number): NodeAddress => config.nodes[id] ?? { id, token: '', ...endpointOf(config, joined!, id) };
  const admins = ids.map((id) => new NodeAdmin(addressOf(id), config.secret, 1000, loadTls(config)));
  const down = new Map<number, number[]>();
  /** Nodes that answer their peers but not clients yet: they wait for their ring's logs (node.ringLearning). */
  const learning = new Map<number, boolean>();
  const pending = new Set(ids);
  const left = new Set<number>();
  while (pending.size > 0) {
    for (const [i, id] of ids.entries()) {
      if (!pending.has(id)) continue;
      if (!alive(pids[i]!)) {
        const state = await stateInRing(config, id);
        if (state === 'LEFT') {
          // A node that left the ring refuses to serve (its log says when and why); the others still start.
          pending.delete(id);
          left.add(id);
          process.stdout.write(`node ${id} has left the ring: not started (its log says when and why)\n`);
          continue;
        }
        // Until a peer answers, whether it left is not known: asked again at the next poll, while one may still answer.
        if (state === undefined && Date.now() < deadline && pids.some((p) => alive(p))) continue;
        process.stderr.write(`node ${id} (pid ${pids[i]}) exited during start-up\n`);
        return 1;
      }
      try {
        const page = await admins[i]!.status();
        pending.delete(id);
        down.set(id, page.downPeers);
        learning.set(id, learningRing(page));
      } catch (err) {
        // Not up yet, unless TLS refused: a wrong certificate does not get better by waiting.
        if (isKvError(err) && err.details.tls) {
          process.stderr.write(`node ${id} cannot be used: ${err.message}\n`);
          return 1;
        }
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      process.stderr.write(`nodes ${[...pending].join(', ')} did not answer in time\n`);
      return 1;
    }
    await sleep(POLL_MS);
  }
  const settleBy = Date.now() + SETTLE_MS;
  const unsettled = (): boolean => [...down.values()].some((d) => d.length > 0) || [...learning.values()].some((l) => l);
  while (unsettled() && Date.now() < settleBy) {
    await sleep(POLL_MS);
    for (const [i, id] of ids.entries()) {
      const page = await admins[i]!.status().catch(() => null);
      down.set(id, page?.downPeers ?? []);
      learning.set(id, page !== null && learningRing(page));
    }
  }
  for (const id of ids) {
    if (left.has(id)) continue;
    const n = addressOf(id);
    const d = down.get(id) ?? [];
    const metrics = metricsUrlOf(n);
    const still = learning.get(id) === true ? ' (still learning the ring from its peers: clients wait)' : '';
    process.stdout.write(
      `node ${id} listening on ${n.host}:${n.port}${metrics ? `, metrics at ${metrics}` : ''}${d.length ? ` (sees node ${d.join(', ')} down)` : ''}${still}\n`,
    );
  }
  admins.forEach((a) => a.close());
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`wait-ready: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
