import { existsSync } from "node:fs";
import path from "node:path";
import { engineInfo } from "../../engine/index.js";
import {
  type ExperimentConfig,
  type ExperimentResult,
  IncompleteExperimentError,
  collectExperiment,
  experimentJobs,
  runExperiment,
  runExperimentJob,
} from "../../experiment/experiment.js";
import { emitJobs, readExperimentPlan, runJobsInParallel, writeExperimentPlan } from "../../experiment/scale-out.js";
import { workerSteps } from "../../jobs/worker-steps.js";
import { INIT_SCHEMES, type InitScheme } from "../../models/init.js";
import { ARCHITECTURES } from "../../models/registry.js";
import { DEFAULT_TILE_AVERAGE } from "../../predict/tile-average.js";
import { openDatasetArg } from "../dataset-arg.js";
import { CliError, EXIT } from "../exit-codes.js";
import {
  BUDGET_NAMES,
  COLLAPSE,
  COMMON_HELP,
  COMMON_OPTIONS,
  TILE_AVERAGE,
  type Verb,
  architectureOption,
  budgetOption,
  collapseOption,
  diceOverOption,
  intOption,
  positiveIntList,
  tileAverageOption,
} from "../verb.js";

const list = (v: unknown) => String(v).split(",").filter(Boolean);

function integers(raw: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number[] {
  const values = list(raw).map((v) => (v.trim() === "" ? Number.NaN : Number(v)));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < min || v > max))
    throw new CliError(
      `--${name} must be integers ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `${min}–${max}`} separated by commas, got '${raw}'`,
      EXIT.usage,
    );
  return values;
}

