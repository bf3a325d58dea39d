// Checkpoints and resuming, on top of the run folder (src/run/record.ts): the random generator's
// state travels with the weights and the optimiser, so a resumed run continues bit for bit; and
// fine-tuning from another run's weights (initFromRun).
import {
  type GradScaler,
  type Optimizer,
  type Tensor,
  getRngState,
  setRngState,
  tensor,
  tidy,
} from "../engine/index.js";
import { loadSafetensors } from "../engine/index.js";
import type { Module } from "../engine/nn/module.js";
import { fromBytes } from "../engine/safetensors.js";
import type { InitScheme } from "../models/init.js";
import type { TrainConfig } from "../run/config.js";
import { type CheckpointState, TrainingRun } from "../run/record.js";
import { resumeWeights, saveCheckpoint } from "../run/weights.js";

export function rngBytes(): string {
  return tidy(() => Buffer.from(getRngState().data().buffer).toString("base64"));
}

export function restoreRng(base64: string): void {
  tidy(() => {
    const bytes = Buffer.from(base64, "base64");
    setRngState(fromBytes(new Uint8Array(bytes), [bytes.length], "uint8"));
  });
}

/**
 * The settings a run resolves from its plans and defaults (older records lack `init`: then He, or the
 * config's; and `lesionPrior`: then 0, the biases the initialisation drew).
 */
type Resolved = { patch: number[]; batch: number; features: number[]; init?: InitScheme; lesionPrior?: number };

/**
 * What a run learns from and how: resuming with another value here would continue one training with the
 * settings of another (a benchmark re-run into the same folder with a new patch, seed or loss). Threads,
 * device, paths, logging and fine-tuning's starting point are left out: they do not change what is learnt.
 * So is the number of epochs: `--resume --epochs N` with a larger N trains a finished run on (the poly
 * schedule then follows the new N).
 */
function trainingIdentity(config: TrainConfig, resolved: Resolved) {
  return {
    configuration: config.configuration,
    mode: config.mode,
    sources: config.sources,
    unassigned: config.unassigned ?? "background",
    nearMm: config.nearMm ?? null,
    fold: config.fold,
    seed: config.seed,
    iterationsPerEpoch: config.iterationsPerEpoch,
    validationIterations: config.validationIterations,
    patch: resolved.patch,
    batch: resolved.batch,
    features: resolved.features,
    architecture: config.architecture ?? "plain",
    lr: config.lr,
    augment: config.augment,
    augmentOverrides: config.augmentOverrides ?? "none",
    deepSupervision: config.deepSupervision ?? true,
    deepSupervisionTargets: config.deepSupervisionTargets ?? "nearest",
    lesionShare: config.lesionShare,
    lesionPoint: config.lesionPoint ?? "box",
    lesionSampling: config.lesionSampling ?? "instance",
    init: resolved.init ?? config.init ?? "he",
    lesionPrior: resolved.lesionPrior ?? config.lesionPrior ?? 0,
    warmupEpochs: config.warmupEpochs ?? 0,
    backgroundWarmupEpochs: config.backgroundWarmupEpochs ?? 0,
    diceOver: config.diceOver,
    batchDice: config.batchDice ?? "nnU-Net's rule",
  };
}

/**
 * The settings in which a resumed run would differ from the run already in its folder, as
 * "name: before → now" (empty when it may resume). The folder's record gives the resolved patch, batch
 * and widths it trained with; `resolved` gives this call's.
 */
export function resumeConflicts(run: TrainingRun, config: TrainConfig, resolved: Resolved): string[] {
  const record = run.record();
  const before = trainingIdentity(run.latest().config, record);
  const now = trainingIdentity(config, resolved);
  const show = (v: unknown) => (Array.isArray(v) ? v.join(",") : String(v));
  return (Object.keys(now) as (keyof typeof now)[])
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(now[k]))
    .map((k) => `${k}: ${show(before[k])} → ${show(now[k])}`);
}

/** Where a run starts: its first epoch and the validation EMA so far. */
export interface StartPoint {
  startEpoch: number;
  ema: number;
  bestEma: number;
}

/**
 * With --resume and a checkpoint: refuses when the run was trained with other settings, else restores weights, optimiser, random generator and scaler, and
 * keeps only the logged epochs the checkpoint covers. Otherwise a fresh start (the old log goes).
 */
export function resumeOrStart(
  run: TrainingRun,
  config: TrainConfig,
  parts: { net: Module; optimizer: Optimizer; scaler: GradScaler },
  /** This call's patch, global batch and widths (after the plans' defaults), checked against the run's. */
  resolved: Resolved,
  /** False on the ranks of a distributed run other than 0: they read the checkpoint, never the log. */
  writesLog = true,
): StartPoint {
  if (config.resume && run.hasCheckpoint()) {
    const conflicts = resumeConflicts(run, config, resolved);
    if (conflicts.length > 0)
      throw new Error(
        `${run.dir}: cannot resume, this run was trained with other settings (${conflicts.join("; ")}); train into another folder, or delete this one to start over`,
      );
    const latest = resumeWeights(run, parts.net, parts.optimizer);
    restoreRng(latest.rng);
    parts.scaler.loadState(latest.scaler);
    if (writesLog) run.keepLogUpTo(latest.epoch);
    return { startEpoch: latest.epoch + 1, ema: latest.ema, bestEma: latest.bestEma };
  }
  if (writesLog) run.clearLog();
  return { startEpoch: 0, ema: 0, bestEma: Number.NEGATIVE_INFINITY };
}

/** Commits the epoch's checkpoint (with the generator state at this point). */
export function saveEpoch(
  run: TrainingRun,
  parts: { net: Module; optimizer: Optimizer; scaler: GradScaler },
  state: Omit<CheckpointState, "rng" | "scaler">,
  isBest: boolean,
): void {
  const { epoch, bestEma, ema, classes, config } = state;
  saveCheckpoint(
    run,
    parts.net,
    parts.optimizer,
    { epoch, bestEma, ema, rng: rngBytes(), scaler: parts.scaler.state(), classes, config },
    isBest,
  );
}

/**
 * Loads another run's weights into `net`. Output layers (heads) may be narrower there: each class
 * of this run takes the row of the class with the same name, or of "background" when it has none.
 */
export function initFromRun(net: Module, run: string, classes: Record<string, number>): void {
  const from = new TrainingRun(run);
  const record = from.record();
  const file = from.weightsFile("best");
  const source = loadSafetensors(file).tensors;
  const rowOf = (name: string) => record.classes[name] ?? record.classes.background;
  const names = Object.entries(classes)
    .filter(([n]) => n !== "ignore")
    .sort((a, b) => a[1] - b[1])
    .map(([n]) => n);
  const widened = new Map<string, Tensor>();
  for (const [name, target] of net.stateDict()) {
    const t = source.get(name);
    if (!t) throw new Error(`${file}: has no ${name} (a different architecture?)`);
    if (t.shape.join("x") === target.shape.join("x")) widened.set(name, t);
    else if (t.shape.slice(1).join("x") === target.shape.slice(1).join("x") && target.shape[0] === names.length) {
      widened.set(
        name,
        tidy(() => keepRows(t, names.map(rowOf))),
      );
    } else throw new Error(`${file}: ${name} has shape [${t.shape}], cannot initialise [${target.shape}]`);
  }
  net.loadStateDict(widened);
  for (const t of [...source.values(), ...widened.values()]) t.dispose();
}

function keepRows(t: Tensor, rows: number[]): Tensor {
  return t.indexSelect(0, tensor(new BigInt64Array(rows.map(BigInt)), [rows.length]));
}
