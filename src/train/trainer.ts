// The training loop: nnU-Net's recipe (SGD Nesterov 0.99, lr 1e-2 with poly decay, weight decay
// 3e-5, gradient clip 12, deep supervision, CE + Dice), binary or BackSplit targets, lesion-aware
// sampling, on-device augmentation, checkpoints that resume exactly, JSON-lines log. The parts:
// setup.ts (data, targets, network, optimiser), step.ts (one step), validation.ts, checkpoint.ts
// (resume, checkpoints, fine-tuning), callbacks.ts (the Fisher log is one, in src/fisher); the run
// folder itself is src/run/record.ts.
import os from "node:os";
import path from "node:path";
import { engineInfo, manualSeed, tensor } from "../engine/index.js";
import { fisherLogCallbacks } from "../fisher/training-log.js";
import type { TrainingCallbacks } from "../run/callbacks.js";
import type { EpochLog, TrainConfig } from "../run/config.js";
import { TrainingRun } from "../run/record.js";
import { weightsDigest } from "../run/weights.js";
import type { Report } from "../util/worker.js";
import { type StartPoint, initFromRun, resumeOrStart, saveEpoch } from "./checkpoint.js";
import { DataParallel, joinGroup, launchEnv, localBatch, rankSeed } from "./distributed.js";
import { batchLesionShare, restartLesionStart } from "./lesion-share.js";
import { Loader } from "./loader.js";
import type { SamplerOptions } from "./sampler.js";
import {
  type StepSchedule,
  type TrainingSetup,
  backgroundSplitWeight,
  batchTensors,
  buildNetwork,
  buildOptimizer,
  configureDevice,
  samplerSeed,
  setUpTraining,
} from "./setup.js";
import { NonFiniteLossError, type StepContext, trainStep } from "./step.js";
import { nextEma, validationDice } from "./validation.js";

export type { EpochLog, TrainConfig } from "../run/config.js";
export { initFromRun } from "./checkpoint.js";

/**
 * The health check: a run whose validation pseudo-Dice is still 0 after a quarter of its epochs. From an
 * even start (lesion prior 0) it names the remedy measured on such runs (docs/training.md, "heads' biases").
 */
export function noLearningWarning(pseudoDice: readonly number[], epochs: number, lesionPrior = 0): string | null {
  const quarter = Math.max(1, Math.ceil(epochs / 4));
  if (pseudoDice.length !== quarter || pseudoDice.some((d) => d > 0)) return null;
  const stalled = `validation pseudo-Dice is still 0 after ${quarter} of ${epochs} epochs (a quarter of the budget): the model predicts no lesion on the validation patches yet`;
  if (lesionPrior > 0) return stalled;
  return `${stalled}; every MS run measured that stalled like this learned at once when retrained with --lesion-prior 0.01 (docs/training.md)`;
}

/** The patch draws of one rank's training batches. */
function trainSampler(s: TrainingSetup, rank: number): SamplerOptions {
  const { config, patch, batch } = s;
  return {
    patch,
    batch,
    seed: samplerSeed(config, "train", rank),
    lesionShare: config.lesionShare,
    lesionPoint: config.lesionPoint,
    lesionSampling: config.lesionSampling,
  };
}

/** The training and validation loaders (validation: the same fixed patches every epoch). */
function openLoaders(s: TrainingSetup, startEpoch: number, rank: number): { train: Loader; val: Loader } {
  const { config, cacheDir, loadPatch, spec } = s;
  const iters = config.iterationsPerEpoch;
  const train = new Loader(
    { cacheDir, cases: s.trainCases, sampler: trainSampler(s, rank), targets: spec, load: loadPatch },
    startEpoch * iters,
    config.epochs * iters,
  );
  const n = config.validationIterations;
  const validation = { ...trainSampler(s, rank), seed: samplerSeed(config, "validation") };
  const val = new Loader({ cacheDir, cases: s.valCases, sampler: validation, targets: spec }, 0, n, n);
  return { train, val };
}

