// `backsplit serve`: a local web server for one dataset and its run folders. The page (NiiVue)
// shows cases with their overlays, runs interactive labelling sessions on worker threads, saves
// accepted structures as a new background source, streams training logs and opens reports.
// Safety: loopback by default, a random token on every data request, paths confined to the
// served folders, bounded request bodies, errors as JSON. The routes are a table (below); the rules
// every request passes (Host, method, same origin, token, body limits) are applied by router.ts.
import { randomBytes } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openDataset } from "../dataset/layout.js";
import { nextClassValue, renumberClasses } from "../labels/renumber.js";
import { checkSourceName, registerSource } from "../labels/source.js";
import { type Roots, buildCatalog } from "./catalog.js";
import { allowedHosts, checkTokenPolicy, decodeSegment } from "./guard.js";
import { HttpError, sendJson, stringField } from "./http.js";
import { readLog, streamLog } from "./logs.js";
import { type RequestContext, type Route, router } from "./router.js";
import { resolveInside, writableInside } from "./safe-path.js";
import type { ClientPrompt } from "./session-worker.js";
import { SessionPool } from "./sessions.js";

export interface ServeOptions {
  dataset: string;
  runs?: string[];
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** null disables the token (only on purpose: --no-token). */
  token?: string | null;
  maxBodyBytes?: number;
  device?: string;
  threads?: number;
  maxSessions?: number;
  /** More names the Host header may carry (e.g. this machine's DNS name behind a wildcard bind). */
  allowHosts?: string[];
}

export interface WebServer {
  url: string;
  /** The URL with the token, to open in a browser. */
  openUrl: string;
  token: string | null;
  server: Server;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const STATIC = path.resolve(here, "../../../src/web/static");
const CLIENT = path.resolve(here, "../../web");
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".jsonl": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** NiiVue's self-contained ES module build (its package entry imports bare specifiers). */
function niivueBundle(): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve("@niivue/niivue")));
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const bundle = path.join(dir, "dist", "index.js");
  if (!existsSync(bundle))
    throw new HttpError(500, `NiiVue's browser bundle is missing (${bundle}): reinstall @niivue/niivue`);
  return bundle;
}

/** What the routes share: the served folders, the open sessions and the sources this server made. */
interface ServerState {
  roots: Roots;
  maxBody: number;
  sessions: SessionPool;
  /** Sources this server created (name → classes): only these may receive more maps. */
  owned: Map<string, Record<string, number>>;
  /** Open event streams, ended on close. */
  clients: Set<ServerResponse>;
}

/** A root the server was started with (never an Object.prototype name such as "constructor"). */
function rootOf(s: ServerState, name: string): string {
  if (!Object.hasOwn(s.roots, name)) throw new HttpError(400, `unknown root '${name}'`);
  return s.roots[name];
}

/** The file or folder named by ?root=…&path=…, confined to that root. */
function fileRef(s: ServerState, url: URL): string {
  return resolveInside(rootOf(s, url.searchParams.get("root") ?? ""), url.searchParams.get("path") ?? "");
}

function serveFile(res: ServerResponse, file: string, type?: string): void {
  const ending = file.endsWith(".nii.gz") ? ".gz" : path.extname(file);
  res.writeHead(200, {
    "content-type": type ?? TYPES[ending] ?? "application/octet-stream",
    "content-length": statSync(file).size,
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
  });
  createReadStream(file).pipe(res);
}

/** The page and the viewer library: they hold no data and load without the token. */
function pageRoutes(): Route[] {
  const asset = (p: string, file: () => string): Route => ({
    method: "GET",
    path: p,
    auth: "public",
    handle: ({ res }) => serveFile(res, file()),
  });
  return [
    asset("/", () => path.join(STATIC, "index.html")),
    asset("/index.html", () => path.join(STATIC, "index.html")),
    asset("/app.css", () => path.join(STATIC, "app.css")),
    asset("/app.js", () => path.join(CLIENT, "app.js")),
    asset("/vendor/niivue.js", niivueBundle),
    { method: "GET", path: "/favicon.ico", auth: "public", handle: ({ res }) => res.writeHead(204).end() },
  ];
}

/** The catalog, files under the served folders and training logs. */
function dataRoutes(s: ServerState): Route[] {
  return [
    {
      method: "GET",
      path: "/api/catalog",
      auth: "token",
      handle: ({ res }) => sendJson(res, 200, buildCatalog(s.roots)),
    },
    {
      method: "GET",
      path: "/api/file",
      auth: "token",
      handle: ({ res, url }) => {
        const file = fileRef(s, url);
        if (!statSync(file).isFile()) throw new HttpError(400, `${url.searchParams.get("path")}: not a file`);
        serveFile(res, file);
      },
    },
    {
      method: "GET",
      path: "/api/log",
      auth: "token",
      handle: ({ res, url }) => sendJson(res, 200, readLog(fileRef(s, url))),
    },
    {
      method: "GET",
      path: "/api/events",
      auth: "token",
      handle: ({ req, res, url }) => {
        // path names a run folder; its log.jsonl may not exist yet (a run that is just starting).
        const dir = fileRef(s, url);
        if (!statSync(dir).isDirectory()) throw new HttpError(400, `${url.searchParams.get("path")}: not a run folder`);
        streamLog(req, res, path.join(dir, "log.jsonl"), s.clients);
      },
    },
    {
      // /files/<root>/<path>: reports and their neighbours, relative links working.
      method: "GET",
      path: "/files/*",
      auth: "token",
      handle: ({ res, params }) => {
        const [root, ...rest] = params["*"].split("/");
        const file = resolveInside(rootOf(s, decodeSegment(root)), rest.map(decodeSegment).join("/"));
        if (!statSync(file).isFile()) throw new HttpError(400, `${rest.join("/")}: not a file`);
        serveFile(res, file);
      },
    },
  ];
}

