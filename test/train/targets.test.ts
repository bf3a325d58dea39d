// Training targets with a margin rule (--near-mm): the near-lesion region is the whole case's, as
// `labels merge` computes it, so a lesion just outside a patch still keeps the background classes
// next to it inside the patch.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { openDataset } from "../../src/dataset/layout.js";
import { readVolume } from "../../src/io/read.js";
import type { Vec3 } from "../../src/io/volume.js";
import { mergeCase } from "../../src/labels/merge-dataset.js";
import { fingerprintDataset } from "../../src/plan/fingerprint.js";
import { planExperiment, writePlans } from "../../src/plan/plan.js";
import { readCachedMeta, readCachedSeg, readPatch } from "../../src/preprocess/cache.js";
import { preprocessDataset } from "../../src/preprocess/preprocess.js";
import { PatchTargets, targetClasses, targetSpecFor } from "../../src/train/targets.js";
import { writeCaseFiles } from "../fixtures/head.js";
import { writeTinyDatasetJson } from "../fixtures/training.js";

const shape: Vec3 = [32, 24, 20]; // x, y, z at 1 mm: the cache's grid is the file's (no crop, no resampling)

function writeCase(root: string, id: string, lesionAt: Vec3): void {
  const n = shape[0] * shape[1] * shape[2];
  const image = new Float32Array(n);
  const label = new Uint8Array(n);
  const tissue = new Uint8Array(n);
  for (let k = 0, p = 0; k < shape[2]; k++)
    for (let j = 0; j < shape[1]; j++)
      for (let i = 0; i < shape[0]; i++, p++) {
        const lesion = (i - lesionAt[0]) ** 2 + (j - lesionAt[1]) ** 2 + (k - lesionAt[2]) ** 2 <= 2.25;
        image[p] = 100 + 10 * Math.sin(p) + (lesion ? 80 : 0);
        label[p] = lesion ? 1 : 0;
        tissue[p] = k < 10 ? 1 : 2;
      }
  writeCaseFiles(root, id, { shape, spacing: [1, 1, 1], origin: [0, 0, 0] }, { image, label, tissue });
}

/** The [z, y, x] box [start, start + size) of an x-fastest volume. */
function box(data: ArrayLike<number>, start: number[], size: number[]): number[] {
  const out: number[] = [];
  for (let z = start[0]; z < start[0] + size[0]; z++)
    for (let y = start[1]; y < start[1] + size[1]; y++)
      for (let x = start[2]; x < start[2] + size[2]; x++) out.push(data[x + shape[0] * (y + shape[1] * z)]);
  return out;
}

test("--near-mm: a patch next to a lesion it does not contain gets exactly the targets of `labels merge`", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-near-"));
  writeTinyDatasetJson(root);
  writeCase(root, "a", [3, 12, 10]);
  writeCase(root, "b", [20, 12, 10]);
  writeCase(root, "c", [-10, -10, -10]); // no lesion
  const dataset = openDataset(root);
  const preprocessed = path.join(root, "preprocessed");
  const plans = planExperiment(dataset, await fingerprintDataset(dataset, { workers: 1 }), { memoryBudgetGb: 0.05 });
  writePlans(preprocessed, plans);
  await preprocessDataset(dataset, plans, "3d_fullres", preprocessed, { workers: 1 });
  const cacheDir = path.join(preprocessed, plans.configurations["3d_fullres"].data_identifier);
  const meta = readCachedMeta(cacheDir, "a");
  assert.deepEqual(meta.shape, [1, 20, 24, 32], "the cache keeps the file's grid");

  const nearMm = 4;
  const merged = await mergeCase({
    files: dataset.training.find((c) => c.id === "a")!,
    lesionClasses: dataset.lesionLabels,
    sourceClasses: { tissue: { upper: 1, lower: 2 } },
    spec: { sources: ["tissue"], nearMm },
    out: null,
  });
  const label = await readVolume(path.join(root, "labelsTr", "a.nii.gz"));
  assert.deepEqual(
    Array.from(readCachedSeg(cacheDir, meta)),
    Array.from(label.data),
    "the cached lesion map is the file's",
  );

  const spec = targetSpecFor({ mode: "backsplit", sources: ["tissue"], nearMm }, dataset.json);
  assert.deepEqual(targetClasses(spec), merged.report!.classes);
  const targets = new PatchTargets(spec, cacheDir);
  // The lesion covers x = 2…4; the patch starts at x = 6, within 4 mm of it.
  const start = [2, 4, 6];
  const size = [16, 16, 16];
  const patch = readPatch(cacheDir, meta, start, size, targets.sourcesOf(meta));
  assert.ok(!patch.seg.includes(1), "the patch holds no lesion voxel");
  const target = Array.from(targets.target(meta, start, size, patch));
  const expected = box(merged.volume!.data, start, size);
  assert.ok(
    expected.some((v) => v > 1),
    "labels merge keeps background classes near the lesion inside the patch",
  );
  assert.deepEqual(target, expected);
  // The whole case as one patch, and again (the case's region is computed once and kept).
  const whole = meta.shape.slice(1);
  const all = readPatch(cacheDir, meta, [0, 0, 0], whole, ["tissue"]);
  assert.deepEqual(Array.from(targets.target(meta, [0, 0, 0], whole, all)), Array.from(merged.volume!.data));
  assert.deepEqual(target, Array.from(targets.target(meta, start, size, patch)));
  // A case without lesions has no near region: every background voxel is generic background.
  const c = readCachedMeta(cacheDir, "c");
  const none = readPatch(cacheDir, c, [0, 0, 0], whole, ["tissue"]);
  assert.ok(targets.target(c, [0, 0, 0], whole, none).every((v) => v === 0));
});
