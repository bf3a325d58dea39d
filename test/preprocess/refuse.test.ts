// preprocess and labels merge refuse what `dataset check` rejects (exit 1, one line per problem naming
// the file), and a refused preprocess leaves no cache that training would accept.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeNifti } from "../../src/io/nifti.js";
import { type Vec3, Volume } from "../../src/io/volume.js";
import { DATASET_JSON, SHAPE, image, label, writeCase } from "../fixtures/corpus.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
const nii = (v: Volume) => encodeNifti(v, true);

function background(values: [number, number][] = [], origin: Vec3 = [0, 0, 0]): Volume {
  const data = new Uint8Array(512);
  for (let i = 0; i < 512; i++) data[i] = i < 256 ? 1 : 2;
  for (const [i, v] of values) data[i] = v;
  return new Volume(data, { shape: SHAPE, spacing: [1, 1, 2], origin });
}

function dataset(bad: (root: string) => void): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-refuse-"));
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({ ...DATASET_JSON, background_sources: { tissue: { labels: { upper: 1, lower: 2 } } } }),
  );
  for (const id of ["good1", "good2"]) {
    writeCase(root, id, {});
    mkdirSync(path.join(root, "backgroundTr", "tissue"), { recursive: true });
    writeFileSync(path.join(root, "backgroundTr", "tissue", `${id}.nii.gz`), nii(background()));
  }
  bad(root);
  return root;
}

function badCase(root: string, id: string, parts: Parameters<typeof writeCase>[2], tissue = background()) {
  writeCase(root, id, parts);
  writeFileSync(path.join(root, "backgroundTr", "tissue", `${id}.nii.gz`), nii(tissue));
}

test("preprocess refuses labels of another shape, float labels, NaN voxels and off-grid or undeclared background maps", () => {
  const root = dataset((r) => {
    badCase(r, "shape", { label: nii(label([8, 8, 7])) });
    badCase(r, "float", { label: nii(label(SHAPE, [[0, 0.6]], "float32")) });
    const nan = image(4);
    nan.data[5] = Number.NaN;
    badCase(r, "nan", { images: [nii(nan), nii(image(2))] });
    badCase(r, "grid", {}, background([], [3, 0, 0]));
    badCase(r, "undeclared", {}, background([[0, 9]]));
  });
  const r = cli("preprocess", root, "--workers", "1", "--memory-gb", "0.05");
  assert.equal(r.status, 1, r.stdout + r.stderr);
  for (const line of [
    "error: labelsTr/shape.nii.gz: shape 8×8×7 differs from image 8×8×8",
    "error: labelsTr/float.nii.gz: label values must be integers; 1 voxels are not (e.g. 0.6",
    "error: imagesTr/nan_0000.nii.gz: 1 voxels are NaN or infinite",
    "error: backgroundTr/tissue/grid.nii.gz: origin (3, 0, 0) (LPS) differs from image",
    "error: backgroundTr/tissue/undeclared.nii.gz: background values 9 are not declared in dataset.json",
  ])
    assert.ok(r.stderr.includes(line), `missing: ${line}\n--- stderr:\n${r.stderr}`);
  const cache = path.join(root, "preprocessed", "backsplitPlans_3d_fullres");
  assert.ok(!existsSync(path.join(cache, ".complete.json")), "the cache is not marked complete");
  const cached = existsSync(cache) ? readdirSync(cache) : [];
  for (const id of ["shape", "float", "nan", "grid", "undeclared"])
    assert.ok(!cached.some((f) => f.startsWith(`${id}.`)), `${id} was not cached: ${cached}`);
  // Training refuses the cache, naming the command to run.
  const t = cli("train", root, "--fold", "all", "--epochs", "1", "--iterations", "1", "--device", "cpu");
  assert.equal(t.status, 1, t.stderr);
  assert.match(t.stderr, /preprocessing did not finish .*run `backsplit preprocess/);
  assert.ok(!existsSync(path.join(root, "preprocessed", "splits_final.json")), "no splits from a partial cache");
});

test("labels merge refuses an undeclared background value and a float lesion instead of dropping them", () => {
  const root = dataset((r) => {
    badCase(r, "undeclared", {}, background([[0, 9]]));
    badCase(r, "floatlesion", { label: nii(label(SHAPE, [[100, 0.6]], "float32")) });
  });
  const out = path.join(root, "merged");
  const r = cli("labels", "merge", root, "--sources", "tissue", "--out", out, "--workers", "1");
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /error: backgroundTr\/tissue\/undeclared\.nii\.gz: background values 9 are not declared/);
  assert.match(r.stderr, /error: labelsTr\/floatlesion\.nii\.gz: label values must be integers/);
  assert.ok(!existsSync(path.join(out, "merge_report.json")));
  assert.ok(!existsSync(path.join(out, "undeclared.nii.gz")) && !existsSync(path.join(out, "floatlesion.nii.gz")));
});

test("a clean dataset still preprocesses and merges (exit 0) and the cache is marked complete", () => {
  const root = dataset(() => {});
  const r = cli("preprocess", root, "--workers", "1", "--memory-gb", "0.05");
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(path.join(root, "preprocessed", "backsplitPlans_3d_fullres", ".complete.json")));
  const m = cli("labels", "merge", root, "--sources", "tissue", "--out", path.join(root, "merged"), "--workers", "1");
  assert.equal(m.status, 0, m.stderr);
});
