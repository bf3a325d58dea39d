// labels import never destroys data: --replace keeps the old source until the new one is built and
// checked; a corrupt map or a bad --names leaves the dataset exactly as it was (and a rerun works);
// a second writer of the same source is refused while the first holds the lock.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeNifti } from "../../src/io/nifti.js";
import { Volume } from "../../src/io/volume.js";
import { DATASET_JSON, SHAPE, writeCase } from "../fixtures/corpus.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });

function map(values: number[]): Uint8Array {
  const data = new Uint8Array(512);
  for (let i = 0; i < 512; i++) data[i] = values[i % values.length];
  return encodeNifti(new Volume(data, { shape: SHAPE, spacing: [1, 1, 2] }), true);
}

function setup(): { root: string; maps: (values: number[], name: string, corrupt?: string) => string } {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-import-safe-"));
  writeFileSync(path.join(root, "dataset.json"), JSON.stringify(DATASET_JSON));
  writeCase(root, "a", {});
  writeCase(root, "b", {});
  const maps = (values: number[], name: string, corrupt?: string) => {
    const dir = path.join(root, name);
    mkdirSync(dir, { recursive: true });
    for (const id of ["a", "b"]) {
      const bytes = map(values);
      writeFileSync(path.join(dir, `${id}.nii.gz`), id === corrupt ? bytes.subarray(0, bytes.length >> 1) : bytes);
    }
    return dir;
  };
  return { root, maps };
}

/** Every file under backgroundTr with its bytes, and dataset.json. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = { "dataset.json": readFileSync(path.join(root, "dataset.json"), "utf8") };
  const bg = path.join(root, "backgroundTr");
  if (existsSync(bg))
    for (const f of readdirSync(bg, { recursive: true, encoding: "utf8" }).sort()) {
      const full = path.join(bg, f);
      out[f] = statSync(full).isFile() ? readFileSync(full).toString("base64") : "folder";
    }
  return out;
}

test("--replace with a truncated map or a missing --names file keeps the old source and dataset.json as they were", () => {
  const { root, maps } = setup();
  const first = cli("labels", "import", root, "--source", "atlas", "--from", maps([0, 1, 2], "v1"), "--workers", "1");
  assert.equal(first.status, 0, first.stderr);
  const before = snapshot(root);
  const truncated = maps([0, 5, 6, 7], "v2", "b");
  const r = cli("labels", "import", root, "--source", "atlas", "--from", truncated, "--replace", "--workers", "1");
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /v2\/b\.nii\.gz: corrupt or truncated gzip stream/);
  assert.deepEqual(snapshot(root), before, "old source and dataset.json unchanged, no temporary folder left");
  const good = maps([0, 5, 6, 7], "v3");
  const names = cli(
    "labels",
    "import",
    root,
    "--source",
    "atlas",
    "--from",
    good,
    "--replace",
    "--names",
    path.join(root, "missing.json"),
  );
  assert.equal(names.status, 3, names.stderr); // a missing file
  assert.match(names.stderr, /missing\.json/);
  assert.deepEqual(snapshot(root), before, "a bad --names changes nothing");
  const replaced = cli("labels", "import", root, "--source", "atlas", "--from", good, "--replace", "--workers", "1");
  assert.equal(replaced.status, 0, replaced.stderr);
  const json = JSON.parse(readFileSync(path.join(root, "dataset.json"), "utf8"));
  assert.deepEqual(json.background_sources.atlas.labels, { class_5: 5, class_6: 6, class_7: 7 });
  assert.deepEqual(readdirSync(path.join(root, "backgroundTr")), ["atlas"], "no backup or lock left");
});

test("a corrupt map in a new source leaves no partial, undeclared source; the rerun is accepted", () => {
  const { root, maps } = setup();
  const r = cli("labels", "import", root, "--source", "ts", "--from", maps([0, 1], "bad", "a"), "--workers", "1");
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /bad\/a\.nii\.gz: corrupt or truncated gzip stream/);
  assert.ok(!existsSync(path.join(root, "backgroundTr", "ts")), "no partial source folder");
  assert.equal(JSON.parse(readFileSync(path.join(root, "dataset.json"), "utf8")).background_sources, undefined);
  const again = cli("labels", "import", root, "--source", "ts", "--from", maps([0, 1], "fixed"), "--workers", "1");
  assert.equal(again.status, 0, again.stderr);
});

test("an all-zero import is refused instead of registering a source with 0 classes", () => {
  const { root, maps } = setup();
  const r = cli("labels", "import", root, "--source", "empty", "--from", maps([0], "zeros"), "--workers", "1");
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /every imported map is 0 everywhere/);
  assert.ok(!existsSync(path.join(root, "backgroundTr", "empty")));
});

test("a second writer of the same source is refused while the lock's process runs; a dead holder's lock is taken over", async () => {
  const { root, maps } = setup();
  const from = maps([0, 1], "m");
  const holder: ChildProcess = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
  try {
    const lock = path.join(root, "backgroundTr", ".atlas.lock");
    mkdirSync(path.dirname(lock), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid: holder.pid, host: os.hostname(), since: "now", what: "atlas" }));
    const r = cli("labels", "import", root, "--source", "atlas", "--from", from, "--workers", "1");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`background source 'atlas' is being written by process ${holder.pid}`));
    assert.ok(!existsSync(path.join(root, "backgroundTr", "atlas")));
    holder.kill();
    await new Promise((resolve) => holder.on("exit", resolve));
    const after = cli("labels", "import", root, "--source", "atlas", "--from", from, "--workers", "1");
    assert.equal(after.status, 0, after.stderr);
    assert.ok(!existsSync(lock), "the lock is released");
  } finally {
    holder.kill();
  }
});
