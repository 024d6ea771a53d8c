/**
 * The coordinator's view of a replica, local or remote: the one contract
 * between the request protocols and the I/O that carries them out
 * (rpc/remote-replica.ts for a peer, node/local-replica.ts for this node).
 */
import type { KeyedVersion } from '../storage/version';
import type { Version } from '../storage/version';

export interface Replica {
  readonly id: number;
  /** Resolves once the versions are durable on the replica. */
  apply(items: readonly KeyedVersion[]): Promise<void>;
  /** The replica's version of a key (undefined: it has none). */
  read(key: string): Promise<Version | undefined>;
}
