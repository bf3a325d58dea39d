// Loss functions: CE + Dice against PyTorch; the marginal likelihood; ignore; deep-supervision weights.
import assert from "node:assert/strict";
import { test } from "node:test";
import { F, cat, setThreads, tensor, tidy } from "../../src/engine/index.js";
import {
  deepSupervisionLoss,
  deepSupervisionTarget,
  deepSupervisionWeights,
  segmentationLoss,
} from "../../src/train/loss.js";
import { assertClose } from "../helpers/assert.js";
import { normals, uniforms } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

const shape = [2, 3, 4, 5, 3];
const n = shape[0] * shape[2] * shape[3] * shape[4];
const logitsData = Array.from(
  Float32Array.from(
    normals(
      shape.reduce((a, b) => a * b, 1),
      1,
    ),
  ),
);
const targetData = uniforms(n, 2).map((u) => Math.floor(u * 3));

test("CE + soft Dice equals a PyTorch computation, Dice over all foreground or lesion classes", () => {
  setThreads(1);
  for (const [diceOver, classes] of [
    ["all", [1, 2]],
    ["lesion", [2]],
  ] as const) {
    const ours = tidy(() =>
      segmentationLoss(tensor(logitsData, shape), tensor(targetData, [2, 4, 5, 3], { dtype: "int64" }), {
        lesionClasses: [2],
        diceOver,
      }).item(),
    );
    const ref = runPython<{ loss: number }>("loss_reference.py", {
      logits: logitsData,
      target: targetData,
      shape,
      classes,
    });
    assertClose([ours], [ref.loss], 1e-5, 1e-6, `dice over ${diceOver}`);
  }
});

test("batch Dice (nnU-Net's 2D choice) sums over the batch before the ratio, as PyTorch computes it", () => {
  setThreads(1);
  const ours = tidy(() =>
    segmentationLoss(tensor(logitsData, shape), tensor(targetData, [2, 4, 5, 3], { dtype: "int64" }), {
      lesionClasses: [2],
      diceOver: "all",
      batchDice: true,
    }).item(),
  );
  const ref = runPython<{ loss: number }>("loss_reference.py", {
    logits: logitsData,
    target: targetData,
    shape,
    classes: [1, 2],
    batch: true,
  });
  assertClose([ours], [ref.loss], 1e-5, 1e-6, "batch dice");
});

