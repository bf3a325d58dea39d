// Experiment planning (nnU-Net style): target spacing with the anisotropy rule, normalisation per
// channel, and 2D / 3D configurations whose patch and batch sizes fit a memory budget.
// All spatial arrays are [z, y, x] (2D: [y, x]).
import path from "node:path";
import type { Dataset } from "../dataset/layout.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { type Fingerprint, percentile } from "./fingerprint.js";

export const ANISOTROPY_THRESHOLD = 3;

export type Normalization = "CTNormalization" | "ZScoreNormalization";

export interface Architecture {
  network: "PlainUNet";
  features: number[];
  /** Downsampling stride per stage and axis; the first stage is all 1. */
  strides: number[][];
  kernels: number[][];
  convs_per_stage: number;
  deep_supervision: boolean;
}

export interface Configuration {
  dims: 2 | 3;
  data_identifier: string;
  spacing: number[];
  patch_size: number[];
  batch_size: number;
  median_image_size_in_voxels: number[];
  normalization_schemes: Normalization[];
  use_mask_for_norm: boolean[];
  resampling_data: "linear" | "cubic";
  resampling_seg: "smooth" | "nearest";
  /** Soft Dice summed over the batch (nnU-Net: true for 2d, false for 3d_fullres). Absent in older plans. */
  batch_dice?: boolean;
  estimated_memory_gb: number;
  architecture: Architecture;
}

export interface Plans {
  dataset_name: string;
  plans_name: string;
  axes: "zyx";
  device: string;
  memory_budget_gb: number;
  original_median_spacing: number[];
  original_median_shape: number[];
  foreground_intensity_properties_per_channel: Fingerprint["foreground_intensity_properties_per_channel"];
  configurations: Record<string, Configuration>;
}

export interface PlanOptions {
  /** "cpu" or "cuda": sets the default memory budget (2 GB CPU, 8 GB CUDA, like nnU-Net's 8 GB reference). */
  device?: string;
  memoryBudgetGb?: number;
  baseFeatures?: number;
  maxFeatures?: number;
}

const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

/** nnU-Net's target spacing: the median, except a much coarser, thinly-sampled axis gets its 10th percentile. */
export function targetSpacing(spacings: number[][], shapes: number[][]): number[] {
  const target = [0, 1, 2].map((a) => median(spacings.map((s) => s[a])));
  const size = [0, 1, 2].map((a) => median(shapes.map((s) => s[a])));
  const worst = target.indexOf(Math.max(...target));
  const others = [0, 1, 2].filter((a) => a !== worst);
  const otherSpacing = Math.max(...others.map((a) => target[a]));
  const anisotropicSpacing = target[worst] > ANISOTROPY_THRESHOLD * otherSpacing;
  const anisotropicVoxels = size[worst] * ANISOTROPY_THRESHOLD < Math.min(...others.map((a) => size[a]));
  if (anisotropicSpacing && anisotropicVoxels) {
    let t = percentile(
      spacings.map((s) => s[worst]).sort((a, b) => a - b),
      10,
    );
    if (t < otherSpacing) t = Math.max(otherSpacing, t) + 1e-5;
    target[worst] = t;
  }
  return target;
}

/** Pooling strides and kernel sizes per stage (anisotropic axes are neither pooled nor convolved until the others catch up). */
export function topology(
  spacing: number[],
  patch: number[],
  minFeatureMap = 4,
  maxStages = 6,
): { strides: number[][]; kernels: number[][] } {
  const n = spacing.length;
  const current = [...spacing];
  const size = [...patch];
  const kernelFor = () => current.map((s) => (s <= 2 * Math.min(...current) ? 3 : 1));
  const strides = [Array(n).fill(1)];
  const kernels = [kernelFor()];
  while (strides.length < maxStages) {
    const finest = Math.min(...current);
    const stride = current.map((s, a) => (size[a] / 2 >= minFeatureMap && s <= 2 * finest ? 2 : 1));
    if (stride.every((s) => s === 1)) break;
    stride.forEach((s, a) => {
      size[a] /= s;
      current[a] *= s;
    });
    strides.push(stride);
    kernels.push(kernelFor());
  }
  return { strides, kernels };
}

/** Bytes of a training step's activations and gradients for one sample, in float32. */
export function estimateMemoryBytes(
  patch: number[],
  strides: number[][],
  features: number[],
  convsPerStage = 2,
): number {
  let voxels = patch.reduce((a, b) => a * b, 1);
  let units = 0;
  strides.forEach((stride, s) => {
    voxels /= stride.reduce((a, b) => a * b, 1);
    // Encoder and decoder stages, each conv → norm → activation, forward values and gradients.
    units += voxels * features[s] * convsPerStage * (s === strides.length - 1 ? 1 : 2) * 3 * 2;
  });
  return units * 4;
}

function roundTo(value: number, multiple: number): number {
  return Math.max(multiple, Math.floor(value / multiple) * multiple);
}

