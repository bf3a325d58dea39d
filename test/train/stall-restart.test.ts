// A run still at validation pseudo-Dice 0 after two epochs starts over once, at a 0.1 % lesion start (1 %
// where its batches held at least 1 % lesion): the new start is exactly a fresh run at that prior, the
// abandoned one stays readable, and resuming keeps it.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { loadSafetensors } from "../../src/engine/index.js";
import { readCachedMeta } from "../../src/preprocess/cache.js";
import { TrainingRun } from "../../src/run/record.js";
import { RESTART_LESION_STARTS } from "../../src/train/lesion-share.js";
import { PatchSampler } from "../../src/train/sampler.js";
import {
  STALL_CHECK_EPOCHS,
  type TrainConfig,
  restartBackgroundWarmup,
  restartsIfStalled,
  train,
} from "../../src/train/trainer.js";
import { config, stallingDataset } from "../fixtures/training.js";

const weights = (run: string) => loadSafetensors(new TrainingRun(run).weightsFile("latest")).tensors;

test("only a run that chose no prior, is not fine-tuned and trains past the check starts over", () => {
  const base = { epochs: 20 } as TrainConfig;
  assert.equal(restartsIfStalled(base), true);
  assert.equal(restartsIfStalled({ ...base, restartIfStalled: false }), false);
  assert.equal(restartsIfStalled({ ...base, lesionPrior: 0 }), false, "an explicit --lesion-prior 0 is a choice");
  assert.equal(restartsIfStalled({ ...base, initFrom: "/runs/binary" }), false);
  assert.equal(restartsIfStalled({ ...base, restartedAfterEpochs: 2 }), false, "once only");
  assert.equal(restartsIfStalled({ ...base, epochs: STALL_CHECK_EPOCHS }), false);
});

test("a stalled run starts over at a 0.1 % lesion start: the same model as a fresh run at that prior", async () => {
  const { root, preprocessed } = await stallingDataset();
  const cfg = (out: string, over: Partial<TrainConfig> = {}) =>
    config(root, preprocessed, { out: path.join(root, out), epochs: 3, lr: 0.05, augment: false, threads: 1, ...over });
  const reports: { kind: string; lesionPrior?: number; lesionShare?: number }[] = [];
  const { log } = await train(cfg("restarted"), (m) => reports.push(m as (typeof reports)[number]));
  const run = new TrainingRun(path.join(root, "restarted"));
  const aside = run.stalledStartLog();
  assert.deepEqual(
    aside.map((e) => e.pseudoDice),
    [0, 0],
    "the abandoned start: two epochs at pseudo-Dice 0",
  );
  assert.match(aside[1].warning ?? "", /starting over .* 0\.1 % lesion start/);
  assert.equal(reports.filter((r) => r.kind === "restart").length, 1);
  // The share it chose from is that of its own batches in the two epochs: counted here by geometry, as
  // the draws that hold the one lesion voxel (z 8, y 10, x 12) of either case.
  const options = { patch: [8, 16, 16], batch: 2, seed: 1 };
  const cases = ["a", "b"].map((id) => readCachedMeta(path.join(preprocessed, "backsplitPlans_3d_fullres"), id));
  const sampler = new PatchSampler(cases, options);
  let holding = 0;
  for (let it = 0; it < STALL_CHECK_EPOCHS * 3; it++)
    for (const r of sampler.batch(it))
      if ([8, 10, 12].every((v, a) => v >= r.start[a] && v < r.start[a] + options.patch[a])) holding++;
  const restart = reports.find((r) => r.kind === "restart")!;
  assert.equal(restart.lesionShare, holding / (STALL_CHECK_EPOCHS * 3 * 2 * 8 * 16 * 16));
  assert.ok(restart.lesionShare! < 0.01);
  assert.equal(restart.lesionPrior, RESTART_LESION_STARTS[0]);
  assert.ok(existsSync(path.join(run.dir, "stalled-start", "checkpoints")));
  assert.equal(log.length, 3, "the new start trains the whole budget");
  assert.deepEqual(
    run.logSinceFirstStart().map((e) => e.epoch),
    [0, 1, 0, 1, 2],
    "the abandoned epochs, then the new start's",
  );
  assert.equal(run.record().lesionPrior, RESTART_LESION_STARTS[0]);
  assert.equal(run.record().config.restartedAfterEpochs, STALL_CHECK_EPOCHS);

  await train(cfg("fresh", { lesionPrior: RESTART_LESION_STARTS[0] }));
  const fresh = weights(path.join(root, "fresh"));
  for (const [name, t] of weights(run.dir)) assert.deepEqual(t.toArray(), fresh.get(name)!.toArray(), name);

  // Resumed with the command line that launched it (no prior given): it goes on from its new start.
  const resumed = await train(cfg("restarted", { resume: true, epochs: 4 }));
  assert.deepEqual(
    resumed.log.map((e) => e.epoch),
    [3],
  );
  assert.equal(run.record().lesionPrior, RESTART_LESION_STARTS[0]);
  assert.equal(run.stalledStartLog().length, 2);

  // --no-restart: the run trains on from its even start.
  await train(cfg("kept", { restartIfStalled: false }));
  const kept = new TrainingRun(path.join(root, "kept"));
  assert.equal(kept.stalledStartLog().length, 0);
  assert.equal(kept.record().lesionPrior, 0);
  assert.equal(kept.log().length, 3);
});

test("a stalled BackSplit run starts over with a background warm-up of a quarter of its epochs", async () => {
  const { root, preprocessed } = await stallingDataset();
  const cfg = (out: string, over: Partial<TrainConfig> = {}) =>
    config(root, preprocessed, {
      out: path.join(root, out),
      mode: "backsplit",
      sources: ["tissue"],
      epochs: 4,
      lr: 0.05,
      augment: false,
      threads: 1,
      ...over,
    });
  await train(cfg("restarted"));
  const run = new TrainingRun(path.join(root, "restarted"));
  assert.equal(run.stalledStartLog().length, STALL_CHECK_EPOCHS);
  assert.equal(run.record().config.backgroundWarmupEpochs, 1);
  assert.match(
    run.stalledStartLog()[1].warning ?? "",
    / 0\.1 % lesion start \(its batches held [0-9.]+ % lesion\) and a background warm-up of 1 epochs/,
  );
  await train(cfg("fresh", { lesionPrior: RESTART_LESION_STARTS[0], backgroundWarmupEpochs: 1 }));
  const fresh = weights(path.join(root, "fresh"));
  for (const [name, t] of weights(run.dir)) assert.deepEqual(t.toArray(), fresh.get(name)!.toArray(), name);
  // Resumed from the original command line: the recorded warm-up goes on, no settings conflict.
  const resumed = await train(cfg("restarted", { resume: true, epochs: 5 }));
  assert.deepEqual(
    resumed.log.map((e) => e.epoch),
    [4],
  );
  // A warm-up the user chose is kept; binary runs get none.
  assert.equal(restartBackgroundWarmup({ mode: "backsplit", epochs: 20, backgroundWarmupEpochs: 2 }), 2);
  assert.equal(restartBackgroundWarmup({ mode: "backsplit", epochs: 20 }), 5);
  assert.equal(restartBackgroundWarmup({ mode: "binary", epochs: 20 }), undefined);
});
