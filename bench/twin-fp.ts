// npm run bench -- twin-fp --from DIR [--fold 0|1|all] [--seeds 1,2,3] [--thresholds 0.5,0.6,0.7,0.8,0.9]
//   [--retrain same,noaug,perchannel,largerpatch,rot180,nospatial,nointensity,nods,torchinit,torchheads,torchbody,heinit,
//              noprior,prior,prior5,restart,centre,voxel,warmup,dsmax,A+B]
//   [--tilings gaussian,uniform,gaussian-logits,gaussian-logits-mirror|none] [--retrain-tiling gaussian-logits] [--threads 1] [--json]
// Where do our false-positive lesions come from? Takes a finished `twin-train` output (DIR) and, for our
// models of one fold, separates the parts of prediction from training:
//   tiling     re-predicts with Gaussian (ours, nnU-Net's) and uniform (the twin's) tile weighting, and
//              with Gaussian weights on averaged logits (nnU-Net v2's) instead of probabilities, and
//              (gaussian-logits-mirror, with --tilings) with nnU-Net's test-time mirroring on top;
//   threshold  counts false positives and Dice at several probability thresholds of each;
//   training   --retrain retrains each seed with the same budget and one change: same (no change: the base
//              run's settings with this checkout's code, to measure a code change), noaug (no augmentation),
//              perchannel (nnU-Net v2's per-channel intensity transforms), largerpatch (rotation and scaling
//              of nnU-Net's larger initial patch, cropped to the patch after), rot180 (rotations up to ±180°,
//              nnU-Net's 2D range, instead of ±30°), nospatial (no rotation or
//              scaling; mirroring and intensity transforms kept), nointensity (only rotation, scaling and
//              mirroring), nods (no deep supervision), dsmax (deep supervision's coarse targets keep every
//              lesion: a block with a lesion voxel is lesion, instead of nearest downsampling), torchinit
//              (PyTorch's default layer initialisation, as the
//              twin, instead of nnU-Net's He; torchheads / torchbody: only on the segmentation heads / on
//              every layer but them; heinit: nnU-Net's He, for a base run that started otherwise), noprior /
//              prior / prior5 (heads' biases as drawn / set to a 1 % / 5 % lesion start), restart (the
//              trainer's default: an even start that starts over when still at pseudo-Dice 0 after two
//              epochs, at 1 % or 0.1 % by its batches' lesion share; the abandoned epochs count in firstLearningEpoch), centre (lesion patches centred on
//              the lesion's centre, as the twin, instead of a uniform point of its bounding box), voxel
//              (nnU-Net's lesion-voxel sampling instead of per instance), warmup (a one-epoch linear
//              learning-rate warm-up); changes
//              joined by + combine (torchbody+largerpatch). Every other setting, the
//              initialisation and lesion prior included, is the base run's.
//              A retrained model is predicted with --retrain-tiling (default: gaussian-logits, `predict`'s
//              default). --tilings none skips re-predicting the base models, so that two processes can
//              retrain different changes from the same DIR without writing the same folders.
// Every variant is scored by our `evaluate`, as the twin bench scores. One JSON line per variant, seed and
// threshold; then the twin's rows of the same fold for comparison.
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { evaluateFolders, summarize } from "../src/evaluate/evaluate.js";
import { readVolume, writeVolume } from "../src/io/read.js";
import { workerSteps } from "../src/jobs/worker-steps.js";
import { type TrainingRecord, TrainingRun } from "../src/run/record.js";
import type { TrainConfig } from "../src/train/index.js";
import { badOption, parseArgs } from "./lib/args.js";
import { type RetrainChange, retrainChange } from "./lib/retrain-changes.js";

