/**
 * The ring as a client learns it from the nodes: a node's membership log
 * folded with the same pure code the nodes use (membership/), plus where
 * each node listens. Pure: tested with tables in test/unit/topology.test.ts.
 *
 * The cluster file's nodes are the seeds: they say where the bootstrap nodes
 * listen (the log's bootstrap names ids and tokens, not addresses). A node
 * that joined later names its address in its begin change (Member.host,
 * port), so a client whose cluster file lists only the bootstrap nodes
 * still finds it. A node that LEFT is no longer routed to; a JOINING one is
 * a write replica of its new ranges and not a read one, which the
 * placement already says (PlacedRange.reads and writes).
 */
import { bootstrapEntry, EpochEntry, Member, Membership, NodeState, replayLog } from '../membership/changes';
import { Placement } from '../membership/placement';

/** Where one node listens. */
export interface NodeLocation {
  readonly host: string;
  readonly port: number;
}

/** A seed: a node of the cluster file, by id. */
export interface Seed extends NodeLocation {
  readonly id: number;
}

/** One member as the tools show it: every node ever in the ring, with its address when known. */
export interface KnownMember {
  readonly id: number;
  readonly state: NodeState;
  readonly token: string;
  /** Undefined when neither the cluster file nor the log says where the node listens. */
  readonly location?: NodeLocation;
}

export interface Topology {
  readonly epoch: number;
  readonly membership: Membership;
  readonly placement: Placement;
  /** Every member ever, in id order, LEFT ones included (the inspector and status show them). */
  readonly members: readonly KnownMember[];
  /** Where each node requests may go listens, indexed by node id (undefined: LEFT, or no address known). */
  readonly locations: readonly (NodeLocation | undefined)[];
  /** The ids with a location, in id order: every node a request may be sent to. */
  readonly routable: readonly number[];
  /** Members still on the ring whose address nobody gave: the client cannot reach them. */
  readonly unreachable: readonly number[];
}

/** A member's address: the log's, for a node that joined; else the seed with its id. */
function locationOf(member: Member, seeds: readonly Seed[]): NodeLocation | undefined {
  if (member.host !== undefined && member.port !== undefined) return { host: member.host, port: member.port };
  const seed = seeds.find((s) => s.id === member.id);
  return seed === undefined ? undefined : { host: seed.host, port: seed.port };
}

/** The topology of a membership log (which starts with its bootstrap), given the cluster file's seeds. */
export function topologyOf(entries: readonly EpochEntry[], seeds: readonly Seed[]): Topology {
  const membership = replayLog(entries);
  const members = membership.members.map((m): KnownMember => {
    const location = locationOf(m, seeds);
    return { id: m.id, state: m.state, token: m.token, ...(location !== undefined && { location }) };
  });
  const locations: (NodeLocation | undefined)[] = [];
  const routable: number[] = [];
  const unreachable: number[] = [];
  for (const m of members) {
    if (m.state === 'LEFT') continue;
    if (m.location === undefined) unreachable.push(m.id);
    else {
      locations[m.id] = m.location;
      routable.push(m.id);
    }
  }
  return { epoch: membership.epoch, membership, placement: Placement.of(membership), members, locations, routable, unreachable };
}

/** The topology the cluster file alone gives (its ring at epoch 1): what a client starts with before any node answered. */
export function seedTopology(seeds: readonly (Seed & { readonly token: string })[], replicationFactor: number): Topology {
  return topologyOf([bootstrapEntry(seeds, replicationFactor)], seeds);
}

/**
 * Whether a log a node gave is of the ring of these seeds: its bootstrap
 * holds every seed's id with the seed's token. A node of another cluster
 * (listening where one of ours used to) must not redirect the client; a
 * cluster file that lists only some of the bootstrap nodes still fits.
 */
export function fitsSeeds(entries: readonly EpochEntry[], seeds: readonly (Seed & { readonly token: string })[]): boolean {
  const first = entries[0]?.change;
  if (first?.kind !== 'bootstrap') return false;
  return seeds.every((s) => first.nodes.some((n) => n.id === s.id && n.token === s.token));
}