/** Writes training.json and the run's copy of the plans. */
function writeRunRecord(run: TrainingRun, s: TrainingSetup, worldSize: number): void {
  const { config, architecture, classes, lesionClasses, numClasses, patch, batch, features, init, lesionPrior } = s;
  run.writeRecord({
    config,
    architecture,
    classes,
    lesionClasses,
    numClasses,
    patch,
    batch,
    features,
    init,
    lesionPrior,
    plans: path.resolve(config.preprocessed),
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? "unknown",
      threads: engineInfo().threads,
      libtorch: engineInfo().version,
      device: s.device,
      worldSize,
    },
  });
  // The run carries its own copy of the plans, so checkpoints stay usable if the preprocessed folder moves.
  run.writePlans(s.plans);
}

/** Epochs after which a run still at validation pseudo-Dice 0 starts over (`TrainConfig.restartIfStalled`). */
export const STALL_CHECK_EPOCHS = 2;

/**
 * Whether a run starts over when it stalls: on unless turned off, and only for a run that chose no lesion
 * prior, is not fine-tuned from another run, has not started over already, and trains past the check.
 */
export function restartsIfStalled(config: TrainConfig): boolean {
  return (
    config.restartIfStalled !== false &&
    config.lesionPrior === undefined &&
    config.initFrom === undefined &&
    config.restartedAfterEpochs === undefined &&
    config.epochs > STALL_CHECK_EPOCHS
  );
}

/**
 * The background warm-up of a stalled BackSplit run's new start, when it chose none: a quarter of its
 * epochs. Measured on MS patient 07 (docs/results.md §2): the split stalls again after a plain restart,
 * in our trainer and in the PyTorch twin, while binary training finds the lesion at once.
 */
export function restartBackgroundWarmup(config: Pick<TrainConfig, "mode" | "epochs" | "backgroundWarmupEpochs">) {
  if (config.mode !== "backsplit" || (config.backgroundWarmupEpochs ?? 0) > 0) return config.backgroundWarmupEpochs;
  return Math.max(1, Math.round(config.epochs / 4));
}

function restartWarmupNote(config: TrainConfig): string {
  const warmup = config.mode === "backsplit" ? restartBackgroundWarmup(config) : undefined;
  return warmup ? ` and a background warm-up of ${warmup} epochs` : "";
}

function stallWarning(config: TrainConfig, lesionShare: number): string {
  const start = restartLesionStart(lesionShare) * 100;
  const share = +(lesionShare * 100).toPrecision(2);
  return `validation pseudo-Dice is 0 after the first ${STALL_CHECK_EPOCHS} epochs: starting over from a fresh initialisation at a ${start} % lesion start (its batches held ${share} % lesion)${restartWarmupNote(config)} (this start is kept in stalled-start/; --no-restart trains on instead)`;
}

/** The settings of the fresh start a stalled run makes in its own folder. */
function stalledRestartConfig(config: TrainConfig, lesionPrior: number): TrainConfig {
  return {
    ...config,
    lesionPrior,
    backgroundWarmupEpochs: restartBackgroundWarmup(config),
    restartedAfterEpochs: STALL_CHECK_EPOCHS,
    resume: false,
    stopAfterEpochs: undefined,
  };
}

/**
 * A resumed run that had started over continues with the settings of its new start (its record has them),
 * not those of the command line that first launched it.
 */
function withRecordedRestart(config: TrainConfig): TrainConfig {
  if (!config.resume || config.lesionPrior !== undefined) return config;
  const record = new TrainingRun(config.out).recordOrNull();
  const after = record?.config?.restartedAfterEpochs;
  if (after === undefined) return config;
  const warmup = record?.config?.backgroundWarmupEpochs;
  return { ...config, lesionPrior: record?.lesionPrior, restartedAfterEpochs: after, backgroundWarmupEpochs: warmup };
}

