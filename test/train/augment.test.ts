// Augmentation keeps image and labels aligned; mirroring and identity are exact; draws are seeded.
import assert from "node:assert/strict";
import { test } from "node:test";
import { manualSeed, setThreads, tensor, tidy } from "../../src/engine/index.js";
import {
  type AugmentOptions,
  aroundOne,
  augmentBatch,
  gaussianBlur,
  largerPatchSize,
} from "../../src/train/augment.js";
import { assertClose } from "../helpers/assert.js";

/** Every transform but mirroring off. */
const EVERY_TRANSFORM_OFF: AugmentOptions = {
  rotationProbability: 0,
  scaleProbability: 0,
  noiseProbability: 0,
  blurProbability: 0,
  brightnessProbability: 0,
  contrastProbability: 0,
  lowResProbability: 0,
  gammaProbability: 0,
  invertedGammaProbability: 0,
};

function phantom(n: number): { image: number[]; target: number[] } {
  // Two blocks of labels 1 and 2; the image is 10 × label.
  const target: number[] = [];
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++)
        target.push(x > 4 && x < 12 && y > 3 && y < 14 && z > 5 && z < 11 ? 1 : x >= 12 && y < 6 ? 2 : 0);
  return { image: target.map((t) => 10 * t), target };
}

test("spatial augmentation moves image and labels together (every transform forced on)", () => {
  setThreads(2);
  const n = 16;
  const { image, target } = phantom(n);
  for (let seed = 0; seed < 4; seed++) {
    manualSeed(seed);
    tidy(() => {
      const img = tensor(Array(4).fill(image).flat(), [4, 1, n, n, n]);
      const tgt = tensor(Array(4).fill(target).flat(), [4, n, n, n], { dtype: "int64" });
      const out = augmentBatch(img, tgt, { ...EVERY_TRANSFORM_OFF, rotationProbability: 1, scaleProbability: 1 });
      // Nearest-sampled labels vs the bilinear image: they must agree away from label borders.
      const labels = out.target.toArray();
      const values = out.image.toArray();
      let agree = 0;
      for (let i = 0; i < labels.length; i++) if (Math.abs(values[i] - 10 * labels[i]) < 5) agree++;
      assert.ok(agree / labels.length > 0.97, `seed ${seed}: ${(100 * agree) / labels.length} % aligned`);
    });
  }
});

test("with every probability at zero only mirroring remains, and it is exact", () => {
  const n = 16;
  const { image, target } = phantom(n);
  manualSeed(3);
  tidy(() => {
    const img = tensor(image, [1, 1, n, n, n]);
    const tgt = tensor(target, [1, n, n, n], { dtype: "int64" });
    const out = augmentBatch(img, tgt, EVERY_TRANSFORM_OFF);
    assert.deepEqual(
      out.image.toArray(),
      out.target.toArray().map((t) => 10 * t),
    );
    // Same seed, same result.
    manualSeed(3);
    const again = augmentBatch(img, tgt, { rotationProbability: 0, scaleProbability: 0 });
    manualSeed(3);
    const third = augmentBatch(img, tgt, { rotationProbability: 0, scaleProbability: 0 });
    assert.deepEqual(again.image.toArray(), third.image.toArray());
  });
});

test("Gaussian blur preserves a constant and the total of a point", () => {
  tidy(() => {
    const constant = gaussianBlur(tensor(Array(9 * 9 * 9).fill(2), [1, 1, 9, 9, 9]), 1).toArray();
    assertClose(
      [constant[4 + 9 * (4 + 9 * 4)]],
      [2],
      1e-5,
      1e-5,
      "centre of a constant (zero padding only at the borders)",
    );
    // Reflected borders (batchgeneratorsv2's, the per-channel path): a constant stays constant up to the edges.
    const reflected = gaussianBlur(tensor(Array(9 * 9 * 9).fill(2), [1, 1, 9, 9, 9]), 1, "reflect").toArray();
    assertClose(reflected, Array(9 * 9 * 9).fill(2), 1e-5, 1e-5, "a constant, borders included");
    const point = Array(15 * 15 * 15).fill(0);
    point[7 + 15 * (7 + 15 * 7)] = 1;
    const blurred = gaussianBlur(tensor(point, [1, 1, 15, 15, 15]), 0.8).toArray();
    assertClose([blurred.reduce((a, b) => a + b, 0)], [1], 1e-5, 0);
  });
});

