import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { ARCHITECTURES, type ArchitectureName } from "../../models/registry.js";
import { inputCaseProblems } from "../../predict/inputs.js";
import type { PredictJob } from "../../predict/predict.js";
import { TrainingRun } from "../../run/record.js";
import type { EpochLog, TrainConfig } from "../../train/trainer.js";
import { runInWorker } from "../../util/worker.js";
import { CliError, EXIT } from "../exit-codes.js";
import { Progress } from "../progress.js";
import { checkTrainInputs } from "../train-inputs.js";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  type OptionValues,
  type Verb,
  batchDiceOption,
  diceOverOption,
  intOption,
  numberOption,
  positiveIntList,
} from "../verb.js";
import { BUDGETS } from "../worker-steps.js";

const JOBS = new URL("../../jobs/train.js", import.meta.url).href;

function unassignedOption(values: OptionValues): "background" | "ignore" | "marginal" {
  const u = String(values.unassigned);
  if (u !== "background" && u !== "ignore" && u !== "marginal")
    throw new CliError("--unassigned must be background, ignore or marginal", EXIT.usage);
  return u;
}

function architectureOption(values: OptionValues): ArchitectureName {
  const a = String(values.arch);
  if (!ARCHITECTURES.includes(a as ArchitectureName))
    throw new CliError(`--arch must be one of ${ARCHITECTURES.join(", ")}`, EXIT.usage);
  return a as ArchitectureName;
}

