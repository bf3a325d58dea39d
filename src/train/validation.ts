// nnU-Net's online evaluation: a pseudo-Dice on fixed validation patches (lesion classes pooled)
// and its exponential moving average, which picks the best checkpoint.
import { noGrad, tidy } from "../engine/index.js";
import type { Module } from "../engine/nn/module.js";
import type { TrainingCallbacks } from "../run/callbacks.js";
import type { Batch } from "./loader.js";
import { type TrainingSetup, batchTensors } from "./setup.js";
import { outputsOf } from "./step.js";

/** Validation pseudo-Dice of `net` on the batches (1 when neither truth nor prediction has lesion). */
export function validationDice(
  setup: Pick<TrainingSetup, "batch" | "channels" | "patch" | "device" | "lossOptions">,
  net: Module,
  batches: Batch[],
  callbacks: Pick<TrainingCallbacks, "onValidationLogits"> = {},
): number {
  net.eval();
  const counts = { tp: 0, fp: 0, fn: 0 };
  const lesionClasses = setup.lossOptions.lesionClasses;
  for (const b of batches) {
    noGrad(() =>
      tidy(() => {
        const { image, target } = batchTensors(setup, b);
        const logits = outputsOf(net, image)[0];
        callbacks.onValidationLogits?.(logits);
        const predicted = logits.argmax(1);
        let isLesion = predicted.eq(-1);
        let truth = target.eq(-1);
        for (const v of lesionClasses) {
          isLesion = isLesion.logicalOr(predicted.eq(v));
          truth = truth.logicalOr(target.eq(v));
        }
        counts.tp += isLesion.logicalAnd(truth).sum().item();
        counts.fp += isLesion.logicalAnd(truth.logicalNot()).sum().item();
        counts.fn += isLesion.logicalNot().logicalAnd(truth).sum().item();
      }),
    );
  }
  return counts.tp + counts.fp + counts.fn === 0 ? 1 : (2 * counts.tp) / (2 * counts.tp + counts.fp + counts.fn);
}

/** The EMA of the pseudo-Dice (nnU-Net: 0.9 · previous + 0.1 · new; the first epoch starts it). */
export function nextEma(ema: number, pseudoDice: number, epoch: number): number {
  return epoch === 0 ? pseudoDice : 0.9 * ema + 0.1 * pseudoDice;
}