test("Gaussian blur with a σ per axis and reflected borders matches a direct sum", () => {
  // Reference: the separable sum written out with torch's "reflect" indexing (…, 2, 1, |0, 1, 2, …).
  const [nz, ny, nx] = [4, 5, 7];
  const sigmas = [0.5, 1, 0.75];
  const values = Array.from({ length: nz * ny * nx }, (_, i) => Math.sin(i * 1.7) + (i % 5));
  const kernel = (s: number) => {
    const radius = Math.max(1, Math.ceil(3 * s));
    const k = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * s * s)));
    return k.map((v) => v / k.reduce((a, b) => a + b, 0));
  };
  const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  let ref = values;
  const sizes = [nz, ny, nx];
  for (let axis = 0; axis < 3; axis++) {
    let k = kernel(sigmas[axis]);
    const radius = Math.min((k.length - 1) / 2, sizes[axis] - 1);
    const mid = (k.length - 1) / 2;
    k = k.slice(mid - radius, mid + radius + 1);
    k = k.map((v) => v / k.reduce((a, b) => a + b, 0));
    const src = ref;
    ref = src.map((_, i) => {
      const idx = [Math.floor(i / (ny * nx)), Math.floor(i / nx) % ny, i % nx];
      let sum = 0;
      for (let d = -radius; d <= radius; d++) {
        const j = [...idx];
        j[axis] = reflect(idx[axis] + d, sizes[axis]);
        sum += k[d + radius] * src[(j[0] * ny + j[1]) * nx + j[2]];
      }
      return sum;
    });
  }
  tidy(() => {
    const out = gaussianBlur(tensor(values, [1, 1, nz, ny, nx]), sigmas, "reflect").toArray();
    assertClose(out, ref, 1e-5, 1e-5);
  });
});

test("aroundOne draws below 1 for half the side draws and above 1 for the other half (BGContrast)", () => {
  assert.equal(aroundOne(0.7, 1.5, 0.2, 0.5), 0.85);
  assert.equal(aroundOne(0.7, 1.5, 0.7, 0.5), 1.25);
  assert.equal(aroundOne(0.7, 1.5, 0.2, 0), 0.7);
  assert.equal(aroundOne(0.7, 1.5, 0.9, 1), 1.5);
  assert.equal(aroundOne(1.2, 1.5, 0.2, 0.5), 1.35); // no side below 1 to draw from
});

test("perChannel: intensity transforms use each channel's own statistics (nnU-Net's synchronize_channels off)", () => {
  // Two channels on very different scales: a transform that pooled them would move one by the other.
  const n = 8;
  const a = Array.from({ length: n * n * n }, (_, i) => Math.sin(i) * 0.5);
  const b = a.map((v, i) => 1000 + 10 * Math.cos(i * 0.3) + v);
  const stats = (v: number[]) => {
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1));
    return { mean, std, min: Math.min(...v), max: Math.max(...v) };
  };
  const off: AugmentOptions = { ...EVERY_TRANSFORM_OFF, mirrorAxes: [] };
  for (const [name, only] of [
    ["gamma", { gammaProbability: 1 }],
    ["inverted gamma", { invertedGammaProbability: 1 }],
    ["contrast", { contrastProbability: 1 }],
  ] as const) {
    for (let seed = 0; seed < 3; seed++) {
      manualSeed(seed);
      tidy(() => {
        const img = tensor([...a, ...b], [1, 2, n, n, n]);
        const tgt = tensor(Array(n * n * n).fill(0), [1, n, n, n], { dtype: "int64" });
        const out = augmentBatch(img, tgt, { ...off, ...only, perChannel: true }).image.toArray();
        const size = n * n * n;
        const channels = [out.slice(0, size), out.slice(size)].map((c) => stats(Array.from(c)));
        [a, b].forEach((before, c) => {
          const s = stats(before);
          const after = channels[c];
          if (name === "contrast") {
            // Scaled about the channel's own mean, clamped to the channel's own range.
            assert.ok(after.min >= s.min - 1e-3 && after.max <= s.max + 1e-3, `${name} channel ${c} range`);
            assert.ok(Math.abs(after.mean - s.mean) < 0.1 * s.std + 1e-3, `${name} channel ${c} mean`);
          } else {
            // Gamma restores each channel's mean and standard deviation.
            assertClose([after.mean, after.std], [s.mean, s.std], 2e-3 * Math.max(1, Math.abs(s.mean)), 2e-3);
          }
        });
      });
    }
  }
});

