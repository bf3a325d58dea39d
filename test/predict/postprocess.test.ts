// Postprocessing: the component removal against scipy.ndimage, and its choice on cross-validation
// predictions (a rule is kept only when it raises the pooled lesion F1 without lowering the voxel Dice).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { determinePostprocessing } from "../../src/evaluate/postprocessing.js";
import { Volume, writeVolume } from "../../src/io/index.js";
import { applyPostprocessing, describeRule } from "../../src/predict/postprocess.js";
import { prng } from "../helpers/data.js";
import { pythonWith, runPythonWith } from "../helpers/python.js";

const scipy = pythonWith("scipy, numpy");
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

test(
  "components removed by size (mm³, anisotropic voxels) and by peak probability match scipy.ndimage",
  {
    skip: scipy ? false : "needs python3 with scipy",
  },
  () => {
    const shape = [15, 12, 9];
    const n = shape[0] * shape[1] * shape[2];
    const cases = [
      { minVolumeMm3: 9, minPeakProbability: 0, spacing: [1.5, 1, 2], density: 0.08 },
      { minVolumeMm3: 0, minPeakProbability: 0.8, spacing: [1, 1, 1], density: 0.12 },
      { minVolumeMm3: 20, minPeakProbability: 0.7, spacing: [0.5, 0.5, 3], density: 0.2 },
    ].map((c, k) => {
      const r = prng(31 + k);
      return {
        ...c,
        shape,
        mask: Array.from({ length: n }, () => (r() < c.density ? 1 : 0)),
        prob: Array.from({ length: n }, () => Math.round(r() * 1000) / 1000),
      };
    });
    const ref = runPythonWith<{ mask: number[]; removed: number }[]>(scipy!, "postprocess_reference.py", { cases });
    cases.forEach((c, i) => {
      const ours = applyPostprocessing(c.mask, c.shape, c.spacing, c, c.prob);
      assert.ok(ref[i].removed > 0, `case ${i} removes something`);
      assert.equal(ours.removed, ref[i].removed, `case ${i}: components removed`);
      assert.deepEqual(Array.from(ours.mask), ref[i].mask, `case ${i}: mask`);
    });
  },
);

test("hand values: a 2-voxel component of 2 mm³ voxels is 4 mm³; no rule keeps the mask; a probability rule needs the map", () => {
  const shape = [6, 1, 1];
  const mask = [1, 1, 0, 1, 1, 1];
  assert.deepEqual(
    Array.from(applyPostprocessing(mask, shape, [2, 1, 1], { minVolumeMm3: 5, minPeakProbability: 0 }).mask),
    [0, 0, 0, 1, 1, 1],
  );
  assert.deepEqual(
    Array.from(applyPostprocessing(mask, shape, [2, 1, 1], { minVolumeMm3: 4, minPeakProbability: 0 }).mask),
    mask,
  );
  assert.deepEqual(
    Array.from(applyPostprocessing(mask, shape, [2, 1, 1], { minVolumeMm3: 0, minPeakProbability: 0 }).mask),
    mask,
  );
  assert.throws(
    () => applyPostprocessing(mask, shape, [1, 1, 1], { minVolumeMm3: 0, minPeakProbability: 0.5 }),
    /probability map/,
  );
  assert.equal(describeRule({ minVolumeMm3: 4, minPeakProbability: 0 }), "remove components < 4 mm³");
});

