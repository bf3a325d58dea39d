// Request rules of the web server that do not depend on the route:
// - Host allow-list for every bind address (DNS rebinding): loopback names, the bound address,
//   and for a wildcard bind (0.0.0.0, ::) this machine's name and interface addresses, plus
//   --allow-host names;
// - state-changing requests (POST, DELETE) from a browser must come from the page itself:
//   Sec-Fetch-Site same-origin (or none), and an Origin naming the same host (CSRF);
// - a data request carries the token (header, query or cookie), compared in constant time;
// - the token may only be switched off on a loopback address.
// The router (router.ts) applies them to every request, in that order.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import os from "node:os";
import { HttpError } from "./http.js";

export const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);
const WILDCARD = new Set(["0.0.0.0", "::", "0:0:0:0:0:0:0:0"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Host names a request may carry in its Host header when the server listens on `host`. */
export function allowedHosts(host: string, extra: readonly string[] = []): Set<string> {
  const allowed = new Set([...LOOPBACK, host.toLowerCase(), ...extra.map((h) => h.toLowerCase())]);
  if (WILDCARD.has(host)) {
    allowed.add(os.hostname().toLowerCase());
    for (const list of Object.values(os.networkInterfaces()))
      for (const a of list ?? []) allowed.add(a.address.toLowerCase());
  }
  return allowed;
}

/** The Host header without port and IPv6 brackets, lower case. */
export function hostName(header: string | undefined): string {
  const h = (header ?? "").trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") > 0 ? h.indexOf("]") : undefined);
  return h.replace(/:\d*$/, "");
}

export function checkHost(req: IncomingMessage, allowed: Set<string>): void {
  if (!allowed.has(hostName(req.headers.host)))
    throw new HttpError(
      403,
      `unexpected Host header '${req.headers.host ?? ""}' (allowed: ${[...allowed].join(", ")}; add names with --allow-host)`,
    );
}

/** POST and DELETE only from the served page: no cross-site request may change anything. */
export function checkSameOrigin(req: IncomingMessage): void {
  const method = req.method ?? "GET";
  if (method !== "POST" && method !== "DELETE") return;
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none")
    throw new HttpError(403, `cross-site ${method} refused (Sec-Fetch-Site: ${site})`);
  const origin = req.headers.origin;
  if (origin === undefined) return; // not a browser (curl, scripts): the token decides
  let host: string | null = null;
  try {
    host = new URL(origin).host;
  } catch {
    host = null;
  }
  if (host === null || host.toLowerCase() !== (req.headers.host ?? "").toLowerCase())
    throw new HttpError(403, `cross-origin ${method} from ${origin} refused`);
}

/** How the request carries the token, or null if it does not; "header" for every request when the token is off. */
export function tokenVia(req: IncomingMessage, url: URL, token: string | null): "header" | "query" | "cookie" | null {
  if (token === null) return "header";
  const match = (given: string | null | undefined) =>
    typeof given === "string" &&
    given.length === token.length &&
    timingSafeEqual(Buffer.from(given), Buffer.from(token));
  if (match(req.headers["x-backsplit-token"] as string | undefined)) return "header";
  if (match(url.searchParams.get("token"))) return "query";
  const cookie = /(?:^|;\s*)backsplit_token=([0-9a-f]+)/.exec(req.headers.cookie ?? "");
  if (match(cookie?.[1])) return "cookie";
  return null;
}

/** Refuses to serve without a token beyond loopback. */
export function checkTokenPolicy(host: string, token: string | null): void {
  if (token === null && !isLoopback(host))
    throw new Error(
      `--no-token is only allowed on a loopback address (127.0.0.1, ::1): on ${host} anyone who can reach the machine could read and write the dataset`,
    );
}

/** Decodes one URL path segment; a malformed percent-encoding is a 400, not a crash. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in '${segment}'`);
  }
}
