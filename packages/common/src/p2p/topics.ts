/** Every gossip topic and req/resp protocol id is built here and nowhere else (DESIGN §4). */

export const TOPICS = ["miniBlock", "block", "attestation", "daPointer"] as const;
export type Topic = (typeof TOPICS)[number];

export const REQ_PROTOCOLS = [
  "miniBlocksByRange",
  "blockByNumber",
  "witnessByNumber",
  "stateSnapshot",
  "attestationsByRange",
  "daHead",
] as const;
export type ReqProtocol = (typeof REQ_PROTOCOLS)[number];

const topicSegment: { readonly [K in Topic]: string } = {
  miniBlock: "mini-block/1",
  block: "block/1",
  attestation: "attestation/1",
  daPointer: "da/1",
};

const protocolSegment: { readonly [K in ReqProtocol]: string } = {
  miniBlocksByRange: "req/mini-blocks-by-range/1",
  blockByNumber: "req/block-by-number/1",
  witnessByNumber: "req/witness-by-number/1",
  stateSnapshot: "req/state-snapshot/1",
  attestationsByRange: "req/attestations-by-range/1",
  daHead: "req/da-head/1",
};

function chainPrefix(chainId: number): string {
  if (!Number.isSafeInteger(chainId) || chainId < 0) throw new RangeError(`invalid chain id ${chainId}`);
  return `/staccato/${chainId}/`;
}

/** `/staccato/<chainId>/mini-block/1` and friends. */
export function topicName(chainId: number, topic: Topic): string {
  return chainPrefix(chainId) + topicSegment[topic];
}

/** `/staccato/<chainId>/req/mini-blocks-by-range/1` and friends. */
export function protocolId(chainId: number, proto: ReqProtocol): string {
  return chainPrefix(chainId) + protocolSegment[proto];
}

/** The inverse of `topicName` for one chain: which of our topics a gossipsub topic string is, if any. */
export function topicFromName(chainId: number, name: string): Topic | undefined {
  for (const t of TOPICS) if (topicName(chainId, t) === name) return t;
  return undefined;
}
