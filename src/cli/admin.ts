/**
 * The operator's tool: scripts/admin.sh COMMAND [options].
 *   status [--json]   the epoch, then every node: address, up/down, epoch, state, token, keys, bytes, disk full or not, ownership, hints,
 *                     logged batches, reclaimable bytes, last full repair; then the membership operation under way
 *   rebalance [--apply] [--json]   tokens that bring every node's key count within 10% of the mean, from the nodes' keys
 *   ring [--json] [--node N]   every range with its read and write replicas, from a node's current placement
 *   replicas KEY [--hex] [--json] [--node N]   the nodes that hold KEY (nodetool getendpoints)
 *   snapshot [N] [--name NAME] [--json]   every node (or node N) writes a consistent copy of its data file
 *   snapshots [N] [--json]   the snapshots each node holds;  clear-snapshot NAME [N]   deletes one
 *   repair [N] [--json]  a full repair now, of every node's ranges (or node N's), with progress and a summary
 *   decommission N    node N streams its ranges to their new replicas, leaves the ring and exits
 *   remove N [--node D]   takes node N, down for good, out of the ring (nodetool removenode), run by node D
 *   cleanup [N] [--json]  every node (or node N) deletes the data it holds for ranges it no longer replicates
 *   move N TOKEN      node N moves to TOKEN online, streaming the ranges that change hands
 *   abort             undoes the membership operation in progress, back to the placement before it
 *   trace-probability P [N]   every node (or node N) traces and keeps this share of its client requests
 *   traces [N] [--limit L] [--json]   the sampled traces the nodes (or node N) kept, newest first
 * Needs the cluster file (it holds the secret the admin calls require).
 */
import chalk from 'chalk';
import { cleanupCluster } from '../client/cleanup';
import { clearClusterSnapshot, defaultSnapshotName, listClusterSnapshots, snapshotCluster } from '../client/snapshot';
import { snapshotNameProblem } from '../storage/snapshot';
import { ClusterRepair, repairCluster, RepairProgress } from '../client/repair';
import { replicasOfKey, ringJson, ringOf, RingView, tokenText } from '../client/ring';
import { ClusterStatus, clusterStatus, OperationStatus, statusHeadline } from '../client/status';
import { sampleRanges } from '../client/key-sample';
import { Move, Proposal, proposeTokens, REBALANCE_TOLERANCE } from '../client/rebalance';
import { abortOperation, applyMoves, moveNode, parseTokenText } from '../client/move';
import { removeNode } from '../client/remove';
import { KvError } from '../common/errors';
import { mebibytes } from '../common/bytes';
import { clusterFilePath, intFlag, parseArgs, UsageError } from '../common/args';
import { runTool } from './run-tool';
import { NodeAdmin } from '../client/client';
import { adminAt, currentMembership, endpointOf, followOperation, OperationView, progressLine as streamLine } from '../client/operations';
import { isKvError } from '../common/errors';
import { KEY_BYTES_MAX, OPERATION_POLL_MS, OPERATION_SILENCE_MS_MAX, SAMPLED_TRACES_KEPT } from '../common/limits';
import { clusterTraces, setClusterTraceProbability } from '../client/traces';
import { toByteString } from '../common/bytes';
import { loadClusterFile } from '../config/cluster';

