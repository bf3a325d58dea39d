// The one-setting changes `bench -- twin-fp --retrain` trains a base run with, and their combinations
// ("torchbody+largerpatch"): each names what it changes in the base run's TrainConfig.
import { AUGMENT_PROBABILITIES, type AugmentOverrides, type AugmentProbability } from "../../src/run/config.js";
import type { TrainConfig } from "../../src/train/index.js";

const SPATIAL: readonly AugmentProbability[] = ["rotationProbability", "scaleProbability"];

/** Augmentation overrides that turn the named transforms off. */
function transformsOff(names: readonly AugmentProbability[]): AugmentOverrides {
  return Object.fromEntries(names.map((name) => [name, 0]));
}

export type RetrainChange = Partial<
  Pick<
    TrainConfig,
    | "augment"
    | "deepSupervision"
    | "deepSupervisionTargets"
    | "init"
    | "lesionPrior"
    | "lesionPoint"
    | "augmentOverrides"
    | "warmupEpochs"
    | "lesionSampling"
    | "restartIfStalled"
  >
>;

export const RETRAIN_CHANGES: Readonly<Record<string, RetrainChange>> = {
  noaug: { augment: false },
  nods: { deepSupervision: false },
  // Deep supervision kept, its coarse targets keeping every lesion (a block with a lesion voxel is lesion).
  dsmax: { deepSupervisionTargets: "lesion-max" },
  torchinit: { init: "pytorch" },
  torchheads: { init: "pytorch-heads" },
  torchbody: { init: "pytorch-body" },
  heinit: { init: "he" },
  // The heads' biases as the initialisation drew them (nnU-Net's zeros) instead of a 1 % lesion start.
  noprior: { lesionPrior: 0 },
  prior: { lesionPrior: 0.01 },
  prior5: { lesionPrior: 0.05 },
  // The trainer's own choice: an even start that starts over if it stalls (at 1 % or 0.1 %, by its batches' lesion share).
  restart: { lesionPrior: undefined, restartIfStalled: true },
  centre: { lesionPoint: "centre" },
  // nnU-Net's foreground sampling: a lesion voxel of a case, so big lesions more often than small ones.
  voxel: { lesionSampling: "voxel" },
  // A linear learning-rate warm-up over the first epoch (nnU-Net's warm-up variants: the first 5 % of the budget).
  warmup: { warmupEpochs: 1 },
  same: {},
  perchannel: { augmentOverrides: { perChannel: true } },
  largerpatch: { augmentOverrides: { largerPatch: true } },
  // nnU-Net's 2D range (square patches): ±180° instead of ±30°.
  rot180: { augmentOverrides: { rotation: Math.PI } },
  nospatial: { augmentOverrides: transformsOff(SPATIAL) },
  nointensity: { augmentOverrides: transformsOff(AUGMENT_PROBABILITIES.filter((p) => !SPATIAL.includes(p))) },
};

/**
 * The settings a retraining named `name` changes: one change, or several joined by "+", applied left to
 * right (augmentation overrides merged). Throws naming the part that is no change.
 */
export function retrainChange(name: string): RetrainChange {
  let merged: RetrainChange = {};
  for (const part of name.split("+")) {
    const change = Object.hasOwn(RETRAIN_CHANGES, part) ? RETRAIN_CHANGES[part] : undefined;
    if (!change)
      throw new Error(
        `--retrain takes ${Object.keys(RETRAIN_CHANGES).join(", ")} (or several joined by +), not "${part}"`,
      );
    const augmentOverrides = { ...merged.augmentOverrides, ...change.augmentOverrides };
    merged = { ...merged, ...change, ...(Object.keys(augmentOverrides).length > 0 && { augmentOverrides }) };
  }
  return merged;
}
