// One optimisation step: forward, loss, backward, gradient clipping, optimiser step. Kept apart from
// the loop so that what happens between backward and clipping has one obvious place.
import { type GradScaler, type Optimizer, type Tensor, autocast, clipGradNorm, tidy } from "../engine/index.js";
import type { Module } from "../engine/nn/module.js";
import { type AugmentOptions, augmentBatch } from "./augment.js";
import type { Batch } from "./loader.js";
import { type LossOptions, deepSupervisionLoss } from "./loss.js";
import { type TrainingSetup, batchTensors } from "./setup.js";

/** nnU-Net's gradient clip (max global L2 norm). */
export const GRADIENT_CLIP = 12;

export interface StepContext {
  setup: Pick<
    TrainingSetup,
    "batch" | "channels" | "patch" | "loadPatch" | "device" | "lossOptions" | "cfg" | "config"
  >;
  net: Module;
  optimizer: Optimizer;
  scaler: GradScaler;
  /**
   * Called right after backward, before unscaling and clipping: where a distributed run sums the
   * gradients over ranks (before the scaler looks for infinities, so that every rank skips or takes
   * the same steps). Absent in single-process training.
   */
  afterBackward?: (parameters: Tensor[]) => void;
}

import type { StepResult } from "../run/callbacks.js";
export type { StepResult };

/** The network's outputs as a list (deep supervision: full resolution first). */
export function outputsOf(net: Module, x: Tensor): Tensor[] {
  const out = net.forward(x);
  return Array.isArray(out) ? out : [out];
}

/**
 * Augmentation in the configuration's own dimensionality (2D patches are 3D tensors of depth 1).
 * `patch` ([z, y, x]): the patch to crop from larger loaded ones (AugmentOverrides.largerPatch).
 */
export function augment(
  image: Tensor,
  target: Tensor,
  dims: 2 | 3,
  options: AugmentOptions = {},
  patch?: number[],
): { image: Tensor; target: Tensor } {
  if (dims === 3) return augmentBatch(image, target, options, patch);
  const out = augmentBatch(image.squeeze(2), target.squeeze(1), options, patch?.slice(1));
  return { image: out.image.unsqueeze(2), target: out.target.unsqueeze(1) };
}

/**
 * One training step on one loaded batch (augmented on the device when the run augments); `lossOptions`
 * replace the setup's for this step (the background warm-up changes them step by step).
 */
export function trainStep(
  ctx: StepContext,
  batch: Pick<Batch, "data" | "target">,
  lossOptions: LossOptions = ctx.setup.lossOptions,
): StepResult {
  const { setup, net, optimizer, scaler } = ctx;
  return tidy(() => {
    const raw = batchTensors(setup, batch, setup.loadPatch);
    const { image, target } = setup.config.augment
      ? augment(raw.image, raw.target, setup.cfg.dims, setup.config.augmentOverrides, setup.patch)
      : raw;
    optimizer.zeroGrad();
    const loss = autocast(
      () => deepSupervisionLoss(outputsOf(net, image), target, lossOptions),
      "float16",
      scaler.enabled,
    );
    scaler.scaleLoss(loss).backward();
    ctx.afterBackward?.(net.parameters());
    scaler.unscale(net.parameters());
    const norm = clipGradNorm(net.parameters(), GRADIENT_CLIP);
    const gradNorm = norm.item();
    scaler.step(optimizer);
    scaler.update();
    return { loss: loss.item(), gradNorm };
  });
}

/** A NaN or infinite loss: training stops (exit 1) instead of writing a model of NaNs. */
export class NonFiniteLossError extends Error {
  constructor(epoch: number, iteration: number, loss: number, checkpoints: string) {
    super(
      `the training loss is ${loss} at epoch ${epoch}, iteration ${iteration}: training stopped (check the images for extreme values, or lower --lr); ${epoch > 0 ? `the last finished epoch's checkpoint is in ${checkpoints}` : "no checkpoint was written"}`,
    );
  }
}