/**
 * The device of this process: with several ranks on CUDA, GPU LOCAL_RANK (or the only visible one when
 * the launcher gave each process its own, e.g. SLURM's --gpus-per-task).
 */
function rankDevice(device: string, localRank: number): string {
  if (!device.startsWith("cuda") || device.includes(":")) return device;
  return `cuda:${localRank < engineInfo().cudaDeviceCount ? localRank : 0}`;
}

/**
 * Trains one run. Under a launcher (torchrun, srun, `train --nproc`) it is one rank of a data-parallel
 * run (src/train/distributed.ts): the batch is shared out, gradients are summed, and only rank 0
 * validates, logs and writes the run folder.
 */
export async function train(
  requested: TrainConfig,
  report: Report = () => {},
): Promise<{ out: string; log: EpochLog[] }> {
  const config = withRecordedRestart(requested);
  const launch = launchEnv();
  const device = configureDevice(launch ? { ...config, device: rankDevice(config.device, launch.localRank) } : config);
  const group = launch ? joinGroup(launch, device) : null;
  try {
    const o = group ? { group, report } : { group: null, report };
    const first = await trainOnDevice(config, device, o);
    if (!first.stalled) return { out: first.out, log: first.log };
    // Its log, steps and checkpoints are in stalled-start/ now (rank 0 moved them before the last barrier).
    const { lesionShare } = first.stalled;
    const lesionPrior = restartLesionStart(lesionShare);
    if ((group?.rank ?? 0) === 0) report({ kind: "restart", epochs: STALL_CHECK_EPOCHS, lesionPrior, lesionShare });
    const { out, log } = await trainOnDevice(stalledRestartConfig(config, lesionPrior), device, o);
    return { out, log };
  } finally {
    group?.destroy();
  }
}

async function trainOnDevice(
  config: TrainConfig,
  device: string,
  o: { group: ReturnType<typeof joinGroup> | null; report: Report },
): Promise<{ out: string; log: EpochLog[]; stalled: { lesionShare: number } | null }> {
  const setup = setUpTraining(config, device);
  const globalBatch = setup.batch;
  const rank = o.group?.rank ?? 0;
  if (o.group) setup.batch = localBatch(globalBatch, o.group.worldSize);
  const net = buildNetwork(setup);
  const run = new TrainingRun(config.out);
  if (config.initFrom && !(config.resume && run.hasCheckpoint())) initFromRun(net, config.initFrom, setup.classes);
  const { optimizer, scaler, schedule } = buildOptimizer(net, setup);
  const parts = { net, optimizer, scaler };
  const dp = o.group ? new DataParallel(o.group, net.parameters()) : null;
  const main = dp?.isMain ?? true;
  if (main) run.prepareCheckpoints();
  const start = resumeOrStart(run, config, parts, { ...setup, batch: globalBatch }, main);
  if (dp) {
    agreeOnStart(dp, start.startEpoch, config.out);
    dp.broadcastFromMain([...net.parameters(), ...[...net.namedBuffers()].map(([, b]) => b)]);
    setup.lossOptions.distributed = { globalSum: dp.globalSum, worldSize: dp.worldSize };
    // Augmentation draws from libtorch's generator: a stream of its own per rank.
    if (!main) manualSeed(rankSeed(config.seed, rank) + 104729 * start.startEpoch);
  }
  if (main) writeRunRecord(run, { ...setup, batch: globalBatch }, o.group?.worldSize ?? 1);
  const loaders = openLoaders(setup, start.startEpoch, rank);
  const log: EpochLog[] = [];
  let stalled = false;
  // Only a stalled run needs it. Every rank computes the same number: the draws of the run on one process.
  let share: number | undefined;
  const lesionShare = () => {
    share ??= batchLesionShare(
      setup.cacheDir,
      setup.trainCases,
      { ...trainSampler(setup, 0), batch: globalBatch },
      Object.values(setup.spec.lesionClasses),
      STALL_CHECK_EPOCHS * config.iterationsPerEpoch,
    );
    return share;
  };
  try {
    const valBatches = main
      ? await Promise.all(Array.from({ length: config.validationIterations }, (_, i) => loaders.val.get(i)))
      : [];
    const callbacks: TrainingCallbacks = config.fisherLog ? fisherLogCallbacks(setup.lossOptions.lesionClasses) : {};
    const step: StepContext = { setup, ...parts, afterBackward: dp ? () => dp.reduceGradients() : undefined };
    const report = main ? o.report : () => {};
    stalled = await runEpochs({
      setup,
      run,
      step,
      start,
      schedule,
      loader: loaders.train,
      valBatches,
      callbacks,
      report,
      log,
      dp,
      lesionShare,
    });
    if (stalled && main) run.setAsideStalledStart();
    dp?.barrier();
  } finally {
    await loaders.train.close();
    await loaders.val.close();
  }
  net.dispose();
  optimizer.dispose();
  return { out: config.out, log, stalled: stalled ? { lesionShare: lesionShare() } : null };
}

