// `backsplit train`: one training run on a preprocessed dataset, on a worker thread.
import { availableParallelism } from "node:os";
import path from "node:path";
import { JOBS } from "../../jobs/worker-steps.js";
import { INIT_SCHEMES, type InitScheme } from "../../models/init.js";
import { ARCHITECTURES } from "../../models/registry.js";
import { launchEnv } from "../../train/launch-env.js";
import { launchLocal, withoutNproc } from "../../train/launch.js";
import type { EpochLog, TrainConfig } from "../../train/trainer.js";
import { Progress } from "../../util/progress.js";
import { runInWorker } from "../../util/worker.js";
import { CliError, EXIT } from "../exit-codes.js";
import { checkTrainInputs } from "../train-inputs.js";
import {
  BUDGET_NAMES,
  COMMON_HELP,
  COMMON_OPTIONS,
  UNASSIGNED,
  type Verb,
  architectureOption,
  batchDiceOption,
  budgetOption,
  diceOverOption,
  intOption,
  numberOption,
  positiveIntList,
  unassignedOption,
} from "../verb.js";

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
  --batch-dice B     on | off: Dice summed over the batch (default: nnU-Net's rule, on for 2d; for 3d on
                     when the patch covers under ¼ of the median image)
  --fisher-log       log Fisher proxies and gradient-norm variance every epoch (see backsplit fisher)
  --config NAME      plans configuration (default 3d_fullres)
  --preprocessed D   folder with plans.json (default DIR/preprocessed)
  --budget B         tiny | small | medium | full (epochs × iterations: 5×10, 20×25, 100×50, 1000×250)
  --epochs N, --iterations N   override the budget
  --val-iterations N validation batches per epoch (default 5)
  --batch N, --patch ZxYxX, --features A,B,C   override the plan (small CPU runs)
  --lr X             initial learning rate (default 0.01)
  --no-augment       train without data augmentation
  --no-deep-supervision  loss on the full-resolution output only (nnU-Net: on)
  --deep-supervision-targets T  the coarser outputs' targets: nearest (default, nnU-Net's nearest
                     downsampling) or lesion-max (a coarse voxel is lesion where any voxel of its block is,
                     so lesions under two voxels across stay in every level's target)
  --init I           he (nnU-Net's He-normal weights, zero biases), pytorch (PyTorch's default layer
                     initialisation), pytorch-heads or pytorch-body (PyTorch's only on the 1×1 heads, or on
                     all but them). Default: pytorch-body, which learns earlier at small budgets
                     (docs/results.md §0)
  --lesion-prior P   the lesion probability the untrained heads start at, through their biases
                     (default 0: the biases the initialisation drew, nnU-Net's zeros). 0.01 removed
                     late starts on tiny MS lesions but lowered BraTS Dice (docs/results.md §0)
  --lesion-sampling S  which lesion a lesion patch is centred on: instance (default: every lesion
                     equally often) or voxel (nnU-Net's: a lesion voxel of a case, big lesions more often)
  --lesion-share S   share of each batch's patches centred on a lesion (default 0.333, nnU-Net's
                     oversample_foreground_percent); the rest are drawn anywhere. More made some, not
                     all, BackSplit seeds learn on a case with few lesion voxels (docs/results.md §2)
  --no-restart       keep training a run whose validation pseudo-Dice is still 0 after 2 epochs,
                     instead of starting it over once (the default when no --lesion-prior is given) at
                     a 1 % lesion start where its batches held at least 1 % lesion, else 0.1 % (the
                     abandoned start stays in RUN/stalled-start/; a BackSplit run starts over with a
                     background warm-up of a quarter of its epochs)
  --background-warmup E  BackSplit: train on the lesion against the whole background (as binary
                     training does, from background channels of the heads tied to one) for at least
                     E epochs and until validation pseudo-Dice is above 0, then bring the split in
                     linearly over E more epochs (default 0: the split from the first step)
  --warmup-epochs E  raise the learning rate linearly, step by step, over the first E epochs, then
                     the poly schedule from its start (default 0: nnU-Net's plain poly schedule)
  --amp              mixed precision (CUDA)
  --deterministic    CUDA: deterministic algorithms, cuDNN without autotuning (CPU runs are always
                     bit-identical for one seed, machine and thread count)
  --out DIR          run folder (default DIR/runs/<mode>_fold<F>)
  --resume           continue from the run's last checkpoint
  --init-from RUN    fine-tune from another run (e.g. binary → BackSplit: the output layer is widened)
  --nproc N          train data-parallel in N local processes (Gloo on CPU, NCCL on CUDA: GPU k per
                     process k); --batch is the global batch, a multiple of N. Under torchrun or srun
                     (WORLD_SIZE / SLURM_NTASKS set) every process is a rank already: see
                     docs/distributed.md
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
    "no-deep-supervision": { type: "boolean", default: false },
    "deep-supervision-targets": { type: "string" },
    init: { type: "string" },
    "lesion-prior": { type: "string" },
    "warmup-epochs": { type: "string" },
    "no-restart": { type: "boolean", default: false },
    "background-warmup": { type: "string" },
    "lesion-sampling": { type: "string" },
    "lesion-share": { type: "string" },
    amp: { type: "boolean", default: false },
    deterministic: { type: "boolean", default: false },
    out: { type: "string" },
    resume: { type: "boolean", default: false },
    "init-from": { type: "string" },
    nproc: { type: "string", default: "1" },
  },
  choices: {
    mode: ["binary", "backsplit"],
    arch: ARCHITECTURES,
    budget: BUDGET_NAMES,
    unassigned: UNASSIGNED,
    "dice-over": ["lesion", "all"],
    "batch-dice": ["on", "off"],
    init: INIT_SCHEMES,
    "lesion-sampling": ["instance", "voxel"],
    "deep-supervision-targets": ["nearest", "lesion-max"],
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new CliError("expected one dataset folder", EXIT.usage);
    const dataset = path.resolve(positionals[0]);
    const mode = values.mode as "binary" | "backsplit";
    const sources = values.background ? String(values.background).split(",") : [];
    if (mode === "backsplit" && sources.length === 0)
      throw new CliError("--mode backsplit needs --background SOURCE[,SOURCE…]", EXIT.usage);
    if (mode !== "backsplit" && values["background-warmup"] !== undefined)
      throw new CliError("--background-warmup needs --mode backsplit", EXIT.usage);
    const budget = budgetOption(values);
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
      deepSupervision: !values["no-deep-supervision"],
      deepSupervisionTargets: values["deep-supervision-targets"] as "nearest" | "lesion-max" | undefined,
      init: values.init as InitScheme | undefined,
      lesionPrior:
        values["lesion-prior"] === undefined
          ? undefined
          : numberOption(values, "lesion-prior", 0, { min: 0, max: 0.5 }),
      warmupEpochs:
        values["warmup-epochs"] === undefined ? undefined : numberOption(values, "warmup-epochs", 0, { min: 0 }),
      restartIfStalled: !values["no-restart"],
      backgroundWarmupEpochs:
        values["background-warmup"] === undefined
          ? undefined
          : numberOption(values, "background-warmup", 0, { min: 0 }),
      lesionSampling: values["lesion-sampling"] as "instance" | "voxel" | undefined,
      lesionShare: numberOption(values, "lesion-share", 1 / 3, { min: 0, max: 1 }),
      diceOver: diceOverOption(values),
      batchDice: batchDiceOption(values),
      deterministic: Boolean(values.deterministic),
      fisherLog: Boolean(values["fisher-log"]),
    };
    // Before any worker or run folder: the cache, the plan and the overrides.
    checkTrainInputs(config);
    // cuBLAS is deterministic only with a fixed workspace, read from the environment when CUDA starts.
    if (config.deterministic) process.env.CUBLAS_WORKSPACE_CONFIG ??= ":4096:8";
    const nproc = intOption(values, "nproc", 1, 1);
    let launch: ReturnType<typeof launchEnv>;
    try {
      launch = launchEnv();
    } catch (error) {
      throw new CliError(`launcher variables: ${(error as Error).message}`, EXIT.usage);
    }
    if (nproc > 1 || launch) {
      // A backend this engine was built without is a missing piece of the environment (exit 3), said before any rank starts.
      const { distributedBackends } = await import("../../engine/distributed.js");
      const backend = config.device.startsWith("cuda") ? "nccl" : "gloo";
      if (!distributedBackends()[backend])
        throw new CliError(
          `distributed training on ${config.device} needs ${backend === "nccl" ? "NCCL" : "Gloo"}, which this engine was built without (\`npm run build:native\` prints why)`,
          EXIT.environment,
        );
    }
    if (nproc > 1) {
      if (launch)
        throw new CliError("--nproc inside a launcher (WORLD_SIZE is already set): use one or the other", EXIT.usage);
      if (config.batchSize !== undefined && config.batchSize % nproc !== 0)
        throw new CliError(`--batch ${config.batchSize} must be a multiple of --nproc ${nproc}`, EXIT.usage);
      return launchLocal({
        nproc,
        argv: withoutNproc(process.argv.slice(2)),
        threadsPerRank: config.threads ?? Math.max(1, Math.floor(availableParallelism() / nproc)),
      });
    }
    const json = Boolean(values.json);
    const quiet = (launch?.rank ?? 0) > 0; // one progress bar and one summary: rank 0's
    // Ranks other than 0 report nothing (the trainer reports on rank 0 only), so their bar stays silent.
    const progress = new Progress({ label: `train ${mode}`, total: epochs * config.iterationsPerEpoch, json });
    let lastEpoch: EpochLog | null = null;
    await runInWorker<TrainConfig, unknown>({
      module: JOBS,
      exportName: "trainJob",
      input: config,
      onReport: (m) => {
        const r = m as { kind: string; epoch: number; loss?: number; epochs?: number } & EpochLog;
        if (r.kind === "restart") {
          lastEpoch = null;
          progress.extend((r.epochs ?? 0) * config.iterationsPerEpoch);
        } else if (r.kind === "iteration")
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
    if (quiet) return EXIT.ok;
    process.stdout.write(
      json
        ? `${JSON.stringify({ event: "done", out: config.out })}\n`
        : `trained ${mode} → ${config.out} (last epoch: loss ${final?.trainLoss.toFixed(4) ?? "-"}, validation pseudo-Dice ${final?.pseudoDice.toFixed(3) ?? "-"})\n`,
    );
    return EXIT.ok;
  },
};
