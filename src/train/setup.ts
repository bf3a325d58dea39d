// Training set-up: the device, the plan's configuration, the cached cases of the fold, the targets
// and their classes, the patch and batch, the network, the optimiser and the loss options. Nothing
// here trains; train() (trainer.ts) puts the parts together.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { DatasetJson } from "../dataset/layout.js";
import { readOrWriteSplits } from "../dataset/splits.js";
import {
  GradScaler,
  Optimizer,
  type Tensor,
  manualSeed,
  polyLr,
  resolveDevice,
  setCudnnBenchmark,
  setDeterministic,
  setThreads,
  tensor,
  withWarmup,
} from "../engine/index.js";
import type { Module } from "../engine/nn/module.js";
import {
  DEFAULT_INIT,
  DEFAULT_LESION_PRIOR,
  type InitScheme,
  applyInit,
  setLesionPrior,
  tieBackgroundHeads,
} from "../models/init.js";
import { type ArchitectureName, buildFromPlan } from "../models/registry.js";
import { type Configuration, type Plans, batchDiceRule } from "../plan/plan.js";
import { completeCaseIds } from "../preprocess/cache-state.js";
import { type CachedCase, readCachedMeta } from "../preprocess/cache.js";
import type { TrainConfig } from "../run/config.js";
import { largerPatchSize } from "./augment.js";
import { rankSeed } from "./launch-env.js";
import type { LossOptions } from "./loss.js";
import { type TargetSpec, targetClasses, targetSpecFor } from "./targets.js";

export interface TrainingData {
  plans: Plans;
  cfg: Configuration;
  cacheDir: string;
  trainCases: CachedCase[];
  valCases: CachedCase[];
  /** Image channels of the cached cases. */
  channels: number;
}

export interface TrainingTargets {
  spec: TargetSpec;
  classes: Record<string, number>;
  lesionClasses: Record<string, number>;
  /** Output channels: the ignore / unknown-background value is the highest one and is not a channel. */
  numClasses: number;
}

export interface TrainingSetup extends TrainingData, TrainingTargets {
  config: TrainConfig;
  device: string;
  architecture: ArchitectureName;
  /** [z, y, x]; a 2D configuration trains on 3D patches of depth 1. */
  patch: number[];
  /** [z, y, x] the training loader reads: the patch, or nnU-Net's larger one when the run asks for it. */
  loadPatch: number[];
  batch: number;
  features: number[];
  /** The initialisation: the config's, else `DEFAULT_INIT`. */
  init: InitScheme;
  /** The lesion probability the heads start at: the config's, else `DEFAULT_LESION_PRIOR`. */
  lesionPrior: number;
  lossOptions: LossOptions;
}

/** Threads, the device, and CUDA's autotuning or determinism; returns the resolved device. */
export function configureDevice(config: TrainConfig): string {
  setThreads(config.threads);
  const device = resolveDevice(config.device);
  // CUDA: cuDNN autotuning for speed, or --deterministic (deterministic algorithms, no autotuning).
  // CPU runs are bit-reproducible at a fixed thread count either way.
  // Both are set every time: trainings one after another in one process must not inherit the last one's.
  if (device.startsWith("cuda")) {
    setDeterministic(Boolean(config.deterministic));
    setCudnnBenchmark(!config.deterministic);
  }
  return device;
}

/** The plans, the complete cache and the cases of the fold (#15: only a complete cache is trained on). */
export function readTrainingData(config: TrainConfig): TrainingData {
  const plans = JSON.parse(readFileSync(path.join(config.preprocessed, "plans.json"), "utf8")) as Plans;
  const cfg = plans.configurations[config.configuration];
  if (!cfg) throw new Error(`plans.json has no configuration '${config.configuration}'`);
  const cacheDir = path.join(config.preprocessed, cfg.data_identifier);
  const ids = completeCaseIds({ cacheDir, configuration: config.configuration, cfg, dataset: config.dataset });
  const split =
    config.fold === "all" ? { train: ids, val: ids } : readOrWriteSplits(config.preprocessed, ids)[config.fold];
  if (!split) throw new Error(`fold ${config.fold} does not exist`);
  const metas = (list: string[]) => list.map((id) => readCachedMeta(cacheDir, id));
  const trainCases = metas(split.train);
  const valCases = metas(split.val.length ? split.val : split.train);
  if (config.mode === "backsplit") {
    for (const c of [...trainCases, ...valCases]) {
      const missing = config.sources.filter((s) => !c.backgroundSources.includes(s));
      if (missing.length) {
        throw new Error(
          `case ${c.id} was preprocessed without background source(s) ${missing.join(", ")}: run \`backsplit preprocess\` again after adding them`,
        );
      }
    }
  }
  return { plans, cfg, cacheDir, trainCases, valCases, channels: trainCases[0].shape[0] };
}

