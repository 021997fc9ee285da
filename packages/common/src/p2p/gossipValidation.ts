import type { Logger } from "../log/logger.ts";

/**
 * The shared vocabulary of gossip validation (op-node's flat validator lists): each check is cheap
 * and named, marked REJECT (the sender misbehaved: gossipsub scores it down and drops the message)
 * or IGNORE (not useful now: dropped, no penalty), cheapest first.
 */
export type GossipVerdict = "accept" | "ignore" | "reject";

/** A check passes with `null`, or fails with the verdict to return. */
export type GossipCheck = () => Exclude<GossipVerdict, "accept"> | null;
export type NamedGossipCheck = readonly [name: string, check: GossipCheck];

/**
 * Runs the checks in order and returns the first failing one's verdict, or "accept".
 * A check that throws counts as "reject". The failing check's name is logged at debug and given
 * to `onFail` (for a metric labelled by check).
 */
export function runGossipChecks(
  checks: readonly NamedGossipCheck[],
  log?: Logger,
  context?: Record<string, unknown>,
  onFail?: (check: string, verdict: Exclude<GossipVerdict, "accept">) => void,
): GossipVerdict {
  for (const [name, check] of checks) {
    let verdict: GossipVerdict | null;
    try {
      verdict = check();
    } catch (err) {
      log?.debug({ ...context, check: name, err: (err as Error).message }, "gossip check threw");
      onFail?.(name, "reject");
      return "reject";
    }
    if (verdict !== null) {
      log?.debug({ ...context, check: name, verdict }, "gossip check failed");
      onFail?.(name, verdict);
      return verdict;
    }
  }
  return "accept";
}

/**
 * A bounded set of recently seen message ids (strings: hex hashes, `number:hash`, …) for dedup.
 * Insertion-ordered: when full, the oldest id is forgotten.
 */
export class SeenCache {
  readonly capacity: number;
  private readonly ids = new Set<string>();

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`bad capacity ${capacity}`);
    this.capacity = capacity;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Records `id`; returns false when it was already there (a duplicate). */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.ids.size;
  }

  clear(): void {
    this.ids.clear();
  }
}
