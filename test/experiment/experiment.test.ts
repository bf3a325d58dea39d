// `backsplit experiment` end to end on two tiny cases: both arms, two folds, pooled evaluation, comparison.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { tinyDataset } from "../fixtures/training.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

test("experiment trains both arms on every fold, predicts held-out cases, evaluates and compares", async () => {
  const { root } = await tinyDataset();
  const args = [
    "experiment",
    root,
    "--background",
    "tissue",
    "--folds",
    "0,1",
    "--epochs",
    "2",
    "--iterations",
    "2",
    "--patch",
    "8x16x16",
    "--batch",
    "2",
    "--features",
    "4,8,16",
    "--threads",
    "2",
    "--device",
    "cpu",
  ];
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /class 1: backsplit_seed1 − binary_seed1, 2 paired cases/);
  assert.match(r.stdout, /report: .*report.html/);
  const out = path.join(root, "experiment");
  for (const f of [
    "evaluation_binary_seed1.json",
    "evaluation_backsplit_seed1.json",
    "comparison_seed1.json",
    "experiment.json",
  ])
    assert.ok(existsSync(path.join(out, f)), f);
  for (const arm of ["binary_seed1", "backsplit_seed1"])
    for (const id of ["a", "b"])
      assert.ok(existsSync(path.join(out, "predictions", arm, `${id}.nii.gz`)), `${arm}/${id}`);
  // Postprocessing chosen on each arm's pooled held-out predictions, recorded with both fold runs.
  for (const arm of ["binary_seed1", "backsplit_seed1"]) {
    const choice = JSON.parse(readFileSync(path.join(out, `postprocessing_${arm}.json`), "utf8"));
    assert.equal(choice.cases, 2);
    assert.equal(choice.probabilities, true, "experiment saves probabilities: peak rules are tried");
    assert.equal(choice.candidates.length, 12);
    assert.ok(choice.chosen.f1 >= choice.without.f1 && choice.chosen.dice >= choice.without.dice);
    for (const fold of [0, 1]) {
      const recorded = JSON.parse(
        readFileSync(path.join(out, "runs", `${arm}_fold${fold}`, "postprocessing.json"), "utf8"),
      );
      assert.deepEqual(recorded.rule, choice.rule);
    }
  }
  // Held-out cases are predicted as `predict` does by default: with test-time mirroring.
  assert.equal(JSON.parse(readFileSync(path.join(out, "experiment.json"), "utf8")).predict.mirror, true);
  const reportHtml = readFileSync(r.stdout.match(/report: (.*report\.html)/)![1].trim(), "utf8");
  assert.match(reportHtml, /<th>test-time mirroring<\/th><td>on<\/td>/);
  const comparison = JSON.parse(readFileSync(path.join(out, "comparison_seed1.json"), "utf8"));
  assert.deepEqual(comparison.cases.sort(), ["a", "b"]);
  // Each fold's model predicted only the case it did not train on.
  const splits = JSON.parse(readFileSync(path.join(root, "preprocessed", "splits_final.json"), "utf8"));
  assert.deepEqual(splits.flatMap((s: { val: string[] }) => s.val).sort(), ["a", "b"]);
  // Running it again resumes finished runs instead of retraining.
  const again = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(
    readFileSync(path.join(out, "runs", "backsplit_seed1_fold0", "log.jsonl"), "utf8")
      .trim()
      .split("\n").length,
    2,
  );
});
