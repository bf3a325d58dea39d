// Training end to end on tiny synthetic cases: binary and BackSplit overfit, exact resume, splits.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { openDataset } from "../../src/dataset/layout.js";
import { loadSafetensors, setThreads } from "../../src/engine/index.js";
import { fingerprintDataset } from "../../src/plan/fingerprint.js";
import { planExperiment, writePlans } from "../../src/plan/plan.js";
import { preprocessDataset } from "../../src/preprocess/preprocess.js";
import { type TrainConfig, fiveFoldSplits, train } from "../../src/train/trainer.js";
import { writeHeadCase } from "../fixtures/head.js";

async function tinyDataset(): Promise<{ root: string; preprocessed: string }> {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-train-"));
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({
      channel_names: { "0": "T1" },
      labels: { background: 0, lesion: 1 },
      file_ending: ".nii.gz",
      background_sources: { tissue: { labels: { upper: 1, lower: 2 } } },
    }),
  );
  writeHeadCase(root, "a", [1, 1, 1.5], [0, 0, 0]);
  writeHeadCase(root, "b", [1, 1, 1.5], [4, 0, 0]);
  const dataset = openDataset(root);
  const preprocessed = path.join(root, "preprocessed");
  const plans = planExperiment(dataset, await fingerprintDataset(dataset, { workers: 1 }), { memoryBudgetGb: 0.05 });
  writePlans(preprocessed, plans);
  await preprocessDataset(dataset, plans, "3d_fullres", preprocessed, { workers: 1 });
  return { root, preprocessed };
}

function config(root: string, preprocessed: string, over: Partial<TrainConfig>): TrainConfig {
  return {
    dataset: root,
    preprocessed,
    configuration: "3d_fullres",
    mode: "binary",
    sources: [],
    fold: "all",
    epochs: 4,
    iterationsPerEpoch: 3,
    validationIterations: 1,
    batchSize: 2,
    patchSize: [8, 16, 16],
    features: [4, 8, 16],
    lr: 1e-2,
    device: "cpu",
    seed: 1,
    amp: false,
    threads: 2,
    out: path.join(root, "run"),
    resume: false,
    augment: true,
    lesionShare: 0.5,
    diceOver: "all",
    ...over,
  };
}

test("a run interrupted after 2 of 4 epochs and resumed ends with exactly the weights of an uninterrupted run", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const straight = await train(
    config(root, preprocessed, { out: path.join(root, "straight"), mode: "backsplit", sources: ["tissue"] }),
  );
  await train(
    config(root, preprocessed, {
      out: path.join(root, "resumed"),
      mode: "backsplit",
      sources: ["tissue"],
      stopAfterEpochs: 2,
    }),
  );
  const second = await train(
    config(root, preprocessed, {
      out: path.join(root, "resumed"),
      mode: "backsplit",
      sources: ["tissue"],
      resume: true,
    }),
  );
  assert.deepEqual(
    second.log.map((l) => l.epoch),
    [2, 3],
  );
  const a = loadSafetensors(path.join(root, "straight", "checkpoints", "epoch_3.safetensors")).tensors;
  const b = loadSafetensors(path.join(root, "resumed", "checkpoints", "epoch_3.safetensors")).tensors;
  for (const [name, t] of a) assert.deepEqual(b.get(name)!.toArray(), t.toArray(), name);
  const log = readFileSync(path.join(root, "resumed", "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    log.map((l) => l.epoch),
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    log.map((l) => l.trainLoss),
    straight.log.map((l) => l.trainLoss),
  );
  // BackSplit head: background + lesion + 2 tissue classes.
  assert.deepEqual(a.get("head0.weight")!.shape.slice(0, 2), [4, 4]);
  assert.ok(existsSync(path.join(root, "straight", "checkpoints", "best.safetensors")));
});

for (const mode of ["binary", "backsplit"] as const) {
  test(`a ${mode} model overfits the tiny cases (validation pseudo-Dice on the lesion)`, async () => {
    setThreads(2);
    const { root, preprocessed } = await tinyDataset();
    const { log } = await train(
      config(root, preprocessed, {
        mode,
        sources: mode === "backsplit" ? ["tissue"] : [],
        epochs: 25,
        iterationsPerEpoch: 4,
        augment: false,
        lesionShare: 1,
        out: path.join(root, mode),
      }),
    );
    const last = log.at(-1)!;
    assert.ok(last.trainLoss < log[0].trainLoss * 0.5, `loss ${log[0].trainLoss} → ${last.trainLoss}`);
    assert.ok(last.pseudoDice > 0.8, `pseudo-Dice ${last.pseudoDice}`);
  });
}

test("five-fold splits are stable, disjoint and cover every case", () => {
  const ids = Array.from({ length: 12 }, (_, i) => `case_${i}`);
  const a = fiveFoldSplits(ids);
  assert.deepEqual(fiveFoldSplits([...ids].reverse()), a);
  assert.equal(a.length, 5);
  assert.deepEqual(a.flatMap((f) => f.val).sort(), [...ids].sort());
  for (const f of a) assert.equal(f.train.length + f.val.length, 12);
});