/** Every rank must resume from the same epoch (a missing shared run folder shows up here, not as a hang). */
function agreeOnStart(dp: DataParallel, startEpoch: number, out: string): void {
  const epochs = dp.group.allgather(tensor([startEpoch], [1], { dtype: "int64" })).map((t) => t.item());
  const differing = epochs.findIndex((e) => e !== epochs[0]);
  if (differing >= 0) {
    throw new Error(
      `rank ${differing} would start at epoch ${epochs[differing]} but rank 0 at ${epochs[0]}: every rank must see the same run folder (${out}) on a shared file system to resume`,
    );
  }
}

interface EpochLoop {
  setup: TrainingSetup;
  run: TrainingRun;
  step: StepContext;
  start: StartPoint;
  schedule: StepSchedule;
  loader: Loader;
  valBatches: Awaited<ReturnType<Loader["get"]>>[];
  callbacks: TrainingCallbacks;
  report: Report;
  log: EpochLog[];
  /** Set in a distributed run: ranks other than 0 train only, then wait for rank 0's epoch end. */
  dp: DataParallel | null;
  /** The lesion's share of the voxels in the batches of the stall check's epochs (read when a run stalls). */
  lesionShare: () => number;
}

/**
 * The epochs of this call: train, validate, log, checkpoint. Returns true when the run stalled and
 * starts over (`restartsIfStalled`): then it stops after the check epoch, on every rank.
 */
