// npm run bench -- twin-train [--data ms|ms-halves|brats] [--config 2d|3d] [--seeds 1,2,3] [--folds 0,1,all] [--epochs N]
//   [--iterations N] [--patch AxB[xC]] [--batch N] [--features A,B,…] [--arms ours,twin] [--out DIR]
//   [--device cpu|cuda] [--jobs N] [--deadline SECONDS]
//   [--mode binary|backsplit --sources atlas_tracts,atlas_cortex|subregions] [--lesion-share S] [--background-warmup E]
//   [--no-mirror]
// Our trainer next to an independent PyTorch twin (bench/py/train_twin.py: the same U-Net widths, patch,
// batch, iterations, SGD/Nesterov/poly recipe and lesion-patch share; CE + batch Dice; flips only; no deep
// supervision) on real data with held-out cases. The twin reads our preprocessed cache through np.memmap,
// so both see the same voxels. Each model predicts its held-out cases (ours: `predict` defaults, so with
// nnU-Net's test-time mirroring; the twin: final weights, no mirroring), and both are scored by our
// `evaluate`. Ours is also predicted and scored without mirroring (the row's `withoutMirroring`), so the
// trainers are compared alone too. One JSON line per arm, fold and seed (with the validation pseudo-Dice
// curve), then a summary (bench/lib/twin-summary.ts) with the ratios ours / twin (Dice, lesion F1, recall,
// false positives), their 95 % bootstrap interval over the pairs, overall and per fold, and the goal: every
// seed learns within the first quarter of the budget, voxel Dice ≥ the twin's, false-positive lesions ≤ the
// twin's; and the same summary with ours unmirrored (`withoutMirroring`). No postprocessing on either side.
// Each row and each arm's summary also count the test lesions found per size bin (`recallBySize`, evaluate's
// bins in mm³), to show which lesions a recall gap is made of.
// --no-mirror predicts ours only without mirroring (as every row before stop 50: 4× fewer passes in 2D, 8×
// in 3D). A row read back from OUT/rows keeps what it was predicted with (its `tiles`).
// --device cuda trains and predicts both arms on the GPU. --jobs N runs N trainings at once, each in its own
// process (a GPU is far from busy with one of these small networks; on CPU give each --threads 1); the order
// is seed by seed, so both arms of a pair finish close together. --deadline stops starting trainings after
// that many seconds (from the bench's start) and ends the running ones at it; the summary then covers the
// finished pairs. A finished (arm, fold, seed) is kept in OUT/rows and read back by the next call with the
// same OUT.
//   ms     Lesjak 2017 patients 07 and 19 (FLAIR, T1, T2): one trains, the other is tested, both ways.
//   brats  BraTS 2013 subset, enhancing tumour (label 4) as the lesion: 2 train / 2 test cases, both ways.
//   ms-halves  issue #14's set-up as near as two patients allow (two sources train, a third part is tested):
//          patient 19 cut at the mid-sagittal plane (MNI space) into its right and left hemispheres; patient
//          07 and one hemisphere train, the other hemisphere is tested, both ways. The test hemisphere's
//          patient is seen in training (its other half): easier than a new patient, the same for both arms.
// --folds all adds the set-up of `train --fold all` (issue #14's own: every case trains): both arms train on
// every case and validate and predict on the same cases. Its rows (fold "all") say whether and when each
// seed learns; their Dice and false positives measure the fit to the training cases, not generalisation.
// --mode backsplit trains both arms on BackSplit targets: the lesion plus the classes of --sources (ms,
// ms-halves: the MNI atlas sources atlas_tracts, atlas_cortex of bench/lib/ms-atlas.ts; brats: subregions,
// i.e. necrosis, oedema, non-enhancing tumour and the rest of the brain); the rest is one background class.
// The targets are ours (PatchTargets, written once per whole case for the twin to memmap); the twin trains K
// classes with CE over all of them and Dice on the lesion, as ours does with --dice-over lesion; both predict
// the lesion channel.
// --lesion-share S (default 1/3, nnU-Net's) sets both arms' share of lesion-centred patches.
// --lesion-prior P (ours only) starts every run of ours at a P lesion start (`train --lesion-prior`), so no run
// starts over: a stalled run's new start is the fresh run at its start bit for bit, so this measures the
// restart's starts on every seed, not only on those that stall.
// --background-warmup E (backsplit) gives both arms the background warm-up from their first step: E epochs
// on the lesion against the merged background (its CE: −log Σ_background p_k), then the split's weight
// rising linearly to 1 over E more epochs.
// Without it each arm trains its default: ours restarts a stalled run (with a warm-up), the twin trains on.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { openDataset } from "../src/dataset/layout.js";
import { evaluateFolders, summarize } from "../src/evaluate/evaluate.js";
import { cropVolume } from "../src/grid/crop-volume.js";
import { readVolume, writeVolume } from "../src/io/read.js";
import type { Volume } from "../src/io/volume.js";
import { workerSteps } from "../src/jobs/worker-steps.js";
import { fingerprintDataset } from "../src/plan/fingerprint.js";
import { type Plans, planExperiment, writePlans } from "../src/plan/plan.js";
import { DEFAULT_TILE_AVERAGE } from "../src/predict/tile-average.js";
import { COMPLETE_MARKER } from "../src/preprocess/cache-state.js";
import { readCachedMeta, readPatch } from "../src/preprocess/cache.js";
import { preprocessDataset } from "../src/preprocess/preprocess.js";
import { TrainingRun } from "../src/run/record.js";
import { PatchTargets, targetClasses, targetSpecFor } from "../src/train/targets.js";
import { badOption, parseArgs } from "./lib/args.js";
import { BRATS_CASES, BRATS_CHANNELS, BRATS_SOURCES, splitBratsLabels } from "./lib/brats-labels.js";
import { MS_ATLAS_SOURCES, addMsAtlasSources } from "./lib/ms-atlas.js";
import { SHARED } from "./lib/real-benchmark.js";
import { type SizeBinCount, twinSummary } from "./lib/twin-summary.js";
import { pickPython } from "./twin.js";