/** A line of cases with 3-voxel lesions: predictions find each and add single-voxel specks, or miss voxels. */
async function crossValidationFolders(specks: boolean): Promise<{ pred: string; ref: string; root: string }> {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-post-"));
  const [pred, ref] = [path.join(root, "pred"), path.join(root, "ref")];
  mkdirSync(pred);
  mkdirSync(ref);
  const shape: [number, number, number] = [20, 10, 10];
  for (let k = 0; k < 4; k++) {
    const r = new Uint8Array(2000);
    const p = new Uint8Array(2000);
    const at = (x: number, y: number, z: number) => x + 20 * (y + 10 * z);
    for (const x of [2, 3, 4]) r[at(x, 5, 5)] = p[at(x, 5, 5)] = 1; // a 3-voxel lesion, found
    for (const x of [10, 11, 12, 13]) r[at(x, 2, 2)] = p[at(x, 2, 2)] = 1; // a 4-voxel lesion, found
    if (specks) {
      p[at(17, 8, 8)] = 1; // false-positive specks of one voxel
      p[at(15, 1, 8)] = 1;
    } else {
      r[at(17, 8, 8)] = p[at(17, 8, 8)] = 1; // a true one-voxel lesion, found: removing it costs recall
    }
    await writeVolume(path.join(ref, `c${k}.nii.gz`), new Volume(r, { shape, spacing: [1, 1, 1] }));
    await writeVolume(path.join(pred, `c${k}.nii.gz`), new Volume(p, { shape, spacing: [1, 1, 1] }));
  }
  return { pred, ref, root };
}

test("the choice removes false-positive specks when that raises F1, and keeps none when it would cost true lesions", async () => {
  const noisy = await crossValidationFolders(true);
  const choice = await determinePostprocessing(noisy.pred, noisy.ref);
  // Before: 8 TP, 8 FP, 0 FN → F1 2·8/(16+8) = 0.667; removing < 2 voxels: F1 1, Dice 1.
  assert.ok(Math.abs(choice.without.f1 - 2 / 3) < 1e-12);
  assert.deepEqual(choice.rule, { minVolumeMm3: 2, minPeakProbability: 0 });
  assert.equal(choice.chosen.f1, 1);
  assert.equal(choice.chosen.dice, 1);
  assert.equal(choice.probabilities, false);
  const clean = await crossValidationFolders(false);
  const none = await determinePostprocessing(clean.pred, clean.ref);
  assert.deepEqual(none.rule, { minVolumeMm3: 0, minPeakProbability: 0 });
  assert.equal(none.without.f1, 1);
  assert.ok(none.candidates.every((c) => c.f1 <= 1 && c.rule.minVolumeMm3 > 0));
});

test("backsplit postprocess prints the candidates, writes the choice and records it with a run; bad calls exit 2 or 3", async () => {
  const { pred, ref, root } = await crossValidationFolders(true);
  const run = path.join(root, "run");
  mkdirSync(run);
  const notRun = spawnSync(process.execPath, [bin, "postprocess", pred, "--reference", ref, "--record", run], {
    encoding: "utf8",
  });
  assert.equal(notRun.status, 3, notRun.stderr);
  assert.match(notRun.stderr, /not a training run/);
  const fake = {
    config: {},
    classes: {},
    lesionClasses: {},
    numClasses: 2,
    patch: [],
    batch: 1,
    features: [],
    plans: root,
  };
  writeFileSync(path.join(run, "training.json"), JSON.stringify(fake));
  const ok = spawnSync(process.execPath, [bin, "postprocess", pred, "--reference", ref, "--record", run], {
    encoding: "utf8",
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /chosen: remove components < 2 mm³ \(F1 0\.667 → 1\.000/);
  const recorded = JSON.parse(readFileSync(path.join(run, "postprocessing.json"), "utf8"));
  assert.deepEqual(recorded.rule, { minVolumeMm3: 2, minPeakProbability: 0 });
  assert.equal(recorded.determinedOn.cases, 4);
  assert.equal(JSON.parse(readFileSync(path.join(pred, "postprocessing.json"), "utf8")).candidates.length, 7);
  const noReference = spawnSync(process.execPath, [bin, "postprocess", pred], { encoding: "utf8" });
  assert.equal(noReference.status, 2);
  const missing = spawnSync(process.execPath, [bin, "postprocess", path.join(root, "nope"), "--reference", ref], {
    encoding: "utf8",
  });
  assert.equal(missing.status, 3);
});
