/**
 * Who is up, as this node sees it. Pure state: callers report what they
 * heard and when, and ask for transitions. A peer is down when its connection
 * was lost or refused (`lost`), or when nothing was heard from it for
 * `timeoutMs` (a paused or partitioned process keeps its sockets open). It is
 * up again as soon as anything is heard from it.
 */
export class FailureDetector {
  private readonly lastHeardMs = new Map<number, number>();
  private readonly up = new Set<number>();
  private readonly peers: number[];

  constructor(
    readonly selfId: number,
    peerIds: readonly number[],
    private readonly timeoutMs: number,
  ) {
    this.peers = [...peerIds];
  }

  get peerIds(): readonly number[] {
    return this.peers;
  }

  /** A node that joined the ring: watched from now on, down until heard from. */
  addPeer(id: number): void {
    if (id !== this.selfId && !this.peers.includes(id)) this.peers.push(id);
  }

  /** A node that left the ring: no longer watched. */
  removePeer(id: number): void {
    const i = this.peers.indexOf(id);
    if (i >= 0) this.peers.splice(i, 1);
    this.up.delete(id);
    this.lastHeardMs.delete(id);
  }

  isUp(id: number): boolean {
    return id === this.selfId || this.up.has(id);
  }

  /** Heard from `id`; returns true when this brings it up. */
  heard(id: number, nowMs: number): boolean {
    if (id === this.selfId || !this.peers.includes(id)) return false;
    this.lastHeardMs.set(id, nowMs);
    if (this.up.has(id)) return false;
    this.up.add(id);
    return true;
  }

  /** Its connection was lost or refused; returns true when this takes it down. */
  lost(id: number): boolean {
    return this.up.delete(id);
  }

  /** Peers silent for too long go down; returns those that just did. */
  expire(nowMs: number): number[] {
    const downed: number[] = [];
    for (const id of this.up) {
      if (nowMs - (this.lastHeardMs.get(id) ?? 0) > this.timeoutMs) {
        this.up.delete(id);
        downed.push(id);
      }
    }
    return downed;
  }

  downPeers(): number[] {
    return this.peers.filter((id) => !this.up.has(id));
  }
}
