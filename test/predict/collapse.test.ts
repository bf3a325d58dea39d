// The collapse rule as one pure function: class probabilities → mask value.
import assert from "node:assert/strict";
import { test } from "node:test";
import { argmaxClass, collapse, lesionProbability, lesionTest } from "../../src/predict/collapse.js";

test("prob: lesion when the summed lesion probability exceeds the threshold, as its most probable lesion class", () => {
  const rule = lesionTest({ collapse: "prob", threshold: 0.5, lesionValues: [1, 2] });
  assert.deepEqual(rule, { kind: "sum-above", channels: [1, 2], threshold: 0.5 });
  // Background 0.4 wins the argmax, but lesion 1 + lesion 2 = 0.6 > 0.5: lesion, class 2 (0.35 > 0.25).
  assert.equal(collapse([0.4, 0.25, 0.35], rule), 2);
  assert.equal(collapse([0.5, 0.25, 0.25], rule), 0, "exactly at the threshold is not lesion");
  assert.equal(lesionProbability([0.4, 0.25, 0.35], [1, 2]), Math.fround(0.6));
});

test("argmax: lesion when the most probable class of all is a lesion class", () => {
  const rule = lesionTest({ collapse: "argmax", threshold: 0.5, lesionValues: [1] });
  // BackSplit: lesion 0.4 beats each background class, though Σ background = 0.6.
  assert.equal(collapse([0.2, 0.4, 0.2, 0.2], rule), 1);
  assert.equal(collapse([0.1, 0.3, 0.6, 0], rule), 0);
  assert.equal(argmaxClass([0.3, 0.3, 0.2]), 0, "ties go to the first class");
});
