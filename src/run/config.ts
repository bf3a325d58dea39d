// The training configuration and the per-epoch log entry: the types every stage that starts,
// records or reads a training run shares (src/run keeps them in training.json and log.jsonl).
import type { InitScheme } from "../models/init.js";
import type { ArchitectureName } from "../models/registry.js";

/** The augmentation transforms whose probability a run may override (train/augment.ts draws them). */
export const AUGMENT_PROBABILITIES = [
  "rotationProbability",
  "scaleProbability",
  "noiseProbability",
  "blurProbability",
  "brightnessProbability",
  "contrastProbability",
  "lowResProbability",
  "gammaProbability",
  "invertedGammaProbability",
] as const;
export type AugmentProbability = (typeof AUGMENT_PROBABILITIES)[number];
export type AugmentOverrides = Partial<Record<AugmentProbability, number>> & {
  perChannel?: boolean;
  /**
   * The largest rotation angle, in radians, each way (default π/6, ±30°, nnU-Net's 3D range; nnU-Net
   * rotates square 2D patches by up to ±180°, π).
   */
  rotation?: number;
  /**
   * Rotate and scale a larger patch and crop the patch from its centre, as nnU-Net does (its "initial
   * patch size"), instead of transforming the patch itself with zeros where the rotation or a zoom-out
   * reaches past it. Costs reading the larger patch.
   */
  largerPatch?: boolean;
};

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
  /**
   * With `augment`: settings of train/augment.ts changed from this trainer's defaults, to measure what
   * each does: the probability of single transforms (0 turns one off), and `perChannel` (nnU-Net v2's
   * per-channel intensity transforms). Absent: the defaults. The run record keeps it.
   */
  augmentOverrides?: AugmentOverrides;
  /**
   * Weight initialisation: nnU-Net's He, or PyTorch's default layer initialisation (a plain PyTorch
   * script's) on the whole network, only its heads or only its body. Absent: `DEFAULT_INIT`
   * ("pytorch-body"); the run record keeps the one used.
   */
  init?: InitScheme;
  /**
   * The lesion probability the untrained network's heads start at (their biases; 0 keeps the biases the
   * initialisation drew). Absent: `DEFAULT_LESION_PRIOR` (0); the run record keeps the one used.
   */
  lesionPrior?: number;
  /**
   * Epochs over which the learning rate rises linearly, step by step, from lr/W to lr (W: these epochs'
   * iterations); the poly schedule follows from its start, as in nnU-Net v1's warm-up variant. Fractions
   * allowed. Absent: 0.
   */
  warmupEpochs?: number;
  /**
   * Start over once, from a fresh initialisation, when validation pseudo-Dice is still 0 after the first
   * two epochs (default on; only when no lesion prior was chosen, the run is not fine-tuned, and it is
   * longer than those two epochs): at a 1 % lesion start where those epochs' batches held at least 1 %
   * lesion, else 0.1 % (`restartLesionStart`). docs/training.md, "Stalled starts".
   */
  restartIfStalled?: boolean;
  /**
   * BackSplit: train on the lesion against the background as a whole (the merged background's CE, as
   * binary training sees it) for at least E epochs and until validation pseudo-Dice is above 0, then bring
   * the split in, its weight rising linearly to 1 over E more epochs (`LossOptions.backgroundSplitWeight`;
   * a run that never finds the lesion stays on the merged background). Fractions allowed. Absent: 0, the
   * split from the first step; a BackSplit run that starts over after a stall sets a quarter of its epochs
   * (docs/training.md).
   */
  backgroundWarmupEpochs?: number;
  /** Set by the trainer on a run that started over: the epochs its abandoned start trained (stalled-start/). */
  restartedAfterEpochs?: number;
  /**
   * Where a lesion patch is centred: a uniform point of the lesion's bounding box (default: every slice
   * of a lesion can be the one a 2D patch sees) or the lesion's centre (the twin's; to measure the difference).
   */
  lesionPoint?: "box" | "centre";
  /**
   * Which lesion a lesion patch is centred on: every instance equally often ("instance", the default), or
   * nnU-Net's rule ("voxel": a case uniformly, then one of its lesion voxels, so big lesions more often).
   */
  lesionSampling?: "instance" | "voxel";
  /** Loss on every decoder level (nnU-Net's default, on) or on the full-resolution output only. */
  deepSupervision?: boolean;
  /**
   * How the coarser outputs' targets are made: nnU-Net's nearest downsampling ("nearest", the default),
   * which drops most lesions under two voxels across from them, or "lesion-max": a coarse voxel is lesion
   * when any voxel of its block is (the highest lesion class there), else nearest. To measure whether deep
   * supervision's coarse heads learning "no lesion" at small lesions costs recall (docs/training.md).
   */
  deepSupervisionTargets?: "nearest" | "lesion-max";
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
  /** With a background warm-up: the weight of the background split in the loss at the epoch's last step. */
  backgroundSplitWeight?: number;
  /** First 16 hex digits of the SHA-256 of the weights at the end of the epoch (`weightsDigest`). */
  weightsDigest?: string;
}

/**
 * iterations.jsonl: one line per finished epoch, every training step's loss and gradient norm (in a
 * distributed run, rank 0's share of the loss).
 */
export interface IterationLog {
  epoch: number;
  losses: number[];
  /** Global gradient norm before clipping. */
  gradNorms: number[];
}

/**
 * Postprocessing of a predicted lesion mask, determined on cross-validation (`backsplit postprocess`) and
 * recorded with the runs (postprocessing.json): connected components (26-connected) smaller than
 * `minVolumeMm3`, or whose highest lesion probability is below `minPeakProbability`, are removed.
 * 0 turns a test off; both 0 is "none".
 */
export interface PostprocessingRule {
  minVolumeMm3: number;
  minPeakProbability: number;
}