const { values } = parseArgs({
  options: {
    data: { type: "string", default: "ms" },
    config: { type: "string", default: "2d" },
    seeds: { type: "string", default: "1,2,3" },
    folds: { type: "string", default: "0,1" },
    epochs: { type: "string", default: "20" },
    iterations: { type: "string", default: "40" },
    patch: { type: "string" },
    batch: { type: "string" },
    features: { type: "string" },
    arms: { type: "string", default: "ours,twin" },
    threads: { type: "string", default: "2" },
    device: { type: "string", default: "cpu" },
    jobs: { type: "string", default: "1" },
    deadline: { type: "string" },
    out: { type: "string" },
    mode: { type: "string", default: "binary" },
    sources: { type: "string" },
    "lesion-share": { type: "string" },
    "background-warmup": { type: "string" },
    "lesion-prior": { type: "string" },
    "no-mirror": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

interface Setup {
  cases: string[];
  channels: string[];
  folds: { train: string[]; test: string[] }[];
  /** The background sources `--mode backsplit` may use, and how they are added to the dataset. */
  split: { sources: string[]; describe: string; add(root: string): Promise<void> };
  defaults: Record<"2d" | "3d", { patch: number[]; batch: number; features: number[] }>;
  prepare(root: string): Promise<void>;
}

const MS_PATIENTS = ["patient07", "patient19"];
const MS_CHANNELS = ["FLAIR", "T1", "T2"];
/** Each file of an MS patient in ../shared, and where the dataset keeps it as case `id`. */
const msFiles = (patient: string, id = patient): [string, string][] => {
  const dir = path.join(SHARED, "ms-lesjak2017", patient);
  return [
    ...MS_CHANNELS.map((ch, i): [string, string] => [path.join(dir, `${ch}.nii.gz`), `imagesTr/${id}_000${i}.nii.gz`]),
    [path.join(dir, "GOLD_STANDARD.nii.gz"), `labelsTr/${id}.nii.gz`],
  ];
};
/** Voxels x < HALF_X of a 182-wide MNI grid (LAS: x grows to the left) are the right hemisphere. */
const HALF_X = 91;
const MS_HALVES = { right: "patient19right", left: "patient19left" };
/** The slab x0 ≤ x ≤ x1 of a volume, in its place in space. */
const xRange = (v: Volume, x0: number, x1: number) =>
  cropVolume(v, { min: [x0, 0, 0], max: [x1, v.shape[1] - 1, v.shape[2] - 1] });

const MS_ATLAS_SPLIT = {
  sources: MS_ATLAS_SOURCES,
  describe: "atlas background sources (JHU tracts, HarvardOxford cortex)",
  add: addMsAtlasSources,
};

/**
 * BraTS's background source `subregions` (bench/lib/brats-labels.ts, as `bench -- brats-et`): necrosis,
 * oedema, non-enhancing tumour and the rest of the brain; outside the brain is unassigned (background).
 */
const BRATS_SPLIT = {
  sources: ["subregions"],
  describe: "background source 'subregions' (necrosis, oedema, non-enhancing tumour, the rest of the brain)",
  async add(root: string) {
    const brats = path.join(SHARED, "brats2015-subset");
    mkdirSync(path.join(root, "backgroundTr", "subregions"), { recursive: true });
    for (const id of BRATS_CASES) {
      const classes = await readVolume(path.join(brats, id, "OTMultiClass.nii.gz"));
      const brain = await readVolume(path.join(brats, id, "brainmask.nii.gz"));
      const { subregions } = splitBratsLabels(classes.data, brain.data);
      await writeVolume(path.join(root, "backgroundTr", "subregions", `${id}.nii.gz`), classes.withData(subregions));
    }
    const datasetJson = path.join(root, "dataset.json");
    const dataset = JSON.parse(readFileSync(datasetJson, "utf8"));
    dataset.background_sources = { subregions: BRATS_SOURCES.subregions };
    writeFileSync(datasetJson, `${JSON.stringify(dataset)}\n`);
  },
};

const SETUPS: Record<string, Setup> = {
  ms: {
    cases: MS_PATIENTS,
    channels: MS_CHANNELS,
    split: MS_ATLAS_SPLIT,
    folds: [
      { train: ["patient07"], test: ["patient19"] },
      { train: ["patient19"], test: ["patient07"] },
    ],
    defaults: {
      "2d": { patch: [96, 96], batch: 4, features: [8, 16, 32, 64] },
      "3d": { patch: [48, 48, 48], batch: 2, features: [8, 16, 32, 64] },
    },
    async prepare(root) {
      for (const p of MS_PATIENTS) for (const [from, to] of msFiles(p)) symlinkSync(from, path.join(root, to));
    },
  },
  "ms-halves": {
    cases: ["patient07", MS_HALVES.right, MS_HALVES.left],
    channels: MS_CHANNELS,
    split: MS_ATLAS_SPLIT,
    folds: [
      { train: ["patient07", MS_HALVES.left], test: [MS_HALVES.right] },
      { train: ["patient07", MS_HALVES.right], test: [MS_HALVES.left] },
    ],
    defaults: {
      "2d": { patch: [96, 96], batch: 4, features: [8, 16, 32, 64] },
      "3d": { patch: [48, 48, 48], batch: 2, features: [8, 16, 32, 64] },
    },
    async prepare(root) {
      for (const [from, to] of msFiles("patient07")) symlinkSync(from, path.join(root, to));
      const left = msFiles("patient19", MS_HALVES.left);
      for (const [k, [from, toRight]] of msFiles("patient19", MS_HALVES.right).entries()) {
        const volume = await readVolume(from);
        if (volume.shape[0] !== 2 * HALF_X || volume.orientation()[0] !== "L")
          throw new Error(
            `ms-halves expects patient 19 on the 182-wide MNI grid (LAS), got ${volume.shape.join("×")} ${volume.orientation()}`,
          );
        await writeVolume(path.join(root, toRight), xRange(volume, 0, HALF_X - 1));
        await writeVolume(path.join(root, left[k][1]), xRange(volume, HALF_X, 2 * HALF_X - 1));
      }
    },
  },
  brats: {
    cases: BRATS_CASES,
    channels: BRATS_CHANNELS,
    split: BRATS_SPLIT,
    folds: [
      { train: BRATS_CASES.slice(0, 2), test: BRATS_CASES.slice(2) },
      { train: BRATS_CASES.slice(2), test: BRATS_CASES.slice(0, 2) },
    ],
    defaults: {
      "2d": { patch: [96, 96], batch: 4, features: [8, 16, 32, 64] },
      "3d": { patch: [48, 48, 48], batch: 2, features: [8, 16, 32, 64] },
    },
    async prepare(root) {
      const brats = path.join(SHARED, "brats2015-subset");
      for (const id of BRATS_CASES) {
        this.channels.forEach((ch, i) =>
          symlinkSync(path.join(brats, id, `${ch}.nii.gz`), path.join(root, "imagesTr", `${id}_000${i}.nii.gz`)),
        );
        const classes = await readVolume(path.join(brats, id, "OTMultiClass.nii.gz"));
        const lesion = Uint8Array.from(classes.data, (v) => (v === 4 ? 1 : 0));
        await writeVolume(path.join(root, "labelsTr", `${id}.nii.gz`), classes.withData(lesion));
      }
    },
  },
};

const setup = SETUPS[String(values.data)];
if (!setup) throw new Error(`--data must be one of ${Object.keys(SETUPS).join(", ")}`);
const dims = values.config === "3d" ? 3 : 2;
const configuration = dims === 3 ? "3d_fullres" : "2d";
const defaults = setup.defaults[dims === 3 ? "3d" : "2d"];
const patch = values.patch ? String(values.patch).split("x").map(Number) : defaults.patch;
const batch = values.batch ? Number(values.batch) : defaults.batch;
const features = values.features ? String(values.features).split(",").map(Number) : defaults.features;
const epochs = Number(values.epochs);
const iterations = Number(values.iterations);
const seeds = String(values.seeds).split(",").map(Number);
type Fold = number | "all";
const folds: Fold[] = String(values.folds)
  .split(",")
  .map((f) => (f === "all" ? "all" : Number(f)));
for (const f of folds)
  if (f !== "all" && !(Number.isInteger(f) && f >= 0 && f < setup.folds.length))
    badOption(`--folds takes ${setup.folds.map((_, i) => i).join(", ")} or all, got ${values.folds}`);
/** A fold's cases; "all" trains and tests on every case, as `train --fold all`. */
const foldCases = (fold: Fold) => (fold === "all" ? { train: setup.cases, test: setup.cases } : setup.folds[fold]);
const arms = String(values.arms).split(",") as ("ours" | "twin")[];
for (const arm of arms) if (arm !== "ours" && arm !== "twin") badOption(`--arms takes ours and/or twin, got ${arm}`);
const threads = Number(values.threads);
const device = String(values.device);
if (device !== "cpu" && device !== "cuda") badOption(`--device must be cpu or cuda, got ${device}`);
const jobs = Number(values.jobs);
if (!Number.isInteger(jobs) || jobs < 1) badOption(`--jobs must be a whole number ≥ 1, got ${values.jobs}`);
const deadline = values.deadline === undefined ? Number.POSITIVE_INFINITY : Number(values.deadline);
if (!(deadline > 0)) badOption(`--deadline must be a number of seconds > 0, got ${values.deadline}`);
const mode = String(values.mode) as "binary" | "backsplit";
if (mode !== "binary" && mode !== "backsplit") badOption(`--mode must be binary or backsplit, got ${mode}`);
const sources = values.sources ? String(values.sources).split(",") : [];
if (mode === "backsplit") {
  const allowed = setup.split.sources;
  if (sources.length === 0 || sources.some((s) => !allowed.includes(s)))
    badOption(
      `--mode backsplit with --data ${values.data} takes --sources from ${allowed.join(", ")}, got ${values.sources ?? "none"}`,
    );
} else if (sources.length > 0) badOption("--sources needs --mode backsplit");
const lesionShare = values["lesion-share"] === undefined ? 1 / 3 : Number(values["lesion-share"]);
if (!(lesionShare >= 0 && lesionShare <= 1))
  badOption(`--lesion-share must lie in [0, 1], got ${values["lesion-share"]}`);
const backgroundWarmup = values["background-warmup"] === undefined ? 0 : Number(values["background-warmup"]);
if (!(backgroundWarmup >= 0)) badOption(`--background-warmup must be epochs ≥ 0, got ${values["background-warmup"]}`);
if (backgroundWarmup > 0 && mode !== "backsplit") badOption("--background-warmup needs --mode backsplit");
/** Ours only: a fixed lesion start for every run (then no run starts over), to compare the restart's starts. */
const lesionPrior = values["lesion-prior"] === undefined ? undefined : Number(values["lesion-prior"]);
if (lesionPrior !== undefined && !(lesionPrior >= 0 && lesionPrior < 1))
  badOption(`--lesion-prior must lie in [0, 1), got ${values["lesion-prior"]}`);
/** Ours predicts with nnU-Net's test-time mirroring (`predict`'s default) unless --no-mirror. */
const mirror = !values["no-mirror"];
const outSuffix = `${mode === "backsplit" ? `-split-${sources.join("+")}` : ""}${values["lesion-share"] === undefined ? "" : `-share${values["lesion-share"]}`}${backgroundWarmup > 0 ? `-warmup${backgroundWarmup}` : ""}${lesionPrior === undefined ? "" : `-prior${values["lesion-prior"]}`}`;
const out = path.resolve(
  String(values.out ?? path.join("out", `twin-train-${values.data}-${values.config}${outSuffix}`)),
);
const log = (m: string) => process.stderr.write(`[twin-train] ${m}\n`);

// The dataset, plan and cache (made once; reused by the next run).
const root = path.join(out, "dataset");
const preprocessed = path.join(root, "preprocessed");
if (!existsSync(path.join(root, "dataset.json"))) {
  for (const d of ["imagesTr", "labelsTr"]) mkdirSync(path.join(root, d), { recursive: true });
  await setup.prepare(root);
  writeFileSync(
    path.join(root, "dataset.json"),
    `${JSON.stringify({
      name: `twin-${values.data}`,
      channel_names: Object.fromEntries(setup.channels.map((c, i) => [String(i), c])),
      labels: { background: 0, lesion: 1 },
      numTraining: setup.cases.length,
      file_ending: ".nii.gz",
    })}\n`,
  );
  if (mode === "backsplit") {
    log(setup.split.describe);
    await setup.split.add(root);
  }
}
if (!existsSync(path.join(preprocessed, "plans.json"))) {
  const dataset = openDataset(root);
  writePlans(preprocessed, planExperiment(dataset, await fingerprintDataset(dataset, { workers: 1 }), {}));
}
const plans = JSON.parse(readFileSync(path.join(preprocessed, "plans.json"), "utf8")) as Plans;
const cache = path.join(preprocessed, plans.configurations[configuration].data_identifier);
if (!existsSync(path.join(cache, COMPLETE_MARKER))) {
  log(`preprocessing (${configuration})`);
  await preprocessDataset(openDataset(root), plans, configuration, preprocessed, { workers: 1 });
}
writeFileSync(
  path.join(preprocessed, "splits_final.json"),
  `${JSON.stringify(setup.folds.map((f) => ({ train: f.train, val: f.test })))}\n`,
);

/** A folder with the fold's test references only (evaluate scores every reference it finds). */
function referenceFolder(fold: Fold): string {
  const dir = path.join(out, "references", `fold${fold}`);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    for (const id of foldCases(fold).test)
      symlinkSync(path.join(root, "labelsTr", `${id}.nii.gz`), path.join(dir, `${id}.nii.gz`));
  }
  return dir;
}

function testImages(fold: Fold): string {
  const dir = path.join(out, "test-images", `fold${fold}`);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    for (const id of foldCases(fold).test)
      setup.channels.forEach((_, i) =>
        symlinkSync(path.join(root, "imagesTr", `${id}_000${i}.nii.gz`), path.join(dir, `${id}_000${i}.nii.gz`)),
      );
  }
  return dir;
}

interface Row {
  arm: string;
  fold: Fold;
  seed: number;
  /** The initialisation the model started from (ours: the run's record; the twin: PyTorch's default). */
  init: string;
  /** How the test cases' tiles were blended: weighting and what was averaged. */
  tiles: string;
  dice: number;
  lesionF1: number;
  lesionRecall: number;
  lesionPrecision: number;
  falsePositives: number;
  /** First epoch (0-based) with a validation pseudo-Dice above 0, or null. */
  firstLearningEpoch: number | null;
  learnedInFirstQuarter: boolean;
  /** Every epoch's validation pseudo-Dice from the first start: a restarted run's abandoned epochs first. */
  pseudoDice: number[];
  seconds: number;
  /** Ours: the epochs of a start abandoned after a stall (the run started over at a small lesion start). */
  restartedAfterEpochs?: number;
  /** Ours, predicted with mirroring: the same model's scores without it. */
  withoutMirroring?: LesionScores;
  /** The test lesions per size bin (evaluate's bins, mm³) and how many were found: where recall differs. */
  recallBySize?: SizeBinCount[];
}

type LesionScores = Pick<
  Row,
  "dice" | "lesionF1" | "lesionRecall" | "lesionPrecision" | "falsePositives" | "recallBySize"
>;

/** A prediction folder's lesion scores against the fold's references (our `evaluate`, class 1). */
async function lesionScores(predictions: string, fold: Fold): Promise<LesionScores> {
  const e = await evaluateFolders(predictions, referenceFolder(fold), { classes: [1] });
  const { means: m, sizeBins } = summarize(e).perClass["1"];
  return {
    dice: m.dice,
    lesionF1: m.f1,
    lesionRecall: m.recall,
    lesionPrecision: m.precision,
    falsePositives: m.falsePositives,
    // sizeBins pools the lesions of every case, so recall × count is a whole number of lesions.
    recallBySize: sizeBins.map((b) => ({ bin: b.bin, lesions: b.count, found: Math.round((b.recall ?? 0) * b.count) })),
  };
}

function printRow(row: Row): void {
  const options = {
    ...(mode === "backsplit" && { mode, sources }),
    ...(lesionShare !== 1 / 3 && { lesionShare }),
    ...(backgroundWarmup > 0 && { backgroundWarmup }),
    ...(lesionPrior !== undefined && { lesionPrior }),
  };
  console.log(
    JSON.stringify({
      bench: "twin-train",
      data: values.data,
      config: values.config,
      device,
      ...options,
      ...row,
    }),
  );
}

async function score(
  arm: string,
  fold: Fold,
  seed: number,
  init: string,
  tiles: string,
  predictions: string,
  curve: number[],
  seconds: number,
  restartedAfterEpochs?: number,
  withoutMirroring?: LesionScores,
) {
  const first = curve.findIndex((d) => d > 0);
  const row: Row = {
    arm,
    fold,
    seed,
    init,
    tiles,
    ...(await lesionScores(predictions, fold)),
    firstLearningEpoch: first < 0 ? null : first,
    learnedInFirstQuarter: first >= 0 && first < Math.ceil(epochs / 4),
    pseudoDice: curve.map((d) => Number(d.toFixed(4))),
    seconds: Number(seconds.toFixed(1)),
    ...(restartedAfterEpochs !== undefined && { restartedAfterEpochs }),
    ...(withoutMirroring && { withoutMirroring }),
  };
  writeFileSync(path.join(out, "rows", `${arm}-fold${fold}-seed${seed}.json`), `${JSON.stringify(row)}\n`);
  printRow(row);
  return row;
}

async function runOurs(fold: Fold, seed: number): Promise<Row> {
  const run = path.join(out, "runs", `ours-fold${fold}-seed${seed}`);
  const predictions = path.join(out, "predictions", `ours-fold${fold}-seed${seed}`);
  const started = performance.now();
  const steps = workerSteps(false);
  await steps.train(
    {
      dataset: root,
      preprocessed,
      configuration,
      mode,
      sources,
      fold,
      epochs,
      iterationsPerEpoch: iterations,
      validationIterations: 5,
      batchSize: batch,
      patchSize: patch,
      features,
      lr: 1e-2,
      device,
      seed,
      amp: false,
      threads,
      out: run,
      resume: false,
      augment: true,
      lesionShare,
      ...(backgroundWarmup > 0 && { backgroundWarmupEpochs: backgroundWarmup }),
      ...(lesionPrior !== undefined && { lesionPrior }),
      diceOver: "lesion",
    },
    `ours fold ${fold} seed ${seed}`,
  );
  const seconds = (performance.now() - started) / 1000;
  const predictOurs = (out: string, mirror: boolean) =>
    steps.predict(
      {
        runs: [run],
        input: testImages(fold),
        out,
        threads,
        options: { collapse: "prob", threshold: 0.5, mirror, device, saveProbabilities: false, saveClasses: false },
      },
      `ours fold ${fold} seed ${seed}${mirror ? "" : " (no mirroring)"}`,
    );
  await predictOurs(predictions, mirror);
  let withoutMirroring: LesionScores | undefined;
  if (mirror) {
    await predictOurs(`${predictions}-no-mirror`, false);
    withoutMirroring = await lesionScores(`${predictions}-no-mirror`, fold);
  }
  const training = new TrainingRun(run);
  const curve = training.logSinceFirstStart().map((l) => l.pseudoDice);
  const record = training.record();
  return score(
    "ours",
    fold,
    seed,
    record.init ?? "he",
    `gaussian ${DEFAULT_TILE_AVERAGE}${mirror ? " mirror" : ""}`,
    predictions,
    curve,
    seconds,
    record.config.restartedAfterEpochs,
    withoutMirroring,
  );
}

/** The twin writes raw masks (it needs no NIfTI library); they take the reference label's geometry here. */
async function twinMasksToNifti(predictions: string, fold: Fold): Promise<void> {
  for (const id of foldCases(fold).test) {
    const prefix = path.join(predictions, id);
    const { shapeXyz } = JSON.parse(readFileSync(`${prefix}.mask.json`, "utf8")) as { shapeXyz: number[] };
    const reference = await readVolume(path.join(root, "labelsTr", `${id}.nii.gz`));
    if (shapeXyz.join() !== reference.shape.join())
      throw new Error(`the twin's mask of ${id} is ${shapeXyz.join("×")}, the reference ${reference.shape.join("×")}`);
    const bytes = readFileSync(`${prefix}.mask.u8`);
    const mask = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    await writeVolume(path.join(predictions, `${id}.nii.gz`), reference.withData(mask));
    rmSync(`${prefix}.mask.u8`);
    rmSync(`${prefix}.mask.json`);
  }
}

/**
 * BackSplit targets of every case for the twin: ours (PatchTargets over the whole cached case), written
 * once as {case}.target.i16 ([z, y, x], x fastest, like the cache's seg) with classes.json.
 */
function twinTargets(): { targets: string; classes: number } {
  const dir = path.join(out, "targets");
  const spec = targetSpecFor(
    { mode: "backsplit", sources, unassigned: "background" },
    JSON.parse(readFileSync(path.join(root, "dataset.json"), "utf8")),
  );
  const classes = targetClasses(spec);
  const classValues = Object.values(classes).sort((a, b) => a - b);
  if (classes.lesion !== 1 || classValues.some((v, i) => v !== i))
    throw new Error(`the twin needs classes 0..K-1 with the lesion at 1, got ${JSON.stringify(classes)}`);
  if (!existsSync(path.join(dir, "classes.json"))) {
    mkdirSync(dir, { recursive: true });
    const patchTargets = new PatchTargets(spec, cache);
    for (const id of setup.cases) {
      const meta = readCachedMeta(cache, id);
      const shape = meta.shape.slice(1);
      const whole = readPatch(cache, meta, [0, 0, 0], shape, patchTargets.sourcesOf(meta));
      const target = patchTargets.target(meta, [0, 0, 0], shape, whole);
      writeFileSync(
        path.join(dir, `${id}.target.i16`),
        new Uint8Array(target.buffer, target.byteOffset, target.byteLength),
      );
    }
    writeFileSync(path.join(dir, "classes.json"), `${JSON.stringify(classes)}\n`);
  }
  return { targets: dir, classes: classValues.length };
}

async function runTwin(fold: Fold, seed: number): Promise<Row> {
  const predictions = path.join(out, "predictions", `twin-fold${fold}-seed${seed}`);
  const config = {
    ...(mode === "backsplit" ? twinTargets() : {}),
    lesion_share: lesionShare,
    background_warmup: backgroundWarmup,
    cache,
    train: foldCases(fold).train,
    test: foldCases(fold).test,
    dims,
    patch,
    batch,
    features,
    epochs,
    iterations,
    seed,
    lr: 1e-2,
    threads,
    device,
    out: predictions,
  };
  const python = pickPython(["numpy", "torch"]);
  const script = new URL("../../bench/py/train_twin.py", import.meta.url).pathname;
  const started = performance.now();
  const child = spawn(python, [script, JSON.stringify(config)], { stdio: ["ignore", "pipe", "inherit"] });
  // Stopped (--deadline, Ctrl-C): the twin stops too, instead of training on to its next print.
  const stop = (signal: NodeJS.Signals) => {
    child.kill(signal);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGTERM", stop).once("SIGINT", stop);
  const curve: number[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    const m = JSON.parse(line) as { epoch?: number; pseudoDice?: number };
    if (m.pseudoDice !== undefined) {
      curve.push(m.pseudoDice);
      log(`twin fold ${fold} seed ${seed} epoch ${m.epoch}: pseudo-Dice ${m.pseudoDice.toFixed(3)}`);
    }
  }
  const code = await new Promise<number>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.on("close", (c) => resolve(c ?? 1)),
  );
  process.off("SIGTERM", stop).off("SIGINT", stop);
  if (code !== 0) throw new Error(`the PyTorch twin exited with ${code}`);
  await twinMasksToNifti(predictions, fold);
  return score(
    "twin",
    fold,
    seed,
    "pytorch",
    "uniform probabilities",
    predictions,
    curve,
    (performance.now() - started) / 1000,
  );
}

mkdirSync(path.join(out, "rows"), { recursive: true });
log(
  `${values.data} ${configuration}: patch ${patch.join("×")}, batch ${batch}, features ${features.join(",")}, ${epochs}×${iterations} iterations, ${os.availableParallelism()} cores, ${threads} threads, ${device}${jobs > 1 ? `, ${jobs} jobs` : ""}`,
);
const units = seeds.flatMap((seed) => folds.flatMap((fold) => arms.map((arm) => ({ arm, fold, seed }))));
const savedRow = (u: { arm: string; fold: Fold; seed: number }) =>
  path.join(out, "rows", `${u.arm}-fold${u.fold}-seed${u.seed}.json`);
const rows: Row[] = [];
if (jobs > 1 || Number.isFinite(deadline)) {
  for (const fold of folds) {
    referenceFolder(fold);
    testImages(fold);
  }
  await runUnitsInChildren(units.filter((u) => !existsSync(savedRow(u))));
  for (const u of units) {
    if (!existsSync(savedRow(u))) continue;
    rows.push(JSON.parse(readFileSync(savedRow(u), "utf8")) as Row);
    printRow(rows[rows.length - 1]);
  }
} else {
  for (const u of units) {
    // Resumable: a finished (arm, fold, seed) is read back, not trained again.
    if (existsSync(savedRow(u))) rows.push(JSON.parse(readFileSync(savedRow(u), "utf8")) as Row);
    else rows.push(u.arm === "ours" ? await runOurs(u.fold, u.seed) : await runTwin(u.fold, u.seed));
  }
}

/** Each unit in its own process (this script, one seed, fold and arm); at most `jobs` at once, until the deadline. */
async function runUnitsInChildren(todo: { arm: string; fold: Fold; seed: number }[]): Promise<void> {
  // The deadline counts from this process's start (performance.now()), preparation included.
  const elapsed = () => performance.now() / 1000;
  const own = ["--seeds", "--folds", "--arms", "--jobs", "--deadline", "--json", "--out"];
  const passed: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].split("=")[0];
    if (own.includes(name)) {
      if (!argv[i].includes("=") && name !== "--json") i++;
    } else passed.push(argv[i]);
  }
  mkdirSync(path.join(out, "logs"), { recursive: true });
  const running = new Set<ReturnType<typeof spawn>>();
  const failed: string[] = [];
  let next = 0;
  await new Promise<void>((resolve) => {
    const timer = Number.isFinite(deadline)
      ? setTimeout(
          () => {
            for (const child of running) child.kill("SIGTERM");
          },
          Math.max(0, deadline * 1000 - performance.now()),
        )
      : undefined;
    const launch = () => {
      while (running.size < jobs && next < todo.length && elapsed() < deadline) {
        const u = todo[next++];
        const name = `${u.arm}-fold${u.fold}-seed${u.seed}`;
        const logFile = createWriteStream(path.join(out, "logs", `${name}.log`));
        const child = spawn(
          process.execPath,
          [
            ...process.execArgv,
            process.argv[1],
            ...passed,
            "--out",
            out,
            "--seeds",
            String(u.seed),
            "--folds",
            String(u.fold),
            "--arms",
            u.arm,
          ],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        child.stdout?.pipe(logFile, { end: false });
        child.stderr?.pipe(logFile, { end: false });
        running.add(child);
        log(`started ${name} (${running.size} running, ${elapsed().toFixed(0)} s)`);
        child.on("close", (code, signal) => {
          running.delete(child);
          logFile.end();
          if (code === 0 && existsSync(savedRow(u))) log(`finished ${name} (${elapsed().toFixed(0)} s)`);
          else {
            failed.push(name);
            log(`FAILED ${name}: ${signal ?? `exit ${code}`} (log: ${path.join(out, "logs", `${name}.log`)})`);
          }
          launch();
        });
      }
      if (running.size === 0) {
        if (timer) clearTimeout(timer);
        resolve();
      }
    };
    launch();
  });
  const skipped = todo.length - next;
  if (failed.length > 0 || skipped > 0)
    log(`${failed.length} training(s) failed or were stopped, ${skipped} not started before the deadline`);
}

