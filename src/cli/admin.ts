/**
 * The operator's tool: scripts/admin.sh COMMAND [options].
 *   status [--json]   the epoch, then every node: address, up/down, epoch, state, token, keys, bytes, disk full or not, ownership, hints, last full repair
 *   ring [--json] [--node N]   every range with its read and write replicas, from a node's current placement
 *   repair [N] [--json]  a full repair now, of every node's ranges (or node N's), with progress and a summary
 *   decommission N    node N streams its ranges to their new replicas, leaves the ring and exits
 * Needs the cluster file (it holds the secret the admin calls require).
 */
import chalk from 'chalk';
import { ClusterRepair, repairCluster, RepairProgress } from '../client/repair';
import { ringJson, ringOf, RingView, tokenText } from '../client/ring';
import { ClusterStatus, clusterStatus } from '../client/status';
import { clusterFilePath, intFlag, parseArgs, UsageError } from '../common/args';
import { runTool } from './run-tool';
import { NodeAdmin } from '../client/client';
import {
  adminAt,
  currentMembership,
  endpointOf,
  followOperation,
  OperationView,
  progressLine as operationLine,
} from '../client/operations';
import { isKvError, KvError } from '../common/errors';
import { OPERATION_POLL_MS, OPERATION_SILENCE_MS_MAX } from '../common/limits';
import { loadClusterFile } from '../config/cluster';