export const trainVerb: Verb = {
  name: "train",
  args: "DIR",
  summary: "train a binary or BackSplit model on a preprocessed dataset (nnU-Net recipe, resumable)",
  help: `  --mode M           binary (lesion vs rest) or backsplit (lesion + background classes)
  --background A,B   background sources for backsplit, in priority order
  --near-mm MM       keep background classes only within MM of a lesion
  --unassigned U     voxels no source labels: background (a class of its own, default), ignore, or
                     marginal (some background class, unknown which: −log Σ_background p)
  --fold F           0–4 or all (default 0); splits_final.json is written on first use
  --arch A           plain (nnU-Net's U-Net, default), resenc (residual encoder) or segresnet
  --dice-over D      soft Dice over the lesion classes only (default) or all non-zero classes
                     (nnU-Net's; dilutes the lesion's share as background classes are added)
  --batch-dice B     on | off: Dice summed over the batch (default: the plan's, on for 2d, off for 3d)
  --fisher-log       log Fisher proxies and gradient-norm variance every epoch (see backsplit fisher)
  --config NAME      plans configuration (default 3d_fullres)
  --preprocessed D   folder with plans.json (default DIR/preprocessed)
  --budget B         tiny | small | medium | full (epochs × iterations: 5×10, 20×25, 100×50, 1000×250)
  --epochs N, --iterations N   override the budget
  --val-iterations N validation batches per epoch (default 5)
  --batch N, --patch ZxYxX, --features A,B,C   override the plan (small CPU runs)
  --lr X             initial learning rate (default 0.01)
  --no-augment       train without data augmentation
  --amp              mixed precision (CUDA)
  --deterministic    CUDA: deterministic algorithms, cuDNN without autotuning (CPU runs are always
                     bit-identical for one seed, machine and thread count)
  --out DIR          run folder (default DIR/runs/<mode>_fold<F>)
  --resume           continue from the run's last checkpoint
  --init-from RUN    fine-tune from another run (e.g. binary → BackSplit: the output layer is widened)
${COMMON_HELP}`,
  options: {
    ...COMMON_OPTIONS,
    "fisher-log": { type: "boolean", default: false },
    "dice-over": { type: "string", default: "lesion" },
    "batch-dice": { type: "string" },
    mode: { type: "string", default: "binary" },
    background: { type: "string" },
    "near-mm": { type: "string" },
    unassigned: { type: "string", default: "background" },
    fold: { type: "string", default: "0" },
    config: { type: "string", default: "3d_fullres" },
    arch: { type: "string", default: "plain" },
    preprocessed: { type: "string" },
    budget: { type: "string", default: "small" },
    epochs: { type: "string" },
    iterations: { type: "string" },
    "val-iterations": { type: "string", default: "5" },
    batch: { type: "string" },
    patch: { type: "string" },
    features: { type: "string" },
    lr: { type: "string" },
    "no-augment": { type: "boolean", default: false },
    amp: { type: "boolean", default: false },
    deterministic: { type: "boolean", default: false },
    out: { type: "string" },
    resume: { type: "boolean", default: false },
    "init-from": { type: "string" },
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new CliError("expected one dataset folder", EXIT.usage);
    const dataset = path.resolve(positionals[0]);
    const mode = String(values.mode);
    if (mode !== "binary" && mode !== "backsplit") throw new CliError("--mode must be binary or backsplit", EXIT.usage);
    const sources = values.background ? String(values.background).split(",") : [];
    if (mode === "backsplit" && sources.length === 0)
      throw new CliError("--mode backsplit needs --background SOURCE[,SOURCE…]", EXIT.usage);
    const budget = BUDGETS[String(values.budget)];
    if (!budget) throw new CliError(`--budget must be one of ${Object.keys(BUDGETS).join(", ")}`, EXIT.usage);
    const fold = values.fold === "all" ? "all" : intOption(values, "fold", undefined, 0, 4);
    const epochs = intOption(values, "epochs", budget[0], 1);
    const config: TrainConfig = {
      dataset,
      preprocessed: values.preprocessed
        ? path.resolve(String(values.preprocessed))
        : path.join(dataset, "preprocessed"),
      configuration: String(values.config),
      mode,
      sources,
      unassigned: unassignedOption(values),
      nearMm: values["near-mm"] ? numberOption(values, "near-mm", 0, { min: 0 }) : undefined,
      fold,
      epochs,
      iterationsPerEpoch: intOption(values, "iterations", budget[1], 1),
      validationIterations: intOption(values, "val-iterations", undefined, 1),
      batchSize: values.batch ? intOption(values, "batch", undefined, 1) : undefined,
      patchSize: positiveIntList(values, "patch", "x"),
      features: positiveIntList(values, "features", ","),
      architecture: architectureOption(values),
      lr: numberOption(values, "lr", 1e-2, { positive: true }),
      device: String(values.device),
      seed: intOption(values, "seed"),
      amp: Boolean(values.amp),
      threads: values.threads ? intOption(values, "threads", undefined, 1) : undefined,
      out: values.out ? path.resolve(String(values.out)) : path.join(dataset, "runs", `${mode}_fold${fold}`),
      resume: Boolean(values.resume),
      initFrom: values["init-from"] ? path.resolve(String(values["init-from"])) : undefined,
      augment: !values["no-augment"],
      lesionShare: 1 / 3,
      diceOver: diceOverOption(values),
      batchDice: batchDiceOption(values),
      deterministic: Boolean(values.deterministic),
      fisherLog: Boolean(values["fisher-log"]),
    };
    // Before any worker or run folder: the cache, the plan and the overrides.
    checkTrainInputs(config);
    // cuBLAS is deterministic only with a fixed workspace, read from the environment when CUDA starts.
    if (config.deterministic) process.env.CUBLAS_WORKSPACE_CONFIG ??= ":4096:8";
    const json = Boolean(values.json);
    const progress = new Progress({ label: `train ${mode}`, total: epochs * config.iterationsPerEpoch, json });
    let lastEpoch: EpochLog | null = null;
    await runInWorker<TrainConfig, unknown>({
      module: JOBS,
      exportName: "trainJob",
      input: config,
      onReport: (m) => {
        const r = m as { kind: string; epoch: number; loss?: number } & EpochLog;
        if (r.kind === "iteration")
          progress.tick(1, {
            epoch: r.epoch,
            loss: r.loss ?? 0,
            ...(lastEpoch ? { "val dice": lastEpoch.pseudoDice } : {}),
          });
        else {
          lastEpoch = r;
          if (json) process.stdout.write(`${JSON.stringify({ event: "epoch", ...r, kind: undefined })}\n`);
          if (r.warning && json) process.stdout.write(`${JSON.stringify({ event: "warning", message: r.warning })}\n`);
          else if (r.warning) process.stderr.write(`\nwarning: ${r.warning}\n`);
        }
      },
    });
    const final = lastEpoch as EpochLog | null;
    process.stdout.write(
      json
        ? `${JSON.stringify({ event: "done", out: config.out })}\n`
        : `trained ${mode} → ${config.out} (last epoch: loss ${final?.trainLoss.toFixed(4) ?? "-"}, validation pseudo-Dice ${final?.pseudoDice.toFixed(3) ?? "-"})\n`,
    );
    return EXIT.ok;
  },
};

