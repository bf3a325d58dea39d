// The lesion's share of a run's batches (read at the sampler's draws) and the restart's lesion start
// chosen from it, against hand counts on a cache whose lesion voxels are known.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { readCachedMeta } from "../../src/preprocess/cache.js";
import {
  LESION_SHARE_MAX_BATCHES,
  RESTART_LESION_STARTS,
  batchLesionShare,
  restartLesionStart,
} from "../../src/train/lesion-share.js";
import { PatchSampler } from "../../src/train/sampler.js";
import { stallingDataset } from "../fixtures/training.js";

async function cache(lesionSide: number) {
  const { preprocessed } = await stallingDataset(lesionSide);
  const dir = path.join(preprocessed, "backsplitPlans_3d_fullres");
  const cases = ["a", "b"].map((id) => readCachedMeta(dir, id));
  assert.deepEqual(cases[0].shape, [1, 16, 20, 24], "the fixture's [channels, z, y, x], uncropped");
  return { dir, cases };
}

test("the share counts lesion voxels over patch voxels, padding included", async () => {
  const { dir, cases } = await cache(1);
  // Random patches the size of the volume are the whole volume: one lesion voxel in 16·20·24.
  const whole = batchLesionShare(dir, cases, { patch: [16, 20, 24], batch: 3, seed: 5, lesionShare: 0 }, [1], 4);
  assert.equal(whole, 1 / (16 * 20 * 24));
  // A patch wider than the volume holds all of it, the rest padding: one lesion voxel in 16·20·32.
  const padded = batchLesionShare(dir, cases, { patch: [16, 20, 32], batch: 2, seed: 5, lesionShare: 0 }, [1], 4);
  assert.equal(padded, 1 / (16 * 20 * 32));
  // Lesion-centred patches (jitter up to a quarter patch) always hold the one lesion voxel.
  const centred = batchLesionShare(dir, cases, { patch: [8, 16, 16], batch: 1, seed: 5, lesionShare: 1 }, [1], 6);
  assert.equal(centred, 1 / (8 * 16 * 16));
  // Values that are not lesion classes do not count.
  assert.equal(batchLesionShare(dir, cases, { patch: [16, 20, 24], batch: 1, seed: 5, lesionShare: 0 }, [2], 2), 0);
});

test("a cube of 4 voxels a side: the share equals the cube's overlap with each drawn patch, by geometry", async () => {
  const { dir, cases } = await cache(4);
  const cube = [
    [8, 12],
    [10, 14],
    [12, 16],
  ]; // [z, y, x] half-open ranges of the lesion in both cases
  const options = { patch: [8, 16, 16], batch: 2, seed: 3, lesionShare: 1 };
  let overlap = 0;
  const draws = new PatchSampler(cases, options);
  for (let it = 0; it < 20; it++)
    for (const r of draws.batch(it))
      overlap += cube
        .map(([lo, hi], a) => Math.max(0, Math.min(hi, r.start[a] + options.patch[a]) - Math.max(lo, r.start[a])))
        .reduce((x, y) => x * y, 1);
  assert.ok(overlap > 0 && overlap < 20 * 2 * 64, "the jitter cuts the cube in some patches, not all");
  assert.equal(batchLesionShare(dir, cases, options, [1], 20), overlap / (20 * 2 * 8 * 16 * 16));
  // Whole-volume patches: 64 lesion voxels in 16·20·24.
  const whole = batchLesionShare(dir, cases, { ...options, patch: [16, 20, 24], lesionShare: 0 }, [1], 5);
  assert.equal(whole, 64 / (16 * 20 * 24));
  // Only the first LESION_SHARE_MAX_BATCHES batches are read.
  const capped = batchLesionShare(dir, cases, options, [1], 10_000);
  assert.equal(capped, batchLesionShare(dir, cases, options, [1], LESION_SHARE_MAX_BATCHES));
});

test("the restart's lesion start: 1 % where the batches hold at least 1 % lesion, else 0.1 %", () => {
  assert.deepEqual([...RESTART_LESION_STARTS], [0.001, 0.01]);
  assert.equal(restartLesionStart(0), 0.001);
  assert.equal(restartLesionStart(0.0001), 0.001, "below every start: the lowest");
  assert.equal(restartLesionStart(0.0012), 0.001, "MS patient 07 in 2D");
  assert.equal(restartLesionStart(0.0072), 0.001);
  assert.equal(restartLesionStart(0.00999), 0.001);
  assert.equal(restartLesionStart(0.01), 0.01);
  assert.equal(restartLesionStart(0.033), 0.01, "patients 07 and 19 in 3D");
  assert.equal(restartLesionStart(0.5), 0.01);
});
