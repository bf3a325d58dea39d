// What a training run can be watched by, without the loop knowing what watches it (the Fisher log,
// src/fisher/training-log.ts, is one). They live with the run's definition so that
// watchers in earlier stages need not import the trainer. Callbacks may add fields to the epoch's log entry; they must
// leave training's numbers and random streams unchanged.
import type { Tensor } from "../engine/index.js";
import type { Module } from "../engine/nn/module.js";
import type { EpochLog } from "./config.js";

/** What one training step reports. */
export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

export interface EpochEndContext {
  net: Module;
  /** Target values that are lesion classes. */
  lesionClasses: number[];
  /** The first validation patch as a [1, C, ...patch] tensor (built on call, inside the caller's scope). */
  firstValidationImage(): Tensor;
}

export interface TrainingCallbacks {
  /** After every training step (iteration `iteration` of epoch `epoch`). */
  afterStep?(result: StepResult, epoch: number, iteration: number): void;
  /** Every validation batch's full-resolution logits [N, K, ...] (inside noGrad and a tidy scope). */
  onValidationLogits?(logits: Tensor): void;
  /** After validation, before the checkpoint: may add fields to `entry` (written to log.jsonl). */
  onEpochEnd?(entry: EpochLog, ctx: EpochEndContext): void;
}
