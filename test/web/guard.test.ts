// The web server's request rules beyond its own test: no --no-token off loopback, the Host check on
// a wildcard bind, no cross-origin POST (CSRF) even without a token, and 4xx (not 500) for roots
// named after Object.prototype members and for malformed percent-encodings.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startServer } from "../../src/web/server.js";
import { DATASET_JSON, writeCase } from "../fixtures/corpus.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

function dataset(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-guard-"));
  writeFileSync(path.join(root, "dataset.json"), JSON.stringify(DATASET_JSON));
  writeCase(root, "a", {});
  return root;
}

/** A raw request (fetch would not let us set Host or Origin freely). */
function request(
  port: number,
  o: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: o.method ?? "GET", path: o.path, headers: o.headers },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

const listing = (root: string) => readdirSync(root, { recursive: true, encoding: "utf8" }).sort();

test("--no-token is refused off loopback (library and CLI, exit 2)", async () => {
  const root = dataset();
  await assert.rejects(
    startServer({ dataset: root, host: "0.0.0.0", port: 0, token: null }),
    /only allowed on a loopback/,
  );
  const r = spawnSync(process.execPath, [bin, "serve", root, "--host", "0.0.0.0", "--no-token", "--port", "0"], {
    encoding: "utf8",
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--no-token is only allowed on a loopback address/);
});

test("a wildcard bind keeps the Host check: a foreign Host is refused, loopback is served", async () => {
  const server = await startServer({ dataset: dataset(), host: "0.0.0.0", port: 0 });
  try {
    const port = (server.server.address() as { port: number }).port;
    const headers = { "x-backsplit-token": server.token! };
    const evil = await request(port, { path: "/api/catalog", headers: { ...headers, host: "evil.example" } });
    assert.equal(evil.status, 403);
    assert.match(evil.body, /unexpected Host header 'evil\.example'/);
    const ok = await request(port, { path: "/api/catalog", headers: { ...headers, host: `127.0.0.1:${port}` } });
    assert.equal(ok.status, 200, ok.body);
  } finally {
    await server.close();
  }
});

test("without a token, a cross-origin text/plain POST cannot create a session or write anything", async () => {
  const root = dataset();
  const server = await startServer({ dataset: root, port: 0, token: null });
  try {
    const port = (server.server.address() as { port: number }).port;
    const before = listing(root);
    const host = `127.0.0.1:${port}`;
    const body = JSON.stringify({ case: "a" });
    const evil = await request(port, {
      method: "POST",
      path: "/api/sessions",
      headers: { host, origin: "http://evil.example", "content-type": "text/plain" },
      body,
    });
    assert.equal(evil.status, 403, evil.body);
    assert.match(evil.body, /cross-origin POST from http:\/\/evil\.example refused/);
    const site = await request(port, {
      method: "POST",
      path: "/api/sessions/x/save",
      headers: { host, "sec-fetch-site": "cross-site", "content-type": "text/plain" },
      body: JSON.stringify({ source: "evil" }),
    });
    assert.equal(site.status, 403, site.body);
    const nullOrigin = await request(port, {
      method: "DELETE",
      path: "/api/sessions/x",
      headers: { host, origin: "null" },
    });
    assert.equal(nullOrigin.status, 403);
    assert.deepEqual(listing(root), before, "nothing written");
    assert.equal(JSON.parse(readFileSync(path.join(root, "dataset.json"), "utf8")).background_sources, undefined);
  } finally {
    await server.close();
  }
});

test("roots named after Object.prototype members and malformed percent-encodings are 4xx", async () => {
  const server = await startServer({ dataset: dataset(), port: 0 });
  try {
    const port = (server.server.address() as { port: number }).port;
    const headers = { "x-backsplit-token": server.token!, host: `127.0.0.1:${port}` };
    for (const p of [
      "/api/file?root=constructor&path=x",
      "/api/file?root=toString&path=x",
      "/api/file?root=__proto__&path=x",
      "/files/__proto__/x",
      "/files/constructor/x",
      "/files/data/%E0%A4%A",
      "/files/%ZZ/x",
    ]) {
      const r = await request(port, { path: p, headers });
      assert.ok(r.status >= 400 && r.status < 500, `${p}: ${r.status} ${r.body}`);
      assert.ok(JSON.parse(r.body).error, p);
    }
  } finally {
    await server.close();
  }
});