test("a run's augmentOverrides reach the 2D path (depth-1 patches) of the training step", async () => {
  const { augment } = await import("../../src/train/step.js");
  const n = 12;
  const values = Array.from({ length: n * n }, (_, i) => (i % 7) + Math.floor(i / n));
  for (let seed = 0; seed < 4; seed++) {
    manualSeed(seed);
    tidy(() => {
      const img = tensor(values, [1, 1, 1, n, n]);
      const tgt = tensor(
        values.map((v) => v % 2),
        [1, 1, n, n],
        { dtype: "int64" },
      );
      const out = augment(img, tgt, 2, EVERY_TRANSFORM_OFF);
      assert.deepEqual(out.image.shape, [1, 1, 1, n, n]);
      // Only mirroring is left: the image is one of the four flips of the input, and the labels follow it.
      const flips = [[], [3], [4], [3, 4]].map((axes) => (axes.length ? img.flip(axes) : img).toArray());
      const got = out.image.toArray();
      assert.ok(
        flips.some((f) => f.every((v, i) => v === got[i])),
        `seed ${seed}: not a flip of the input`,
      );
      assert.deepEqual(
        out.target.toArray(),
        got.map((v) => v % 2),
      );
    });
  }
});

test("a run's rotation range reaches the 2D training step: ±30° by default, ±180° with rotation π", async () => {
  const { augment } = await import("../../src/train/step.js");
  // A bright 3×3 blob right of the centre of a 33×33 image; after a rotation about the centre (pixel 16,
  // affine grids with align_corners false) its intensity-weighted centroid lies at the rotation angle.
  const n = 33;
  const values = Array.from({ length: n * n }, (_, i) => {
    const [y, x] = [Math.floor(i / n), i % n];
    return Math.abs(y - 16) <= 1 && Math.abs(x - 28) <= 1 ? 1 : 0;
  });
  const angles = (rotation?: number) =>
    Array.from({ length: 40 }, (_, seed) => {
      manualSeed(seed);
      return tidy(() => {
        const options = { ...EVERY_TRANSFORM_OFF, rotationProbability: 1, mirrorAxes: [], rotation };
        const out = augment(
          tensor(values, [1, 1, 1, n, n]),
          tensor(values, [1, 1, n, n], { dtype: "int64" }),
          2,
          options,
        );
        const v = out.image.toArray();
        let [sy, sx] = [0, 0];
        v.forEach((w, i) => {
          sy += w * (Math.floor(i / n) - 16);
          sx += w * ((i % n) - 16);
        });
        return Math.abs((Math.atan2(sy, sx) * 180) / Math.PI);
      });
    });
  const narrow = angles(undefined);
  assert.ok(Math.max(...narrow) <= 31, `default: angles up to ${Math.max(...narrow)}°`);
  assert.ok(Math.max(...narrow) > 20, "default: the rotation is drawn at all");
  const wide = angles(Math.PI);
  // 40 uniform draws in ±180°: five or fewer beyond 90° has a probability under 10⁻⁶.
  assert.ok(wide.filter((a) => a > 90).length > 5, `±180°: angles ${wide.map(Math.round).join(", ")}`);
});

test("largerPatchSize is nnU-Net's get_patch_size (±30°, ÷0.85) with whole-voxel margins", () => {
  // nnU-Net: a 48³ corner rotated 30° about one axis reaches 48·(cos 30° + sin 30°) = 65.57; / 0.85 = 77.1 → 77,
  // here rounded up to an even margin: 78. 2D 96²: 131.1 / 0.85 = 154.3 → 154. Anisotropic 3D: per axis.
  assert.deepEqual(largerPatchSize([48, 48, 48]), [78, 78, 78]);
  assert.deepEqual(largerPatchSize([96, 96]), [154, 154]);
  const [a, b, c] = [20, 40, 40];
  const cos = Math.cos(Math.PI / 6);
  const sin = Math.sin(Math.PI / 6);
  const expected = [
    Math.max(a * cos + b * sin, a * sin + b * cos),
    Math.max(a * sin + b * cos, b * sin + c * cos),
    Math.max(a * sin + c * cos, b * sin + c * cos),
  ].map((e, i) => [a, b, c][i] + 2 * Math.ceil((Math.floor(e / 0.85) - [a, b, c][i]) / 2));
  assert.deepEqual(largerPatchSize([a, b, c]), expected);
});