const USAGE = `usage: scripts/admin.sh COMMAND [--cluster FILE] [--json] [--node N]
commands:
  status    the ring's epoch, then every node of the ring (those that joined or left included):
            address, up or down, its epoch, state (NORMAL, JOINING, LEAVING, MOVING, LEFT),
            token, keys, bytes on disk, the share of the keys it replicates, hints it holds
            for others, logged batches not yet written everywhere (with the copies of other
            nodes' batches among them), the bytes and keys cleanup would delete (reclaimable), and when it
            last completed a full repair;
            then the membership operation in progress, if any
  rebalance [--apply]
            reads every node's keys and proposes tokens (one move per line) that bring every
            node's key count within 10% of the mean, moving as few nodes as it can; with
            --apply it then makes the moves one at a time (each with admin.sh move, once
            the one before is done) and stops at the first that fails
  ring      every token range with the replicas that take its reads and its writes,
            from the current placement of node N (default: the first node that answers)
  replicas KEY
            the nodes that hold KEY (Cassandra's nodetool getendpoints): its range, and
            each replica's address and whether it takes the key's reads and writes (a
            join or move in progress adds a replica that takes writes only), from the
            current placement of node N (default: the first node that answers). KEY is
            text, as the console takes it; with --hex, hex digits of its bytes
  snapshot [N] [--name NAME]
            every node of the ring (or node N alone) writes a consistent copy of its
            data file, as a restart would find it, to snapshots/NAME/ in its data
            directory, while it serves (Cassandra's nodetool snapshot); NAME defaults
            to the time, UTC (20261207T043000Z). Prints each file and its size, and
            exits 0 once every node wrote its copy (1 if one could not). README,
            Backups, says how to restore one (scripts/restore.sh).
  snapshots [N]
            the snapshots each node (or node N) holds: name, file, size, when written
            (nodetool listsnapshots)
  clear-snapshot NAME [N]
            deletes snapshot NAME on every node that holds it (or on node N alone)
            (nodetool clearsnapshot); exits 1 if no node held it or one did not answer
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
  remove N [--node D]
            takes node N, which is down for good, out of the ring (Cassandra's
            nodetool removenode): a decommission run by another node (D, or the
            first live node that takes it), which copies each range node N gives
            up to the node that gains it from every surviving replica of the range;
            shows progress and returns once node N is LEFT. Refused, changing
            nothing, while node N answers (decommission it instead), for a node
            that is not NORMAL, while another operation runs, or when the ring
            would keep fewer nodes than the replication factor. Every surviving
            replica must be up. Run it again after an interruption: it follows the
            removal, which went on; abort undoes it.
  cleanup [N]
            every node of the ring (or node N alone) deletes the data it holds for
            ranges it no longer replicates (what a join or a move left on the nodes
            that gave ranges up: status shows it as reclaimable), in
            batches between writes; prints the keys and bytes each deleted, and exits
            0 once all are done (1 if a node did not answer or stopped). Refused while
            a membership operation runs: its pending ranges are not garbage.
  move N TOKEN
            node N takes TOKEN (text, or 0x and hex bytes, as status prints tokens) online:
            the ranges that change hands stream from the replica that gives them up,
            writes go to the old and the new replicas meanwhile; shows progress and
            returns once node N is NORMAL at TOKEN. Refused, changing nothing, for an
            unknown node, a token some node holds, a node that is not NORMAL, another
            operation in progress, or a replica it would stream with that is down.
            Run it again after an interruption: it follows the move, which went on.
  abort     undoes the join, decommission, move or replace in progress, back to the
            placement before it: the node running it stops streaming, a joining node
            leaves the ring (its id is not reused), a leaving or moving node is NORMAL
            at its old token. Data already streamed to a new replica stays there, no
            longer owned: reclaimable (status's reclaimable column).
  trace-probability P [N]
            every node of the ring (or node N) traces this share of the client
            requests (get, put, delete, cas, scan page) it coordinates, from 0 (none, the
            start) to 1 (all), and keeps the last 200 traces in memory
            (nodetool settraceprobability); prints each node's share before.
            A restart sets a node's share back to 0. Tracing costs CPU: use a
            small share under load
  traces [N]
            the traces the nodes (or node N) kept, newest first, each with its
            request, when, how long until the client's answer, its outcome and its
            coordinator's steps, as the console's trace shows them
options:
  --apply         rebalance: make the moves
  --cluster FILE  the cluster file (default $KV_DATA_DIR/cluster.json, KV_DATA_DIR defaults to ./data)
  --json          one JSON object instead of a table
  --hex           replicas: KEY is hex digits of the key's bytes
  --limit L       traces: at most L a node (1 to 200, default 200)
  --name NAME     snapshot: its name (1 to 64 letters, digits, '.', '_', '-')
  --node N        ring, replicas: ask node N; remove: node N runs the removal`;