test("per-sample Dice rewards an empty prediction on a lesion-free patch; batch Dice does not", () => {
  // Two samples: one with a lesion voxel, one without. Logits strongly against the lesion everywhere.
  tidy(() => {
    const logits = cat([tensor(Array(8).fill(10), [1, 1, 2, 2, 2]), tensor(Array(8).fill(-10), [1, 1, 2, 2, 2])], 1);
    const both = cat([logits, logits], 0);
    const target = tensor([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [2, 2, 2, 2], { dtype: "int64" });
    const o = { lesionClasses: [1], diceWeight: 1 };
    const perSample = segmentationLoss(both, target, { ...o, batchDice: false }).item();
    const batch = segmentationLoss(both, target, { ...o, batchDice: true }).item();
    const ce = segmentationLoss(both, target, { ...o, diceWeight: 0 }).item();
    // Per sample: the empty sample's Dice is smooth / (Σp + smooth) ≈ 1, worth −0.5 of loss for predicting nothing.
    assert.ok(ce - perSample > 0.45, `per-sample dice term ${ce - perSample}`);
    assert.ok(Math.abs(ce - batch) < 1e-3, `batch dice term ${ce - batch}`);
  });
});

test("the marginal likelihood over split background equals CE on the merged background class", () => {
  tidy(() => {
    const logits = tensor(logitsData, shape); // classes: bg_a, bg_b, lesion
    const target = tensor(targetData, [2, 4, 5, 3], { dtype: "int64" });
    const lesion = target.eq(2);
    // Every background voxel's sub-class is unknown (value 99).
    const partial = lesion.long().mul(2).add(lesion.logicalNot().long().mul(99));
    const marginal = segmentationLoss(logits, partial, {
      lesionClasses: [2],
      unknownBackgroundValue: 99,
      backgroundClasses: [0, 1],
      diceWeight: 0,
    }).item();
    const merged = cat([logits.narrow(1, 0, 2).logsumexp(1, true), logits.narrow(1, 2, 1)], 1);
    const ce = F.crossEntropy(merged, lesion.long()).item();
    assertClose([marginal], [ce], 1e-6, 1e-7, "marginal vs merged CE");
    // K = 2 (no split): the marginal over the single background class is plain CE.
    const two = logits.narrow(1, 1, 2);
    const binary = lesion.long();
    const unknownAll = where01(binary);
    const m2 = segmentationLoss(two, unknownAll, {
      lesionClasses: [1],
      unknownBackgroundValue: 99,
      backgroundClasses: [0],
      diceWeight: 0,
    }).item();
    assertClose([m2], [F.crossEntropy(two, binary).item()], 1e-6, 1e-7, "K = 2");
  });
});

function where01(binary: ReturnType<typeof tensor>) {
  return binary.mul(1).add(binary.eq(0).long().mul(99));
}

test("ignored voxels do not count; class weights follow torch's weighted mean", () => {
  tidy(() => {
    const logits = tensor(logitsData, shape);
    const target = tensor(targetData, [2, 4, 5, 3], { dtype: "int64" });
    const ignored = target.maskedFill(target.eq(1), 7);
    const ours = segmentationLoss(logits, ignored, { lesionClasses: [2], ignoreValue: 7, diceWeight: 0 }).item();
    const ref = F.crossEntropy(logits, ignored, { ignoreIndex: 7 }).item();
    assertClose([ours], [ref], 1e-6, 1e-7, "ignore");
    const w = [0.2, 1, 3];
    const weighted = segmentationLoss(logits, target, { lesionClasses: [2], classWeights: w, diceWeight: 0 }).item();
    assertClose(
      [weighted],
      [F.crossEntropy(logits, target, { weight: tensor(w) }).item()],
      1e-6,
      1e-7,
      "class weights",
    );
  });
});

test("deep supervision weights: 1/2^i, the coarsest dropped, normalised", () => {
  assert.deepEqual(deepSupervisionWeights(4), [1 / 1.75, 0.5 / 1.75, 0.25 / 1.75, 0]);
  assert.deepEqual(deepSupervisionWeights(1), [1]);
});

// A 4³ target: lesion classes 1 and 3, a split background class 2, the ignore value 9.
const dsVoxels: [number, number, number, number][] = [
  [1, 1, 1, 1], // alone in block (0,0,0), which nearest reads at (0,0,0): lost by nearest
  [2, 2, 2, 2], // read by nearest for block (1,1,1)
  [2, 0, 0, 2], // read by nearest for block (1,0,0) ...
  [3, 1, 1, 3], // ... which also holds lesion class 3
  [0, 2, 2, 9], // ignore, read by nearest for block (0,1,1), no lesion there
  [0, 3, 0, 1], // block (0,1,0) holds lesion classes 1 and 3: the highest wins
  [1, 2, 1, 3],
];
function dsTarget(): number[] {
  const t = new Array(64).fill(0);
  for (const [z, y, x, v] of dsVoxels) t[z * 16 + y * 4 + x] = v;
  return t;
}
// The 2³ targets by hand: index z*4 + y*2 + x.
const nearestByHand = [0, 0, 0, 9, 2, 0, 0, 2];
const lesionMaxByHand = [1, 0, 3, 9, 3, 0, 0, 2];

test("deep supervision targets: nearest reads voxel 2j; lesion-max keeps the highest lesion class of each block", () => {
  tidy(() => {
    const target = tensor(dsTarget(), [1, 4, 4, 4], { dtype: "int64" });
    assert.deepEqual(deepSupervisionTarget(target, [2, 2, 2]).toArray(), nearestByHand);
    const max = deepSupervisionTarget(target, [2, 2, 2], "lesion-max", [1, 3]);
    assert.deepEqual(max.toArray(), lesionMaxByHand);
    // Without lesion classes there is nothing to keep: nearest.
    assert.deepEqual(deepSupervisionTarget(target, [2, 2, 2], "lesion-max", []).toArray(), nearestByHand);
    // A 2D patch trains as depth 1: its blocks are 1×2×2. Slice z = 0: lesion 1 at (3,0), ignore at (2,2).
    const slice = tensor(dsTarget().slice(0, 16), [1, 1, 4, 4], { dtype: "int64" });
    assert.deepEqual(deepSupervisionTarget(slice, [1, 2, 2], "lesion-max", [1, 3]).toArray(), [0, 0, 1, 9]);
    assert.throws(
      () =>
        deepSupervisionTarget(
          tensor(new Array(27).fill(0), [1, 3, 3, 3], { dtype: "int64" }),
          [2, 2, 2],
          "lesion-max",
          [1],
        ),
      /whole downsampling factor/,
    );
  });
});

test("the deep-supervised loss with lesion-max targets is the weighted sum of the levels' losses on the hand targets", () => {
  setThreads(1);
  tidy(() => {
    const logitsOf = (side: number, offset: number) =>
      tensor(
        normals(4 * side ** 3, 1).map((v, i) => v + (i % 7 === offset ? 0.5 : 0)),
        [1, 4, side, side, side],
      );
    const outputs = [logitsOf(4, 1), logitsOf(2, 2), logitsOf(1, 3)];
    const target = tensor(dsTarget(), [1, 4, 4, 4], { dtype: "int64" });
    const o = { lesionClasses: [1, 3], ignoreValue: 9, deepSupervisionTargets: "lesion-max" as const };
    const expected =
      (2 / 3) * segmentationLoss(outputs[0], target, o).item() +
      (1 / 3) * segmentationLoss(outputs[1], tensor(lesionMaxByHand, [1, 2, 2, 2], { dtype: "int64" }), o).item();
    assertClose([deepSupervisionLoss(outputs, target, o).item()], [expected], 1e-6, 1e-7);
    const nearest = deepSupervisionLoss(outputs, target, { ...o, deepSupervisionTargets: "nearest" }).item();
    assert.ok(Math.abs(nearest - expected) > 1e-4, "the two target rules give different losses");
  });
});

test("the background warm-up mixes the split CE with the merged-background CE, and weighs split classes' Dice by w", () => {
  setThreads(1);
  const logits = () => tensor(logitsData, shape); // classes: bg 0, split bg 1, lesion 2
  const target = () => tensor(targetData, [2, 4, 5, 3], { dtype: "int64" });
  const o = { lesionClasses: [2], backgroundClasses: [0, 1] };
  const [split, merged] = tidy(() => {
    const l = logits();
    const lesion = target().eq(2).long();
    const mergedLogits = cat([l.narrow(1, 0, 2).logsumexp(1, true), l.narrow(1, 2, 1)], 1);
    return [F.crossEntropy(l, target()).item(), F.crossEntropy(mergedLogits, lesion).item()];
  });
  for (const w of [0, 0.3, 1]) {
    const ours = tidy(() =>
      segmentationLoss(logits(), target(), { ...o, diceWeight: 0, backgroundSplitWeight: w }).item(),
    );
    assertClose([ours], [w * split + (1 - w) * merged], 1e-6, 1e-7, `CE at w = ${w}`);
  }
  // Dice terms from PyTorch: loss_reference gives CE + (−Dice) over the classes named.
  const diceTerm = (classes: number[]) =>
    runPython<{ loss: number }>("loss_reference.py", { logits: logitsData, target: targetData, shape, classes }).loss -
    split;
  const [lesionDice, splitDice] = [diceTerm([2]), diceTerm([1])];
  const w = 0.5;
  const ours = tidy(() =>
    segmentationLoss(logits(), target(), { ...o, diceOver: "all", backgroundSplitWeight: w }).item(),
  );
  const expected = w * split + (1 - w) * merged + (lesionDice + w * splitDice) / (1 + w);
  assertClose([ours], [expected], 1e-5, 1e-6, "CE + Dice over all at w = 0.5");
});
