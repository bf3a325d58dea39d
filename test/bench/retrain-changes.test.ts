// bench/lib/retrain-changes: what each `twin-fp --retrain` name changes, alone and joined by "+".
import assert from "node:assert/strict";
import { test } from "node:test";
import { RETRAIN_CHANGES, retrainChange } from "../../bench/lib/retrain-changes.js";

test("one change is the table's entry; joined changes merge left to right, augmentation overrides merged", () => {
  assert.deepEqual(retrainChange("torchbody"), { init: "pytorch-body" });
  assert.deepEqual(retrainChange("same"), {});
  assert.deepEqual(retrainChange("torchbody+largerpatch+nospatial"), {
    init: "pytorch-body",
    augmentOverrides: { largerPatch: true, rotationProbability: 0, scaleProbability: 0 },
  });
  // A later change of the same setting wins.
  assert.deepEqual(retrainChange("torchbody+heinit"), { init: "he" });
  assert.deepEqual(retrainChange("noaug+nods"), { augment: false, deepSupervision: false });
  assert.equal(Object.keys(RETRAIN_CHANGES).length, 20);
  assert.deepEqual(retrainChange("dsmax+torchbody"), { deepSupervisionTargets: "lesion-max", init: "pytorch-body" });
  // restart: back to the trainer's default start (no prior given), which starts over when it stalls.
  assert.deepEqual(retrainChange("restart"), { lesionPrior: undefined, restartIfStalled: true });
  assert.deepEqual(retrainChange("warmup+voxel"), { warmupEpochs: 1, lesionSampling: "voxel" });
  assert.deepEqual(retrainChange("torchbody+noprior"), { init: "pytorch-body", lesionPrior: 0 });
  assert.deepEqual(retrainChange("rot180+largerpatch"), { augmentOverrides: { rotation: Math.PI, largerPatch: true } });
});

test("a name that is no change throws naming it, even inside a combination", () => {
  assert.throws(() => retrainChange("torchbody+bogus"), /not "bogus"/);
  assert.throws(() => retrainChange("toString"), /not "toString"/);
  assert.throws(() => retrainChange(""), /not ""/);
});