const summary: Record<string, unknown> = {
  bench: "twin-train",
  summary: true,
  data: values.data,
  config: values.config,
  machine: `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores`,
  budget: `${epochs}×${iterations}, batch ${batch}, patch ${patch.join("×")}, features ${features.join(",")}`,
  ...(mode === "backsplit" && { mode, sources }),
  ...(lesionShare !== 1 / 3 && { lesionShare }),
  ...(backgroundWarmup > 0 && { backgroundWarmup }),
  ...(lesionPrior !== undefined && { lesionPrior }),
  device,
  ...twinSummary(rows, arms),
  ...mirroringSummary(rows),
};
console.log(JSON.stringify(summary));

/**
 * How many of ours' rows were predicted with mirroring, and the summary with ours unmirrored (each mirrored
 * row's `withoutMirroring`; rows predicted without mirroring as they are): the trainers alone.
 */
function mirroringSummary(rows: Row[]): Record<string, unknown> {
  const ours = rows.filter((r) => r.arm === "ours");
  const mirrored = ours.filter((r) => r.tiles.endsWith(" mirror"));
  if (mirrored.length === 0) return { oursMirrored: `0 of ${ours.length}` };
  const unmirrored = rows.map((r) => (r.withoutMirroring ? { ...r, ...r.withoutMirroring } : r));
  return { oursMirrored: `${mirrored.length} of ${ours.length}`, withoutMirroring: twinSummary(unmirrored, arms) };
}
