// Planning rules with hand-computed answers; fingerprint statistics against numpy's definitions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { intensityProperties, percentile } from "../../src/plan/fingerprint.js";
import { estimateMemoryBytes, targetSpacing, topology } from "../../src/plan/plan.js";

test("target spacing: the median, or the 10th percentile for a much coarser axis (nnU-Net's rule)", () => {
  // Isotropic-ish: plain median per axis.
  assert.deepEqual(
    targetSpacing(
      [
        [1, 1, 1],
        [1.2, 0.9, 0.9],
        [1, 1, 1],
      ],
      [
        [100, 100, 100],
        [90, 90, 90],
        [80, 80, 80],
      ],
    ),
    [1, 1, 1],
  );
  // z at 5 mm vs 0.8 mm in-plane, few slices: z becomes the 10th percentile of z spacings (np.percentile: 2 + 0.3·(5 − 2) = 2.9).
  const spacings = [
    [5, 0.8, 0.8],
    [6, 0.8, 0.8],
    [2, 0.7, 0.7],
    [5, 0.9, 0.9],
  ];
  const shapes = [
    [30, 512, 512],
    [25, 512, 512],
    [60, 512, 512],
    [30, 512, 512],
  ];
  const t = targetSpacing(spacings, shapes);
  assert.ok(Math.abs(t[0] - 2.9) < 1e-12, `z spacing ${t[0]}`);
  assert.deepEqual(t.slice(1), [0.8, 0.8]);
});

test("topology pools the fine axes first and stops at feature maps of 4", () => {
  const { strides, kernels } = topology([3, 1, 1], [32, 128, 128]);
  assert.deepEqual(strides, [
    [1, 1, 1],
    [1, 2, 2],
    [2, 2, 2],
    [2, 2, 2],
    [2, 2, 2],
    [1, 2, 2],
  ]);
  assert.deepEqual(kernels[0], [1, 3, 3], "no convolution across the coarse axis at first");
  assert.deepEqual(kernels[1], [3, 3, 3]);
  // Memory grows linearly with patch volume.
  const a = estimateMemoryBytes([32, 64, 64], strides, [32, 64, 128, 256, 320, 320]);
  const b = estimateMemoryBytes([64, 64, 64], strides, [32, 64, 128, 256, 320, 320]);
  assert.ok(Math.abs(b / a - 2) < 1e-9);
});

test("intensity statistics use numpy's percentile definition (linear interpolation)", () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([10, 20], 0.5), 10.05);
  const p = intensityProperties([4, 1, 3, 2]);
  assert.equal(p.mean, 2.5);
  assert.equal(p.median, 2.5);
  assert.ok(Math.abs(p.std - Math.sqrt(1.25)) < 1e-12);
  assert.equal(p.min, 1);
  assert.equal(p.max, 4);
  assert.ok(Math.abs(p.percentile_00_5 - 1.015) < 1e-12);
  assert.ok(Math.abs(p.percentile_99_5 - 3.985) < 1e-12);
});
