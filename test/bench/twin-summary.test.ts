// The twin bench's summary on hand-made rows: pairing, means, ratios of means with their bootstrap
// interval (exact where the resampling distribution has only three values), per fold, and the goal.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type TwinRow, twinSummary } from "../../bench/lib/twin-summary.js";
import { assertClose } from "../helpers/assert.js";

function row(
  arm: "ours" | "twin",
  fold: number,
  seed: number,
  dice: number,
  falsePositives: number,
  learned = true,
): TwinRow {
  return {
    arm,
    fold,
    seed,
    dice,
    lesionF1: dice / 10,
    lesionRecall: dice / 2,
    falsePositives,
    firstLearningEpoch: learned ? 0 : null,
    learnedInFirstQuarter: learned,
  };
}

const rows = [
  row("ours", 0, 1, 0.6, 40),
  row("twin", 0, 1, 0.5, 80),
  row("ours", 0, 2, 0.4, 60),
  row("twin", 0, 2, 0.5, 40),
  row("ours", 1, 1, 0.2, 100, false),
  row("twin", 1, 1, 0.4, 200),
  row("ours", 1, 2, 0.3, 100),
  row("twin", 1, 2, 0.4, 200),
  // The twin of this seed did not finish (a deadline): left out of every mean.
  row("ours", 0, 3, 0.9, 0),
];

test("the twin summary pairs the runs, means them, and gives ours/twin per fold with intervals", () => {
  const s = twinSummary(rows, ["ours", "twin"]) as Required<ReturnType<typeof twinSummary>>;
  assert.deepEqual(s.leftOutUnpaired, ["ours-fold0-seed3"]);
  assert.equal(s.ours.runs, 4);
  assert.equal(s.ours.learnedInFirstQuarter, 3);
  assertClose(
    [s.ours.dice, s.twin.dice, s.ours.falsePositives, s.twin.falsePositives],
    [0.375, 0.45, 75, 130],
    1e-12,
    0,
  );
  assertClose(
    [s.ratio.dice, s.ratio.falsePositives, s.ratio.lesionRecall],
    [0.375 / 0.45, 75 / 130, 0.375 / 0.45],
    1e-12,
    0,
  );
  assert.equal(s.pairs.runs, 4);
  assert.equal(s.pairs.dice.atLeastAsGood, 1);
  assert.equal(s.pairs.falsePositives.atLeastAsGood, 3);
  // Fold 0, Dice: the resamples are (0.6+0.6)/(0.5+0.5) = 1.2 with chance ¼, 1.0 with ½, 0.8 with ¼.
  assert.deepEqual(Object.keys(s.perFold), ["0", "1"]);
  assertClose([s.perFold[0].dice.ratio], [1], 1e-12, 0);
  assertClose(s.perFold[0].dice.interval95, [0.8, 1.2], 1e-12, 0);
  // Fold 1, Dice: both pairs have ratio ½ and ¾: resamples 0.5, 0.625, 0.75.
  assertClose([s.perFold[1].dice.ratio], [0.625], 1e-12, 0);
  assertClose(s.perFold[1].dice.interval95, [0.5, 0.75], 1e-12, 0);
  assertClose(s.perFold[1].falsePositives.interval95, [0.5, 0.5], 1e-12, 0);
  assert.ok(s.pairs.dice.interval95[0] < s.ratio.dice && s.ratio.dice < s.pairs.dice.interval95[1]);
  assert.deepEqual(s.goal, {
    pairs: 4,
    everySeedLearnsInFirstQuarter: false,
    diceAtLeastTwin: false,
    falsePositivesAtMostTwin: true,
  });
});

test("the goal is false on every count with no complete pair, and one arm gives no ratios", () => {
  const s = twinSummary([row("ours", 0, 1, 0.5, 10)], ["ours", "twin"]);
  assert.deepEqual(s.goal, {
    pairs: 0,
    everySeedLearnsInFirstQuarter: false,
    diceAtLeastTwin: false,
    falsePositivesAtMostTwin: false,
  });
  const one = twinSummary([row("ours", 0, 1, 0.5, 10)], ["ours"]);
  assert.equal(one.ours?.runs, 1);
  assert.equal(one.ratio, undefined);
  assert.equal(one.goal, undefined);
});

test("fold all (trained and tested on the same cases) counts for learning, not in the held-out ratios", () => {
  const withFit = [
    ...rows.slice(0, 8),
    { ...row("ours", 0, 1, 0.9, 1, false), fold: "all" as const },
    { ...row("twin", 0, 1, 0.1, 500), fold: "all" as const },
  ];
  const s = twinSummary(withFit, ["ours", "twin"]) as Required<ReturnType<typeof twinSummary>>;
  assert.equal(s.ratiosOver, "held-out cases");
  assertClose([s.ratio.dice, s.ratio.falsePositives], [0.375 / 0.45, 75 / 130], 1e-12, 0);
  assert.deepEqual(Object.keys(s.perFold), ["0", "1", "all"]);
  assertClose([s.perFold.all.dice.ratio, s.perFold.all.falsePositives.ratio], [9, 1 / 500], 1e-12, 0);
  assert.equal(s.ours.runs, 5);
  assert.equal(s.goal.pairs, 5);
  assert.equal(s.goal.everySeedLearnsInFirstQuarter, false);
  // Fold all alone: its ratios are all there is, and say so.
  const fit = twinSummary(withFit.slice(8), ["ours", "twin"]) as Required<ReturnType<typeof twinSummary>>;
  assert.equal(fit.ratiosOver, "training cases (fold all)");
  assertClose([fit.ratio.dice], [9], 1e-12, 0);
});

test("recall by lesion size is pooled over an arm's paired runs as found / lesions, and only where every run has it", () => {
  const bins = (small: [number, number], large: [number, number]) => [
    { bin: "<10", lesions: small[0], found: small[1] },
    { bin: ">=10", lesions: large[0], found: large[1] },
  ];
  const sized = [
    { ...row("ours", 0, 1, 0.6, 40), recallBySize: bins([10, 1], [4, 4]) },
    { ...row("twin", 0, 1, 0.5, 80), recallBySize: bins([10, 3], [4, 4]) },
    { ...row("ours", 0, 2, 0.4, 60), recallBySize: bins([6, 0], [2, 1]) },
    { ...row("twin", 0, 2, 0.5, 40), recallBySize: bins([6, 2], [2, 2]) },
    // Unpaired: left out of the pooled counts as of every mean.
    { ...row("ours", 0, 3, 0.9, 0), recallBySize: bins([100, 100], [1, 1]) },
  ];
  const s = twinSummary(sized, ["ours", "twin"]) as Required<ReturnType<typeof twinSummary>>;
  assert.deepEqual(s.ours.recallBySize, [
    { bin: "<10", lesions: 16, found: 1, recall: 1 / 16 },
    { bin: ">=10", lesions: 6, found: 5, recall: 5 / 6 },
  ]);
  assert.deepEqual(s.twin.recallBySize, [
    { bin: "<10", lesions: 16, found: 5, recall: 5 / 16 },
    { bin: ">=10", lesions: 6, found: 6, recall: 1 },
  ]);
  // A row read back from before the counts existed: no pooled recall for its arm, rather than a partial one.
  const mixed = twinSummary([...sized.slice(0, 3), { ...row("twin", 0, 2, 0.5, 40) }], ["ours", "twin"]);
  assert.ok(mixed.ours?.recallBySize);
  assert.equal(mixed.twin?.recallBySize, undefined);
});
