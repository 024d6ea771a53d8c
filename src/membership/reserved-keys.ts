/**
 * The ring's own keys, reserved in the client's key space (pure).
 */

/**
 * Where the Paxos compare-and-set that sequences epoch E keeps its value: a
 * key stored and replicated like any other, so that its replicas hold the
 * decided change, but reserved: clients can neither write nor read it
 * (node/handler.ts), and scans, dumps and key counts leave it out.
 */
export const EPOCH_SLOT_KEY_PREFIX = '\u0000ringkv-epoch-slot:';
/** The least key after every reserved one (the prefix with its last byte + 1): the reserved keys are [prefix, this). */
export const EPOCH_SLOT_KEY_END = '\u0000ringkv-epoch-slot;';

export function epochSlotKey(epoch: number): string {
  return `${EPOCH_SLOT_KEY_PREFIX}${epoch}`;
}

/** Whether a key is one of the ring's own (an epoch slot), kept from clients and left out of what they are shown. */
export function isReservedKey(key: string): boolean {
  return key.startsWith(EPOCH_SLOT_KEY_PREFIX);
}
