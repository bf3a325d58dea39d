// cropVolume: the voxels of a box, each kept at its place in space (hand-computed positions).
import assert from "node:assert/strict";
import { test } from "node:test";
import { cropVolume } from "../../src/grid/index.js";
import { Volume } from "../../src/io/index.js";
import { assertClose } from "../helpers/assert.js";

// 4×3×2 voxels whose value is their index; axes permuted and flipped: voxel x runs along −y (world),
// voxel y along +x, voxel z along −z.
const volume = new Volume(
  Uint16Array.from({ length: 24 }, (_, i) => i),
  {
    shape: [4, 3, 2],
    spacing: [0.5, 2, 3],
    origin: [10, -5, 7],
    direction: [0, 1, 0, -1, 0, 0, 0, 0, -1],
  },
);

test("a crop keeps the voxels of its box, their type and their world positions", () => {
  const crop = cropVolume(volume, { min: [1, 1, 1], max: [3, 2, 1] });
  assert.deepEqual(crop.shape, [3, 2, 1]);
  assert.ok(crop.data instanceof Uint16Array);
  // Voxel (i, j, k) of the crop is (i+1, j+1, 1): index (i+1) + 4·((j+1) + 3·1).
  assert.deepEqual([...crop.data], [17, 18, 19, 21, 22, 23]);
  // Its origin by hand: (10, −5, 7) + D·(1·0.5, 1·2, 1·3) = (10 + 2, −5 − 0.5, 7 − 3).
  assertClose(crop.origin, [12, -5.5, 4], 1e-12, 0);
  assert.deepEqual(crop.spacing, volume.spacing);
  assert.deepEqual(crop.direction, volume.direction);
  for (const [i, j] of [
    [0, 0],
    [2, 1],
    [1, 0],
  ])
    assertClose(crop.voxelToWorld([i, j, 0]), volume.voxelToWorld([i + 1, j + 1, 1]), 1e-12, 0);
});

test("the whole grid crops to itself; a box outside the grid is refused", () => {
  const whole = cropVolume(volume, { min: [0, 0, 0], max: [3, 2, 1] });
  assert.deepEqual([...whole.data], [...volume.data]);
  assert.deepEqual(whole.geometry, volume.geometry);
  assert.throws(() => cropVolume(volume, { min: [0, 0, 0], max: [4, 2, 1] }), /not inside 4×3×2/);
  assert.throws(() => cropVolume(volume, { min: [2, 0, 0], max: [1, 2, 1] }), RangeError);
  assert.throws(() => cropVolume(volume, { min: [-1, 0, 0], max: [1, 2, 1] }), RangeError);
});
