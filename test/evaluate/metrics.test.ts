// Case metrics against hand-computed answers and a scipy computation; lesion matching cases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { lesionMetrics, sizeStratified, voxelMetrics } from "../../src/evaluate/metrics.js";
import { assertClose } from "../helpers/assert.js";
import { prng } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

function volume(shape: number[], inside: (x: number, y: number, z: number) => boolean): Uint8Array {
  const [nx, ny, nz] = shape;
  const out = new Uint8Array(nx * ny * nz);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) out[x + nx * (y + ny * z)] = inside(x, y, z) ? 1 : 0;
  return out;
}

test("hand-built answers: two voxels at a known distance, identical masks, empty conventions", () => {
  const shape = [12, 3, 3];
  const spacing = [2, 1, 1];
  const a = volume(shape, (x, y, z) => x === 0 && y === 1 && z === 1);
  const b = volume(shape, (x, y, z) => x === 5 && y === 1 && z === 1);
  const m = voxelMetrics(a, b, shape, spacing, 1);
  assert.equal(m.dice, 0);
  assert.equal(m.hd95Mm, 10, "5 voxels × 2 mm");
  assert.equal(m.nsd, 0);
  assert.equal(m.volumeDifferenceMm3, 0);
  const same = voxelMetrics(a, a, shape, spacing);
  assert.deepEqual([same.dice, same.iou, same.hd95Mm, same.nsd], [1, 1, 0, 1]);
  const empty = new Uint8Array(a.length);
  const bothEmpty = voxelMetrics(empty, empty, shape, spacing);
  assert.deepEqual([bothEmpty.dice, bothEmpty.hd95Mm, bothEmpty.nsd], [1, 0, 1]);
  const missed = voxelMetrics(empty, a, shape, spacing);
  assert.deepEqual([missed.dice, missed.nsd], [0, 0]);
  assertClose([missed.hd95Mm], [Math.hypot(24, 3, 3)], 1e-12, 0, "image diagonal");
  const lm = lesionMetrics(a, b, shape, spacing);
  assert.deepEqual([lm.tp, lm.fp, lm.fn, lm.lesionDice], [0, 1, 1, 0]);
});

test("surface metrics match scipy on random shapes and a sphere shifted by one voxel on an anisotropic grid", () => {
  const cases: { shape: number[]; spacing: number[]; pred: number[]; ref: number[]; tolerance: number }[] = [];
  const shape = [20, 18, 12];
  const sphere = (cx: number, s: number[]) =>
    volume(shape, (x, y, z) => ((x - cx) * s[0]) ** 2 + ((y - 9) * s[1]) ** 2 + ((z - 6) * s[2]) ** 2 < 36);
  const spacing = [0.8, 1, 2.5];
  cases.push({
    shape,
    spacing,
    pred: Array.from(sphere(10, spacing)),
    ref: Array.from(sphere(11, spacing)),
    tolerance: 1,
  });
  for (let seed = 1; seed <= 3; seed++) {
    const r = prng(seed);
    const blob = (cx: number, cy: number, cz: number, rad: number) =>
      volume(shape, (x, y, z) => (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < rad * rad + 3 * r());
    cases.push({
      shape,
      spacing: [1, 1.5, 3],
      pred: Array.from(blob(9, 9, 6, 4)),
      ref: Array.from(blob(10, 8, 6, 5)),
      tolerance: 2,
    });
  }
  const ref = runPython<{ dice: number; hd95: number; nsd: number }[]>("surface_reference.py", { cases });
  cases.forEach((c, i) => {
    const m = voxelMetrics(c.pred, c.ref, c.shape, c.spacing, c.tolerance);
    assertClose([m.dice, m.hd95Mm, m.nsd], [ref[i].dice, ref[i].hd95, ref[i].nsd], 1e-9, 1e-9, `case ${i}`);
  });
  // The shifted sphere: HD95 at most the one-voxel shift (0.8 mm), but not zero.
  const shifted = voxelMetrics(cases[0].pred, cases[0].ref, shape, spacing);
  assert.ok(shifted.hd95Mm > 0 && shifted.hd95Mm <= 0.8 + 1e-9, `HD95 ${shifted.hd95Mm}`);
});

test("lesion matching: split, merged, missed and false-positive lesions; size bins", () => {
  const shape = [30, 10, 10];
  const spacing = [1, 1, 1];
  // Reference: A = x 1–4 (4×2×2 = 16 voxels), B = x 8–9 and C = x 12–13 (8 each), D = tiny single voxel at x 20.
  const ref = volume(
    shape,
    (x, y, z) =>
      y >= 4 &&
      y < 6 &&
      z >= 4 &&
      z < 6 &&
      ((x >= 1 && x <= 4) || (x >= 8 && x <= 9) || (x >= 12 && x <= 13) || x === 20) &&
      !(x === 20 && (y !== 4 || z !== 4)),
  );
  // Prediction: A split in two (x 1–2 and x 4), one blob bridging B and C (x 8–13), a false positive at x 26.
  const pred = volume(
    shape,
    (x, y, z) =>
      y >= 4 && y < 6 && z >= 4 && z < 6 && ((x >= 1 && x <= 2) || x === 4 || (x >= 8 && x <= 13) || x === 26),
  );
  const m = lesionMetrics(pred, ref, shape, spacing);
  // A: matched to its larger piece (x 1–2), the other piece is a false positive; B/C: the bridge matches one of
  // them (the larger overlap, tie → lower id = B), C is missed; D is missed; x 26 is a false positive.
  assert.deepEqual([m.tp, m.fp, m.fn], [2, 2, 2]);
  assertClose([m.precision, m.recall, m.f1], [0.5, 0.5, 0.5], 1e-12, 0);
  const diceA = (2 * 8) / (16 + 8);
  const diceB = (2 * 8) / (8 + 24);
  assertClose([m.lesionDice], [(diceA + diceB) / (4 + 2)], 1e-12, 0, "BraTS-style lesion Dice");
  const bins = sizeStratified(m.lesions, [2, 10]);
  assert.deepEqual(bins, [
    { bin: "<2", count: 1, recall: 0, dice: 0 },
    { bin: "2-10", count: 2, recall: 0.5, dice: diceB / 2 },
    { bin: ">=10", count: 1, recall: 1, dice: diceA },
  ]);
  // A stricter matching threshold: the 8-voxel half of A covers 50 % of it.
  const strict = lesionMetrics(pred, ref, shape, spacing, 0.6);
  assert.equal(strict.tp, 1);
});
