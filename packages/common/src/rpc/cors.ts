import type { OutgoingHttpHeaders } from "node:http";

export interface CorsPolicy {
  /** Headers for a normal response (a fresh object the caller may extend). */
  headers(origin: string | undefined): OutgoingHttpHeaders;
  preflight(origin: string | undefined): OutgoingHttpHeaders;
  /** Whether a browser at `origin` may open a WebSocket (no Origin header: not a browser, allowed). */
  allows(origin: string | undefined): boolean;
}

export function corsPolicy(spec: string): CorsPolicy {
  const list = spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const any = list.includes("*");
  const allowed = new Set(list);
  const allowOrigin = (origin: string | undefined): string | undefined =>
    any ? "*" : origin !== undefined && allowed.has(origin) ? origin : undefined;
  const headers = (origin: string | undefined): OutgoingHttpHeaders => {
    const h: OutgoingHttpHeaders = {};
    const allow = allowOrigin(origin);
    if (allow !== undefined) h["access-control-allow-origin"] = allow;
    if (!any && list.length > 0) h.vary = "origin";
    return h;
  };
  return {
    headers,
    preflight(origin) {
      const h = headers(origin);
      if (h["access-control-allow-origin"] !== undefined) {
        h["access-control-allow-methods"] = "POST, GET, OPTIONS";
        h["access-control-allow-headers"] = "content-type, authorization";
        h["access-control-max-age"] = "86400";
      }
      return h;
    },
    allows(origin) {
      return origin === undefined || any || allowed.has(origin);
    },
  };
}