test("a larger loaded patch: rotation fills the patch with image where the patch alone leaves zeros; no rotation is the centre crop", () => {
  setThreads(2);
  const [large, small] = [24, 12];
  const margin = (large - small) / 2;
  // A smooth ramp over the large patch (bilinear sampling of it is exact in the interior), labels a half-space.
  const image: number[] = [];
  const target: number[] = [];
  for (let y = 0; y < large; y++)
    for (let x = 0; x < large; x++) {
      image.push(1 + 0.1 * x + 0.05 * y);
      target.push(x >= large / 2 ? 1 : 0);
    }
  const crop = (v: number[]) =>
    v.filter((_, i) => {
      const [y, x] = [Math.floor(i / large), i % large];
      return y >= margin && y < margin + small && x >= margin && x < margin + small;
    });
  const noMirror = { mirrorAxes: [] as number[] };
  for (let seed = 0; seed < 3; seed++) {
    tidy(() => {
      const img = tensor(image, [1, 1, large, large]);
      const tgt = tensor(target, [1, large, large], { dtype: "int64" });
      const cropped = [
        tensor(crop(image), [1, 1, small, small]),
        tensor(crop(target), [1, small, small], { dtype: "int64" }),
      ];
      // No spatial transform: exactly the centre crop.
      manualSeed(seed);
      const plain = augmentBatch(img, tgt, { ...EVERY_TRANSFORM_OFF, ...noMirror }, [small, small]);
      assert.deepEqual(
        plain.image.toArray(),
        crop(image).map((v) => Math.fround(v)),
      );
      assert.deepEqual(plain.target.toArray(), crop(target));
      // Rotation (and a zoom-out) from the larger patch against the same draw on the patch alone.
      const rotate = {
        ...EVERY_TRANSFORM_OFF,
        ...noMirror,
        rotationProbability: 1,
        scaleProbability: 1,
        scaleRange: [0.8, 0.8] as [number, number],
      };
      manualSeed(seed);
      const fromLarge = augmentBatch(img, tgt, rotate, [small, small]);
      manualSeed(seed);
      const fromPatch = augmentBatch(cropped[0], cropped[1], rotate);
      const [l, p] = [fromLarge.image.toArray(), fromPatch.image.toArray()];
      assert.equal(l.length, small * small);
      // The ramp is ≥ 1 everywhere: the larger patch leaves no zeros, the patch alone does (its corners).
      assert.ok(Math.min(...l) >= 1, `seed ${seed}: zeros from the larger patch`);
      assert.ok(
        p.some((v) => v === 0),
        `seed ${seed}: the patch alone should reach past its border`,
      );
      // Where the patch alone sampled wholly inside itself (a constant 1 stays 1 there), both sample the
      // same points of the same ramp, and the labels agree.
      manualSeed(seed);
      const ones = augmentBatch(tensor(Array(small * small).fill(1), [1, 1, small, small]), cropped[1], rotate);
      const inside = ones.image.toArray().map((v) => Math.abs(v - 1) < 1e-5);
      const pick = (v: ArrayLike<number>) => Array.from(v).filter((_, i) => inside[i]);
      assert.ok(pick(p).length > small * small * 0.4, `seed ${seed}: only ${pick(p).length} voxels inside`);
      assertClose(pick(l), pick(p), 1e-4, 1e-4, `seed ${seed}: image inside`);
      const [tl, tp] = [pick(fromLarge.target.toArray()), pick(fromPatch.target.toArray())];
      assert.ok(tl.filter((v, i) => v === tp[i]).length >= 0.98 * tl.length, `seed ${seed}: labels differ`);
      assert.deepEqual(fromLarge.target.shape, [1, small, small]);
    });
  }
});