export const experimentVerb: Verb = {
  name: "experiment",
  args: "DIR",
  summary: "binary vs BackSplit with identical settings over folds × seeds: train, predict, evaluate, compare",
  help: `  --background A,B   background sources of the BackSplit arm, in priority order; repeat the
                     option for several BackSplit arms (each compared with binary)
  --folds 0,1,…      folds to run (default 0); predictions of all folds are pooled
  --seeds 1,2,…      seeds per arm (default 1)
  --budget B         tiny | small | medium | full, or --epochs N --iterations N
  --arch A           plain | resenc | segresnet
  --dice-over D      soft Dice over the lesion classes only (default) or all non-zero classes
                     (nnU-Net's; dilutes the lesion's share as background classes are added)
  --init I           he (nnU-Net's), pytorch (PyTorch's default layer initialisation), pytorch-heads or
                     pytorch-body (PyTorch's only on the 1×1 heads, or on all but them); default pytorch-body
  --fisher-log       log Fisher proxies and gradient-norm variance every epoch (see backsplit fisher)
  --patch ZxYxX, --batch N, --features A,B,C   override the plan (small CPU runs)
  --collapse C       prob (default) or argmax at prediction
  --tile-average A   logits (default, nnU-Net v2's) or probabilities: what overlapping tiles average
  --no-mirror        predict the held-out cases without test-time mirroring (on by default, as in
                     \`predict\`: 4× the forward passes in 2D, 8× in 3D)
  --out DIR          experiment folder (default DIR/experiment)

 Scale-out (job K = one arm × fold × seed, the same run wherever it runs):
  --jobs N           run N jobs at once as separate processes (CPU: the cores shared out;
                     --device cuda: job slots spread over the GPUs), then evaluate
  --emit slurm|shell write the jobs for a cluster instead of running them: an sbatch array
                     script (+ collect job, submit.sh) or a shell list (+ run-jobs.sh), to
                     --emit-dir (default OUT/jobs); each job runs \`experiment --plan F --job K\`
  --collect          only evaluate, compare and report (every job must have finished)
  --plan FILE        read the experiment from OUT/experiment-plan.json instead of options
  --job K            run only job K of the plan (train, then predict its held-out cases)
  --nproc N          each training data-parallel over N local processes (see train --nproc);
                     under torchrun/srun every rank trains and rank 0 predicts and reports
${COMMON_HELP}`,
  options: {
    ...COMMON_OPTIONS,
    "fisher-log": { type: "boolean", default: false },
    "dice-over": { type: "string", default: "lesion" },
    init: { type: "string" },
    background: { type: "string", multiple: true },
    folds: { type: "string", default: "0" },
    seeds: { type: "string", default: "1" },
    budget: { type: "string", default: "small" },
    epochs: { type: "string" },
    iterations: { type: "string" },
    arch: { type: "string", default: "plain" },
    patch: { type: "string" },
    batch: { type: "string" },
    features: { type: "string" },
    collapse: { type: "string", default: "prob" },
    "tile-average": { type: "string", default: DEFAULT_TILE_AVERAGE },
    "no-mirror": { type: "boolean", default: false },
    out: { type: "string" },
    jobs: { type: "string", default: "1" },
    emit: { type: "string" },
    "emit-dir": { type: "string" },
    collect: { type: "boolean", default: false },
    plan: { type: "string" },
    job: { type: "string" },
    nproc: { type: "string", default: "1" },
  },
  choices: {
    arch: ARCHITECTURES,
    budget: BUDGET_NAMES,
    collapse: COLLAPSE,
    "tile-average": TILE_AVERAGE,
    "dice-over": ["lesion", "all"],
    init: INIT_SCHEMES,
  },
  async run(values, positionals) {
    const json = Boolean(values.json);
    if (values.plan !== undefined) {
      if (positionals.length > 0) throw new CliError("--plan replaces the dataset folder and options", EXIT.usage);
      const planFile = path.resolve(String(values.plan));
      let config: ExperimentConfig;
      try {
        config = readExperimentPlan(planFile);
      } catch (error) {
        throw new CliError((error as Error).message, existsSync(planFile) ? EXIT.failure : EXIT.environment);
      }
      if (values.job !== undefined) {
        const jobs = experimentJobs(config);
        const k = intOption(values, "job", undefined, 0);
        if (k >= jobs.length) throw new CliError(`--job ${k}: the plan has jobs 0–${jobs.length - 1}`, EXIT.usage);
        await runExperimentJob(jobs[k], workerSteps(json, { nproc: config.nproc }));
        return EXIT.ok;
      }
      if (!values.collect) throw new CliError("--plan needs --job K or --collect", EXIT.usage);
      return printResult(await collectOrFail(config), config, json);
    }
    if (values.job !== undefined) throw new CliError("--job needs --plan FILE", EXIT.usage);
    const dataset = openDatasetArg(positionals);
    const backgrounds = ((values.background as string[] | undefined) ?? []).map(list).filter((l) => l.length);
    if (backgrounds.length === 0)
      throw new CliError("--background SOURCE[,SOURCE…] is required (the BackSplit arm's classes)", EXIT.usage);
    const budget = budgetOption(values);
    const architecture = architectureOption(values);
    const collapse = collapseOption(values);
    const root = path.resolve(dataset.root);
    const config: ExperimentConfig = {
      dataset,
      preprocessed: path.join(root, "preprocessed"),
      out: values.out ? path.resolve(String(values.out)) : path.join(root, "experiment"),
      sources: backgrounds[0],
      arms:
        backgrounds.length > 1
          ? backgrounds.map((sources) => ({ name: `backsplit_${sources.join("+")}`, sources }))
          : undefined,
      folds: integers(values.folds, "folds", 0, 4),
      seeds: integers(values.seeds, "seeds", 0),
      train: {
        configuration: "3d_fullres",
        epochs: intOption(values, "epochs", budget[0], 1),
        iterationsPerEpoch: intOption(values, "iterations", budget[1], 1),
        validationIterations: 5,
        batchSize: values.batch ? intOption(values, "batch", undefined, 1) : undefined,
        patchSize: positiveIntList(values, "patch", "x"),
        features: positiveIntList(values, "features", ","),
        architecture,
        lr: 1e-2,
        device: String(values.device),
        amp: false,
        threads: values.threads ? intOption(values, "threads", undefined, 1) : undefined,
        augment: true,
        lesionShare: 1 / 3,
        diceOver: diceOverOption(values),
        init: values.init as InitScheme | undefined,
        fisherLog: Boolean(values["fisher-log"]),
      },
      predict: {
        collapse,
        threshold: 0.5,
        mirror: !values["no-mirror"],
        device: String(values.device),
        saveProbabilities: true,
        saveClasses: false,
        tileAverage: tileAverageOption(values),
      },
      nproc: intOption(values, "nproc", 1, 1),
    };
    const parallel = intOption(values, "jobs", 1, 1);
    const emit = values.emit === undefined ? null : String(values.emit);
    if (emit !== null && emit !== "slurm" && emit !== "shell")
      throw new CliError("--emit must be slurm or shell", EXIT.usage);
    if (values.collect) return printResult(await collectOrFail(config), config, json);
    if (emit === null && parallel === 1) {
      const result = await runExperiment(config, workerSteps(json, { nproc: config.nproc }));
      return result ? printResult(result, config, json) : EXIT.ok; // ranks other than 0 only train
    }
    const planFile = writeExperimentPlan(config);
    const jobs = experimentJobs(config); // splits and held-out links made once, before any job starts
    if (emit !== null) {
      const dir = values["emit-dir"] ? path.resolve(String(values["emit-dir"])) : path.join(config.out, "jobs");
      const emitted = emitJobs(planFile, jobs.length, emit, dir);
      if (json) process.stdout.write(`${JSON.stringify({ event: "emitted", plan: planFile, ...emitted })}\n`);
      else
        process.stdout.write(
          `${emitted.jobs} jobs (arm × fold × seed) for ${emit}:\n${emitted.files.map((f) => `  ${f}`).join("\n")}\n` +
            `plan: ${planFile}\nwhen every job has finished: backsplit experiment --plan ${planFile} --collect\n`,
        );
      return EXIT.ok;
    }
    const code = await runJobsInParallel(
      planFile,
      jobs.map((j) => j.index),
      {
        parallel,
        device: config.train.device,
        gpus: config.train.device === "cuda" ? engineInfo().cudaDeviceCount : 0,
        onStart: (k, slot) => log(json, { event: "job-start", job: k, label: jobs[k].label, slot }),
        onEnd: (k, c) => log(json, { event: "job-end", job: k, label: jobs[k].label, code: c }),
      },
    );
    if (code !== 0)
      throw new CliError(`a job failed (exit ${code}); finished jobs are kept, run again to resume`, code);
    return printResult(await collectExperiment(config), config, json);
  },
};

function log(json: boolean, event: Record<string, unknown>): void {
  if (json) process.stdout.write(`${JSON.stringify(event)}\n`);
  else if (event.event === "job-start") process.stderr.write(`[job ${event.job}] ${event.label} started\n`);
  else
    process.stderr.write(
      `[job ${event.job}] ${event.label} ${event.code === 0 ? "done" : `failed (exit ${event.code})`}\n`,
    );
}

async function collectOrFail(config: ExperimentConfig): Promise<ExperimentResult> {
  try {
    return await collectExperiment(config);
  } catch (error) {
    if (error instanceof IncompleteExperimentError) throw new CliError(error.message, EXIT.failure);
    throw error;
  }
}

function printResult(result: ExperimentResult, config: ExperimentConfig, json: boolean): number {
  if (json) {
    for (const c of result.comparisons) process.stdout.write(`${JSON.stringify({ event: "comparison", ...c })}\n`);
  } else {
    process.stdout.write(`${result.report.markdown}\nreport: ${result.report.html}\n`);
    process.stdout.write(`results in ${config.out} (evaluation_*.json, comparison_seed*.json, predictions/, runs/)\n`);
  }
  return EXIT.ok;
}
