// The real-data benchmarks' report helpers: per-seed paired differences against binary, each model's
// Fisher trace ratio from its log, and the BraTS label split of the enhancing-tumour benchmark (hand values).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { splitBratsLabels } from "../../bench/lib/brats-labels.js";
import {
  fisherTraceRatios,
  learningEpochs,
  learningLine,
  pairedBySeed,
  pairedTable,
} from "../../bench/lib/real-benchmark.js";
import type { PooledMetric, PooledSummary } from "../../src/evaluate/pooled.js";

function summary(perSeed: Record<string, number[]>): PooledSummary {
  const metric = (v: number[]): PooledMetric => ({
    value: v.reduce((a, b) => a + b, 0) / v.length,
    ci: [Number.NaN, Number.NaN],
    perSeed: v,
    seedSd: 0,
  });
  return {
    seeds: 3,
    referenceLesions: 10,
    smallReferenceLesions: 4,
    smallMm3: 100,
    lesionDice: metric([0, 0, 0]),
    lesionF1: metric(perSeed.lesionF1),
    recall: metric(perSeed.recall),
    smallLesionRecall: metric(perSeed.recall),
    falsePositivesPerCase: metric(perSeed.fp),
    voxelDice: metric(perSeed.dice),
  };
}

test("paired differences arm − binary seed by seed, with the seeds where the arm is better", () => {
  const binary = summary({
    lesionF1: [0.1, 0.2, 0.3],
    recall: [0.5, 0.5, 0.5],
    fp: [10, 20, 30],
    dice: [0.6, 0.6, 0.6],
  });
  const arm = summary({ lesionF1: [0.2, 0.2, 0.5], recall: [0.4, 0.5, 0.6], fp: [5, 25, 10], dice: [0.6, 0.7, 0.5] });
  const d = pairedBySeed(arm, binary);
  // F1: +0.1, 0, +0.2 → mean 0.1, sample SD 0.1, better on 2 seeds (a tie is not better).
  assert.deepEqual(
    d.lesionF1.perSeed.map((x) => Number(x.toFixed(12))),
    [0.1, 0, 0.2],
  );
  assert.ok(Math.abs(d.lesionF1.mean - 0.1) < 1e-12);
  assert.ok(Math.abs(d.lesionF1.sd - 0.1) < 1e-12);
  assert.equal(d.lesionF1.better, 2);
  // False positives: −5, +5, −20: lower is better → 2 seeds better; mean −20/3, SD sqrt(475/3).
  assert.deepEqual(d.falsePositivesPerCase.perSeed, [-5, 5, -20]);
  assert.equal(d.falsePositivesPerCase.better, 2);
  assert.ok(Math.abs(d.falsePositivesPerCase.mean + 20 / 3) < 1e-12);
  assert.ok(Math.abs(d.falsePositivesPerCase.sd - Math.sqrt(475 / 3)) < 1e-9);
  assert.equal(d.voxelDice.better, 1);
  const table = pairedTable(
    [
      { arm: "binary", fisher: [1, 1, 1] },
      { arm: "split", paired: d, fisher: [2, 3, 4] },
    ],
    3,
  );
  assert.match(table, /\| split \| \+0\.100 ± 0\.100 \(2\/3\) \|/);
  assert.match(table, /−6\.667 ± 12\.583 \(2\/3\)/);
  assert.match(table, /\| 2\.00 \/ 3\.00 \/ 4\.00 \|$/);
});

test("Fisher trace ratio per seed: last logged epoch's tr I_Y / tr I_Z, averaged over the folds", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-fisher-ratio-"));
  const write = (run: string, entries: { traceY: number; traceZ: number }[]) => {
    mkdirSync(path.join(dir, "runs", run), { recursive: true });
    const lines = entries.map((f, epoch) =>
      JSON.stringify({ epoch, fisher: { ...f, logitTraceY: 0, logitTraceZ: 0, logitGap: 0, gap: 0 } }),
    );
    writeFileSync(path.join(dir, "runs", run, "log.jsonl"), `${lines.join("\n")}\n`);
  };
  write("split_seed1_fold0", [
    { traceY: 9, traceZ: 1 },
    { traceY: 4, traceZ: 2 },
  ]); // last: 2
  write("split_seed1_fold1", [{ traceY: 4, traceZ: 1 }]); // 4
  write("split_seed2_fold0", [{ traceY: 5, traceZ: 5 }]); // 1
  // seed 2 fold 1 has no log: the mean is over the folds that have one; seed 3 has none at all.
  const ratios = fisherTraceRatios(dir, "split", [1, 2, 3], [0, 1]);
  assert.deepEqual(ratios.slice(0, 2), [3, 1]);
  assert.ok(Number.isNaN(ratios[2]));
});

test("BraTS labels split: enhancing tumour as the lesion, sub-regions and brain as sources", () => {
  // Voxels: outside, brain, necrosis, oedema, non-enhancing, enhancing, enhancing outside the brain mask.
  const classes = [0, 0, 1, 2, 3, 4, 4];
  const brain = [0, 1, 1, 1, 1, 1, 0];
  const s = splitBratsLabels(classes, brain);
  assert.deepEqual([...s.lesion], [0, 0, 0, 0, 0, 1, 1]);
  assert.deepEqual([...s.subregions], [0, 4, 1, 2, 3, 0, 0]);
  assert.deepEqual([...s.tumour], [0, 0, 1, 2, 3, 0, 0]);
});

test("learning epochs per seed and fold count a stalled start's epochs and mark the restart", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-learning-"));
  const write = (file: string, dice: number[]) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, dice.map((pseudoDice, epoch) => `${JSON.stringify({ epoch, pseudoDice })}\n`).join(""));
  };
  write(path.join(dir, "runs", "split_seed1_fold0", "log.jsonl"), [0, 0.2, 0.3]);
  write(path.join(dir, "runs", "split_seed1_fold1", "stalled-start", "log.jsonl"), [0, 0]);
  write(path.join(dir, "runs", "split_seed1_fold1", "log.jsonl"), [0, 0, 0.1]); // 2 abandoned + 2
  write(path.join(dir, "runs", "split_seed2_fold0", "log.jsonl"), [0, 0, 0]);
  write(path.join(dir, "runs", "split_seed2_fold1", "log.jsonl"), [0.4]);
  const l = learningEpochs(dir, "split", [1, 2], [0, 1]);
  assert.deepEqual(l.firstLearningEpoch, [
    [1, 4],
    [null, 0],
  ]);
  assert.deepEqual(l.restarted, [
    [false, true],
    [false, false],
  ]);
  assert.equal(learningLine("split", l), "split 1, 4* / never, 0");
});
