// Training end to end on tiny synthetic cases: binary and BackSplit overfit, exact resume, splits.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { loadSafetensors, setThreads } from "../../src/engine/index.js";
import { fiveFoldSplits, train } from "../../src/train/trainer.js";
import { config, tinyDataset } from "../fixtures/training.js";

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
