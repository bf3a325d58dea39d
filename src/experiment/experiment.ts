// `backsplit experiment`: binary and BackSplit trained with the same settings on the same folds and
// seeds, each fold's validation cases predicted by the model that did not see them, both arms
// evaluated on the pooled cross-validation predictions and compared case by case.
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import type { Dataset } from "../dataset/layout.js";
import { fiveFoldSplits, readSplits, splitsFile as splitsFileOf } from "../dataset/splits.js";
import { type Comparison, type Evaluation, compareEvaluations, evaluateFolders } from "../evaluate/evaluate.js";
import { determinePostprocessing, postprocessingRecord } from "../evaluate/postprocessing.js";
import type { PredictJob, PredictOptions } from "../predict/predict.js";
import { DEFAULT_TILE_AVERAGE } from "../predict/tile-average.js";
import { writeReport } from "../report/report.js";
import type { TrainConfig } from "../run/config.js";
import { TrainingRun } from "../run/record.js";
import { isMainProcess } from "../train/launch-env.js";
import { writeFileAtomicSync } from "../util/atomic.js";

export interface ExperimentConfig {
  dataset: Dataset;
  preprocessed: string;
  out: string;
  /** Background sources of the BackSplit arm, in priority order (one arm named "backsplit"). */
  sources: string[];
  /** Several BackSplit arms instead, each with its own sources; each is compared with binary. */
  arms?: ExperimentArm[];
  folds: number[];
  seeds: number[];
  /** Everything else of the training configuration, shared by both arms. */
  train: Omit<TrainConfig, "dataset" | "preprocessed" | "mode" | "sources" | "fold" | "seed" | "out" | "resume">;
  predict: PredictOptions;
  /** Each training data-parallel over this many local processes (1: one worker thread). */
  nproc?: number;
}

/** A BackSplit arm: its background sources in priority order, and what voxels no source labels become. */
export interface ExperimentArm {
  name: string;
  sources: string[];
  /** Default: the training configuration's (a background class of its own). */
  unassigned?: TrainConfig["unassigned"];
}

export interface ExperimentSteps {
  train(config: TrainConfig, label: string): Promise<void>;
  predict(job: PredictJob, label: string): Promise<void>;
}

export interface ExperimentResult {
  evaluations: Record<string, Evaluation>;
  comparisons: Comparison[];
  /** The HTML report of the first seed's comparison, and its Markdown summary. */
  report: { html: string; markdown: string };
}