/** The target spec of the run (from its dataset.json) and the classes it produces. */
export function trainingTargets(config: TrainConfig): TrainingTargets {
  const json = JSON.parse(readFileSync(path.join(config.dataset, "dataset.json"), "utf8")) as DatasetJson;
  const spec = targetSpecFor(config, json);
  const classes = targetClasses(spec);
  const unknownValue = classes.unknown_background ?? null;
  const numClasses =
    Math.max(...Object.values(classes)) + 1 - (classes.ignore !== undefined || unknownValue !== null ? 1 : 0);
  return { spec, classes, lesionClasses: spec.lesionClasses, numClasses };
}

/** Everything the run needs before its network exists. */
export function setUpTraining(config: TrainConfig, device: string): TrainingSetup {
  const data = readTrainingData(config);
  const targets = trainingTargets(config);
  const { cfg } = data;
  // 2D configurations train on single slices: 3D patches of depth 1 through a slice adapter.
  const planned = config.patchSize ?? cfg.patch_size;
  const patch = cfg.dims === 2 && planned.length === 2 ? [1, ...planned] : planned;
  const lesionValues = Object.values(targets.lesionClasses);
  const lossOptions: LossOptions = {
    lesionClasses: lesionValues,
    diceOver: config.diceOver,
    // nnU-Net's rule on the patch actually trained (a --patch override may change it).
    batchDice: config.batchDice ?? batchDiceRule(cfg.dims, patch.slice(3 - cfg.dims), cfg.median_image_size_in_voxels),
    ignoreValue: targets.classes.ignore ?? null,
    unknownBackgroundValue: targets.classes.unknown_background ?? null,
    backgroundClasses: [...Array(targets.numClasses).keys()].filter((c) => !lesionValues.includes(c)),
    deepSupervisionTargets: config.deepSupervisionTargets,
  };
  return {
    ...data,
    ...targets,
    config,
    device,
    architecture: config.architecture ?? "plain",
    patch,
    loadPatch:
      config.augment && config.augmentOverrides?.largerPatch
        ? cfg.dims === 2
          ? [patch[0], ...largerPatchSize(patch.slice(1), config.augmentOverrides.rotation)]
          : largerPatchSize(patch, config.augmentOverrides.rotation)
        : patch,
    batch: config.batchSize ?? cfg.batch_size,
    features: config.features ?? cfg.architecture.features,
    init: config.init ?? DEFAULT_INIT,
    lesionPrior: config.lesionPrior ?? DEFAULT_LESION_PRIOR,
    lossOptions,
  };
}

/**
 * The seed of a loader's patch sampler: every patch drawn is a pure function of it, the iteration
 * and the slot. The one place a per-rank offset goes when several processes train together.
 */
export function samplerSeed(config: TrainConfig, role: "train" | "validation", rank = 0): number {
  return role === "train" ? rankSeed(config.seed, rank) : config.seed + 7919;
}

