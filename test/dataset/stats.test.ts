// Connected components against scipy.ndimage.label, and the MS lesion counts of the shared data.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { connectedComponents } from "../../src/dataset/components.js";
import { openDataset } from "../../src/dataset/layout.js";
import { datasetStats, histogram } from "../../src/dataset/stats.js";
import { prng } from "../helpers/data.js";
import { SHARED_DATA, runPython } from "../helpers/python.js";

test("26- and 6-connected components match scipy.ndimage.label on random masks", () => {
  const cases: { shape: number[]; mask: number[]; connectivity: 26 | 6 }[] = [];
  for (const [k, density] of [0.05, 0.15, 0.3].entries()) {
    for (const connectivity of [26, 6] as const) {
      const shape = [17, 13, 11];
      const r = prng(10 * k + connectivity);
      cases.push({ shape, mask: Array.from({ length: 17 * 13 * 11 }, () => (r() < density ? 1 : 0)), connectivity });
    }
  }
  const ref = runPython<{ count: number; sizes: number[] }[]>("components_reference.py", { cases });
  cases.forEach((c, i) => {
    const ours = connectedComponents(c.mask, c.shape, c.connectivity);
    assert.equal(ours.count, ref[i].count, `case ${i}`);
    assert.deepEqual(
      ours.sizes.slice(1).sort((a, b) => a - b),
      ref[i].sizes,
      `case ${i}`,
    );
    // Every labelled voxel is in the mask and vice versa.
    assert.ok(c.mask.every((m, p) => (m ? ours.labels[p] > 0 : ours.labels[p] === 0)));
  });
});

test("hand-built components: diagonal neighbours join under 26- but not 6-connectivity", () => {
  const shape = [4, 4, 4];
  const mask = new Uint8Array(64);
  mask[0] = 1; // (0,0,0)
  mask[1 + 4 * (1 + 4 * 1)] = 1; // (1,1,1): corner neighbour
  mask[3 + 4 * (3 + 4 * 3)] = 1; // (3,3,3): isolated
  assert.equal(connectedComponents(mask, shape, 26).count, 2);
  assert.equal(connectedComponents(mask, shape, 6).count, 3);
  assert.deepEqual(histogram([1, 9.99, 10, 99, 100, 5000], [10, 100, 1000]), [
    { bin: "<10", count: 2 },
    { bin: "10-100", count: 2 },
    { bin: "100-1000", count: 1 },
    { bin: ">=1000", count: 1 },
  ]);
});

const ms = path.join(SHARED_DATA, "ms-lesjak2017");
test(
  "MS data: patient07 has 37 lesions and patient19 98 (26-connectivity)",
  { skip: existsSync(ms) ? false : "no shared data" },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "bs-ms-"));
    mkdirSync(path.join(root, "imagesTr"));
    mkdirSync(path.join(root, "labelsTr"));
    for (const p of ["patient07", "patient19"]) {
      symlinkSync(path.join(ms, p, "FLAIR.nii.gz"), path.join(root, "imagesTr", `${p}_0000.nii.gz`));
      symlinkSync(path.join(ms, p, "GOLD_STANDARD.nii.gz"), path.join(root, "labelsTr", `${p}.nii.gz`));
    }
    writeFileSync(
      path.join(root, "dataset.json"),
      JSON.stringify({ channel_names: { "0": "FLAIR" }, labels: { background: 0, lesion: 1 }, file_ending: ".nii.gz" }),
    );
    const stats = await datasetStats(openDataset(root), { workers: 2 });
    const counts = Object.fromEntries(stats.cases.map((c) => [c.id, c.lesions.lesion.length]));
    assert.deepEqual(counts, { patient07: 37, patient19: 98 });
    assert.equal(stats.overall.lesions.lesion.count, 135);
    const small = stats.overall.lesions.lesion.histogram.slice(0, 2).reduce((n, h) => n + h.count, 0);
    assert.equal(small, 126, "126 of 135 components are under 100 mm³ (data README)");
  },
);

test("background-class volumes and lesion overlap per source, hand-computed", async () => {
  const { writeCase, SHAPE } = await import("../fixtures/corpus.js");
  const { encodeNifti } = await import("../../src/io/nifti.js");
  const { Volume } = await import("../../src/io/volume.js");
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-bg-"));
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({
      channel_names: { "0": "FLAIR", "1": "T1" },
      labels: { background: 0, lesion: 1 },
      file_ending: ".nii.gz",
      background_sources: { tissue: { labels: { gm: 1, wm: 2 } } },
    }),
  );
  writeCase(root, "a", {});
  // wm = the slab z ∈ {2, 3} (128 voxels, holds the whole 2×2×2 lesion), gm = z ∈ {4..7} (256), 0 elsewhere.
  const map = new Uint8Array(512);
  for (let z = 2; z < 8; z++) for (let i = 0; i < 64; i++) map[i + 64 * z] = z < 4 ? 2 : 1;
  mkdirSync(path.join(root, "backgroundTr", "tissue"), { recursive: true });
  writeFileSync(
    path.join(root, "backgroundTr", "tissue", "a.nii.gz"),
    encodeNifti(new Volume(map, { shape: SHAPE, spacing: [1, 1, 2] }), true),
  );
  const stats = await datasetStats(openDataset(root), { workers: 1 });
  const c = stats.cases[0];
  assert.deepEqual(c.lesions.lesion, [16], "one lesion of 8 voxels × 2 mm³");
  assert.deepEqual(c.backgroundVolumes.tissue, { gm: 512, wm: 256 });
  assert.deepEqual(c.lesionOverlap.tissue, { gm: 0, wm: 16 });
});
