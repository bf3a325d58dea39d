// The training loop: nnU-Net's recipe (SGD Nesterov 0.99, lr 1e-2 with poly decay, weight decay
// 3e-5, gradient clip 12, deep supervision, CE + Dice), binary or BackSplit targets, lesion-aware
// sampling, on-device augmentation, checkpoints that resume exactly, JSON-lines log. The parts:
// setup.ts (data, targets, network, optimiser), step.ts (one step), validation.ts, checkpoint.ts
// (resume, checkpoints, fine-tuning), callbacks.ts (the Fisher log is one, in src/fisher); the run
// folder itself is src/run/record.ts.
import path from "node:path";
import { fisherLogCallbacks } from "../fisher/training-log.js";
import type { TrainingCallbacks } from "../run/callbacks.js";
import type { EpochLog, TrainConfig } from "../run/config.js";
import { TrainingRun } from "../run/record.js";
import type { Report } from "../util/worker.js";
import { type StartPoint, initFromRun, resumeOrStart, saveEpoch } from "./checkpoint.js";
import { Loader } from "./loader.js";
import {
  type TrainingSetup,
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

/** The health check: a run whose validation pseudo-Dice is still 0 after a quarter of its epochs. */
export function noLearningWarning(pseudoDice: readonly number[], epochs: number): string | null {
  const quarter = Math.max(1, Math.ceil(epochs / 4));
  if (pseudoDice.length !== quarter || pseudoDice.some((d) => d > 0)) return null;
  return `validation pseudo-Dice is still 0 after ${quarter} of ${epochs} epochs (a quarter of the budget): the model predicts no lesion on the validation patches yet`;
}

/** The training and validation loaders (validation: the same fixed patches every epoch). */
function openLoaders(s: TrainingSetup, startEpoch: number): { train: Loader; val: Loader } {
  const { config, cacheDir, patch, batch, spec } = s;
  const iters = config.iterationsPerEpoch;
  const sampler = (role: "train" | "validation") => ({
    patch,
    batch,
    seed: samplerSeed(config, role),
    lesionShare: config.lesionShare,
  });
  const train = new Loader(
    { cacheDir, cases: s.trainCases, sampler: sampler("train"), targets: spec },
    startEpoch * iters,
    config.epochs * iters,
  );
  const n = config.validationIterations;
  const val = new Loader({ cacheDir, cases: s.valCases, sampler: sampler("validation"), targets: spec }, 0, n, n);
  return { train, val };
}

/** Writes training.json and the run's copy of the plans. */
function writeRunRecord(run: TrainingRun, s: TrainingSetup): void {
  const { config, architecture, classes, lesionClasses, numClasses, patch, batch, features } = s;
  run.writeRecord({
    config,
    architecture,
    classes,
    lesionClasses,
    numClasses,
    patch,
    batch,
    features,
    plans: path.resolve(config.preprocessed),
  });
  // The run carries its own copy of the plans, so checkpoints stay usable if the preprocessed folder moves.
  run.writePlans(s.plans);
}

export async function train(config: TrainConfig, report: Report = () => {}): Promise<{ out: string; log: EpochLog[] }> {
  const device = configureDevice(config);
  const setup = setUpTraining(config, device);
  const net = buildNetwork(setup);
  const run = new TrainingRun(config.out);
  if (config.initFrom && !(config.resume && run.hasCheckpoint())) initFromRun(net, config.initFrom, setup.classes);
  const { optimizer, scaler, schedule } = buildOptimizer(net, setup);
  const parts = { net, optimizer, scaler };
  run.prepareCheckpoints();
  const start = resumeOrStart(run, config, parts);
  writeRunRecord(run, setup);
  const loaders = openLoaders(setup, start.startEpoch);
  const log: EpochLog[] = [];
  try {
    const valBatches = await Promise.all(
      Array.from({ length: config.validationIterations }, (_, i) => loaders.val.get(i)),
    );
    const callbacks: TrainingCallbacks = config.fisherLog ? fisherLogCallbacks(setup.lossOptions.lesionClasses) : {};
    const step: StepContext = { setup, ...parts };
    await runEpochs({ setup, run, step, start, schedule, loader: loaders.train, valBatches, callbacks, report, log });
  } finally {
    await loaders.train.close();
    await loaders.val.close();
  }
  net.dispose();
  optimizer.dispose();
  return { out: config.out, log };
}

interface EpochLoop {
  setup: TrainingSetup;
  run: TrainingRun;
  step: StepContext;
  start: StartPoint;
  schedule: (epoch: number) => number;
  loader: Loader;
  valBatches: Awaited<ReturnType<Loader["get"]>>[];
  callbacks: TrainingCallbacks;
  report: Report;
  log: EpochLog[];
}

/** The epochs of this call: train, validate, log, checkpoint. */
async function runEpochs(o: EpochLoop): Promise<void> {
  const { setup, run, step, callbacks } = o;
  const { config } = setup;
  let { ema, bestEma } = o.start;
  // Validation pseudo-Dice of every epoch so far (a resumed run reads its log back) for the health check.
  const diceHistory = run.log().map((l) => l.pseudoDice);
  const stopAt =
    config.stopAfterEpochs === undefined
      ? config.epochs
      : Math.min(config.epochs, o.start.startEpoch + config.stopAfterEpochs);
  for (let epoch = o.start.startEpoch; epoch < stopAt; epoch++) {
    const started = performance.now();
    const waitedBefore = o.loader.waited;
    step.optimizer.lr = o.schedule(epoch);
    const trainLoss = await trainEpoch(o, epoch);
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
    };
    diceHistory.push(pseudoDice);
    const warning = noLearningWarning(diceHistory, config.epochs);
    if (warning) entry.warning = warning;
    callbacks.onEpochEnd?.(entry, {
      net: step.net,
      lesionClasses: setup.lossOptions.lesionClasses,
      firstValidationImage: () => batchTensors(setup, o.valBatches[0]).image.narrow(0, 0, 1),
    });
    const isBest = ema > bestEma;
    if (isBest) bestEma = ema;
    saveEpoch(run, step, { epoch, bestEma, ema, classes: setup.classes, config }, isBest);
    run.appendLog(entry);
    o.log.push(entry);
    o.report({ kind: "epoch", ...entry });
  }
}

/** One epoch's training steps; returns the mean loss. A non-finite loss stops the run (#15). */
async function trainEpoch(o: EpochLoop, epoch: number): Promise<number> {
  const iters = o.setup.config.iterationsPerEpoch;
  o.step.net.train();
  let lossSum = 0;
  for (let it = 0; it < iters; it++) {
    const b = await o.loader.get(epoch * iters + it);
    const result = trainStep(o.step, b);
    const loss = result.loss;
    lossSum += loss;
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(epoch, it, loss, o.run.checkpointDir);
    o.callbacks.afterStep?.(result, epoch, it);
    o.report({ kind: "iteration", epoch, iteration: it, loss });
  }
  return lossSum / iters;
}