function configure(
  dims: 2 | 3,
  spacing: number[],
  medianShape: number[],
  totalVoxels: number,
  budgetBytes: number,
  o: Required<Omit<PlanOptions, "device" | "memoryBudgetGb">>,
) {
  const featuresFor = (stages: number) =>
    Array.from({ length: stages }, (_, s) => Math.min(o.baseFeatures * 2 ** s, o.maxFeatures));
  // Start from the median image (at least 2^stages voxels per axis), shrink the axis that is largest relative to the median.
  let patch = medianShape.map((m) => Math.max(8, Math.round(m)));
  for (let iteration = 0; iteration < 200; iteration++) {
    const { strides, kernels } = topology(spacing, patch);
    const divisor = patch.map((_, a) => strides.reduce((p, s) => p * s[a], 1));
    patch = patch.map((p, a) => Math.max(divisor[a], Math.ceil(p / divisor[a]) * divisor[a]));
    const features = featuresFor(strides.length);
    const memory = estimateMemoryBytes(patch, strides, features);
    if (memory * 2 <= budgetBytes || patch.every((p, a) => p <= divisor[a])) {
      const perSample = memory;
      const maxByData = Math.max(2, Math.floor((0.05 * totalVoxels) / patch.reduce((a, b) => a * b, 1)));
      const batch = Math.max(2, Math.min(Math.floor(budgetBytes / perSample), maxByData, dims === 2 ? 64 : 8));
      return {
        patch,
        batch,
        memoryGb: (perSample * batch) / 2 ** 30,
        architecture: {
          network: "PlainUNet" as const,
          features,
          strides,
          kernels,
          convs_per_stage: 2,
          deep_supervision: true,
        },
      };
    }
    const ratios = patch.map((p, a) => p / medianShape[a]);
    const axis = ratios.indexOf(Math.max(...ratios));
    patch[axis] = roundTo(patch[axis] - divisor[axis], divisor[axis]);
  }
  throw new Error("planning did not converge on a patch size");
}

export function planExperiment(dataset: Dataset, fingerprint: Fingerprint, options: PlanOptions = {}): Plans {
  const device = options.device ?? "cpu";
  const budgetGb = options.memoryBudgetGb ?? (device.startsWith("cuda") ? 8 : 2);
  const o = { baseFeatures: options.baseFeatures ?? 32, maxFeatures: options.maxFeatures ?? 320 };
  const spacing = targetSpacing(fingerprint.spacings, fingerprint.shapes_after_crop);
  const resampledShapes = fingerprint.shapes_after_crop.map((shape, i) =>
    shape.map((n, a) => (n * fingerprint.spacings[i][a]) / spacing[a]),
  );
  const medianShape = [0, 1, 2].map((a) => median(resampledShapes.map((s) => s[a])));
  const totalVoxels = resampledShapes.reduce((sum, s) => sum + s[0] * s[1] * s[2], 0);
  const schemes = dataset.channels.map(
    (name): Normalization => (name.toUpperCase() === "CT" ? "CTNormalization" : "ZScoreNormalization"),
  );
  // Normalise inside the non-zero mask when cropping removed a lot (nnU-Net: median size after crop < 3/4).
  const maskForNorm = schemes.map(
    (s) => s !== "CTNormalization" && fingerprint.median_relative_size_after_cropping < 0.75,
  );
  const common = {
    median_image_size_in_voxels: medianShape.map(Math.round),
    normalization_schemes: schemes,
    use_mask_for_norm: maskForNorm,
    resampling_data: "linear" as const,
    resampling_seg: "smooth" as const,
  };
  const budget = budgetGb * 2 ** 30;
  const c3 = configure(3, spacing, medianShape, totalVoxels, budget, o);
  // 2D: in-plane axes are y and x; slices along z.
  const c2 = configure(2, spacing.slice(1), medianShape.slice(1), totalVoxels, budget, { ...o, maxFeatures: 512 });
  const name = path.basename(dataset.root);
  return {
    dataset_name: typeof dataset.json.name === "string" ? dataset.json.name : name,
    plans_name: "backsplitPlans",
    axes: "zyx",
    device,
    memory_budget_gb: budgetGb,
    original_median_spacing: [0, 1, 2].map((a) => median(fingerprint.spacings.map((s) => s[a]))),
    original_median_shape: [0, 1, 2].map((a) => median(fingerprint.shapes_after_crop.map((s) => s[a]))),
    foreground_intensity_properties_per_channel: fingerprint.foreground_intensity_properties_per_channel,
    configurations: {
      "3d_fullres": {
        dims: 3,
        data_identifier: "backsplitPlans_3d_fullres",
        spacing,
        patch_size: c3.patch,
        batch_size: c3.batch,
        batch_dice: batchDiceRule(3, c3.patch, medianShape),
        estimated_memory_gb: c3.memoryGb,
        architecture: c3.architecture,
        ...common,
      },
      "2d": {
        dims: 2,
        data_identifier: "backsplitPlans_2d",
        spacing,
        patch_size: c2.patch,
        batch_size: c2.batch,
        batch_dice: true,
        estimated_memory_gb: c2.memoryGb,
        architecture: c2.architecture,
        ...common,
      },
    },
  };
}

/**
 * nnU-Net's batch-Dice rule: on for 2D, and for 3D when a patch covers under a quarter of the median
 * image (where nnU-Net would also plan a 3d_lowres; its fullres configuration then sums Dice over the
 * batch). Small CPU patches fall under it, where per-sample Dice rewards predicting no lesion.
 */
export function batchDiceRule(dims: 2 | 3, patch: readonly number[], medianShape: readonly number[]): boolean {
  if (dims === 2) return true;
  const voxels = (v: readonly number[]) => v.reduce((a, b) => a * b, 1);
  return voxels(patch) / voxels(medianShape) < 0.25;
}

export function writePlans(dir: string, plans: Plans): string {
  const file = path.join(dir, "plans.json");
  writeFileAtomicSync(file, `${JSON.stringify(plans, null, 2)}\n`);
  return file;
}