async function openSession(s: ServerState, { res, body }: RequestContext): Promise<void> {
  const b = await body();
  const caseId = stringField(b, "case");
  const channel = b.channel === undefined ? 0 : Number(b.channel);
  // The dataset alone says which cases exist (the catalog would also scan the run folders).
  const dataset = openDataset(s.roots.data);
  const entry = [...dataset.training, ...dataset.test].find((c) => c.id === caseId);
  if (!entry) throw new HttpError(404, `no case '${caseId}' in the dataset`);
  const image = entry.images[channel];
  if (!Number.isInteger(channel) || !image) throw new HttpError(400, `case ${caseId} has no channel ${b.channel}`);
  const file = resolveInside(s.roots.data, path.relative(s.roots.data, image));
  const { info, shape } = await s.sessions.open(caseId, channel, file);
  sendJson(res, 201, { ...info, shape });
}

/** Writes the session's accepted structures as (one more case of) a source this server owns. */
async function saveSession(s: ServerState, { res, params, body }: RequestContext): Promise<void> {
  const session = s.sessions.get(params.id);
  const source = stringField(await body(), "source");
  try {
    checkSourceName(source);
  } catch (error) {
    throw new HttpError(400, (error as Error).message);
  }
  const dataset = openDataset(s.roots.data);
  if (
    !s.owned.has(source) &&
    (dataset.json.background_sources?.[source] || existsSync(path.join(s.roots.data, "backgroundTr", source)))
  )
    throw new HttpError(
      409,
      `background source '${source}' already exists: choose a new name (the server never overwrites a source it did not create)`,
    );
  if (Object.keys(session.info.classes).length === 0)
    throw new HttpError(400, "accept at least one structure before saving");
  const { labels, values } = renumberClasses(session.info.classes, s.owned.get(source));
  const relative = `backgroundTr/${source}/${session.info.caseId}${dataset.json.file_ending}`;
  const file = writableInside(s.roots.data, relative);
  await session.request({ op: "save", file, values });
  s.owned.set(source, labels);
  registerSource(dataset, source, labels, "drawn interactively in backsplit serve (random walker)");
  sendJson(res, 200, { source, file: relative, labels });
}

/** Interactive sessions: open, prompt, undo, reset, accept a structure, save, close. */
function sessionRoutes(s: ServerState): Route[] {
  const post = (p: string, handle: Route["handle"]): Route => ({
    method: "POST",
    path: p,
    auth: "token",
    maxBody: s.maxBody,
    handle,
  });
  // The session is looked up before the body is read: an unknown session is a 404 whatever the body.
  const action = (
    name: string,
    run: (ctx: RequestContext, session: ReturnType<SessionPool["get"]>) => Promise<unknown>,
  ) =>
    post(`/api/sessions/:id/${name}`, async (ctx) => {
      const session = s.sessions.get(ctx.params.id);
      sendJson(ctx.res, 200, await run(ctx, session));
    });
  return [
    post("/api/sessions", (ctx) => openSession(s, ctx)),
    {
      method: "DELETE",
      path: "/api/sessions/:id",
      auth: "token",
      handle: async ({ res, params }) => {
        const session = s.sessions.get(params.id);
        await s.sessions.close(session.info.id);
        sendJson(res, 200, { closed: session.info.id });
      },
    },
    action("prompt", async ({ body }, session) => {
      const prompt = (await body()).prompt as ClientPrompt | undefined;
      if (!prompt || typeof prompt !== "object") throw new HttpError(400, '"prompt" must be an object');
      return session.request({ op: "prompt", prompt });
    }),
    action("undo", async ({ body }, session) => {
      await body();
      return session.request({ op: "undo" });
    }),
    action("reset", async ({ body }, session) => {
      await body();
      return session.request({ op: "reset" });
    }),
    action("accept", async ({ body }, session) => {
      const name = stringField(await body(), "name");
      if (!/^[A-Za-z0-9][A-Za-z0-9_ .-]{0,63}$/.test(name))
        throw new HttpError(400, `class name '${name}' must be letters, digits, spaces, '_', '-' or '.'`);
      const classes = session.info.classes;
      if (!Object.hasOwn(classes, name)) classes[name] = nextClassValue(classes);
      const reply = await session.request({ op: "accept", value: classes[name] });
      return { ...reply, classes };
    }),
    post("/api/sessions/:id/save", (ctx) => saveSession(s, ctx)),
  ];
}

export async function startServer(o: ServeOptions): Promise<WebServer> {
  const roots: Roots = { data: path.resolve(o.dataset) };
  openDataset(roots.data); // fails early, naming the file, if the dataset is broken
  (o.runs ?? []).forEach((r, i) => {
    const dir = path.resolve(r);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${r}: not a folder`);
    roots[`r${i}`] = dir;
  });
  const token = o.token === undefined ? randomBytes(24).toString("hex") : o.token;
  const host = o.host ?? "127.0.0.1";
  checkTokenPolicy(host, token);
  const state: ServerState = {
    roots,
    maxBody: o.maxBodyBytes ?? 1 << 20,
    sessions: new SessionPool({ device: o.device ?? "cpu", threads: o.threads, maxSessions: o.maxSessions ?? 4 }),
    owned: new Map(),
    clients: new Set(),
  };
  const routes = [...pageRoutes(), ...dataRoutes(state), ...sessionRoutes(state)];
  const server = createServer(router(routes, { hosts: allowedHosts(host, o.allowHosts), token }));
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shown}:${port}/`;
  return {
    url,
    openUrl: token ? `${url}?token=${token}` : url,
    token,
    server,
    async close() {
      for (const c of state.clients) c.end();
      await state.sessions.closeAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
