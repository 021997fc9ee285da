import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

/** The browser sources: TypeScript and CSS under `web/`, bundled with uPlot into one HTML page. */
export const WEB_DIR = join(import.meta.dirname, "..", "web");

/** What the RPC server sends for `GET /` (the `StaticPage` of @staccato/common's server). */
export interface DashboardPage {
  body: Buffer;
  etag: string;
  headers: Record<string, string>;
}

/**
 * Bundles the dashboard with esbuild (TypeScript, uPlot and the CSS, minified) into a single
 * self-contained HTML document: no CDN, no further requests, so it works offline. The script is
 * inline and allowed by its hash in the Content-Security-Policy; nothing else may run.
 */
export async function buildDashboardPage(): Promise<DashboardPage> {
  const result = await build({
    entryPoints: [join(WEB_DIR, "main.ts")],
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2022"],
    outdir: "out",
    write: false,
    logLevel: "silent",
    legalComments: "none",
    charset: "utf8",
  });
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"))?.text;
  const css = result.outputFiles.find((f) => f.path.endsWith(".css"))?.text ?? "";
  if (js === undefined) throw new Error("esbuild produced no script");
  // `</script` inside the bundle would end the inline element early; `<\/script` is the same string.
  const script = js.replaceAll("</script", "<\\/script");
  const template = readFileSync(join(WEB_DIR, "index.html"), "utf8");
  const html = template
    .replace("/*STYLE*/", () => css.replaceAll("</style", "<\\/style"))
    .replace("/*SCRIPT*/", () => script);
  const scriptHash = createHash("sha256").update(script).digest("base64");
  const body = Buffer.from(html);
  return {
    body,
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      // The page talks JSON-RPC to this node and to the other nodes it is told about (any origin).
      "content-security-policy": [
        "default-src 'none'",
        `script-src 'sha256-${scriptHash}'`,
        "style-src 'unsafe-inline'",
        "img-src data:",
        "connect-src * ws: wss:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join("; "),
    },
  };
}

let built: Promise<DashboardPage> | null = null;

/**
 * The page, built once per process on first request (~0.1 s) and then served from memory; a
 * failed build is retried on the next request. Daemons pass this to the RPC server as `page`.
 */
export function dashboardPage(): Promise<DashboardPage> {
  built ??= buildDashboardPage().catch((err: unknown) => {
    built = null;
    throw err;
  });
  return built;
}