export const predictVerb: Verb = {
  name: "predict",
  args: "INPUT OUT",
  summary: "segment lesions in every case of INPUT ({case}_{XXXX} images) with one or more trained runs",
  help: `  --model RUN[,RUN]  training run folders (several: their probabilities are averaged)
  --collapse C       prob (p_lesion > threshold, default) or argmax (lesion wins over all classes)
  --threshold X      for prob (default 0.5)
  --mirror           average over mirrored inputs (test-time augmentation, 8× slower in 3D)
  --checkpoint C     latest (the final weights, default, as nnU-Net) or best (best validation EMA)
  --save-probabilities  also write {case}_prob.nii.gz (lesion probability, float32)
  --save-classes     also write {case}_classes.nii.gz (the full class map, background classes included)
  --dicom-seg        also write {case}.seg.dcm, a DICOM Segmentation (lesion classes; with --save-classes the
                     background classes too) referencing the case's source series, given by --reference
  --reference DIR    the source DICOM series: DIR itself for one case, else DIR/<case>/ for each case
  --amp              mixed precision (CUDA)
${COMMON_HELP}`,
  options: {
    ...COMMON_OPTIONS,
    model: { type: "string" },
    collapse: { type: "string", default: "prob" },
    threshold: { type: "string", default: "0.5" },
    mirror: { type: "boolean", default: false },
    checkpoint: { type: "string", default: "latest" },
    "save-probabilities": { type: "boolean", default: false },
    "save-classes": { type: "boolean", default: false },
    "dicom-seg": { type: "boolean", default: false },
    reference: { type: "string" },
    amp: { type: "boolean", default: false },
  },
  async run(values, positionals) {
    if (positionals.length !== 2) throw new CliError("expected INPUT and OUT folders", EXIT.usage);
    // --dicom-seg (issue 21): the reference series are resolved before predicting, so a mistake costs nothing.
    const seg = values["dicom-seg"] ? await import("../../predict/dicom-seg.js") : null;
    let segReferences: Map<string, string> | null = null;
    if (seg) {
      if (!values.reference) throw new CliError("--dicom-seg needs --reference DICOM_SERIES_DIR", EXIT.usage);
      try {
        const ids = seg.inputCaseIds(path.resolve(positionals[0]));
        segReferences = seg.resolveSegReferences(path.resolve(String(values.reference)), ids);
      } catch (error) {
        throw new CliError((error as Error).message, EXIT.usage);
      }
    } else if (values.reference) throw new CliError("--reference is used with --dicom-seg", EXIT.usage);
    if (!values.model) throw new CliError("--model is required", EXIT.usage);
    const collapse = String(values.collapse);
    if (collapse !== "prob" && collapse !== "argmax")
      throw new CliError("--collapse must be prob or argmax", EXIT.usage);
    await checkPredictInputs(
      path.resolve(positionals[0]),
      String(values.model)
        .split(",")
        .map((r) => path.resolve(r)),
    );
    const job: PredictJob = {
      runs: String(values.model)
        .split(",")
        .map((r) => path.resolve(r)),
      input: path.resolve(positionals[0]),
      out: path.resolve(positionals[1]),
      threads: values.threads ? intOption(values, "threads", undefined, 1) : undefined,
      options: {
        collapse,
        threshold: numberOption(values, "threshold", 0.5, { min: 0, max: 1 }),
        mirror: Boolean(values.mirror),
        checkpoint: checkpointOption(values),
        device: String(values.device),
        saveProbabilities: Boolean(values["save-probabilities"]),
        saveClasses: Boolean(values["save-classes"]),
        amp: Boolean(values.amp),
      },
    };
    let progress: Progress | null = null;
    const result = await runInWorker<PredictJob, { cases: number }>({
      module: JOBS,
      exportName: "predictJob",
      input: job,
      onReport: (m) => {
        const r = m as { case: string; total: number; lesionVoxels: number };
        progress ??= new Progress({ label: "predict", total: r.total, json: Boolean(values.json) });
        progress.tick(1, { case: r.case, "lesion voxels": r.lesionVoxels });
      },
    });
    if (seg && segReferences) {
      const files = await seg.writePredictionSegs({
        out: job.out,
        runs: job.runs,
        references: segReferences,
        classes: Boolean(values["save-classes"]),
      });
      if (values.json) process.stdout.write(`${JSON.stringify({ event: "dicom-seg", files })}\n`);
    }
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ event: "done", ...result, out: job.out })}\n`
        : `${result.cases} cases → ${job.out}${segReferences ? " (with DICOM-SEG: {case}.seg.dcm)" : ""}\n`,
    );
    return EXIT.ok;
  },
};

/** Before the worker starts: the input folder, the runs, and every case holding the channels the model reads. */
async function checkPredictInputs(input: string, runs: string[]): Promise<void> {
  if (!existsSync(input) || !statSync(input).isDirectory())
    throw new CliError(`${input}: no such input folder`, EXIT.environment);
  let channels = 0;
  for (const run of runs) {
    const folder = new TrainingRun(run);
    if (!folder.isRun()) throw new CliError(`${run}: not a training run (no training.json)`, EXIT.environment);
    const plansFile = folder.plansSource();
    if (!existsSync(plansFile)) throw new CliError(`${plansFile}: missing (the run's plans)`, EXIT.environment);
    channels = Object.keys(folder.plans().foreground_intensity_properties_per_channel).length;
  }
  const { listInputCases } = await import("../../predict/predict.js");
  const cases = listInputCases(input);
  if (cases.size === 0)
    throw new CliError(`${input}: no images named {case}_0000.nii.gz (or another image ending) found`, EXIT.failure);
  const problems = inputCaseProblems(cases, channels, input);
  if (problems.length > 0) throw new CliError(problems.join("\n"), EXIT.failure);
}

