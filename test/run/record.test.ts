// The training-run folder: a run keeps predicting after its preprocessed folder moves (it reads its
// own copy of the plans); a run written before that copy existed still reads the preprocessed one.
import assert from "node:assert/strict";
import { existsSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { setThreads } from "../../src/engine/index.js";
import { readVolume } from "../../src/io/index.js";
import { loadRun, predictFolder } from "../../src/predict/predict.js";
import { TrainingRun } from "../../src/run/record.js";
import { train } from "../../src/train/trainer.js";
import { config, tinyDataset } from "../fixtures/training.js";

setThreads(2);

test("a run predicts after its preprocessed folder is renamed; an old run without a plans copy falls back", async () => {
  const { root, preprocessed } = await tinyDataset();
  const out = path.join(root, "run");
  await train(config(root, preprocessed, { epochs: 1, iterationsPerEpoch: 1, out }));
  const run = new TrainingRun(out);
  assert.equal(run.record().plans, path.resolve(preprocessed));
  assert.ok(existsSync(run.plansFile), "the run keeps its own plans.json");
  assert.deepEqual(
    run.log().map((e) => e.epoch),
    [0],
  );

  const moved = path.join(root, "preprocessed-moved");
  renameSync(preprocessed, moved);
  const predictions = path.join(root, "pred");
  await predictFolder({
    runs: [out],
    input: path.join(root, "imagesTr"),
    out: predictions,
    options: {
      collapse: "prob",
      threshold: 0.5,
      mirror: false,
      device: "cpu",
      saveProbabilities: true,
      saveClasses: false,
    },
  });
  const image = await readVolume(path.join(root, "imagesTr", "a_0000.nii.gz"));
  const prob = await readVolume(path.join(predictions, "a_prob.nii.gz"));
  assert.deepEqual(prob.geometry, image.geometry);

  // Without its copy (a run of an earlier version) the run reads the preprocessed folder's plans,
  // and says which file is missing when that folder is gone too.
  rmSync(run.plansFile);
  assert.throws(() => loadRun(out, "cpu"), /preprocessed\/plans\.json: missing \(the run's plans\)/);
  renameSync(moved, preprocessed);
  const model = loadRun(out, "cpu");
  assert.equal(model.configuration, "3d_fullres");
  model.net.dispose();
});

test("a folder without training.json is not a training run", () => {
  assert.throws(() => new TrainingRun("/nonexistent/run").record(), /\/nonexistent\/run: not a training run/);
  assert.equal(new TrainingRun("/nonexistent/run").recordOrNull(), null);
});
