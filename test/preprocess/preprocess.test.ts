// Preprocessing end to end on a small synthetic dataset: crop, normalise, resample, cache, patches, restore.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { openDataset } from "../../src/dataset/layout.js";
import { setThreads } from "../../src/engine/index.js";
import { readVolume } from "../../src/io/index.js";
import { fingerprintDataset } from "../../src/plan/fingerprint.js";
import { planExperiment } from "../../src/plan/plan.js";
import { readCachedMeta, readPatch } from "../../src/preprocess/cache.js";
import { preprocessDataset, restoreLabels } from "../../src/preprocess/preprocess.js";
import { writeHeadCase as writeCase } from "../fixtures/head.js";

test("preprocess crops, normalises, resamples and caches; patches and restored labels are exact", async () => {
  setThreads(2);
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-pp-"));
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({
      channel_names: { "0": "T1" },
      labels: { background: 0, lesion: 1 },
      file_ending: ".nii.gz",
      background_sources: { tissue: { labels: { upper: 1, lower: 2 } } },
    }),
  );
  writeCase(root, "a", [1, 1, 1.5], [0, 0, 0]);
  writeCase(root, "b", [1, 1, 1.5], [5, -3, 2]);
  writeCase(root, "c", [1, 1, 3], [0, 0, 0]);
  const dataset = openDataset(root);
  const fingerprint = await fingerprintDataset(dataset, { workers: 2 });
  assert.deepEqual(fingerprint.shapes_after_crop[0], [12, 16, 18], "crop to the non-zero box, [z, y, x]");
  const plans = planExperiment(dataset, fingerprint, { memoryBudgetGb: 0.05 });
  const cfg = plans.configurations["3d_fullres"];
  assert.deepEqual(cfg.spacing, [1.5, 1, 1], "median spacing in [z, y, x]");
  const out = await preprocessDataset(dataset, plans, "3d_fullres", path.join(root, "preprocessed"), { workers: 2 });
  const metaA = readCachedMeta(out, "a");
  const metaC = readCachedMeta(out, "c");
  assert.deepEqual(metaA.shape, [1, 12, 16, 18]);
  assert.deepEqual(metaC.shape, [1, 24, 16, 18], "3 mm slices resampled to 1.5 mm");
  assert.deepEqual(metaA.original.box, { start: [2, 2, 3], end: [14, 18, 21] });
  assert.equal(metaA.lesions.length, 1);
  assert.deepEqual(metaA.lesions[0].center, [6, 8, 9], "lesion centre on the cropped grid");
  // z-score inside the non-zero mask: mean 0, std 1.
  const data = new Float32Array(readFileSync(path.join(out, "a.data.f32")).buffer.slice(0));
  const mean = data.reduce((s, v) => s + v, 0) / data.length;
  const std = Math.sqrt(data.reduce((s, v) => s + (v - mean) ** 2, 0) / data.length);
  assert.ok(Math.abs(mean) < 1e-5 && Math.abs(std - 1) < 1e-4, `mean ${mean}, std ${std}`);
  // A patch partly outside the volume: the inside equals the full array, the outside is zero.
  const seg = new Int16Array(readFileSync(path.join(out, "a.seg.i16")).buffer.slice(0));
  const patch = readPatch(out, metaA, [-2, 10, 15], [4, 8, 6], ["tissue"]);
  const [, nz, ny, nx] = metaA.shape;
  for (let z = 0; z < 4; z++) {
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 6; x++) {
        const [sz, sy, sx] = [z - 2, y + 10, x + 15];
        const inside = sz >= 0 && sz < nz && sy < ny && sx < nx;
        const p = x + 6 * (y + 8 * z);
        const q = sx + nx * (sy + ny * sz);
        assert.equal(patch.data[p], inside ? data[q] : 0);
        assert.equal(patch.seg[p], inside ? seg[q] : 0);
      }
    }
  }
  assert.ok(patch.backgrounds.tissue.some((v) => v === 1 || v === 2));
  // Back to the original grid: same geometry; the resampled case's lesion survives the round trip.
  for (const id of ["a", "c"]) {
    const meta = readCachedMeta(out, id);
    const restored = restoreLabels(new Int16Array(readFileSync(path.join(out, `${id}.seg.i16`)).buffer.slice(0)), meta);
    const original = await readVolume(path.join(root, "labelsTr", `${id}.nii.gz`));
    assert.deepEqual(restored.geometry, original.geometry);
    let both = 0;
    let sum = 0;
    for (let i = 0; i < original.data.length; i++) {
      both += original.data[i] && restored.data[i] ? 1 : 0;
      sum += (original.data[i] ? 1 : 0) + (restored.data[i] ? 1 : 0);
    }
    const dice = (2 * both) / sum;
    assert.ok(id === "a" ? dice === 1 : dice > 0.85, `${id}: Dice of restored labels ${dice}`);
  }
});
