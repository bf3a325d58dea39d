// The training-health signal: a run whose validation pseudo-Dice is still 0 after a quarter of its
// epochs is flagged once, at that epoch; a run that learned, or an earlier epoch, is not.
import assert from "node:assert/strict";
import { test } from "node:test";
import { noLearningWarning } from "../../src/train/trainer.js";

test("the no-learning warning fires once, at the end of the first quarter, only when nothing was learned", () => {
  assert.equal(noLearningWarning([0, 0, 0, 0], 20), null, "4 of 20 epochs: not yet a quarter");
  assert.match(noLearningWarning([0, 0, 0, 0, 0], 20) ?? "", /still 0 after 5 of 20 epochs/);
  assert.equal(noLearningWarning([0, 0, 0, 0, 0, 0], 20), null, "said once, at the quarter");
  assert.equal(noLearningWarning([0, 0.01, 0, 0, 0], 20), null, "learned once in the quarter");
  assert.match(noLearningWarning([0], 3) ?? "", /after 1 of 3 epochs/, "short runs: the first epoch");
});

test("from an even start the warning names the lesion-prior remedy; with a prior already set it does not", () => {
  assert.match(noLearningWarning([0, 0, 0, 0, 0], 20) ?? "", /--lesion-prior 0\.01/);
  assert.match(noLearningWarning([0, 0, 0, 0, 0], 20, 0) ?? "", /--lesion-prior 0\.01/);
  const withPrior = noLearningWarning([0, 0, 0, 0, 0], 20, 0.01) ?? "";
  assert.match(withPrior, /still 0 after 5 of 20 epochs/);
  assert.doesNotMatch(withPrior, /--lesion-prior/);
});
