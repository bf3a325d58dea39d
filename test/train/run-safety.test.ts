// Training after interruptions and on bad numbers: a partial cache is refused (and never gets
// splits written from it), a killed run's temporary files are cleaned, splits written from a
// partial cache by an earlier version are repaired, a torn last log line does not stop --resume,
// and a NaN loss stops training with exit 1 instead of writing a model of NaNs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openDataset } from "../../src/dataset/layout.js";
import { fiveFoldSplits } from "../../src/dataset/splits.js";
import { setThreads } from "../../src/engine/index.js";
import type { Plans } from "../../src/plan/plan.js";
import { preprocessDataset } from "../../src/preprocess/preprocess.js";
import { train } from "../../src/train/trainer.js";
import { config, tinyDataset } from "../fixtures/training.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
setThreads(2);

const deadPid = () =>
  Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout);

test("a partial cache is refused without writing splits; a complete rerun cleans up and repairs old splits", async () => {
  const { root, preprocessed } = await tinyDataset();
  const cache = path.join(preprocessed, "backsplitPlans_3d_fullres");
  // As a preprocess killed after case a: b's marker and the configuration marker are missing, a temp file remains.
  rmSync(path.join(cache, ".complete.json"));
  rmSync(path.join(cache, "b.json"));
  const stale = `.b.data.f32.tmp-${deadPid()}-0badf00d`;
  writeFileSync(path.join(cache, stale), "half");
  await assert.rejects(
    train(config(root, preprocessed, { fold: 0, epochs: 1, out: path.join(root, "r0") })),
    (e: Error) => {
      assert.match(
        e.message,
        /preprocessing did not finish \(no \.complete\.json; 1 case\(s\) cached\): run `backsplit preprocess .* --config 3d_fullres`/,
      );
      return true;
    },
  );
  assert.ok(!existsSync(path.join(preprocessed, "splits_final.json")), "no splits from a partial cache");
  // What an earlier version wrote from that partial cache: every fold with train: [].
  writeFileSync(path.join(preprocessed, "splits_final.json"), JSON.stringify(fiveFoldSplits(["a"])));
  const plans = JSON.parse(readFileSync(path.join(preprocessed, "plans.json"), "utf8")) as Plans;
  await preprocessDataset(openDataset(root), plans, "3d_fullres", preprocessed, { workers: 1 });
  assert.ok(!readdirSync(cache).includes(stale), "the killed run's temporary file was removed");
  const { log } = await train(
    config(root, preprocessed, { fold: 0, epochs: 1, iterationsPerEpoch: 1, out: path.join(root, "r1") }),
  );
  assert.equal(log.length, 1);
  const splits = JSON.parse(readFileSync(path.join(preprocessed, "splits_final.json"), "utf8"));
  assert.deepEqual(splits, fiveFoldSplits(["a", "b"]), "splits rewritten for the complete cache");
  // A hand-made split naming a case that is not cached is refused, not trained on.
  writeFileSync(path.join(preprocessed, "splits_final.json"), JSON.stringify([{ train: ["a", "zz"], val: ["b"] }]));
  await assert.rejects(
    train(config(root, preprocessed, { fold: 0, epochs: 1, out: path.join(root, "r2") })),
    /splits_final\.json: names case\(s\) that are not in the preprocessed cache \(zz\)/,
  );
});

test("--resume tolerates a torn last line in log.jsonl and truncates it", async () => {
  const { root, preprocessed } = await tinyDataset();
  const out = path.join(root, "run");
  await train(config(root, preprocessed, { epochs: 3, iterationsPerEpoch: 1, stopAfterEpochs: 1, out }));
  const logFile = path.join(out, "log.jsonl");
  appendFileSync(logFile, '{"epoch":1,"lr":0.009,"trainLo'); // a kill in the middle of an append
  appendFileSync(path.join(out, "iterations.jsonl"), '{"epoch":1,"losses":[0.5'); // the same for the step log
  const { log } = await train(config(root, preprocessed, { epochs: 3, iterationsPerEpoch: 1, out, resume: true }));
  assert.deepEqual(
    log.map((e) => e.epoch),
    [1, 2],
  );
  const lines = readFileSync(logFile, "utf8").trimEnd().split("\n");
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).epoch),
    [0, 1, 2],
    "the torn line is gone, every line parses",
  );
  const steps = readFileSync(path.join(out, "iterations.jsonl"), "utf8").trimEnd().split("\n");
  assert.deepEqual(
    steps.map((l) => JSON.parse(l).epoch),
    [0, 1, 2],
    "iterations.jsonl follows the log",
  );
});

test("a NaN loss stops training with exit 1 and a message; no checkpoint of NaNs is written", async () => {
  const { root, preprocessed } = await tinyDataset();
  const cache = path.join(preprocessed, "backsplitPlans_3d_fullres");
  for (const id of ["a", "b"]) {
    const file = path.join(cache, `${id}.data.f32`);
    const data = new Float32Array(readFileSync(file).buffer.slice(0));
    data.fill(Number.NaN);
    writeFileSync(file, data);
  }
  const out = path.join(root, "nan-run");
  const r = spawnSync(
    process.execPath,
    [
      bin,
      "train",
      root,
      "--fold",
      "all",
      "--epochs",
      "2",
      "--iterations",
      "2",
      "--val-iterations",
      "1",
      "--batch",
      "2",
      "--patch",
      "8x16x16",
      "--features",
      "4,8,16",
      "--threads",
      "2",
      "--device",
      "cpu",
      "--out",
      out,
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /the training loss is NaN at epoch 0, iteration 0: training stopped/);
  assert.ok(
    !readdirSync(path.join(out, "checkpoints")).some((f) => f.endsWith(".safetensors")),
    "no checkpoint written",
  );
});