export const exportVerb: Verb = {
  name: "export",
  args: "RUN",
  summary: "export a trained run as ONNX (outputs: lesion probability and lesion mask by the collapse rule)",
  help: `  --onnx FILE        where to write the model (required)
  --collapse C       prob (default) or argmax, folded into the lesion_mask output
  --threshold X      for prob (default 0.5)
  --checkpoint C     latest (the final weights, default, as nnU-Net) or best (best validation EMA)`,
  options: {
    onnx: { type: "string" },
    collapse: { type: "string", default: "prob" },
    threshold: { type: "string", default: "0.5" },
    checkpoint: { type: "string", default: "latest" },
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new CliError("expected one training run folder", EXIT.usage);
    if (!values.onnx) throw new CliError("--onnx FILE is required", EXIT.usage);
    const collapse = String(values.collapse);
    if (collapse !== "prob" && collapse !== "argmax")
      throw new CliError("--collapse must be prob or argmax", EXIT.usage);
    const { loadRun } = await import("../../predict/predict.js");
    const { exportOnnx } = await import("../../predict/onnx.js");
    const model = loadRun(path.resolve(positionals[0]), "cpu", checkpointOption(values));
    const file = path.resolve(String(values.onnx));
    const { SliceAdapter } = await import("../../models/slices.js");
    const twoD = model.net instanceof SliceAdapter;
    exportOnnx(twoD ? (model.net as InstanceType<typeof SliceAdapter>).inner : model.net, file, {
      lesionValues: model.lesionValues,
      collapse,
      threshold: numberOption(values, "threshold", 0.5),
      dims: twoD ? 2 : 3,
      metadata: {
        classes: JSON.stringify(model.classes),
        plans: JSON.stringify(model.plans.configurations[model.configuration]),
      },
    });
    process.stdout.write(
      `wrote ${file} (input [N, ${Object.keys(model.plans.foreground_intensity_properties_per_channel).length}, D, H, W], preprocessed as in plans.json)\n`,
    );
    return EXIT.ok;
  },
};

function checkpointOption(values: OptionValues): "latest" | "best" {
  const v = String(values.checkpoint ?? "latest");
  if (v !== "latest" && v !== "best") throw new CliError(`--checkpoint must be latest or best, got '${v}'`, EXIT.usage);
  return v;
}
