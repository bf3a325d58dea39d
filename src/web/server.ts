// `backsplit serve`: a local web server for one dataset and its run folders. The page (NiiVue)
// shows cases with their overlays, runs interactive labelling sessions on worker threads, saves
// accepted structures as a new background source, streams training logs and opens reports.
// Safety: loopback by default, a random token on every data request, paths confined to the
// served folders, bounded request bodies, errors as JSON.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { closeSync, createReadStream, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openDataset } from "../dataset/layout.js";
import { checkSourceName, registerSource } from "../labels/source.js";
import { type Catalog, type Roots, buildCatalog } from "./catalog.js";
import { allowedHosts, checkHost, checkSameOrigin, checkTokenPolicy, decodeSegment } from "./guard.js";
import { HttpError, readJson, sendError, sendJson, stringField } from "./http.js";
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
  const hosts = allowedHosts(host, o.allowHosts);
  /** A root the server was started with (never an Object.prototype name such as "constructor"). */
  const rootOf = (name: string): string => {
    if (!Object.hasOwn(roots, name)) throw new HttpError(400, `unknown root '${name}'`);
    return roots[name];
  };
  const maxBody = o.maxBodyBytes ?? 1 << 20;
  const sessions = new SessionPool({ device: o.device ?? "cpu", threads: o.threads, maxSessions: o.maxSessions ?? 4 });
  /** Sources this server created: only these may receive more maps. */
  const owned = new Map<string, Record<string, number>>();
  const clients = new Set<ServerResponse>();

  const authorised = (req: IncomingMessage, url: URL): "header" | "query" | "cookie" | null => {
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
  };

  const serveFile = (res: ServerResponse, file: string, type?: string) => {
    const ending = file.endsWith(".nii.gz") ? ".gz" : path.extname(file);
    res.writeHead(200, {
      "content-type": type ?? TYPES[ending] ?? "application/octet-stream",
      "content-length": statSync(file).size,
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    });
    createReadStream(file).pipe(res);
  };

  const fileRef = (url: URL): string => {
    return resolveInside(rootOf(url.searchParams.get("root") ?? ""), url.searchParams.get("path") ?? "");
  };

  const catalog = (): Catalog => buildCatalog(roots);

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const parts = url.pathname.split("/").filter(Boolean).slice(1); // after "api"
    const method = req.method ?? "GET";
    if (method === "GET" && parts[0] === "catalog") return sendJson(res, 200, catalog());
    if (method === "GET" && parts[0] === "file") {
      const file = fileRef(url);
      if (!statSync(file).isFile()) throw new HttpError(400, `${url.searchParams.get("path")}: not a file`);
      return serveFile(res, file);
    }
    if (method === "GET" && parts[0] === "log") return sendJson(res, 200, readLog(fileRef(url)));
    if (method === "GET" && parts[0] === "events") {
      // path names a run folder; its log.jsonl may not exist yet (a run that is just starting).
      const dir = fileRef(url);
      if (!statSync(dir).isDirectory()) throw new HttpError(400, `${url.searchParams.get("path")}: not a run folder`);
      return streamLog(req, res, path.join(dir, "log.jsonl"));
    }
    if (parts[0] !== "sessions") throw new HttpError(404, `no endpoint ${method} ${url.pathname}`);
    if (method === "POST" && parts.length === 1) {
      const body = await readJson(req, maxBody);
      const caseId = stringField(body, "case");
      const channel = body.channel === undefined ? 0 : Number(body.channel);
      // The dataset alone says which cases exist (the catalog would also scan the run folders).
      const dataset = openDataset(roots.data);
      const entry = [...dataset.training, ...dataset.test].find((c) => c.id === caseId);
      if (!entry) throw new HttpError(404, `no case '${caseId}' in the dataset`);
      const image = entry.images[channel];
      if (!Number.isInteger(channel) || !image)
        throw new HttpError(400, `case ${caseId} has no channel ${body.channel}`);
      const file = resolveInside(roots.data, path.relative(roots.data, image));
      const { info, shape } = await sessions.open(caseId, channel, file);
      return sendJson(res, 201, { ...info, shape });
    }
    const session = sessions.get(parts[1] ?? "");
    const action = parts[2];
    if (method === "DELETE" && !action) {
      await sessions.close(session.info.id);
      return sendJson(res, 200, { closed: session.info.id });
    }
    if (method !== "POST") throw new HttpError(405, `${method} is not allowed on ${url.pathname}`);
    const body = await readJson(req, maxBody);
    if (action === "prompt") {
      const prompt = body.prompt as ClientPrompt | undefined;
      if (!prompt || typeof prompt !== "object") throw new HttpError(400, '"prompt" must be an object');
      return sendJson(res, 200, await session.request({ op: "prompt", prompt }));
    }
    if (action === "undo" || action === "reset") return sendJson(res, 200, await session.request({ op: action }));
    if (action === "accept") {
      const name = stringField(body, "name");
      if (!/^[A-Za-z0-9][A-Za-z0-9_ .-]{0,63}$/.test(name))
        throw new HttpError(400, `class name '${name}' must be letters, digits, spaces, '_', '-' or '.'`);
      const classes = session.info.classes;
      classes[name] ??= Math.max(0, ...Object.values(classes)) + 1;
      const reply = await session.request({ op: "accept", value: classes[name] });
      return sendJson(res, 200, { ...reply, classes });
    }
    if (action === "save") {
      const source = stringField(body, "source");
      try {
        checkSourceName(source);
      } catch (error) {
        throw new HttpError(400, (error as Error).message);
      }
      const dataset = openDataset(roots.data);
      if (
        !owned.has(source) &&
        (dataset.json.background_sources?.[source] || existsSync(path.join(roots.data, "backgroundTr", source)))
      )
        throw new HttpError(
          409,
          `background source '${source}' already exists: choose a new name (the server never overwrites a source it did not create)`,
        );
      if (Object.keys(session.info.classes).length === 0)
        throw new HttpError(400, "accept at least one structure before saving");
      const labels = owned.get(source) ?? {};
      const values: Record<number, number> = {};
      for (const [name, v] of Object.entries(session.info.classes)) {
        labels[name] ??= Math.max(0, ...Object.values(labels)) + 1;
        values[v] = labels[name];
      }
      const relative = `backgroundTr/${source}/${session.info.caseId}${dataset.json.file_ending}`;
      const file = writableInside(roots.data, relative);
      await session.request({ op: "save", file, values });
      owned.set(source, labels);
      registerSource(dataset, source, labels, "drawn interactively in backsplit serve (random walker)");
      return sendJson(res, 200, { source, file: relative, labels });
    }
    throw new HttpError(404, `no endpoint ${method} ${url.pathname}`);
  }

  function streamLog(req: IncomingMessage, res: ServerResponse, file: string): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    clients.add(res);
    let offset = 0;
    let partial = "";
    const push = () => {
      if (!existsSync(file)) return;
      const size = statSync(file).size;
      if (size < offset) {
        // The log was rewritten (a new run in the same folder): the page starts its curve again.
        offset = 0;
        partial = "";
        res.write("event: reset\ndata: {}\n\n");
      }
      if (size === offset) return;
      // Only the bytes appended since the last look.
      const chunk = Buffer.alloc(size - offset);
      const fd = openSync(file, "r");
      try {
        readSync(fd, chunk, 0, chunk.length, offset);
      } finally {
        closeSync(fd);
      }
      const text = partial + chunk.toString("utf8");
      offset = size;
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) res.write(`data: ${line}\n\n`);
    };
    push();
    const timer = setInterval(() => {
      try {
        push();
        res.write(": keep-alive\n\n");
      } catch {
        // the next tick retries; a removed file just stops the stream's updates
      }
    }, 500);
    req.on("close", () => {
      clearInterval(timer);
      clients.delete(res);
    });
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      checkHost(req, hosts); // for every bind address
      const method = req.method ?? "GET";
      if (!["GET", "HEAD", "POST", "DELETE"].includes(method)) throw new HttpError(405, `${method} is not allowed`);
      checkSameOrigin(req); // POST/DELETE only from the page itself, token or not
      // The page and the viewer library hold no data: they load without the token.
      if (method === "GET" && (url.pathname === "/" || url.pathname === "/index.html"))
        return serveFile(res, path.join(STATIC, "index.html"));
      if (method === "GET" && url.pathname === "/app.css") return serveFile(res, path.join(STATIC, "app.css"));
      if (method === "GET" && url.pathname === "/app.js") return serveFile(res, path.join(CLIENT, "app.js"));
      if (method === "GET" && url.pathname === "/vendor/niivue.js") return serveFile(res, niivueBundle());
      if (method === "GET" && url.pathname === "/favicon.ico") {
        res.writeHead(204).end();
        return;
      }
      const via = authorised(req, url);
      if (!via) throw new HttpError(401, "missing or wrong token (open the URL printed by backsplit serve)");
      if (via === "query" && token)
        res.setHeader("set-cookie", `backsplit_token=${token}; HttpOnly; SameSite=Strict; Path=/`);
      if (url.pathname.startsWith("/api/")) return await api(req, res, url);
      if (method === "GET" && url.pathname.startsWith("/files/")) {
        // /files/<root>/<path>: reports and their neighbours, relative links working.
        const [, , root, ...rest] = url.pathname.split("/");
        const file = resolveInside(rootOf(decodeSegment(root)), rest.map(decodeSegment).join("/"));
        if (!statSync(file).isFile()) throw new HttpError(400, `${rest.join("/")}: not a file`);
        return serveFile(res, file);
      }
      throw new HttpError(404, `no page ${url.pathname}`);
    } catch (error) {
      sendError(res, error);
    }
  });
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
      for (const c of clients) c.end();
      await sessions.closeAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readLog(file: string): unknown[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a line being written
      }
    });
}