function link(target: string, at: string): void {
  if (existsSync(at)) return;
  try {
    symlinkSync(path.resolve(target), at);
  } catch (error) {
    // Several processes (the ranks of a launcher, a job array) may make the same link at once.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/** One training of the experiment (an arm × fold × seed) and the prediction of its fold's held-out cases. */
export interface ExperimentJob {
  index: number;
  /** e.g. "backsplit_seed1 fold 0". */
  label: string;
  train: TrainConfig;
  predict: PredictJob;
}

function variantsOf(c: ExperimentConfig) {
  return [
    { name: "binary", mode: "binary" as const, sources: [] as string[], unassigned: undefined },
    ...(c.arms ?? [{ name: "backsplit", sources: c.sources }]).map((a: ExperimentArm) => ({
      ...a,
      mode: "backsplit" as const,
    })),
  ];
}

function armsOf(c: ExperimentConfig) {
  return variantsOf(c).flatMap((v) => c.seeds.map((seed) => ({ ...v, seed, name: `${v.name}_seed${seed}` })));
}

function splitsOf(c: ExperimentConfig): { train: string[]; val: string[] }[] {
  const ids = c.dataset.training.filter((k) => k.label).map((k) => k.id);
  const splitsFile = splitsFileOf(c.preprocessed);
  const splits = existsSync(splitsFile) ? readSplits(splitsFile) : fiveFoldSplits(ids);
  if (!existsSync(splitsFile)) writeFileAtomicSync(splitsFile, `${JSON.stringify(splits, null, 2)}\n`);
  return splits;
}

/**
 * Every job of the experiment in a fixed order (fold, then arm, then seed), with the fold's held-out
 * images and references linked under the experiment folder. The same list on every machine that reads
 * the same plan, so job K means the same run everywhere (a SLURM array index, a line of a shell list).
 */
export function experimentJobs(c: ExperimentConfig): ExperimentJob[] {
  const splits = splitsOf(c);
  const ref = path.join(c.out, "reference");
  mkdirSync(ref, { recursive: true });
  const jobs: ExperimentJob[] = [];
  for (const fold of c.folds) {
    const split = splits[fold];
    if (!split) throw new Error(`fold ${fold} does not exist (${splits.length} folds)`);
    // The fold's validation images and references, linked under the experiment folder.
    const images = path.join(c.out, `fold${fold}`, "images");
    mkdirSync(images, { recursive: true });
    for (const id of split.val) {
      const files = c.dataset.training.find((k) => k.id === id)!;
      files.images.forEach((f, ch) => {
        if (f) link(f, path.join(images, `${id}_${String(ch).padStart(4, "0")}${c.dataset.json.file_ending}`));
      });
      if (files.label) link(files.label, path.join(ref, `${id}${c.dataset.json.file_ending}`));
    }
    for (const arm of armsOf(c)) {
      const run = path.join(c.out, "runs", `${arm.name}_fold${fold}`);
      jobs.push({
        index: jobs.length,
        label: `${arm.name} fold ${fold}`,
        train: {
          ...c.train,
          dataset: c.dataset.root,
          preprocessed: c.preprocessed,
          mode: arm.mode,
          sources: arm.sources,
          ...(arm.unassigned ? { unassigned: arm.unassigned } : {}),
          fold,
          seed: arm.seed,
          out: run,
          resume: true,
        },
        // Raw masks: the experiment compares the models; postprocessing is chosen on these predictions.
        predict: {
          runs: [run],
          input: images,
          out: path.join(c.out, "predictions", arm.name),
          options: { ...c.predict, postprocessing: "none" },
        },
      });
    }
  }
  return jobs;
}

/**
 * Trains and predicts one job (resuming a run that is already there). Under a launcher (torchrun, srun)
 * every rank trains and rank 0 alone predicts.
 */
export async function runExperimentJob(job: ExperimentJob, steps: ExperimentSteps): Promise<void> {
  await steps.train(job.train, job.label);
  if (isMainProcess()) await steps.predict(job.predict, job.label);
}

/**
 * Every job in this process, one after the other, then the evaluation, comparison and report; null on
 * the ranks other than 0 of a launcher, which only train.
 */
export async function runExperiment(c: ExperimentConfig, steps: ExperimentSteps): Promise<ExperimentResult | null> {
  for (const job of experimentJobs(c)) await runExperimentJob(job, steps);
  return isMainProcess() ? collectExperiment(c) : null;
}

/**
 * nnU-Net's last step after cross-validation: a postprocessing rule chosen on the arm's pooled held-out
 * predictions (lesion label 1), written to postprocessing_{arm}.json and recorded with each of its fold runs,
 * so that \`predict\` with those runs applies it. The experiment's own evaluation stays on the raw masks.
 */
async function recordPostprocessing(c: ExperimentConfig, arm: string, reference: string): Promise<void> {
  const predictions = path.join(c.out, "predictions", arm);
  const choice = await determinePostprocessing(predictions, reference);
  writeFileAtomicSync(path.join(c.out, `postprocessing_${arm}.json`), `${JSON.stringify(choice, null, 2)}\n`);
  const record = postprocessingRecord(choice, predictions, reference);
  for (const fold of c.folds)
    new TrainingRun(path.join(c.out, "runs", `${arm}_fold${fold}`)).writePostprocessing(record);
}

/**
 * Evaluates the pooled predictions of every arm, compares each BackSplit arm with binary and writes the
 * report: the same files whether the jobs ran here, in parallel, or as a SLURM array. Refuses (naming
 * them) when jobs have not produced their predictions yet.
 */
export async function collectExperiment(c: ExperimentConfig): Promise<ExperimentResult> {
  const splits = splitsOf(c);
  const ref = path.join(c.out, "reference");
  const variants = variantsOf(c);
  const arms = armsOf(c);
  const missing = experimentJobs(c).filter((job) =>
    splits[job.train.fold as number].val.some((id) => !existsSync(path.join(job.predict.out, `${id}.nii.gz`))),
  );
  if (missing.length > 0) {
    throw new IncompleteExperimentError(missing.map((j) => `job ${j.index} (${j.label})`));
  }
  const evaluations: Record<string, Evaluation> = {};
  for (const arm of arms) {
    const evaluation = await evaluateFolders(path.join(c.out, "predictions", arm.name), ref);
    writeFileAtomicSync(path.join(c.out, `evaluation_${arm.name}.json`), `${JSON.stringify(evaluation)}\n`);
    evaluations[arm.name] = evaluation;
  }
  for (const arm of arms) await recordPostprocessing(c, arm.name, ref);
  const comparisons = variants.slice(1).flatMap((v) =>
    c.seeds.map((seed) => {
      const names: [string, string] = [`binary_seed${seed}`, `${v.name}_seed${seed}`];
      const comparison = compareEvaluations(evaluations[names[0]], evaluations[names[1]], names);
      const file = variants.length > 2 ? `comparison_${v.name}_seed${seed}.json` : `comparison_seed${seed}.json`;
      writeFileAtomicSync(path.join(c.out, file), `${JSON.stringify(comparison, null, 2)}\n`);
      return comparison;
    }),
  );
  // The report: plots, training curves of every run, montages of up to four cases (most lesions first).
  const first = c.seeds[0];
  const logs: Record<string, string> = {};
  for (const arm of arms)
    for (const fold of c.folds)
      logs[`${arm.name} fold ${fold}`] = new TrainingRun(path.join(c.out, "runs", `${arm.name}_fold${fold}`)).logFile;
  const evaluationA = evaluations[`binary_seed${first}`];
  const byLesions = [...evaluationA.cases].sort((x, y) => lesionCount(y) - lesionCount(x)).slice(0, 4);
  const imageOf = (id: string) => {
    const fold = c.folds.find((f) => splits[f].val.includes(id))!;
    return path.join(c.out, `fold${fold}`, "images", `${id}_0000${c.dataset.json.file_ending}`);
  };
  const ending = c.dataset.json.file_ending;
  const report = await writeReport(c.out, {
    title: `BackSplit vs binary: ${path.basename(c.dataset.root)}`,
    comparison: comparisons[0],
    a: evaluationA,
    b: evaluations[`${variants[1].name}_seed${first}`],
    logs,
    montages: byLesions.map((k) => ({
      id: k.id,
      image: imageOf(k.id),
      reference: path.join(ref, `${k.id}${ending}`),
      predictionA: path.join(c.out, "predictions", `binary_seed${first}`, `${k.id}.nii.gz`),
      predictionB: path.join(c.out, "predictions", `${variants[1].name}_seed${first}`, `${k.id}.nii.gz`),
    })),
    facts: {
      dataset: c.dataset.root,
      "background sources": variants
        .slice(1)
        .map((v) => `${v.name}: ${v.sources.join(" > ")}${v.unassigned ? ` (unassigned: ${v.unassigned})` : ""}`)
        .join("; "),
      folds: c.folds.join(", "),
      seeds: c.seeds.join(", "),
      "epochs × iterations": `${c.train.epochs} × ${c.train.iterationsPerEpoch}`,
      device: c.train.device,
      "collapse rule": `${c.predict.collapse}${c.predict.collapse === "prob" ? ` > ${c.predict.threshold}` : ""}`,
      "tiles average": c.predict.tileAverage ?? DEFAULT_TILE_AVERAGE,
      "test-time mirroring": c.predict.mirror ? "on" : "off",
    },
  });
  writeFileAtomicSync(
    path.join(c.out, "experiment.json"),
    `${JSON.stringify({ arms: variants, folds: c.folds, seeds: c.seeds, train: c.train, predict: c.predict, splits: c.folds.map((f) => splits[f]) }, null, 2)}\n`,
  );
  return { evaluations, comparisons, report };
}

export class IncompleteExperimentError extends Error {
  constructor(readonly missing: string[]) {
    super(`${missing.length} job(s) have not finished: ${missing.join(", ")}`);
  }
}

function lesionCount(c: Evaluation["cases"][number]): number {
  return Object.values(c.classes).reduce((n, v) => n + v.lesions.length, 0);
}
