// The training loop: nnU-Net's recipe (SGD Nesterov 0.99, lr 1e-2 with poly decay, weight decay
// 3e-5, gradient clip 12, deep supervision, CE + Dice), binary or BackSplit targets, lesion-aware
// sampling, on-device augmentation, checkpoints that resume exactly, JSON-lines log.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { DatasetJson } from "../dataset/layout.js";
import {
  F,
  GradScaler,
  Optimizer,
  type Tensor,
  autocast,
  clipGradNorm,
  getRngState,
  loadSafetensors,
  manualSeed,
  noGrad,
  polyLr,
  resolveDevice,
  saveSafetensors,
  setCudnnBenchmark,
  setDeterministic,
  setRngState,
  setThreads,
  tensor,
  tidy,
} from "../engine/index.js";
import type { Module } from "../engine/nn/module.js";
import { fromBytes } from "../engine/safetensors.js";
import { logitFisherTraces, patchFisher, summarizeFisher } from "../fisher/fisher.js";
import { type ArchitectureName, buildModel } from "../models/registry.js";
import { SliceAdapter } from "../models/slices.js";
import { type Plans, batchDiceRule } from "../plan/plan.js";
import { completeCaseIds } from "../preprocess/cache-state.js";
import { type CachedCase, readCachedMeta } from "../preprocess/cache.js";
import { removeStaleTemps, writeFileAtomicSync } from "../util/atomic.js";
import { mulberry32 } from "../util/random.js";
import type { Report } from "../util/worker.js";
import { augmentBatch } from "./augment.js";
import { Loader } from "./loader.js";
import { deepSupervisionLoss } from "./loss.js";
import { NonFiniteLossError, readLogLines, readOrWriteSplits } from "./run-files.js";
import { targetClasses, targetSpecFor } from "./targets.js";

export interface TrainConfig {
  dataset: string;
  preprocessed: string;
  configuration: string;
  mode: "binary" | "backsplit";
  sources: string[];
  unassigned?: "background" | "ignore" | "marginal";
  nearMm?: number;
  fold: number | "all";
  epochs: number;
  iterationsPerEpoch: number;
  validationIterations: number;
  batchSize?: number;
  patchSize?: number[];
  /** Override the planned feature counts (small networks for tests and CPU budgets). */
  features?: number[];
  /** plain (default), resenc or segresnet. */
  architecture?: ArchitectureName;
  lr: number;
  device: string;
  seed: number;
  amp: boolean;
  threads?: number;
  out: string;
  resume: boolean;
  augment: boolean;
  lesionShare: number;
  diceOver: "all" | "lesion";
  /** CUDA: deterministic algorithms and cuDNN without autotuning (slower; CPU needs nothing). */
  deterministic?: boolean;
  /** Batch Dice on or off; default: nnU-Net's rule (on for 2D, and for 3D patches under a quarter of the median image). */
  batchDice?: boolean;
  /**
   * Fine-tune: start from this run's weights (e.g. a binary model), widening the output layer
   * when this run has more classes (new background classes start as copies of "background").
   */
  initFrom?: string;
  /** Stop after this many epochs in this call (to test resuming); the schedule still spans `epochs`. */
  stopAfterEpochs?: number;
  /**
   * Log Fisher proxies every epoch (off by default): the gradient-norm mean and variance over the
   * epoch's iterations, closed-form logit-space traces on the validation patches, and a Monte Carlo
   * estimate of tr I_Y and tr I_Z on the first validation patch (costs about three iterations).
   */
  fisherLog?: boolean;
}

export interface EpochLog {
  epoch: number;
  lr: number;
  trainLoss: number;
  pseudoDice: number;
  emaPseudoDice: number;
  seconds: number;
  dataWaitShare: number;
  /** With fisherLog: gradient-norm statistics (before clipping) over the epoch's iterations. */
  gradNorm?: { mean: number; variance: number };
  /** With fisherLog: logit-space traces per voxel (validation patches) and parameter-space MC traces. */
  fisher?: { logitTraceY: number; logitTraceZ: number; logitGap: number; traceY: number; traceZ: number; gap: number };
  /** Training-health warning, e.g. a validation pseudo-Dice still 0 after a quarter of the budget. */
  warning?: string;
}