/** The network, seeded by the run's seed, on the device (deep supervision on unless the config turns it off). */
export function buildNetwork(s: TrainingSetup): Module {
  manualSeed(s.config.seed);
  const net = buildFromPlan(s.cfg, {
    architecture: s.architecture,
    inChannels: s.channels,
    numClasses: s.numClasses,
    features: s.features,
    deepSupervision: s.config.deepSupervision ?? true,
  });
  applyInit(net, s.init);
  setLesionPrior(net, s.numClasses, s.lossOptions.lesionClasses, s.lesionPrior);
  // A background warm-up trains the background as one class first; tied channels give the body the gradient
  // a binary head would. Measured on MS patient 07 (docs/results.md §2, 12 seeds): untied, the merged phase
  // trained the lesion more slowly than binary training and found it in the first quarter on 5 of 12 seeds,
  // tied on 9 of 12; scaling the tied channels' gradients by K − 1 too (a binary head exactly) lost a seed.
  if ((s.config.backgroundWarmupEpochs ?? 0) > 0) tieBackgroundHeads(net, s.numClasses, s.lossOptions.lesionClasses);
  return net.to(s.device);
}

/**
 * The weight of the background split in the loss at a step (`TrainConfig.backgroundWarmupEpochs` E): 0 for
 * the first E epochs and until the lesion is found (`foundAfter`: the epochs trained when validation
 * pseudo-Dice first rose above 0, null while it has not), then rising linearly, step by step, to 1 over E
 * more epochs; 1 without a warm-up. Measured on MS patient 07 (docs/results.md §2): a rise from the first
 * step let the split's CE outweigh the lesion's before the lesion was found, a switch straight to 1 wiped a
 * lesion half-found, and a fixed E of a quarter left one seed in three without the lesion.
 */
export function backgroundSplitWeight(
  config: Pick<TrainConfig, "backgroundWarmupEpochs" | "iterationsPerEpoch">,
  epoch: number,
  iteration: number,
  foundAfter: number | null,
): number {
  const warmup = config.backgroundWarmupEpochs ?? 0;
  if (warmup <= 0) return 1;
  if (foundAfter === null) return 0;
  const iterations = config.iterationsPerEpoch;
  const start = Math.max(warmup, foundAfter) * iterations;
  return Math.min(1, Math.max(0, (epoch * iterations + iteration - start) / (warmup * iterations)));
}

/** The learning rate of one training step: epoch, and iteration within it. */
export type StepSchedule = (epoch: number, iteration: number) => number;

/**
 * nnU-Net's optimiser: SGD Nesterov 0.99, weight decay 3e-5, poly decay of the learning rate per epoch,
 * after an optional linear warm-up per step (`warmupEpochs`).
 */
export function buildOptimizer(
  net: Module,
  s: TrainingSetup,
): { optimizer: Optimizer; scaler: GradScaler; schedule: StepSchedule } {
  const { config } = s;
  const optimizer = Optimizer.sgd(net.parameters(), {
    lr: config.lr,
    momentum: 0.99,
    nesterov: true,
    weightDecay: 3e-5,
  });
  const scaler = new GradScaler({ enabled: config.amp && s.device.startsWith("cuda") });
  const schedule = stepSchedule(config.lr, config.epochs, config.iterationsPerEpoch, config.warmupEpochs ?? 0);
  return { optimizer, scaler, schedule };
}

/**
 * nnU-Net's poly decay per epoch; with `warmupEpochs` > 0, a linear warm-up per step first, after which
 * the poly schedule starts from its beginning (nnU-Net v1's warm-up variant).
 */
export function stepSchedule(lr: number, epochs: number, iterations: number, warmupEpochs: number): StepSchedule {
  const poly = polyLr(lr, epochs, 0.9);
  const perStep = withWarmup((step) => poly(Math.floor(step / iterations)), Math.round(warmupEpochs * iterations));
  return (epoch, iteration) => perStep(epoch * iterations + iteration);
}

/**
 * A loaded batch as tensors on the device: image [N, C, ...patch] float, target [N, ...patch] int64
 * (`patch`: the loaded size, the setup's patch unless the training loader reads larger ones).
 */
export function batchTensors(
  s: Pick<TrainingSetup, "batch" | "channels" | "patch" | "device">,
  b: { data: Float32Array; target: Int16Array },
  patch: number[] = s.patch,
): { image: Tensor; target: Tensor } {
  return {
    image: tensor(b.data, [s.batch, s.channels, ...patch], { device: s.device }),
    target: tensor(b.target, [s.batch, ...patch])
      .to("int64")
      .to(s.device),
  };
}
