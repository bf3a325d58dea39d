// npm run bench -- train [--iterations 10] [--device cpu] [--threads 2] [--amp] [--patch 48x80x64] [--batch 2]
//   [--dataset ms|brats] [--data DIR] [--features 32,64,128,256,320] [--deterministic]
// One training iteration (loading + augmentation + step) of the planned U-Net and the share of it spent
// waiting for data. ms: the two MS cases (FLAIR; ../shared/data/ms-lesjak2017). brats: the four BraTS
// cases (FLAIR + T1c, necrosis as the lesion; $BACKSPLIT_SHARED_DATA or ../shared/data, brats2015-subset,
// or the cropped copy that scripts/gpu-stage.sh writes). Prepares the dataset (plan, preprocess) in a
// temporary folder. With --deterministic (#20) the same training also runs twice with deterministic
// algorithms (cuDNN without autotuning): the line adds their time per iteration, the ratio to the default,
// and whether the two deterministic runs ended with the same weights (the digest of log.jsonl).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDataset } from "../src/dataset/layout.js";
import { readVolume, writeVolume } from "../src/io/read.js";
import { fingerprintDataset } from "../src/plan/fingerprint.js";
import { planExperiment, writePlans } from "../src/plan/plan.js";
import { preprocessDataset } from "../src/preprocess/preprocess.js";
import { train } from "../src/train/trainer.js";
import { parseArgs } from "./lib/args.js";
import { SHARED } from "./lib/real-benchmark.js";

const DATASETS = {
  ms: { folder: "ms-lesjak2017", cases: ["patient07", "patient19"] },
  brats: {
    folder: "brats2015-subset",
    cases: ["brats_2013_pat0003_1", "brats_2013_pat0004_1", "brats_2013_pat0005_1", "brats_2013_pat0006_1"],
  },
} as const;

const { values } = parseArgs({
  options: {
    iterations: { type: "string", default: "10" },
    device: { type: "string", default: "cpu" },
    threads: { type: "string", default: "2" },
    amp: { type: "boolean", default: false },
    patch: { type: "string" },
    batch: { type: "string", default: "2" },
    dataset: { type: "string", default: "ms" },
    data: { type: "string" },
    features: { type: "string" },
    deterministic: { type: "boolean", default: false },
  },
});
const which = String(values.dataset) as keyof typeof DATASETS;
if (!(which in DATASETS)) throw new Error(`--dataset must be one of ${Object.keys(DATASETS).join(", ")}`);
const data = path.resolve(values.data ?? path.join(SHARED, DATASETS[which].folder));
const root = mkdtempSync(path.join(os.tmpdir(), "bs-bench-train-"));
try {
  mkdirSync(path.join(root, "imagesTr"));
  mkdirSync(path.join(root, "labelsTr"));
  if (which === "ms") {
    for (const p of DATASETS.ms.cases) {
      symlinkSync(path.join(data, p, "FLAIR.nii.gz"), path.join(root, "imagesTr", `${p}_0000.nii.gz`));
      symlinkSync(path.join(data, p, "GOLD_STANDARD.nii.gz"), path.join(root, "labelsTr", `${p}.nii.gz`));
    }
  } else {
    for (const id of DATASETS.brats.cases) {
      ["Flair_subtrMeanDivStd", "T1c_subtrMeanDivStd"].forEach((ch, i) =>
        symlinkSync(path.join(data, id, `${ch}.nii.gz`), path.join(root, "imagesTr", `${id}_000${i}.nii.gz`)),
      );
      // Necrosis (OTMultiClass 1) as the lesion, as bench/brats.ts's binary arm.
      const classes = await readVolume(path.join(data, id, "OTMultiClass.nii.gz"));
      const lesion = new Uint8Array(classes.voxelCount);
      for (let i = 0; i < lesion.length; i++) lesion[i] = classes.data[i] === 1 ? 1 : 0;
      await writeVolume(path.join(root, "labelsTr", `${id}.nii.gz`), classes.withData(lesion));
    }
  }
  const channels = which === "ms" ? { "0": "FLAIR" } : { "0": "FLAIR", "1": "T1c" };
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({ channel_names: channels, labels: { background: 0, lesion: 1 }, file_ending: ".nii.gz" }),
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
  const trainOnce = (out: string, deterministic: boolean) =>
    train({
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
      features: values.features ? String(values.features).split(",").map(Number) : undefined,
      device: String(values.device),
      seed: 0,
      amp: Boolean(values.amp),
      threads: Number(values.threads),
      out: path.join(root, out),
      deterministic,
      resume: false,
      augment: true,
      lesionShare: 1 / 3,
      diceOver: "all",
    });
  const { log } = await trainOnce("run", false);
  const totalSeconds = (performance.now() - started) / 1000;
  // The second epoch: warm caches and allocator.
  const epoch = log[1];
  let deterministic = {};
  if (values.deterministic) {
    const [a, b] = [(await trainOnce("deterministic-a", true)).log, (await trainOnce("deterministic-b", true)).log];
    const perIteration = a[1].seconds / iterations; // the same epoch as the default's
    deterministic = {
      deterministicSecondsPerIteration: perIteration,
      deterministicRatio: perIteration / (epoch.seconds / iterations),
      deterministicRepeatsIdentical: a.every((e, i) => e.weightsDigest === b[i].weightsDigest),
      defaultEqualsDeterministic: log.every((e, i) => e.weightsDigest === a[i].weightsDigest),
    };
  }
  console.log(
    JSON.stringify({
      bench: "train",
      dataset: which,
      device: values.device,
      threads: Number(values.threads),
      amp: Boolean(values.amp),
      patch,
      batch: Number(values.batch),
      features: values.features ? String(values.features).split(",").map(Number) : cfg.architecture.features,
      secondsPerIteration: epoch.seconds / iterations,
      dataWaitShare: epoch.dataWaitShare,
      totalSeconds,
      ...deterministic,
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