/** The health check: a run whose validation pseudo-Dice is still 0 after a quarter of its epochs. */
export function noLearningWarning(pseudoDice: readonly number[], epochs: number): string | null {
  const quarter = Math.max(1, Math.ceil(epochs / 4));
  if (pseudoDice.length !== quarter || pseudoDice.some((d) => d > 0)) return null;
  return `validation pseudo-Dice is still 0 after ${quarter} of ${epochs} epochs (a quarter of the budget): the model predicts no lesion on the validation patches yet`;
}

/** nnU-Net's 5-fold split: sorted case ids shuffled with a fixed seed, then cut into folds. */
export function fiveFoldSplits(ids: string[], seed = 12345): { train: string[]; val: string[] }[] {
  const sorted = [...ids].sort();
  const random = mulberry32(seed);
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
  }
  const folds = Math.min(5, sorted.length);
  return Array.from({ length: folds }, (_, f) => {
    const val = sorted.filter((_, i) => i % folds === f);
    return { train: sorted.filter((id) => !val.includes(id)), val };
  });
}

function loadSplits(preprocessed: string, ids: string[]): { train: string[]; val: string[] }[] {
  return readOrWriteSplits(preprocessed, ids, (list) => fiveFoldSplits(list));
}

function rngBytes(): string {
  return tidy(() => Buffer.from(getRngState().data().buffer).toString("base64"));
}

function restoreRng(base64: string): void {
  tidy(() => {
    const bytes = Buffer.from(base64, "base64");
    setRngState(fromBytes(new Uint8Array(bytes), [bytes.length], "uint8"));
  });
}

interface CheckpointState {
  epoch: number;
  bestEma: number;
  ema: number;
  rng: string;
  scaler: { scale: number; goodSteps: number };
  classes: Record<string, number>;
  config: TrainConfig;
}