/** The status as a table, one row per node, columns padded to their widest cell. */
function statusTable(s: ClusterStatus, colour: boolean): string {
  const c = colour ? chalk : new chalk.Instance({ level: 0 });
  const header = [
    'node',
    'address',
    'up',
    'epoch',
    'state',
    'token',
    'keys',
    'bytes',
    'disk',
    'owns',
    'hints',
    'batches',
    'reclaimable',
    'last full repair',
  ];
  const rows = s.nodes.map((n) =>
    n.state === 'LEFT'
      ? [String(n.id), n.address, '-', '-', n.state, n.token, '-', '-', '-', '-', '-', '-', '-', '-']
      : n.up
        ? [
            String(n.id),
            n.address,
            'up',
            String(n.epoch),
            n.state,
            n.token,
            String(n.keys),
            mebibytes(n.bytes),
            n.diskFull ? 'FULL' : 'ok',
            `${(n.ownership * 100).toFixed(1)}%`,
            String(n.hints),
            n.batches === null ? '?' : n.batchCopies ? `${n.batches} (${n.batchCopies} copies)` : String(n.batches),
            n.reclaimable === null ? '?' : `${mebibytes(n.reclaimable)} (${n.reclaimableKeys} keys)`,
            n.lastFullRepairMs === null ? 'never' : new Date(n.lastFullRepairMs).toISOString().replace(/\.\d+Z$/, 'Z'),
          ]
        : [String(n.id), n.address, 'DOWN', '?', n.state, n.token, '?', '?', '?', '?', '?', '?', '?', '?'],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [statusHeadline(s), c.bold(line(header))];
  for (const [i, r] of rows.entries()) {
    const n = s.nodes[i]!;
    out.push(n.up ? line(r) : n.state === 'LEFT' ? c.dim(line(r)) : c.red(line(r)) + c.dim(`  (${n.error})`));
  }
  out.push(...(s.operations.length === 0 ? ['no membership operation in progress'] : s.operations.map(operationLine)));
  return out.join('\n') + '\n';
}

/** The JSON form: what a script reads; counters stay out (the inspector and metrics carry them). */
function statusJson(s: ClusterStatus): string {
  const nodes = s.nodes.map(({ counters: _counters, ...n }) => n);
  return JSON.stringify({ epoch: s.epoch, replicationFactor: s.replicationFactor, nodes, operations: s.operations }) + '\n';
}

/** An operation in words, with the progress its node reports. */
function operationLine(op: OperationStatus): string {
  const what =
    op.kind === 'move'
      ? `move of node ${op.node} to ${op.token}`
      : op.kind === 'replace'
        ? `replace of node ${op.replaces} by node ${op.node}`
        : op.by !== undefined
          ? `removal of node ${op.node} by node ${op.by}`
          : `${op.kind} of node ${op.node}`;
  const step = op.aborting
    ? 'being aborted: reads back on the old replicas; run scripts/admin.sh abort to finish'
    : op.readsSwitched
      ? 'reads moved to the new replicas'
      : 'new replicas take writes, reads still on the old ones';
  const p = op.progress as {
    state?: string;
    keys?: number;
    bytes?: number;
    rangesDone?: number;
    rangesTotal?: number;
    error?: string;
    pace?: number;
  };
  const pace = p.pace !== undefined ? `, paced at ${mebibytes(p.pace)}/s` : '';
  // The node that runs it reports: the operation's own node, or for a removal the node running it (its state is its own).
  const runner = op.by ?? op.node;
  const progress =
    p.state === undefined
      ? `node ${runner} did not report its progress`
      : `node ${runner} ${p.state}, ${p.rangesDone} of ${p.rangesTotal} ranges streamed (${p.keys} keys, ${p.bytes} bytes${pace})${p.error ? `; stopped: ${p.error}` : ''}`;
  return `operation in progress: ${what} (${step}); ${progress}`;
}

/** --node N of ring and replicas: any id (a node that joined later is found on the ring; one not there is refused in one sentence). */
function nodeFlag(flags: ReadonlyMap<string, string | true>): number | undefined {
  return flags.has('node') ? intFlag(flags, 'node', 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
}

/** The key `replicas` names: its text as UTF-8 bytes, or (--hex) the bytes its hex digits spell; 1 byte to KEY_BYTES_MAX. */
function keyArg(rest: readonly string[], hex: boolean): string {
  if (rest.length !== 1) throw new UsageError('replicas takes one key: scripts/admin.sh replicas KEY (--hex: KEY in hex digits)');
  const text = rest[0]!;
  if (hex && !/^(?:[0-9a-fA-F]{2})+$/.test(text)) throw new UsageError(`--hex needs an even count of hex digits, got "${text}"`);
  const bytes = hex ? Buffer.from(text, 'hex') : Buffer.from(text, 'utf8');
  if (bytes.length === 0 || bytes.length > KEY_BYTES_MAX)
    throw new UsageError(`a key is 1 to ${KEY_BYTES_MAX} bytes, this one ${bytes.length}`);
  return toByteString(bytes);
}

/** `replicas KEY`: one line for the key's range, then one per replica. */
function replicasText(view: RingView, key: string): string {
  const { range, replicas } = replicasOfKey(view, key);
  const head = `key ${tokenText(key)}: range (${range.start}, ${range.end}], epoch ${view.placement.epoch} (node ${view.node}'s placement)`;
  const role = (r: { reads: boolean; writes: boolean }): string =>
    r.reads && r.writes ? 'reads and writes' : r.writes ? 'writes only (pending: streaming the range)' : 'reads only (giving the range up)';
  const lines = replicas.map((r) => `  node ${r.node}  ${r.address ?? '(no address)'}  ${role(r)}`);
  return [head, ...lines].join('\n') + '\n';
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

/** The proposal in words: each node's keys now and after, then the moves as the commands that make them. */
function rebalanceText(p: Proposal): string {
  const pct = (c: number): string => (p.mean === 0 ? '0%' : `${(((c - p.mean) / p.mean) * 100).toFixed(1)}%`);
  const out = [`mean ${Math.round(p.mean)} keys per node; each must be within ${REBALANCE_TOLERANCE * 100}% of it`];
  for (const c of p.counts)
    out.push(`node ${c.node}: ${c.before} keys now (${pct(c.before)}), about ${Math.round(c.after)} after (${pct(c.after)})`);
  if (p.balancedNow) out.push('every node is within the tolerance already: nothing to move');
  else if (p.moves.length === 0) out.push('no move brings the nodes within the tolerance (too few keys to cut finer)');
  else {
    out.push(`${p.moves.length} move(s), one at a time:`);
    for (const m of p.moves) out.push(`  scripts/admin.sh move ${m.node} ${tokenText(m.to)}    (from ${tokenText(m.from)})`);
  }
  return out.join('\n') + '\n';
}

/** `rebalance [--apply]`: the proposal, from reads only; with --apply its moves, one at a time. */
async function rebalance(config: ReturnType<typeof loadClusterFile>, apply: boolean, json: boolean): Promise<number> {
  const { topology } = await ringOf(config);
  const op = topology.membership.operation;
  if (op !== undefined)
    throw new KvError('InvalidRequest', `another operation (${op.kind} of node ${op.node}) is in progress; rebalance once it is done`);
  const proposal = proposeTokens(await sampleRanges(config, topology));
  if (json) {
    const moves = proposal.moves.map((m) => ({ node: m.node, from: tokenText(m.from), to: tokenText(m.to) }));
    process.stdout.write(JSON.stringify({ epoch: topology.epoch, ...proposal, moves }) + '\n');
  } else process.stdout.write(rebalanceText(proposal));
  return apply ? applyRebalance(config, proposal.moves) : 0;
}

/** Makes the proposed moves one at a time, with a progress line each; exits 1 at the first that fails. */
async function applyRebalance(config: ReturnType<typeof loadClusterFile>, moves: readonly Move[]): Promise<number> {
  const tty = process.stdout.isTTY === true;
  let shown = -1;
  try {
    await applyMoves(config, moves, (i, v) => {
      if (tty) process.stdout.write(`\r\x1b[K${streamLine(`move ${i + 1}/${moves.length}: node ${moves[i]!.node} moving`, v)}`);
      else if (i !== shown) process.stdout.write(`move ${i + 1}/${moves.length}: node ${moves[i]!.node} to ${tokenText(moves[i]!.to)}\n`);
      shown = i;
    });
  } catch (err) {
    if (!isKvError(err)) throw err;
    if (tty) process.stdout.write('\n');
    process.stderr.write(`rebalance: ${err.message}\n`);
    return 1;
  }
  if (tty && moves.length > 0) process.stdout.write('\n');
  process.stdout.write(`rebalance: ${moves.length} move(s) made\n`);
  return 0;
}

/** `move N TOKEN`: node N moves, with a progress line on a terminal, and this returns once it is NORMAL at TOKEN. */
async function move(config: ReturnType<typeof loadClusterFile>, node: number, tokenArg: string): Promise<number> {
  const tty = process.stdout.isTTY === true;
  try {
    const token = parseTokenText(tokenArg);
    const end = await moveNode(config, node, token, (v) => {
      if (tty) process.stdout.write(`\r\x1b[K${streamLine(`node ${node} moving`, v)}`);
    });
    if (tty) process.stdout.write('\n');
    process.stdout.write(`node ${node} moved to ${tokenText(token)} (streamed ${Number(end.keys)} keys, ${Number(end.bytes)} bytes)\n`);
    return 0;
  } catch (err) {
    if (!isKvError(err)) throw err;
    if (tty) process.stdout.write('\n');
    process.stderr.write(`move of node ${node}: ${err.message}\n`);
    return 1;
  }
}

/** `abort`: what was aborted, or why nothing was. */
async function abort(config: ReturnType<typeof loadClusterFile>): Promise<number> {
  try {
    process.stdout.write(`${await abortOperation(config)}\n`);
    return 0;
  } catch (err) {
    if (!isKvError(err)) throw err;
    process.stderr.write(`abort: ${err.message}\n`);
    return 1;
  }
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
        if (tty) process.stdout.write(`\r\x1b[K${streamLine(`node ${node} leaving`, v)}`);
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

/** Removes dead node N, run by node `via` or the first live node that takes it, and follows it until node N is LEFT. */
async function remove(config: ReturnType<typeof loadClusterFile>, node: number, via: number | undefined): Promise<number> {
  const tty = process.stdout.isTTY === true;
  try {
    const { by, progress } = await removeNode(config, node, via, (v) => {
      if (tty) process.stdout.write(`\r\x1b[K${streamLine(`node ${node} being removed`, v)}`);
    });
    if (tty) process.stdout.write('\n');
    process.stdout.write(
      `node ${node} was removed from the ring by node ${by} (${Number(progress.keys)} keys copied, each range from every surviving replica)\n`,
    );
    return 0;
  } catch (err) {
    if (!isKvError(err)) throw err;
    if (tty) process.stdout.write('\n');
    process.stderr.write(`removal of node ${node}: ${err.message}\n`);
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

/** --name of snapshot, checked as the nodes check it, or the time now. */
function nameArg(given: string | true | undefined): string {
  if (given === undefined) return defaultSnapshotName(Date.now());
  const problem = snapshotNameProblem(given);
  if (problem !== undefined) throw new UsageError(`--name: ${problem}`);
  return given as string;
}

/** A result as one JSON line (--json), or as the lines a person reads. */
function printed(json: boolean, value: unknown, lines: () => string[]): void {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : lines().join('\n') + '\n');
}

/** clear-snapshot's NAME, checked as the nodes check it. */
function clearedName(rest: readonly string[]): string {
  const name = rest[0];
  if (name === undefined || rest.length > 2)
    throw new UsageError('clear-snapshot takes the name and at most a node: scripts/admin.sh clear-snapshot NAME [N]');
  const problem = snapshotNameProblem(name);
  if (problem !== undefined) throw new UsageError(problem);
  return name;
}

/** `trace-probability P [N]`: a line per node with its share before, or why it did not answer. */
async function traceProbability(config: ReturnType<typeof loadClusterFile>, rest: readonly string[], json: boolean): Promise<number> {
  const text = rest[0];
  const p = Number(text);
  if (text === undefined || rest.length > 2 || text.trim() === '' || !(p >= 0 && p <= 1)) {
    throw new UsageError(`trace-probability takes a share from 0 to 1 and at most a node: scripts/admin.sh trace-probability 0.01 [N]`);
  }
  const r = await setClusterTraceProbability(config, p, nodeArg(rest.slice(1)));
  printed(json, { probability: p, nodes: r }, () =>
    r.map((n) => (n.error !== undefined ? `node ${n.node}: FAILED (${n.error})` : `node ${n.node}: ${n.before} -> ${p}`)),
  );
  return r.every((n) => n.error === undefined) ? 0 : 1;
}

/** `traces [N]`: each kept trace, newest first, its request on one line and its steps under it. */
async function traces(config: ReturnType<typeof loadClusterFile>, node: number | undefined, limit: number, json: boolean): Promise<number> {
  const r = await clusterTraces(config, node, limit);
  printed(json, r, () => {
    const lines = r.failed.map((f) => `node ${f.node}: FAILED (${f.error})`);
    if (r.traces.length === 0) lines.push('no traces kept (scripts/admin.sh trace-probability P sets the share of requests traced)');
    for (const t of r.traces) {
      const took = (t.durationUs / 1000).toFixed(1);
      lines.push(`${new Date(t.startedMs).toISOString()} node ${t.node}: ${t.op} ${t.level} ${t.key} ${took} ms: ${t.outcome}`);
      for (const e of t.events) lines.push(`${String(e.elapsedUs).padStart(10)} µs  ${e.activity}`);
      if (t.dropped > 0) lines.push(`  (${t.dropped} more steps not kept)`);
    }
    return lines;
  });
  return r.failed.length === 0 ? 0 : 1;
}

/** `snapshots [N]`: a line per snapshot a node holds, or why a node did not answer. */
async function snapshots(config: ReturnType<typeof loadClusterFile>, node: number | undefined, json: boolean): Promise<number> {
  const r = await listClusterSnapshots(config, node);
  printed(json, r, () =>
    r.flatMap((n) => {
      if (n.error !== undefined) return [`node ${n.node}: FAILED (${n.error})`];
      if (n.snapshots!.length === 0) return [`node ${n.node}: no snapshots`];
      return n.snapshots!.map((e) => `node ${n.node}: ${e.name}  ${mebibytes(e.bytes)}  ${new Date(e.writtenMs).toISOString()}  ${e.path}`);
    }),
  );
  return r.every((n) => n.error === undefined) ? 0 : 1;
}

/** `clear-snapshot NAME [N]`: a line per node; exit 1 unless some node held it and every node answered. */
async function clearSnapshot(
  config: ReturnType<typeof loadClusterFile>,
  name: string,
  node: number | undefined,
  json: boolean,
): Promise<number> {
  const r = await clearClusterSnapshot(config, name, node);
  const ok = r.every((n) => n.error === undefined) && r.some((n) => n.held === true);
  printed(json, { name, nodes: r, ok }, () =>
    r.map((n) =>
      n.error !== undefined ? `node ${n.node}: FAILED (${n.error})` : `node ${n.node}: ${n.held ? `deleted ${name}` : `holds no ${name}`}`,
    ),
  );
  return ok ? 0 : 1;
}

/** `snapshot [N]`: a line per node, with its file and size or why it wrote none. */
async function snapshot(
  config: ReturnType<typeof loadClusterFile>,
  name: string,
  node: number | undefined,
  json: boolean,
): Promise<number> {
  const r = await snapshotCluster(config, name, node);
  printed(json, r, () => [
    ...r.nodes.map((n) =>
      n.error === undefined
        ? `node ${n.node}: ${n.path} (${mebibytes(n.bytes ?? 0)} in ${n.tookMs} ms)`
        : `node ${n.node}: FAILED (${n.error})`,
    ),
    r.ok ? `snapshot ${name} written on ${r.nodes.length} node(s)` : `snapshot ${name} NOT written on every node`,
  ]);
  return r.ok ? 0 : 1;
}

/** `cleanup [N]`: every node's (or node N's) cleanup, with a line per node on a terminal while it runs. */
async function cleanup(config: ReturnType<typeof loadClusterFile>, node: number | undefined, json: boolean): Promise<number> {
  const tty = process.stderr.isTTY === true && !json;
  const seen = new Map<number, number>();
  const r = await cleanupCluster(config, node, (id, p) => {
    seen.set(id, Number(p.keys));
    if (tty) process.stderr.write(`\r\x1b[K${[...seen].map(([n, k]) => `node ${n}: ${k} keys deleted`).join(', ')}`);
  });
  if (tty) process.stderr.write('\r\x1b[K');
  if (json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    const lines = r.nodes.map((n) =>
      n.error === undefined
        ? `node ${n.node}: deleted ${n.keys} keys (${mebibytes(n.bytes)})`
        : `node ${n.node}: FAILED after deleting ${n.keys} keys (${n.error})`,
    );
    lines.push(
      `${r.ok ? 'cleaned up' : 'NOT all cleaned up'} at epoch ${r.epoch}: ${r.keys} keys, ${r.bytes} bytes of keys and values deleted`,
    );
    process.stdout.write(lines.join('\n') + '\n');
  }
  return r.ok ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'help', 'apply', 'hex'], ['cluster', 'node', 'name', 'limit']);
  const [command, ...rest] = args.positional;
  if (args.flags.has('help') || command === 'help' || command === undefined) {
    process.stdout.write(USAGE + '\n');
    return command === undefined && !args.flags.has('help') ? 2 : 0;
  }
  const takesArguments = [
    'repair',
    'decommission',
    'remove',
    'cleanup',
    'move',
    'replicas',
    'snapshot',
    'snapshots',
    'clear-snapshot',
    'trace-probability',
    'traces',
  ];
  if (rest.length > 0 && !takesArguments.includes(command)) throw new UsageError(`${command} takes no arguments, got "${rest.join(' ')}"`);
  // Checked before the cluster file is read: a wrong key is the user's to fix whatever the cluster.
  const key = command === 'replicas' ? keyArg(rest, args.flags.has('hex')) : '';
  const snapshotName = command === 'snapshot' ? nameArg(args.flags.get('name')) : command === 'clear-snapshot' ? clearedName(rest) : '';
  const config = loadClusterFile(clusterFilePath(args.flags.get('cluster')));
  switch (command) {
    case 'repair':
      return repair(config, nodeArg(rest), args.flags.has('json'));
    case 'decommission': {
      const node = nodeArg(rest);
      if (node === undefined) throw new UsageError('decommission takes the id of the node that leaves: scripts/admin.sh decommission N');
      return decommission(config, node);
    }
    case 'remove': {
      const node = nodeArg(rest);
      if (node === undefined) throw new UsageError('remove takes the id of the dead node: scripts/admin.sh remove N [--node D]');
      return remove(config, node, nodeFlag(args.flags));
    }
    case 'cleanup':
      return cleanup(config, nodeArg(rest), args.flags.has('json'));
    case 'snapshot':
      return snapshot(config, snapshotName, nodeArg(rest), args.flags.has('json'));
    case 'snapshots':
      return snapshots(config, nodeArg(rest), args.flags.has('json'));
    case 'trace-probability':
      return traceProbability(config, rest, args.flags.has('json'));
    case 'traces':
      return traces(
        config,
        nodeArg(rest),
        intFlag(args.flags, 'limit', SAMPLED_TRACES_KEPT, 1, SAMPLED_TRACES_KEPT),
        args.flags.has('json'),
      );
    case 'clear-snapshot':
      return clearSnapshot(config, snapshotName, nodeArg(rest.slice(1)), args.flags.has('json'));
    case 'move': {
      if (rest.length !== 2) throw new UsageError('move takes the node and its new token: scripts/admin.sh move N TOKEN');
      const node = nodeArg(rest.slice(0, 1))!;
      return move(config, node, rest[1]!);
    }
    case 'abort':
      return abort(config);
    case 'status': {
      const status = await clusterStatus(config);
      process.stdout.write(args.flags.has('json') ? statusJson(status) : statusTable(status, process.stdout.isTTY === true));
      return 0;
    }
    case 'rebalance':
      return rebalance(config, args.flags.has('apply'), args.flags.has('json'));
    case 'ring': {
      const view = await ringOf(config, nodeFlag(args.flags));
      process.stdout.write(args.flags.has('json') ? JSON.stringify(ringJson(view)) + '\n' : ringTable(view));
      return 0;
    }
    case 'replicas': {
      const view = await ringOf(config, nodeFlag(args.flags));
      const json = { key: tokenText(key), epoch: view.placement.epoch, node: view.node, ...replicasOfKey(view, key) };
      process.stdout.write(args.flags.has('json') ? JSON.stringify(json) + '\n' : replicasText(view, key));
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"; see scripts/admin.sh --help`);
  }
}

if (require.main === module) runTool('admin', () => main(process.argv.slice(2)));
