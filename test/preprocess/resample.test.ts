// Resampling against PyTorch's interpolation, and volume preservation through 1 mm → 2 mm → 1 mm.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { setThreads } from "../../src/engine/index.js";
import { readVolume } from "../../src/io/index.js";
import { resampleImage, resampleLabels, resampledShape } from "../../src/preprocess/resample.js";
import { assertClose } from "../helpers/assert.js";
import { prng } from "../helpers/data.js";
import { SHARED_DATA, runPython } from "../helpers/python.js";

function blobs(shape: number[], classes: number, seed: number): Int16Array {
  // Random axis-aligned boxes of several classes on a background.
  const [nz, ny, nx] = shape;
  const out = new Int16Array(nz * ny * nx);
  const r = prng(seed);
  for (let k = 0; k < 12; k++) {
    const v = 1 + Math.floor(r() * classes);
    const lo = shape.map((n) => Math.floor(r() * n * 0.8));
    const hi = lo.map((l, a) => Math.min(shape[a], l + 2 + Math.floor(r() * shape[a] * 0.4)));
    for (let z = lo[0]; z < hi[0]; z++)
      for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[2]; x < hi[2]; x++) out[x + nx * (y + ny * z)] = v;
  }
  return out;
}

test("label and image resampling match PyTorch's trilinear interpolation (down and up)", () => {
  setThreads(2);
  for (const [shape, target] of [
    [
      [13, 17, 11],
      [7, 9, 6],
    ],
    [
      [7, 9, 6],
      [13, 17, 12],
    ],
  ]) {
    const labels = blobs(shape, 4, shape[0]);
    const ours = resampleLabels(labels, shape, target, "smooth");
    const image = resampleImage(labels, shape, target, "linear");
    const ref = runPython<{ labels: number[]; image: number[] }>("resample_reference.py", {
      labels: Array.from(labels),
      shape,
      target,
    });
    const mismatches = Array.from(ours).filter((v, i) => v !== ref.labels[i]).length;
    // Exact ties between classes (e.g. 5/12 vs 5/12) may break either way after float rounding.
    assert.ok(
      mismatches <= 1 + ours.length * 0.005,
      `${mismatches} of ${ours.length} labels differ from PyTorch's per-class argmax`,
    );
    assertClose(image, ref.image, 1e-5, 1e-5, "trilinear image");
  }
});

test("shapes follow the spacing ratio; cubic keeps a constant image constant", () => {
  assert.deepEqual(resampledShape([100, 200, 50], [1, 0.5, 2], [2, 1, 1]), [50, 100, 100]);
  const constant = new Float32Array(5 * 6 * 7).fill(3.5);
  assertClose(
    resampleImage(constant, [5, 6, 7], [9, 4, 11], "cubic"),
    new Float32Array(9 * 4 * 11).fill(3.5),
    1e-6,
    1e-6,
  );
});

const brats = path.join(SHARED_DATA, "brats2015-subset");
test(
  "1 mm → 2 mm → 1 mm keeps the volumes of compact structures within 2 % (BraTS brain mask, whole tumour)",
  { skip: existsSync(brats) ? false : "no shared data" },
  async () => {
    setThreads(2);
    for (const name of ["brats_2013_pat0003_1", "brats_2013_pat0006_1"]) {
      for (const file of ["brainmask.nii.gz", "OTMultiClass.nii.gz"]) {
        const v = await readVolume(path.join(brats, name, file));
        // Whole tumour: every tumour sub-class as one structure.
        const labels = Int16Array.from(v.data, (x) => (x > 0 ? 1 : 0));
        const shape = [...v.shape].reverse();
        const low = resampledShape(shape, [...v.spacing].reverse(), [2, 2, 2]);
        const back = resampleLabels(resampleLabels(labels, shape, low, "smooth"), low, shape, "smooth");
        const before = labels.reduce((n, x) => n + x, 0);
        const after = back.reduce((n, x) => n + x, 0);
        const change = Math.abs(after - before) / before;
        assert.ok(change < 0.02, `${name}/${file}: ${before} → ${after} voxels (${(100 * change).toFixed(2)} %)`);
      }
    }
  },
);