async function runEpochs(o: EpochLoop): Promise<boolean> {
  const { setup, run, step, callbacks } = o;
  const { config } = setup;
  let { ema, bestEma } = o.start;
  // Validation pseudo-Dice of every epoch so far (a resumed run reads its log back) for the health check.
  const diceHistory = run.log().map((l) => l.pseudoDice);
  // The background warm-up waits for the lesion: the epochs trained when pseudo-Dice first rose above 0.
  const firstFound = diceHistory.findIndex((d) => d > 0);
  let foundAfter: number | null = firstFound < 0 ? null : firstFound + 1;
  const waitsForLesion = () => (config.backgroundWarmupEpochs ?? 0) > 0 && foundAfter === null;
  const stopAt =
    config.stopAfterEpochs === undefined
      ? config.epochs
      : Math.min(config.epochs, o.start.startEpoch + config.stopAfterEpochs);
  for (let epoch = o.start.startEpoch; epoch < stopAt; epoch++) {
    const started = performance.now();
    const waitedBefore = o.loader.waited;
    const steps = await trainEpoch(o, epoch, foundAfter);
    const trainLoss = steps.meanLoss;
    const checksStall = restartsIfStalled(config) && epoch === STALL_CHECK_EPOCHS - 1;
    if (o.dp && !o.dp.isMain) {
      o.dp.barrier(); // rank 0 validates and checkpoints meanwhile
      // Rank 0 alone knows the validation Dice: every rank adds its vote, only rank 0's is ever 1.
      if (checksStall && o.dp.globalSum(tensor([0])).item() > 0) return true;
      if (waitsForLesion() && o.dp.globalSum(tensor([0])).item() > 0) foundAfter = epoch + 1;
      continue;
    }
    const pseudoDice = validationDice(setup, step.net, o.valBatches, callbacks);
    ema = nextEma(ema, pseudoDice, epoch);
    const seconds = (performance.now() - started) / 1000;
    const entry: EpochLog = {
      epoch,
      lr: step.optimizer.lr,
      trainLoss,
      pseudoDice,
      emaPseudoDice: ema,
      seconds,
      dataWaitShare: (o.loader.waited - waitedBefore) / seconds,
      weightsDigest: weightsDigest(step.net),
      ...((config.backgroundWarmupEpochs ?? 0) > 0 && { backgroundSplitWeight: steps.splitWeight }),
    };
    diceHistory.push(pseudoDice);
    const stalled = checksStall && diceHistory.every((d) => d === 0);
    const warning = stalled
      ? stallWarning(config, o.lesionShare())
      : noLearningWarning(diceHistory, config.epochs, setup.lesionPrior);
    if (warning) entry.warning = warning;
    callbacks.onEpochEnd?.(entry, {
      net: step.net,
      lesionClasses: setup.lossOptions.lesionClasses,
      firstValidationImage: () => batchTensors(setup, o.valBatches[0]).image.narrow(0, 0, 1),
    });
    const isBest = ema > bestEma;
    if (isBest) bestEma = ema;
    saveEpoch(run, step, { epoch, bestEma, ema, classes: setup.classes, config }, isBest);
    run.appendIterations({ epoch, losses: steps.losses, gradNorms: steps.gradNorms });
    run.appendLog(entry);
    o.log.push(entry);
    o.report({ kind: "epoch", ...entry });
    o.dp?.barrier();
    if (checksStall && o.dp) o.dp.globalSum(tensor([stalled ? 1 : 0]));
    if (stalled) return true;
    if (waitsForLesion()) {
      o.dp?.globalSum(tensor([pseudoDice > 0 ? 1 : 0]));
      if (pseudoDice > 0) foundAfter = epoch + 1;
    }
  }
  return false;
}

/** One epoch's training steps: every step's loss and gradient norm, and the mean loss (global in a
 * distributed run). A non-finite loss stops the run (#15). */
async function trainEpoch(
  o: EpochLoop,
  epoch: number,
  foundAfter: number | null,
): Promise<{ meanLoss: number; losses: number[]; gradNorms: number[]; splitWeight: number }> {
  const iters = o.setup.config.iterationsPerEpoch;
  o.step.net.train();
  let lossSum = 0;
  const losses: number[] = [];
  const gradNorms: number[] = [];
  let split = 1;
  for (let it = 0; it < iters; it++) {
    o.step.optimizer.lr = o.schedule(epoch, it);
    const b = await o.loader.get(epoch * iters + it);
    split = backgroundSplitWeight(o.setup.config, epoch, it, foundAfter);
    const lossOptions = split < 1 ? { ...o.setup.lossOptions, backgroundSplitWeight: split } : undefined;
    const result = trainStep(o.step, b, lossOptions);
    const loss = result.loss;
    lossSum += loss;
    losses.push(loss);
    gradNorms.push(result.gradNorm);
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(epoch, it, loss, o.run.checkpointDir);
    o.callbacks.afterStep?.(result, epoch, it);
    o.report({ kind: "iteration", epoch, iteration: it, loss });
  }
  // A rank's loss is its share of the whole batch's: the shares add up to the global loss.
  const meanLoss = o.dp ? o.dp.globalSum(tensor([lossSum])).item() / iters : lossSum / iters;
  return { meanLoss, losses, gradNorms, splitWeight: split };
}
