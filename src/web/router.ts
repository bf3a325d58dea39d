// The web server's route table and the one place where its request rules are applied, in order:
// 1. the Host header is one the server answers to (DNS rebinding; every bind address);
// 2. the method is GET, HEAD, POST or DELETE;
// 3. a state-changing request (POST, DELETE) comes from the page itself (Sec-Fetch-Site, Origin: CSRF);
// 4. a route that is not public (everything but the page and its libraries) needs the token; a token
//    given in the query becomes an HttpOnly cookie, so that the page's own links carry it;
// 5. a path no route has is a 404 ("no endpoint" under /api/, "no page" elsewhere), a path some route
//    has with another method a 405;
// 6. a route reads its JSON body only up to its own limit (413 beyond).
import type { IncomingMessage, ServerResponse } from "node:http";
import { checkHost, checkSameOrigin, tokenVia } from "./guard.js";
import { HttpError, readJson, sendError } from "./http.js";

export type Method = "GET" | "POST" | "DELETE";

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path segments captured by ":name" in the route's path; "*" holds the rest of the path after its prefix. */
  params: Record<string, string>;
  /** The request's JSON object body, read at most once and up to the route's limit. */
  body(): Promise<Record<string, unknown>>;
}

export interface Route {
  method: Method;
  /** "/api/sessions/:id/prompt": literal segments and ":name" captures; "/files/*": a prefix and the rest. */
  path: string;
  /** "public": the page and its libraries, which hold no data; "token": everything else. */
  auth: "public" | "token";
  /** Largest request body in bytes, for routes that read one (none read otherwise: 413). */
  maxBody?: number;
  handle(ctx: RequestContext): unknown | Promise<unknown>;
}

export interface RouterRules {
  /** Names the Host header may carry. */
  hosts: Set<string>;
  /** null: no token required (loopback only, checked at start). */
  token: string | null;
}

const METHODS = ["GET", "HEAD", "POST", "DELETE"];

/** The parameters of `pathname` under `pattern`, or null when it does not match. */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  if (pattern.endsWith("/*")) {
    const prefix = pattern.slice(0, -1);
    return pathname.startsWith(prefix) ? { "*": pathname.slice(prefix.length) } : null;
  }
  const want = pattern.split("/").filter(Boolean);
  const have = pathname.split("/").filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = have[i];
    else if (want[i] !== have[i]) return null;
  }
  return params;
}

/** A request listener that applies the rules above and dispatches to the routes; errors become JSON. */
export function router(
  routes: readonly Route[],
  rules: RouterRules,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      checkHost(req, rules.hosts);
      const method = req.method ?? "GET";
      if (!METHODS.includes(method)) throw new HttpError(405, `${method} is not allowed`);
      checkSameOrigin(req);
      const matches = routes.flatMap((route) => {
        const params = matchPath(route.path, url.pathname);
        return params ? [{ route, params }] : [];
      });
      const hit = matches.find((m) => m.route.method === method);
      if (hit?.route.auth !== "public") {
        const via = tokenVia(req, url, rules.token);
        if (!via) throw new HttpError(401, "missing or wrong token (open the URL printed by backsplit serve)");
        if (via === "query" && rules.token)
          res.setHeader("set-cookie", `backsplit_token=${rules.token}; HttpOnly; SameSite=Strict; Path=/`);
      }
      if (!hit) {
        if (matches.length > 0) throw new HttpError(405, `${method} is not allowed on ${url.pathname}`);
        throw new HttpError(
          404,
          url.pathname.startsWith("/api/") ? `no endpoint ${method} ${url.pathname}` : `no page ${url.pathname}`,
        );
      }
      let body: Promise<Record<string, unknown>> | null = null;
      await hit.route.handle({
        req,
        res,
        url,
        params: hit.params,
        body: () => {
          body ??= readJson(req, hit.route.maxBody ?? 0);
          return body;
        },
      });
    } catch (error) {
      sendError(res, error);
    }
  };
}