const USAGE = `usage: scripts/admin.sh COMMAND [--cluster FILE] [--json] [--node N]
commands:
  status    the ring's epoch, then every node of the cluster: address, up or down, its epoch,
            state (NORMAL, JOINING, LEAVING, MOVING, LEFT), token, keys, bytes on disk,
            the share of the keys it replicates, hints it holds for others,
            and when it last completed a full repair
  ring      every token range with the replicas that take its reads and its writes,
            from the current placement of node N (default: the first node that answers)
  repair [N]
            a full repair now: every node in turn (or node N alone) compares its hash
            trees with its other replicas and exchanges what differs; shows progress
            and a summary, and exits 0 once the replicas agree (1 if a node was down
            or they still differ). Run one within the tombstone grace period (README).
  decommission N
            node N streams its ranges to the nodes that take them over, leaves the
            ring and its process exits; returns once it has (refused while the ring
            would keep fewer nodes than the replication factor, or while another
            operation runs). Run it again after an interruption: it goes on.
options:
  --cluster FILE  the cluster file (default $KV_DATA_DIR/cluster.json, KV_DATA_DIR defaults to ./data)
  --json          one JSON object instead of a table
  --node N        ring: ask node N`;

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The status as a table, one row per node, columns padded to their widest cell. */
function statusTable(s: ClusterStatus, colour: boolean): string {
  const c = colour ? chalk : new chalk.Instance({ level: 0 });
  const header = ['node', 'address', 'up', 'epoch', 'state', 'token', 'keys', 'bytes', 'disk', 'owns', 'hints', 'last full repair'];
  const rows = s.nodes.map((n) =>
    n.up
      ? [
          String(n.id),
          n.address,
          'up',
          String(n.epoch),
          n.state,
          n.token,
          String(n.keys),
          megabytes(n.bytes),
          n.diskFull ? 'FULL' : 'ok',
          `${(n.ownership * 100).toFixed(1)}%`,
          String(n.hints),
          n.lastFullRepairMs === null ? 'never' : new Date(n.lastFullRepairMs).toISOString().replace(/\.\d+Z$/, 'Z'),
        ]
      : [String(n.id), n.address, 'DOWN', '?', n.state, n.token, '?', '?', '?', '?', '?', '?'],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const up = s.nodes.filter((n) => n.up).length;
  const epoch = s.epoch === null ? 'epoch unknown (no node answered)' : `epoch ${s.epoch}`;
  const out = [`${epoch}, ${s.nodes.length} nodes, ${up} up, replication factor ${s.replicationFactor}`, c.bold(line(header))];
  for (const [i, r] of rows.entries()) out.push(s.nodes[i]!.up ? line(r) : c.red(line(r)) + c.dim(`  (${s.nodes[i]!.error})`));
  return out.join('\n') + '\n';
}

/** The JSON form: what a script reads; counters stay out (the inspector and metrics carry them). */
function statusJson(s: ClusterStatus): string {
  const nodes = s.nodes.map(({ counters: _counters, ...n }) => n);
  return JSON.stringify({ epoch: s.epoch, replicationFactor: s.replicationFactor, nodes }) + '\n';
}

/** The ring as a table: one line per range, its read replicas and, when they differ, its write replicas. */
function ringTable(view: RingView): string {
  const p = view.placement;
  const out = [`epoch ${p.epoch} (node ${view.node}'s placement), ${p.ranges.length} ranges, replication factor ${p.replicationFactor}`];
  const rows = p.ranges.map((r) => [`(${tokenText(r.start)}, ${tokenText(r.end)}]`, r.reads.join(','), r.writes.join(',')]);
  const header = ['range', 'reads', 'writes'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const cells of [header, ...rows])
    out.push(
      cells
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  return out.join('\n') + '\n';
}

function progressLine(p: RepairProgress): string {
  return `node ${p.node}: ${p.pairsDone}/${p.pairsTotal} range pairs compared, ${p.keysFetched} keys fetched, ${p.keysSent} sent`;
}

/** The summary, in words: one line per node, then the totals. */
function repairText(r: ClusterRepair): string {
  const out: string[] = [];
  for (const n of r.nodes) {
    if (n.summary === undefined) out.push(`node ${n.id}: FAILED (${n.error})`);
    else {
      const s = n.summary;
      const skipped = s.rangesSkipped > 0 ? `, ${s.rangesSkipped} skipped (peer down)` : '';
      out.push(
        `node ${n.id}: ${s.rangesCompared} range pairs compared${skipped}, ${s.keysSent} keys sent, ${s.keysFetched} fetched, ${s.elapsedMs} ms`,
      );
    }
  }
  const t = r.total;
  out.push(
    `ranges compared: ${t.rangesCompared}`,
    `segments that differed: ${t.segmentsDiffered}`,
    `keys that differed: ${t.keysDiffered}`,
    `keys sent: ${t.keysSent + t.keysFetched} (${t.keysSent} pushed, ${t.keysFetched} fetched), ${t.bytesSent + t.bytesFetched} bytes of keys and values`,
    `compared: ${t.compareBytes} bytes of hashes and digests`,
    `time: ${r.elapsedMs} ms`,
    r.agreed ? 'the replicas agree' : 'the replicas do NOT all agree (a node was down, or writes kept them apart); run it again',
  );
  return out.join('\n') + '\n';
}

async function repair(config: ReturnType<typeof loadClusterFile>, node: number | undefined, json: boolean): Promise<number> {
  const tty = process.stderr.isTTY === true && !json;
  const result = await repairCluster(config, node, (p) => {
    if (tty) process.stderr.write(`\r\x1b[K${progressLine(p)}`);
  });
  if (tty) process.stderr.write('\r\x1b[K');
  process.stdout.write(json ? JSON.stringify(result) + '\n' : repairText(result));
  return result.agreed ? 0 : 1;
}

function nodeArg(rest: string[]): number | undefined {
  if (rest.length === 0) return undefined;
  const n = Number(rest[0]);
  if (rest.length > 1 || !Number.isInteger(n) || n < 0) throw new UsageError(`expected one node id, got "${rest.join(' ')}"`);
  return n;
}

/** Starts node N's decommission and follows it until the node has left and stopped. */
async function decommission(config: ReturnType<typeof loadClusterFile>, node: number): Promise<number> {
  const tty = process.stdout.isTTY === true;
  try {
    const m = await currentMembership(config);
    const admin = adminAt(config, endpointOf(config, m, node));
    try {
      await admin.decommission();
      const show = (v: OperationView): void => {
        if (tty) process.stdout.write(`\r\x1b[K${operationLine(`node ${node} leaving`, v)}`);
      };
      // A node that has left exits at once: its silence, once the ring says LEFT, is the end we wait for.
      const inRing = async (): Promise<boolean> =>
        (await currentMembership(config).catch(() => undefined))?.members.find((n) => n.id === node)?.state !== 'LEFT';
      const end = await followOperation(admin, (p) => p.done && p.state === 'LEFT', show, inRing).catch((err) => {
        if (isKvError(err, 'Unavailable') && /stopped answering/.test(err.message)) return undefined;
        throw err;
      });
      if (tty) process.stdout.write('\n');
      await untilStopped(admin);
      process.stdout.write(`node ${node} has left the ring${end ? ` (streamed ${Number(end.keys)} keys)` : ''} and stopped\n`);
      return 0;
    } finally {
      admin.close();
    }
  } catch (err) {
    if (!isKvError(err)) throw err;
    if (tty) process.stdout.write('\n');
    process.stderr.write(`decommission of node ${node}: ${err.message}\n`);
    return 1;
  }
}

/** Waits until the node no longer answers (its process exited), with a deadline. */
async function untilStopped(admin: NodeAdmin): Promise<void> {
  const deadline = Date.now() + OPERATION_SILENCE_MS_MAX;
  while (Date.now() < deadline) {
    try {
      await admin.operationProgress();
    } catch (err) {
      if (isKvError(err, 'ConnectionError')) return;
    }
    await new Promise((resolve) => setTimeout(resolve, OPERATION_POLL_MS));
  }
  throw new KvError('TimedOut', `the node left the ring but its process still answers after ${OPERATION_SILENCE_MS_MAX / 1000} s`);
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'help'], ['cluster', 'node']);
  const [command, ...rest] = args.positional;
  if (args.flags.has('help') || command === 'help' || command === undefined) {
    process.stdout.write(USAGE + '\n');
    return command === undefined && !args.flags.has('help') ? 2 : 0;
  }
  if (rest.length > 0 && command !== 'repair' && command !== 'decommission')
    throw new UsageError(`${command} takes no arguments, got "${rest.join(' ')}"`);
  const config = loadClusterFile(clusterFilePath(args.flags.get('cluster')));
  switch (command) {
    case 'repair':
      return repair(config, nodeArg(rest), args.flags.has('json'));
    case 'decommission': {
      const node = nodeArg(rest);
      if (node === undefined) throw new UsageError('decommission takes the id of the node that leaves: scripts/admin.sh decommission N');
      return decommission(config, node);
    }
    case 'status': {
      const status = await clusterStatus(config);
      process.stdout.write(args.flags.has('json') ? statusJson(status) : statusTable(status, process.stdout.isTTY === true));
      return 0;
    }
    case 'ring': {
      const only = args.flags.has('node') ? intFlag(args.flags, 'node', 0, 0, config.nodes.length - 1) : undefined;
      const view = await ringOf(config, only);
      process.stdout.write(args.flags.has('json') ? JSON.stringify(ringJson(view)) + '\n' : ringTable(view));
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"; see scripts/admin.sh --help`);
  }
}

if (require.main === module) runTool('admin', () => main(process.argv.slice(2)));
