// The progress of a training on a worker thread (demo, experiment and the benchmarks) counts a stalled
// start's epochs: the JSON lines end at done == total, the budget plus the two abandoned epochs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { STALL_CHECK_EPOCHS } from "../../src/train/trainer.js";
import { config, stallingDataset } from "../fixtures/training.js";

const stepsModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/jobs/worker-steps.js");

test("a restarted training's progress grows by the abandoned epochs and ends full", async () => {
  const { root, preprocessed } = await stallingDataset();
  const cfg = config(root, preprocessed, { epochs: 3, lr: 0.05, augment: false, threads: 1 });
  // A child process, because the JSON lines go to stdout, which the test runner owns here.
  const script = `import { workerSteps } from ${JSON.stringify(pathToFileURL(stepsModule).href)};
await workerSteps(true).train(JSON.parse(process.argv[2]), "stall");`;
  const scriptFile = path.join(root, "train-on-worker.mjs"); // a file: --input-type would reach the worker too
  writeFileSync(scriptFile, script);
  const child = spawnSync(process.execPath, [scriptFile, JSON.stringify(cfg)], {
    encoding: "utf8",
  });
  assert.equal(child.status, 0, child.stderr);
  const events = child.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { event: string; done?: number; total?: number; message?: string });
  const progress = events.filter((e) => e.event === "progress");
  const perEpoch = cfg.iterationsPerEpoch;
  assert.equal(progress[0].total, cfg.epochs * perEpoch, "the planned budget first");
  const last = progress[progress.length - 1];
  assert.equal(last.done, (cfg.epochs + STALL_CHECK_EPOCHS) * perEpoch, "every step is counted");
  assert.equal(last.total, last.done, "the bar ends full, not past its end");
  assert.ok(progress.every((e) => (e.done ?? 0) <= (e.total ?? 0)));
  assert.ok(events.some((e) => e.event === "warning" && /starting over/.test(e.message ?? "")));
});
