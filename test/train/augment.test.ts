// Augmentation keeps image and labels aligned; mirroring and identity are exact; draws are seeded.
import assert from "node:assert/strict";
import { test } from "node:test";
import { manualSeed, setThreads, tensor, tidy } from "../../src/engine/index.js";
import { augmentBatch, gaussianBlur } from "../../src/train/augment.js";
import { assertClose } from "../helpers/assert.js";

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
      const out = augmentBatch(img, tgt, {
        rotationProbability: 1,
        scaleProbability: 1,
        noiseProbability: 0,
        blurProbability: 0,
        brightnessProbability: 0,
        contrastProbability: 0,
        lowResProbability: 0,
        gammaProbability: 0,
      });
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
    const out = augmentBatch(img, tgt, {
      rotationProbability: 0,
      scaleProbability: 0,
      noiseProbability: 0,
      blurProbability: 0,
      brightnessProbability: 0,
      contrastProbability: 0,
      lowResProbability: 0,
      gammaProbability: 0,
    });
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
    const point = Array(15 * 15 * 15).fill(0);
    point[7 + 15 * (7 + 15 * 7)] = 1;
    const blurred = gaussianBlur(tensor(point, [1, 1, 15, 15, 15]), 0.8).toArray();
    assertClose([blurred.reduce((a, b) => a + b, 0)], [1], 1e-5, 0);
  });
});
