import type { ChainStore, HealthStatus } from "@staccato/common";
import type { DaPublisher } from "../da/daPublisher.ts";
import type { BlockProducer } from "../sealing/blockProducer.ts";
import type { HistoryWriter } from "../storage/historyWriter.ts";
import type { TxPool } from "../txpool/txPool.ts";

export interface SequencerHealthDeps {
  producer: BlockProducer;
  historyWriter: HistoryWriter;
  chain: ChainStore;
  pool: TxPool;
  da: DaPublisher | null;
}

/**
 * The sequencer's `/health` (RPC and metrics ports, `staccato_health`): unhealthy once the block
 * producer or the history writer hit an error they cannot recover from; else the head, the pool
 * and the DA publisher's progress.
 */
export function sequencerHealth(d: SequencerHealthDeps): () => HealthStatus {
  return () => {
    const err = d.producer.error ?? d.historyWriter.error;
    if (err !== null) return { ok: false, error: err.message };
    return {
      ok: true,
      latestBlock: Number(d.chain.latest.number),
      pendingBlock: Number(d.chain.head.number),
      poolSize: d.pool.size,
      ...(d.da !== null ? { da: d.da.status() } : {}),
    };
  };
}
