/** The shapes of the JSON-RPC answers the page reads (hex quantities as strings). */

export interface MiniBlockNote {
  number: string;
  hash: string;
  blockNumber: string;
  index: string;
  timestampUs: string;
  gasUsed?: string;
  transactions: string[];
}

export interface HeadNote {
  number: string;
  hash: string;
  gasUsed: string;
  timestamp: string;
  transactions?: unknown[];
}

export interface BlockStats {
  number: string;
  hash: string;
  timestamp?: string;
  miniBlocks: number;
  transactions: number;
  gasUsed: string;
  stateRootMs: number | null;
  sealMs: number | null;
  sealedAt: number | null;
  da: "published" | "pending" | null;
}

export interface AttestationInfo {
  prover: string;
  blockHash: string;
  canonical: boolean | null;
  verdict: "valid" | "invalid";
  reason: string;
  receivedAt: number | null;
}

export interface Attestations {
  blockNumber: string;
  blockHash: string | null;
  finalized: boolean;
  quorum: number;
  attestations: AttestationInfo[];
}

export interface Finality {
  latest: string;
  safe: string;
  finalized: string;
  quorum: number;
  provers: string[];
  haltedAt: string | null;
  alarms: {
    blockNumber: string;
    blockHash: string;
    prover: string;
    reason: string;
    canonical: boolean | null;
  }[];
}

export interface NodeInfo {
  role: "sequencer" | "fullnode" | "prover";
  clientVersion: string;
  chainId: number;
  peerId: string | null;
  peers: number;
  pid: number;
  startedAt: number;
  now: number;
  uptimeSeconds: number;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  health: { ok: boolean; error?: string; [k: string]: unknown };
  status: Record<string, unknown>;
  lag: { blocks: number | null; ms: number | null; lastMiniBlockAt: number | null } | null;
  logTail: string[];
}
