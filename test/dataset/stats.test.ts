// Dataset statistics: the lesion-volume histogram, the MS lesion counts of the shared data, and
// background-class volumes (connected components themselves: test/grid/components.test.ts).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { openDataset } from "../../src/dataset/layout.js";
import { datasetStats, histogram } from "../../src/dataset/stats.js";
import { SHARED_DATA } from "../helpers/python.js";

test("lesion-volume histogram bins", () => {
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
