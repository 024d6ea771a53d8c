/**
 * Planning a replacement (scripts/server.sh --replace N): the id the new
 * node gets, checked against the ring (the node to replace is a NORMAL
 * member, no other operation runs) and refused while the node to replace
 * still answers. The new node does the work; this only asks.
 */
import { isKvError, KvError } from '../common/errors';
import type { ClusterConfig } from '../config/cluster';
import { applyChange } from '../membership/changes';
import { adminAt, currentMembership, endpointOf } from './operations';

export interface ReplacePlan {
  /** The new node's id: ids are never reused. */
  readonly id: number;
  /** The dead node's token, which the new node takes. */
  readonly token: string;
}

export async function planReplace(config: ClusterConfig, dead: number): Promise<ReplacePlan> {
  const m = await currentMembership(config);
  const id = Math.max(...m.members.map((n) => n.id), config.nodes.length - 1) + 1;
  // Refuses an unknown node, one that is not NORMAL, and a replacement while another operation runs.
  applyChange(m, { epoch: m.epoch + 1, change: { kind: 'replace-begin', node: id, replaces: dead } });
  const at = endpointOf(config, m, dead);
  const admin = adminAt(config, at);
  try {
    await admin.membership();
  } catch (err) {
    if (!isKvError(err)) throw err;
    return { id, token: m.members.find((n) => n.id === dead)!.token };
  } finally {
    admin.close();
  }
  throw new KvError(
    'InvalidRequest',
    `node ${dead} is up (it answers on ${at.host}:${at.port}); only a node that is down for good can be replaced: stop it first, or decommission it instead`,
  );
}
