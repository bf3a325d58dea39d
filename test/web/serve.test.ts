// `backsplit serve`: the safety rules (token, Host, paths, symlinks, body size, other sources) with
// nothing written when refused, and the page in headless Chromium: clicks on a phantom organ, accept,
// save (checked on disk against the phantom's tissue map), undo, and a live training curve.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { TISSUES, writePhantomDataset } from "../../src/demo/phantom.js";
import { InteractiveSession, type Voxel } from "../../src/interactive/session.js";
import { readVolume } from "../../src/io/read.js";
import { runInWorker } from "../../src/util/worker.js";
import { type WebServer, startServer } from "../../src/web/server.js";
import { config, tinyDataset } from "../fixtures/training.js";
import { launchBrowser } from "../helpers/browser.js";

let root: string;
let dataset: string;
let runs: string;
let server: WebServer;
const outside = mkdtempSync(path.join(os.tmpdir(), "bs-outside-"));
const screenshots = mkdtempSync(path.join(os.tmpdir(), "bs-serve-shots-"));

/** Every file under a folder with its content hash: "nothing written" is an equal snapshot. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) out.set(full, createHash("sha1").update(readFileSync(full)).digest("hex"));
      else out.set(full, "link");
    }
  };
  walk(dir);
  return out;
}

async function call(
  pathname: string,
  o: { method?: string; token?: string | null; body?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  const token = o.token === undefined ? server.token : o.token;
  if (token) headers["x-backsplit-token"] = token;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(new URL(pathname, server.url), { method: o.method ?? "GET", headers, body: o.body });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), "bs-serve-"));
  dataset = path.join(root, "dataset");
  runs = path.join(root, "runs");
  mkdirSync(runs, { recursive: true });
  writePhantomDataset(dataset, { train: 1, test: 1, seed: 5 });
  writeFileSync(path.join(outside, "secret.txt"), "outside the dataset\n");
  // A prediction folder and a report in the run folder, as an experiment leaves them.
  const predictions = path.join(runs, "predictions", "binary_seed1");
  mkdirSync(predictions, { recursive: true });
  writeFileSync(path.join(predictions, "prediction.json"), "{}\n");
  copyFileSync(path.join(dataset, "labelsTr", "phantom_000.nii.gz"), path.join(predictions, "phantom_000.nii.gz"));
  writeFileSync(
    path.join(runs, "report.html"),
    "<!doctype html><title>report</title><h1 id=r>comparison report</h1>\n",
  );
  // A link inside the dataset that leads out of it.
  symlinkSync(path.join(outside, "secret.txt"), path.join(dataset, "imagesTr", "leak.txt"));
  server = await startServer({ dataset, runs: [runs], port: 0, threads: 2 });
});

after(async () => {
  await server?.close();
});

test("serve: the token is required on data requests, wrong tokens and Host headers are refused", async () => {
  assert.equal((await call("/api/catalog", { token: null })).status, 401);
  assert.equal((await call("/api/catalog", { token: "0".repeat(48) })).status, 401);
  assert.equal((await call(`/api/catalog?token=${server.token}x`, { token: null })).status, 401);
  const ok = await call("/api/catalog");
  assert.equal(ok.status, 200);
  assert.deepEqual(
    (ok.json.cases as { id: string }[]).map((c) => c.id),
    ["phantom_000", "phantom_001"],
  );
  // A page on another site resolving its name to 127.0.0.1 (DNS rebinding) sends its own Host.
  const rebinding = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.get(
      new URL("/api/catalog", server.url),
      { headers: { host: "evil.example", "x-backsplit-token": server.token! } },
      (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
  });
  assert.equal(rebinding.status, 403);
  assert.match(rebinding.body, /Host/);
  // The page shell and the viewer hold no data and load without it.
  assert.equal((await call("/", { token: null })).status, 200);
  assert.equal((await call("/vendor/niivue.js", { token: null })).status, 200);
});

test("serve: traversal, absolute paths, symlinks out and unknown roots are refused", async () => {
  const before = snapshot(dataset);
  const attempts: [string, number][] = [
    ["/api/file?root=data&path=../../../../etc/passwd", 400],
    ["/api/file?root=data&path=imagesTr/../../etc/passwd", 400],
    ["/api/file?root=data&path=%2Fetc%2Fpasswd", 400],
    ["/api/file?root=data&path=imagesTr/leak.txt", 403],
    ["/api/file?root=nope&path=dataset.json", 400],
    ["/files/data/..%2F..%2F..%2Fetc%2Fpasswd", 400],
    ["/files/data/imagesTr/leak.txt", 403],
    ["/api/file?root=data&path=imagesTr%00.nii.gz", 400],
  ];
  for (const [url, status] of attempts) {
    const r = await call(url);
    assert.equal(r.status, status, `${url}: ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.error, "string", url);
    assert.doesNotMatch(JSON.stringify(r.json), /root:|outside the dataset\\n/);
  }
  const inside = await call("/api/file?root=data&path=dataset.json");
  assert.equal(inside.status, 200);
  assert.deepEqual(snapshot(dataset), before);
});

test("serve: oversized bodies, bad prompts and other sources' names are refused; nothing is written", async () => {
  const before = snapshot(dataset);
  const big = JSON.stringify({ case: "phantom_000", pad: "x".repeat(2 << 20) });
  const tooBig = await call("/api/sessions", { method: "POST", body: big });
  assert.equal(tooBig.status, 413);
  assert.equal((await call("/api/sessions", { method: "POST", body: "{not json" })).status, 400);
  assert.equal((await call("/api/sessions", { method: "POST", body: '{"case":"../x"}' })).status, 404);
  assert.equal((await call("/api/sessions/none/prompt", { method: "POST", body: "{}" })).status, 404);
  assert.equal((await call("/api/catalog", { method: "PUT" })).status, 405);
  const opened = await call("/api/sessions", { method: "POST", body: '{"case":"phantom_000"}' });
  assert.equal(opened.status, 201, JSON.stringify(opened.json));
  const id = String(opened.json.id);
  const outsideClick = await call(`/api/sessions/${id}/prompt`, {
    method: "POST",
    body: JSON.stringify({ prompt: { kind: "point", positive: true, at: [500, 0, 0] } }),
  });
  assert.equal(outsideClick.status, 422);
  assert.match(String(outsideClick.json.error), /outside the image/);
  const click = await call(`/api/sessions/${id}/prompt`, {
    method: "POST",
    body: JSON.stringify({ prompt: { kind: "point", positive: true, at: [28, 28, 20] } }),
  });
  assert.equal(click.status, 200, JSON.stringify(click.json));
  assert.equal((await call(`/api/sessions/${id}/accept`, { method: "POST", body: '{"name":"a/b"}' })).status, 400);
  // A box: everything outside it is background, so the mask (and the changed region) stays inside it.
  await call(`/api/sessions/${id}/reset`, { method: "POST", body: "{}" });
  const box = await call(`/api/sessions/${id}/prompt`, {
    method: "POST",
    body: JSON.stringify({ prompt: { kind: "box", min: [20, 20, 15], max: [36, 36, 25] } }),
  });
  assert.equal(box.status, 200, JSON.stringify(box.json));
  const changed = (box.json.mask as { box: { min: number[]; max: number[] } }).box;
  assert.ok(Number(box.json.maskVoxels) > 0);
  for (let a = 0; a < 3; a++) {
    assert.ok(changed.min[a] >= [20, 20, 15][a] && changed.max[a] <= [36, 36, 25][a], JSON.stringify(changed));
  }
  // A scribble adds to it; undo returns to the box's mask exactly.
  const scribble = await call(`/api/sessions/${id}/prompt`, {
    method: "POST",
    body: JSON.stringify({
      prompt: {
        kind: "scribble",
        positive: true,
        points: [
          [27, 27, 20],
          [28, 27, 20],
          [29, 27, 20],
        ],
      },
    }),
  });
  assert.equal(scribble.status, 200, JSON.stringify(scribble.json));
  const undone = await call(`/api/sessions/${id}/undo`, { method: "POST", body: "{}" });
  assert.equal(undone.json.maskVoxels, box.json.maskVoxels);
  assert.equal(undone.json.prompts, 1);

  assert.equal((await call(`/api/sessions/${id}/accept`, { method: "POST", body: '{"name":"organ"}' })).status, 200);
  for (const source of ["tissue", "../tissue", "x/y", ".hidden"]) {
    const r = await call(`/api/sessions/${id}/save`, { method: "POST", body: JSON.stringify({ source }) });
    assert.equal(r.status, source === "tissue" ? 409 : 400, `${source}: ${JSON.stringify(r.json)}`);
  }
  assert.equal((await call(`/api/sessions/${id}`, { method: "DELETE" })).status, 200);
  assert.deepEqual(snapshot(dataset), before);
});

test("serve: in Chromium, clicks label the organ, accept and save write a new source; undo restores", async () => {
  const browser = await launchBrowser({ webgl: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server.openUrl);
    await page.waitForSelector("body[data-ready='1']", { timeout: 60_000 });
    assert.equal(new URL(page.url()).search, "", "the token leaves the address bar");
    // The case's prediction is offered as an overlay, the report is listed and opens (token → cookie).
    await page.locator('#overlays input[data-overlay="prediction:r0:predictions/binary_seed1"]').waitFor();
    const [report] = await Promise.all([page.waitForEvent("popup"), page.click("#reports a")]);
    await report.waitForSelector("#r");
    assert.equal(await report.textContent("#r"), "comparison report");
    await report.close();
    await page.check("input[value=positive]");
    const canvas = (await page.locator("#gl").boundingBox())!;
    const prompts = (n: number) =>
      page.waitForFunction(`document.querySelector("#session-info")?.dataset.prompts === "${n}"`, null, {
        timeout: 60_000,
      });
    // Click the organ: the phantom's organ lies left of the centre on the middle axial slice.
    await page.mouse.click(canvas.x + canvas.width * 0.42, canvas.y + canvas.height * 0.45);
    await prompts(1);
    const info = page.locator("#session-info");
    const voxel = (await info.getAttribute("data-voxel"))!.split(",").map(Number);
    const voxelsAfterOne = Number(await info.getAttribute("data-voxels"));
    assert.ok(voxelsAfterOne > 100, `mask of ${voxelsAfterOne} voxels`);
    // A negative click far away, then undo: the mask is the one-click mask again.
    await page.check("input[value=negative]");
    await page.mouse.click(canvas.x + canvas.width * 0.5, canvas.y + canvas.height * 0.85);
    await prompts(2);
    await page.click("#undo");
    await prompts(1);
    assert.equal(Number(await info.getAttribute("data-voxels")), voxelsAfterOne);
    await page.fill("#class-name", "organ_drawn");
    await page.click("#accept");
    await page.waitForFunction(`document.querySelector("#classes")?.textContent?.includes("organ_drawn")`);
    await page.fill("#source-name", "clicked");
    await page.click("#save");
    await page.waitForSelector("#saved[data-file]", { timeout: 30_000 });
    await page.screenshot({ path: path.join(screenshots, "labelling.png") });
    assert.deepEqual(errors, []);

    const saved = await readVolume(path.join(dataset, "backgroundTr", "clicked", "phantom_000.nii.gz"));
    const tissues = await readVolume(path.join(dataset, "backgroundTr", "tissue", "phantom_000.nii.gz"));
    const [nx, ny] = saved.shape;
    const at = voxel[0] + nx * (voxel[1] + ny * voxel[2]);
    assert.equal(tissues.data[at], TISSUES.organ, `the click at ${voxel} landed in the organ`);
    assert.equal(saved.data[at], 1);
    let both = 0;
    let a = 0;
    let b = 0;
    for (let i = 0; i < saved.voxelCount; i++) {
      const s = saved.data[i] === 1 ? 1 : 0;
      const t = tissues.data[i] === TISSUES.organ ? 1 : 0;
      both += s & t;
      a += s;
      b += t;
    }
    // The saved map is exactly the mask a session computes for that click (the page's millimetres,
    // the mask patches and the save's relabelling lose nothing), and it is mostly the organ: one
    // click is not expected to be exact (3 clicks reach 0.9: test/interactive).
    const image = await readVolume(path.join(dataset, "imagesTr", "phantom_000_0000.nii.gz"));
    const direct = new InteractiveSession(image.data, image.shape as Voxel, {});
    direct.add({ kind: "point", at: voxel as Voxel, positive: true });
    let differ = 0;
    for (let i = 0; i < saved.voxelCount; i++) if ((saved.data[i] === 1 ? 1 : 0) !== direct.mask[i]) differ++;
    assert.equal(differ, 0, "saved map = the session's mask for the same click");
    const dice = (2 * both) / (a + b);
    assert.ok(dice > 0.6, `one click on the organ: Dice ${dice.toFixed(3)} against the tissue map`);
    const json = JSON.parse(readFileSync(path.join(dataset, "dataset.json"), "utf8"));
    assert.deepEqual(json.background_sources.clicked.labels, { organ_drawn: 1 });
    assert.deepEqual(json.background_sources.tissue.labels, { ...TISSUES }, "the other source is untouched");
    assert.deepEqual(
      readdirSync(path.join(dataset, "backgroundTr", "clicked")),
      ["phantom_000.nii.gz"],
      "no temporary files left",
    );
  } finally {
    await browser.close();
  }
});

test("serve: the training curve grows in the page while a tiny training runs", async () => {
  const { root: tiny, preprocessed } = await tinyDataset();
  const browser = await launchBrowser({ webgl: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 800 } });
    await page.goto(server.openUrl);
    await page.waitForSelector("body[data-ready='1']", { timeout: 60_000 });
    // A first training of 2 epochs finishes; the page shows it. Resuming it to 20 epochs then grows
    // the curve while the page watches (the order is fixed, so the check cannot race the training).
    const out = path.join(runs, "tiny_run");
    const train = (epochs: number, resume: boolean) =>
      runInWorker({
        module: new URL("../../src/jobs/train.js", import.meta.url).href,
        exportName: "trainJob",
        input: config(tiny, preprocessed, { epochs, iterationsPerEpoch: 3, out, threads: 1, resume }),
      });
    await train(2, false);
    const option = page.locator("#runs option", { hasText: "tiny_run" });
    await option.waitFor({ state: "attached", timeout: 60_000 });
    await page.selectOption("#runs", await option.getAttribute("value"));
    await page.waitForSelector('#curve[data-points="2"]', { timeout: 30_000 });
    const epochs = 20;
    let finished = false;
    const training = train(epochs, true).then(() => {
      finished = true;
    });
    const seen: number[] = [];
    const seenWhileRunning: number[] = [];
    const deadline = Date.now() + 120_000;
    while (true) {
      const n = Number((await page.locator("#curve").getAttribute("data-points")) ?? 0);
      if (seen[seen.length - 1] !== n) {
        seen.push(n);
        if (!finished) seenWhileRunning.push(n);
      }
      if (n === epochs) break;
      assert.ok(Date.now() < deadline, `the curve stopped at ${n} of ${epochs} points (seen ${seen.join(", ")})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await training;
    await page.screenshot({ path: path.join(screenshots, "training.png") });
    assert.ok(
      seenWhileRunning.some((n) => n > 2 && n < epochs),
      `the page showed a partial curve while training ran (seen ${seen.join(", ")})`,
    );
    const loss = await page.locator("#curve polyline[data-series=loss]").getAttribute("points");
    assert.equal(loss!.trim().split(" ").length, epochs);
    assert.ok(statSync(path.join(out, "log.jsonl")).size > 0);
  } finally {
    await browser.close();
  }
  console.log(`screenshots in ${screenshots}`);
});

test("serve: the CLI verb prints its address, answers with the token, and stops cleanly on SIGINT", async () => {
  const bin = new URL("../../../bin/backsplit.mjs", import.meta.url).pathname;
  // A demo-style folder (dataset/ inside) is accepted as it is, its own folder becoming a run folder.
  const child = spawn(process.execPath, [bin, "serve", root, "--port", "0", "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      if (out.includes("\n")) resolve(out.split("\n")[0]);
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const { url, dataset: served, runs: roots } = JSON.parse(line) as { url: string; dataset: string; runs: string[] };
  assert.equal(served, dataset);
  assert.deepEqual(roots, [root]);
  const token = new URL(url).searchParams.get("token")!;
  assert.match(token, /^[0-9a-f]{48}$/);
  assert.equal(new URL(url).hostname, "127.0.0.1");
  const res = await fetch(new URL("/api/catalog", url), { headers: { "x-backsplit-token": token } });
  assert.equal(res.status, 200);
  assert.equal((await fetch(new URL("/api/catalog", url))).status, 401);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.kill("SIGINT");
  assert.equal(await exited, 0);
});
