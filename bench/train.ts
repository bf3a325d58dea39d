// npm run bench -- train [--iterations 10] [--device cpu] [--threads 2] [--amp] [--patch 48x80x64] [--batch 2]
// One training iteration (loading + augmentation + step) of the planned U-Net on the two MS cases,
// and the share of it spent waiting for data. Prepares the dataset (symlinks, plan, preprocess) in a
// temporary folder from ../shared/data.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { openDataset } from "../src/dataset/layout.js";
import { fingerprintDataset } from "../src/plan/fingerprint.js";
import { planExperiment, writePlans } from "../src/plan/plan.js";
import { preprocessDataset } from "../src/preprocess/preprocess.js";
import { train } from "../src/train/trainer.js";

const { values } = parseArgs({
  options: {
    iterations: { type: "string", default: "10" },
    device: { type: "string", default: "cpu" },
    threads: { type: "string", default: "2" },
    amp: { type: "boolean", default: false },
    patch: { type: "string" },
    batch: { type: "string", default: "2" },
    data: { type: "string", default: path.resolve("..", "shared", "data", "ms-lesjak2017") },
  },
});
const root = mkdtempSync(path.join(os.tmpdir(), "bs-bench-train-"));
try {
  mkdirSync(path.join(root, "imagesTr"));
  mkdirSync(path.join(root, "labelsTr"));
  for (const p of ["patient07", "patient19"]) {
    symlinkSync(path.join(String(values.data), p, "FLAIR.nii.gz"), path.join(root, "imagesTr", `${p}_0000.nii.gz`));
    symlinkSync(path.join(String(values.data), p, "GOLD_STANDARD.nii.gz"), path.join(root, "labelsTr", `${p}.nii.gz`));
  }
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({ channel_names: { "0": "FLAIR" }, labels: { background: 0, lesion: 1 }, file_ending: ".nii.gz" }),
  );
  const dataset = openDataset(root);
  const plans = planExperiment(dataset, await fingerprintDataset(dataset), { device: String(values.device) });
  const preprocessed = path.join(root, "preprocessed");
  writePlans(preprocessed, plans);
  await preprocessDataset(dataset, plans, "3d_fullres", preprocessed);
  const cfg = plans.configurations["3d_fullres"];
  const iterations = Number(values.iterations);
  const patch = values.patch ? String(values.patch).split("x").map(Number) : cfg.patch_size;
  const started = performance.now();
  const { log } = await train({
    dataset: root,
    preprocessed,
    configuration: "3d_fullres",
    mode: "binary",
    sources: [],
    fold: "all",
    epochs: 2,
    iterationsPerEpoch: iterations,
    validationIterations: 1,
    batchSize: Number(values.batch),
    patchSize: patch,
    lr: 1e-2,
    device: String(values.device),
    seed: 0,
    amp: Boolean(values.amp),
    threads: Number(values.threads),
    out: path.join(root, "run"),
    resume: false,
    augment: true,
    lesionShare: 1 / 3,
    diceOver: "all",
  });
  // The second epoch: warm caches and allocator.
  const epoch = log[1];
  console.log(
    JSON.stringify({
      bench: "train",
      device: values.device,
      threads: Number(values.threads),
      amp: Boolean(values.amp),
      patch,
      batch: Number(values.batch),
      features: cfg.architecture.features,
      secondsPerIteration: epoch.seconds / iterations,
      dataWaitShare: epoch.dataWaitShare,
      totalSeconds: (performance.now() - started) / 1000,
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