export async function train(config: TrainConfig, report: Report = () => {}): Promise<{ out: string; log: EpochLog[] }> {
  setThreads(config.threads);
  const device = resolveDevice(config.device);
  // CUDA: cuDNN autotuning for speed, or --deterministic (deterministic algorithms, no autotuning).
  // CPU runs are bit-reproducible at a fixed thread count either way.
  if (device.startsWith("cuda")) {
    if (config.deterministic) setDeterministic(true);
    else setCudnnBenchmark(true);
  }
  const plans = JSON.parse(readFileSync(path.join(config.preprocessed, "plans.json"), "utf8")) as Plans;
  const cfg = plans.configurations[config.configuration];
  if (!cfg) throw new Error(`plans.json has no configuration '${config.configuration}'`);
  const json = JSON.parse(readFileSync(path.join(config.dataset, "dataset.json"), "utf8")) as DatasetJson;
  const cacheDir = path.join(config.preprocessed, cfg.data_identifier);
  // #15: only a complete cache (every case, these plans) is trained on, and splits come from it.
  const ids = completeCaseIds({ cacheDir, configuration: config.configuration, cfg, dataset: config.dataset });
  const split = config.fold === "all" ? { train: ids, val: ids } : loadSplits(config.preprocessed, ids)[config.fold];
  if (!split) throw new Error(`fold ${config.fold} does not exist`);
  const metas = (list: string[]) => list.map((id) => readCachedMeta(cacheDir, id));
  const trainCases: CachedCase[] = metas(split.train);
  const valCases: CachedCase[] = metas(split.val.length ? split.val : split.train);

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
  const spec = targetSpecFor(config, json);
  const lesionClasses = spec.lesionClasses;
  const classes = targetClasses(spec);
  // The ignore / unknown-background value is the highest one and is not an output channel.
  const unknownValue = classes.unknown_background ?? null;
  const numClasses =
    Math.max(...Object.values(classes)) + 1 - (classes.ignore !== undefined || unknownValue !== null ? 1 : 0);
  // 2D configurations train on single slices: 3D patches of depth 1 through a slice adapter.
  const planned = config.patchSize ?? cfg.patch_size;
  const patch = cfg.dims === 2 && planned.length === 2 ? [1, ...planned] : planned;
  const batch = config.batchSize ?? cfg.batch_size;
  const arch = cfg.architecture;
  const features = config.features ?? arch.features;
  const stages = features.length;

  manualSeed(config.seed);
  const architecture = config.architecture ?? "plain";
  const built = buildModel(architecture, {
    dims: cfg.dims,
    inChannels: trainCases[0].shape[0],
    numClasses,
    features,
    strides: arch.strides.slice(0, stages),
    kernels: arch.kernels.slice(0, stages),
    deepSupervision: true,
  });
  const net = (cfg.dims === 2 ? new SliceAdapter(built) : built).to(device);
  const outputsOf = (x: Tensor): Tensor[] => {
    const out = net.forward(x);
    return Array.isArray(out) ? out : [out];
  };
  if (config.initFrom && !(config.resume && existsSync(path.join(config.out, "checkpoints", "latest.json")))) {
    initFromRun(net, config.initFrom, classes);
  }
  const optimizer = Optimizer.sgd(net.parameters(), {
    lr: config.lr,
    momentum: 0.99,
    nesterov: true,
    weightDecay: 3e-5,
  });
  const scaler = new GradScaler({ enabled: config.amp && device.startsWith("cuda") });
  const schedule = polyLr(config.lr, config.epochs, 0.9);
  const checkpoints = path.join(config.out, "checkpoints");
  mkdirSync(checkpoints, { recursive: true });
  removeStaleTemps(checkpoints); // a killed run's half-written checkpoint files
  const logFile = path.join(config.out, "log.jsonl");
  let startEpoch = 0;
  let ema = 0;
  let bestEma = Number.NEGATIVE_INFINITY;
  const latestFile = path.join(checkpoints, "latest.json");
  if (config.resume && existsSync(latestFile)) {
    const latest = JSON.parse(readFileSync(latestFile, "utf8")) as CheckpointState;
    const weights = loadSafetensors(path.join(checkpoints, `epoch_${latest.epoch}.safetensors`)).tensors;
    net.loadStateDict(weights);
    for (const t of weights.values()) t.dispose();
    optimizer.loadStateBytes(readFileSync(path.join(checkpoints, `epoch_${latest.epoch}.optim`)));
    restoreRng(latest.rng);
    scaler.loadState(latest.scaler);
    ema = latest.ema;
    bestEma = latest.bestEma;
    startEpoch = latest.epoch + 1;
    // The log keeps only epochs that a checkpoint covers.
    if (existsSync(logFile)) {
      const kept = readLogLines(logFile).filter((l) => (JSON.parse(l) as EpochLog).epoch <= latest.epoch);
      writeFileAtomicSync(logFile, kept.map((l) => `${l}\n`).join(""));
    }
  } else {
    rmSync(logFile, { force: true });
  }
  writeFileAtomicSync(
    path.join(config.out, "training.json"),
    `${JSON.stringify({ config, architecture, classes, lesionClasses, numClasses, patch, batch, features, plans: path.resolve(config.preprocessed) }, null, 2)}\n`,
  );

  // The run carries its own copy of the plans, so checkpoints stay usable if the preprocessed folder moves.
  writeFileAtomicSync(path.join(config.out, "plans.json"), `${JSON.stringify(plans, null, 2)}\n`);
  const iters = config.iterationsPerEpoch;
  const trainLoader = new Loader(
    {
      cacheDir,
      cases: trainCases,
      sampler: { patch, batch, seed: config.seed, lesionShare: config.lesionShare },
      targets: spec,
    },
    startEpoch * iters,
    config.epochs * iters,
  );
  // Validation uses the same fixed patches every epoch: read them once.
  const valLoader = new Loader(
    {
      cacheDir,
      cases: valCases,
      sampler: { patch, batch, seed: config.seed + 7919, lesionShare: config.lesionShare },
      targets: spec,
    },
    0,
    config.validationIterations,
    config.validationIterations,
  );
  const valBatches = await Promise.all(Array.from({ length: config.validationIterations }, (_, i) => valLoader.get(i)));
  const lesionValues = Object.values(lesionClasses);
  const lossOptions = {
    lesionClasses: lesionValues,
    diceOver: config.diceOver,
    // nnU-Net's rule on the patch actually trained (a --patch override may change it).
    batchDice: config.batchDice ?? batchDiceRule(cfg.dims, patch.slice(3 - cfg.dims), cfg.median_image_size_in_voxels),
    ignoreValue: classes.ignore ?? null,
    unknownBackgroundValue: unknownValue,
    backgroundClasses: [...Array(numClasses).keys()].filter((c) => !lesionValues.includes(c)),
  };
  const channels = trainCases[0].shape[0];
  const toTensors = (b: { data: Float32Array; target: Int16Array }) => ({
    image: tensor(b.data, [batch, channels, ...patch], { device }),
    target: tensor(b.target, [batch, ...patch])
      .to("int64")
      .to(device),
  });
  const log: EpochLog[] = [];
  // Validation pseudo-Dice of every epoch so far (a resumed run reads its log back) for the health check.
  const diceHistory: number[] = existsSync(logFile)
    ? readFileSync(logFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as EpochLog).pseudoDice)
    : [];
  const stopAt =
    config.stopAfterEpochs === undefined ? config.epochs : Math.min(config.epochs, startEpoch + config.stopAfterEpochs);
  try {
    for (let epoch = startEpoch; epoch < stopAt; epoch++) {
      const started = performance.now();
      const waitedBefore = trainLoader.waited;
      optimizer.lr = schedule(epoch);
      net.train();
      let lossSum = 0;
      const gradNorms: number[] = [];
      for (let it = 0; it < iters; it++) {
        const b = await trainLoader.get(epoch * iters + it);
        const loss = tidy(() => {
          const raw = toTensors(b);
          const { image, target } = config.augment ? augment(raw.image, raw.target, cfg.dims) : raw;
          optimizer.zeroGrad();
          const l = autocast(
            () => deepSupervisionLoss(outputsOf(image), target, lossOptions),
            "float16",
            scaler.enabled,
          );
          scaler.scaleLoss(l).backward();
          scaler.unscale(net.parameters());
          const norm = clipGradNorm(net.parameters(), 12);
          if (config.fisherLog) gradNorms.push(norm.item());
          scaler.step(optimizer);
          scaler.update();
          return l.item();
        });
        lossSum += loss;
        if (!Number.isFinite(loss)) throw new NonFiniteLossError(epoch, it, loss, checkpoints); // #15
        report({ kind: "iteration", epoch, iteration: it, loss });
      }
      // Validation pseudo-Dice on fixed patches (lesion classes pooled), as nnU-Net's online evaluation.
      net.eval();
      const counts = { tp: 0, fp: 0, fn: 0 };
      const logitTraces = { y: 0, z: 0, gap: 0, voxels: 0 };
      for (let it = 0; it < config.validationIterations; it++) {
        const b = valBatches[it];
        noGrad(() =>
          tidy(() => {
            const { image, target } = toTensors(b);
            const logits = outputsOf(image)[0];
            if (config.fisherLog) {
              const t = logitFisherTraces(F.softmax(logits.float(), 1), lossOptions.lesionClasses);
              logitTraces.y += t.traceY.sum().item();
              logitTraces.z += t.traceZ.sum().item();
              logitTraces.gap += t.gap.sum().item();
              logitTraces.voxels += t.gap.numel;
            }
            const predicted = logits.argmax(1);
            let isLesion = predicted.eq(-1);
            let truth = target.eq(-1);
            for (const v of lossOptions.lesionClasses) {
              isLesion = isLesion.logicalOr(predicted.eq(v));
              truth = truth.logicalOr(target.eq(v));
            }
            counts.tp += isLesion.logicalAnd(truth).sum().item();
            counts.fp += isLesion.logicalAnd(truth.logicalNot()).sum().item();
            counts.fn += isLesion.logicalNot().logicalAnd(truth).sum().item();
          }),
        );
      }
      const pseudoDice =
        counts.tp + counts.fp + counts.fn === 0 ? 1 : (2 * counts.tp) / (2 * counts.tp + counts.fp + counts.fn);
      ema = epoch === 0 ? pseudoDice : 0.9 * ema + 0.1 * pseudoDice;
      const seconds = (performance.now() - started) / 1000;
      const entry: EpochLog = {
        epoch,
        lr: optimizer.lr,
        trainLoss: lossSum / iters,
        pseudoDice,
        emaPseudoDice: ema,
        seconds,
        dataWaitShare: (trainLoader.waited - waitedBefore) / seconds,
      };
      diceHistory.push(pseudoDice);
      const warning = noLearningWarning(diceHistory, config.epochs);
      if (warning) entry.warning = warning;
      if (config.fisherLog) {
        const m = gradNorms.reduce((a, b) => a + b, 0) / gradNorms.length;
        entry.gradNorm = {
          mean: m,
          variance: gradNorms.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(gradNorms.length - 1, 1),
        };
        // The label samples must not shift training's random stream: the log leaves training unchanged.
        const rng = getRngState();
        const mc = tidy(() =>
          summarizeFisher([
            patchFisher(net, toTensors(valBatches[0]).image.narrow(0, 0, 1), {
              lesionClasses: lossOptions.lesionClasses,
              samples: 2,
            }),
          ]),
        );
        setRngState(rng);
        rng.dispose();
        entry.fisher = {
          logitTraceY: logitTraces.y / logitTraces.voxels,
          logitTraceZ: logitTraces.z / logitTraces.voxels,
          logitGap: logitTraces.gap / logitTraces.voxels,
          traceY: mc.total.traceY.mean,
          traceZ: mc.total.traceZ.mean,
          gap: mc.total.gap.mean,
        };
      }
      const isBest = ema > bestEma;
      if (isBest) bestEma = ema;
      saveCheckpoint(
        checkpoints,
        net,
        optimizer,
        { epoch, bestEma, ema, rng: rngBytes(), scaler: scaler.state(), classes, config },
        isBest,
      );
      appendFileSync(logFile, `${JSON.stringify(entry)}\n`);
      log.push(entry);
      report({ kind: "epoch", ...entry });
    }
  } finally {
    await trainLoader.close();
    await valLoader.close();
  }
  net.dispose();
  optimizer.dispose();
  return { out: config.out, log };
}