const { values } = parseArgs({
  options: {
    from: { type: "string" },
    fold: { type: "string", default: "0" },
    seeds: { type: "string", default: "1,2,3" },
    thresholds: { type: "string", default: "0.5,0.6,0.7,0.8,0.9" },
    retrain: { type: "string" },
    tilings: { type: "string", default: "gaussian,uniform,gaussian-logits" },
    "retrain-tiling": { type: "string", default: "gaussian-logits" },
    threads: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
if (!values.from || !existsSync(path.join(values.from, "runs")))
  badOption("--from must name a finished `bench -- twin-train` output folder (with runs/)");
/** Each --retrain name with the settings it changes; a name that is no change exits 2 before any work. */
const retrain = (values.retrain ?? "")
  .split(",")
  .filter(Boolean)
  .map((name): [string, RetrainChange] => {
    try {
      return [name, retrainChange(name)];
    } catch (e) {
      badOption((e as Error).message);
    }
  });
const from = values.from;
// "all": a `twin-train --folds all` output, whose runs trained and predict on every case.
const fold = values.fold === "all" ? "all" : Number(values.fold);
if (fold !== "all" && !(Number.isInteger(fold) && fold >= 0))
  badOption(`--fold is a fold number or all, not "${values.fold}"`);
if (!existsSync(path.join(from, "test-images", `fold${fold}`)))
  badOption(`${from} holds no fold ${fold} (no test-images/fold${fold}): train it with twin-train first`);
const seeds = values.seeds.split(",").map(Number);
const thresholds = values.thresholds.split(",").map(Number);
const threads = Number(values.threads);
const out = path.join(from, "fp-study");
const testImages = path.join(from, "test-images", `fold${fold}`);
const references = path.join(from, "references", `fold${fold}`);
const steps = workerSteps(false);

type Tiling = { tileWeighting: "gaussian" | "uniform"; tileAverage: "probabilities" | "logits"; mirror?: boolean };
const TILINGS: Record<string, Tiling> = {
  gaussian: { tileWeighting: "gaussian", tileAverage: "probabilities" },
  uniform: { tileWeighting: "uniform", tileAverage: "probabilities" },
  "gaussian-logits": { tileWeighting: "gaussian", tileAverage: "logits" },
  // nnU-Net's default prediction: test-time mirroring over every axis (2^dims passes per tile).
  "gaussian-logits-mirror": { tileWeighting: "gaussian", tileAverage: "logits", mirror: true },
};

const tilings = values.tilings === "none" ? [] : values.tilings.split(",");
for (const t of [...tilings, values["retrain-tiling"]])
  if (!(t in TILINGS)) badOption(`a tiling is one of ${Object.keys(TILINGS).join(", ")}, not "${t}"`);
const retrainTiling = values["retrain-tiling"];

async function predict(run: string, folder: string, tiling: Tiling, label: string) {
  if (existsSync(path.join(folder, "prediction.json"))) return;
  await steps.predict(
    {
      runs: [run],
      input: testImages,
      out: folder,
      threads,
      options: {
        collapse: "prob",
        threshold: 0.5,
        mirror: false,
        device: "cpu",
        saveProbabilities: true,
        saveClasses: false,
        ...tiling,
      },
    },
    label,
  );
}

/** Scores the probability maps of `folder` at each threshold (masks written beside them, then `evaluate`). */
async function sweep(variant: string, seed: number, folder: string, firstLearningEpoch?: number | null) {
  const maskFolder = (t: number) => `${folder}-t${t}`;
  for (const t of thresholds) mkdirSync(maskFolder(t), { recursive: true });
  for (const c of readdirProbabilities(folder)) {
    const p = await readVolume(path.join(folder, `${c}_prob.nii.gz`)); // read once, thresholded at each t
    for (const t of thresholds)
      await writeVolume(
        path.join(maskFolder(t), `${c}.nii.gz`),
        p.withData(Uint8Array.from(p.data, (v) => (v > t ? 1 : 0))),
      );
  }
  for (const t of thresholds) {
    const m = summarize(await evaluateFolders(maskFolder(t), references, { classes: [1] })).perClass["1"].means;
    emit(variant, seed, t, {
      dice: m.dice,
      lesionF1: m.f1,
      lesionRecall: m.recall,
      falsePositives: m.falsePositives,
      firstLearningEpoch,
    });
  }
}

/** One JSON line (or a readable one) per variant, seed and threshold. */
function emit(
  variant: string,
  seed: number,
  threshold: number,
  m: {
    dice: number;
    lesionF1: number;
    lesionRecall: number;
    falsePositives: number;
    firstLearningEpoch?: number | null;
  },
) {
  const round = (v: number) => Number(v.toFixed(4));
  const row = {
    bench: "twin-fp",
    variant,
    fold,
    seed,
    threshold,
    dice: round(m.dice),
    lesionF1: round(m.lesionF1),
    lesionRecall: round(m.lesionRecall),
    falsePositives: m.falsePositives,
    // A retrained model's first epoch with validation pseudo-Dice > 0 (null: never), as twin-train reports.
    ...(m.firstLearningEpoch !== undefined && { firstLearningEpoch: m.firstLearningEpoch }),
  };
  console.log(
    values.json
      ? JSON.stringify(row)
      : `${variant} seed ${seed} t ${threshold}: Dice ${row.dice} F1 ${row.lesionF1} FP/case ${row.falsePositives}`,
  );
}

function readdirProbabilities(folder: string): string[] {
  const cases = readdirSync(folder)
    .filter((f) => f.endsWith("_prob.nii.gz"))
    .map((f) => f.replace(/_prob\.nii\.gz$/, ""));
  if (cases.length === 0) throw new Error(`${folder} holds no probability maps (*_prob.nii.gz)`);
  return cases.sort();
}

for (const seed of seeds) {
  const run = path.join(from, "runs", `ours-fold${fold}-seed${seed}`);
  for (const name of tilings) {
    const tiling = TILINGS[name];
    const folder = path.join(out, `${name}-fold${fold}-seed${seed}`);
    await predict(run, folder, tiling, `${name} seed ${seed}`);
    await sweep(`ours-${name}`, seed, folder);
  }
  for (const [change, settings] of retrain) {
    const base = JSON.parse(readFileSync(path.join(run, "training.json"), "utf8")) as TrainingRecord;
    const retrained = path.join(out, "runs", `${change}-fold${fold}-seed${seed}`);
    const config: TrainConfig = {
      ...base.config,
      // One change from the base run: its initialisation too (records older than `init` trained with He,
      // older than `lesionPrior` with the biases the initialisation drew).
      init: base.init ?? base.config.init ?? "he",
      lesionPrior: base.lesionPrior ?? base.config.lesionPrior ?? 0,
      ...settings,
      out: retrained,
      threads,
      resume: existsSync(retrained),
    };
    await steps.train(config, `${change} seed ${seed}`);
    const folder = path.join(out, `${change}-${retrainTiling}-fold${fold}-seed${seed}`);
    await predict(retrained, folder, TILINGS[retrainTiling], `${change} seed ${seed}`);
    const first = new TrainingRun(retrained).logSinceFirstStart().findIndex((l) => l.pseudoDice > 0);
    await sweep(`ours-${change}-${retrainTiling}`, seed, folder, first < 0 ? null : first);
  }
  const twin = path.join(from, "rows", `twin-fold${fold}-seed${seed}.json`);
  // The twin's own row (uniform tiles, threshold 0.5), for comparison.
  if (existsSync(twin)) emit("twin-uniform", seed, 0.5, JSON.parse(readFileSync(twin, "utf8")));
}
