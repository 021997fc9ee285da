/** Resolves after `ms`, or rejects early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A signal that aborts after a time limit or with any of several other signals, and its release. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Stops the timer and unlinks the other signals: call it once the guarded work is over. */
  clear(): void;
}

/**
 * A signal that aborts with a `TimeoutError` after `ms`, or as soon as one of `also` aborts (with
 * its reason). Not `AbortSignal.any([AbortSignal.timeout(ms), …])`: on Node 20 the composite holds
 * its timeout source only weakly, so once a garbage collection takes it the composite never aborts
 * (nodejs/node#57736): a request to a peer that never answers would wait for ever. Here the timer
 * holds the controller. The timer does not keep the process alive.
 */
export function deadline(ms: number, ...also: (AbortSignal | undefined)[]): Deadline {
  const ac = new AbortController();
  const unlink: (() => void)[] = [];
  const clear = () => {
    clearTimeout(timer);
    for (const u of unlink.splice(0)) u();
  };
  const timer = setTimeout(
    () => ac.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
    ms,
  );
  timer.unref();
  for (const s of also) {
    if (s === undefined) continue;
    if (s.aborted) {
      ac.abort(s.reason);
      break;
    }
    const onAbort = () => ac.abort(s.reason);
    s.addEventListener("abort", onAbort, { once: true });
    unlink.push(() => s.removeEventListener("abort", onAbort));
  }
  if (ac.signal.aborted) clear();
  else ac.signal.addEventListener("abort", clear, { once: true });
  return { signal: ac.signal, clear };
}
