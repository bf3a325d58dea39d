// The Fisher log of a training run (--fisher-log) as a training callback: per epoch, the gradient-norm
// mean and variance over the epoch's iterations (before clipping), closed-form logit-space traces on
// the validation patches, and a Monte Carlo estimate of tr I_Y and tr I_Z on the first validation patch.
import { F, type Tensor, getRngState, setRngState, tidy } from "../engine/index.js";
import type { TrainingCallbacks } from "../run/callbacks.js";
import { logitFisherTraces, patchFisher, summarizeFisher } from "./fisher.js";

export function fisherLogCallbacks(lesionClasses: number[]): TrainingCallbacks {
  let gradNorms: number[] = [];
  let traces = { y: 0, z: 0, gap: 0, voxels: 0 };
  return {
    afterStep(result) {
      gradNorms.push(result.gradNorm);
    },
    onValidationLogits(logits: Tensor) {
      const t = logitFisherTraces(F.softmax(logits.float(), 1), lesionClasses);
      traces.y += t.traceY.sum().item();
      traces.z += t.traceZ.sum().item();
      traces.gap += t.gap.sum().item();
      traces.voxels += t.gap.numel;
    },
    onEpochEnd(entry, ctx) {
      const m = gradNorms.reduce((a, b) => a + b, 0) / gradNorms.length;
      entry.gradNorm = {
        mean: m,
        variance: gradNorms.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(gradNorms.length - 1, 1),
      };
      // The label samples must not shift training's random stream: the log leaves training unchanged.
      const rng = getRngState();
      const mc = tidy(() =>
        summarizeFisher([patchFisher(ctx.net, ctx.firstValidationImage(), { lesionClasses, samples: 2 })]),
      );
      setRngState(rng);
      rng.dispose();
      entry.fisher = {
        logitTraceY: traces.y / traces.voxels,
        logitTraceZ: traces.z / traces.voxels,
        logitGap: traces.gap / traces.voxels,
        traceY: mc.total.traceY.mean,
        traceZ: mc.total.traceZ.mean,
        gap: mc.total.gap.mean,
      };
      gradNorms = [];
      traces = { y: 0, z: 0, gap: 0, voxels: 0 };
    },
  };
}