/** Augmentation in the configuration's own dimensionality (2D patches are 3D tensors of depth 1). */
function augment(image: Tensor, target: Tensor, dims: 2 | 3): { image: Tensor; target: Tensor } {
  if (dims === 3) return augmentBatch(image, target);
  const out = augmentBatch(image.squeeze(2), target.squeeze(1));
  return { image: out.image.unsqueeze(2), target: out.target.unsqueeze(1) };
}

/**
 * Loads another run's weights into `net`. Output layers (heads) may be narrower there: each class
 * of this run takes the row of the class with the same name, or of "background" when it has none.
 */
export function initFromRun(net: Module, run: string, classes: Record<string, number>): void {
  const record = JSON.parse(readFileSync(path.join(run, "training.json"), "utf8")) as {
    classes: Record<string, number>;
  };
  const dir = path.join(run, "checkpoints");
  const latest = JSON.parse(readFileSync(path.join(dir, "latest.json"), "utf8")) as { epoch: number };
  const file = existsSync(path.join(dir, "best.safetensors"))
    ? path.join(dir, "best.safetensors")
    : path.join(dir, `epoch_${latest.epoch}.safetensors`);
  const source = loadSafetensors(file).tensors;
  const rowOf = (name: string) => record.classes[name] ?? record.classes.background;
  const names = Object.entries(classes)
    .filter(([n]) => n !== "ignore")
    .sort((a, b) => a[1] - b[1])
    .map(([n]) => n);
  const widened = new Map<string, Tensor>();
  for (const [name, target] of net.stateDict()) {
    const from = source.get(name);
    if (!from) throw new Error(`${file}: has no ${name} (a different architecture?)`);
    if (from.shape.join("x") === target.shape.join("x")) widened.set(name, from);
    else if (from.shape.slice(1).join("x") === target.shape.slice(1).join("x") && target.shape[0] === names.length) {
      widened.set(
        name,
        tidy(() => keepRows(from, names.map(rowOf))),
      );
    } else throw new Error(`${file}: ${name} has shape [${from.shape}], cannot initialise [${target.shape}]`);
  }
  net.loadStateDict(widened);
  for (const t of [...source.values(), ...widened.values()]) t.dispose();
}

function keepRows(t: Tensor, rows: number[]): Tensor {
  return t.indexSelect(0, tensor(new BigInt64Array(rows.map(BigInt)), [rows.length]));
}

/** Writes epoch_N.{safetensors,optim}, then points latest.json at them (the commit), then prunes. */
function saveCheckpoint(dir: string, net: Module, optimizer: Optimizer, state: CheckpointState, isBest: boolean): void {
  const weights = path.join(dir, `epoch_${state.epoch}.safetensors`);
  saveSafetensors(weights, net.stateDict(), { epoch: String(state.epoch), classes: JSON.stringify(state.classes) });
  writeFileAtomicSync(path.join(dir, `epoch_${state.epoch}.optim`), optimizer.stateBytes());
  writeFileAtomicSync(path.join(dir, "latest.json"), `${JSON.stringify(state)}\n`);
  if (isBest) {
    saveSafetensors(path.join(dir, "best.safetensors"), net.stateDict(), {
      epoch: String(state.epoch),
      classes: JSON.stringify(state.classes),
    });
  }
  for (const f of readdirSync(dir)) {
    const m = /^epoch_(\d+)\./.exec(f);
    if (m && Number(m[1]) !== state.epoch) rmSync(path.join(dir, f), { force: true });
  }
}
