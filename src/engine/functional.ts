// Functional neural-network ops (the twin of torch.nn.functional).
import { cat, zerosLike } from "./create.js";
import { type Handle, native } from "./native.js";
import type { EngineInfo } from "./runtime.js";
import { type DType, type Tensor, op } from "./tensor.js";

type Ints = number | readonly number[];

function expand(value: Ints, n: number): number[] {
  return typeof value === "number" ? Array(n).fill(value) : [...value];
}

function spatialDims(input: Tensor, weightOrKernel?: Tensor): number {
  return (weightOrKernel ?? input).ndim - 2;
}

function opt(t: Tensor | null | undefined): Handle | null {
  return t ? t.handle : null;
}

export interface ConvOptions {
  stride?: Ints;
  padding?: Ints;
  dilation?: Ints;
  groups?: number;
}

let oneDnn: boolean | undefined;

/**
 * libtorch (ATen's ConvParams::use_mkldnn, 1.13 and 2.x) sends a CPU float 3D convolution of one sample
 * with N·C·D·H ≤ 20480 to its native slow_conv3d, 4–25× slower than oneDNN, which it takes from two
 * samples on: every layer of a 48³ U-Net on one patch (the Fisher log, a last odd tile). A zero second
 * sample takes the oneDNN path; samples never mix in a convolution, so sample 0's output and gradients
 * stay the same (to oneDNN's float summation order). 1×1 kernels on one thread stay native either way.
 */
function takesSlowSingleSamplePath(input: Tensor, weight: Tensor, groups: number): boolean {
  const [batch, channels, depth, height] = input.shape;
  if (input.ndim !== 5 || batch !== 1 || groups !== 1 || channels * depth * height > 20480) return false;
  if (input.device !== "cpu" || input.dtype !== "float32") return false;
  if (weight.shape[3] === 1 && weight.shape[4] === 1) return false;
  oneDnn ??= (native.info() as EngineInfo).mkldnnAvailable;
  return oneDnn;
}

/** N-d convolution (1d/2d/3d chosen from the weight's rank). weight: [out, in/groups, ...kernel]. */
export function conv(input: Tensor, weight: Tensor, bias: Tensor | null = null, o: ConvOptions = {}): Tensor {
  if (takesSlowSingleSamplePath(input, weight, o.groups ?? 1)) {
    return conv(cat([input, zerosLike(input)], 0), weight, bias, o).narrow(0, 0, 1);
  }
  const n = spatialDims(input, weight);
  return op(
    "convolution",
    input.handle,
    weight.handle,
    opt(bias),
    expand(o.stride ?? 1, n),
    expand(o.padding ?? 0, n),
    expand(o.dilation ?? 1, n),
    false,
    expand(0, n),
    o.groups ?? 1,
  );
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: Ints;
}

/** N-d transposed convolution. weight: [in, out/groups, ...kernel]. */
export function convTranspose(
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  o: ConvTransposeOptions = {},
): Tensor {
  const n = spatialDims(input, weight);
  return op(
    "convolution",
    input.handle,
    weight.handle,
    opt(bias),
    expand(o.stride ?? 1, n),
    expand(o.padding ?? 0, n),
    expand(o.dilation ?? 1, n),
    true,
    expand(o.outputPadding ?? 0, n),
    o.groups ?? 1,
  );
}

export const conv2d = conv;
export const conv3d = conv;
export const convTranspose2d = convTranspose;
export const convTranspose3d = convTranspose;

// ---- normalisation ----

export interface NormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

export function instanceNorm(input: Tensor, o: NormOptions = {}): Tensor {
  return op("instanceNorm", input.handle, opt(o.weight), opt(o.bias), null, null, true, 0.1, o.eps ?? 1e-5);
}

export function groupNorm(input: Tensor, groups: number, o: NormOptions = {}): Tensor {
  return op("groupNorm", input.handle, groups, opt(o.weight), opt(o.bias), o.eps ?? 1e-5);
}

export interface BatchNormOptions extends NormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  training?: boolean;
  momentum?: number;
}

/** Batch norm; in training mode the running statistics (if given) are updated in place. */
export function batchNorm(input: Tensor, o: BatchNormOptions = {}): Tensor {
  return op(
    "batchNorm",
    input.handle,
    opt(o.weight),
    opt(o.bias),
    opt(o.runningMean),
    opt(o.runningVar),
    o.training ?? true,
    o.momentum ?? 0.1,
    o.eps ?? 1e-5,
  );
}

export function layerNorm(input: Tensor, normalizedShape: readonly number[], o: NormOptions = {}): Tensor {
  return op("layerNorm", input.handle, normalizedShape, opt(o.weight), opt(o.bias), o.eps ?? 1e-5);
}

// ---- activations ----

export function relu(x: Tensor): Tensor {
  return op("relu", x.handle);
}
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return op("leakyRelu", x.handle, negativeSlope);
}
export function elu(x: Tensor, alpha = 1): Tensor {
  return op("elu", x.handle, alpha);
}
export function gelu(x: Tensor): Tensor {
  return op("gelu", x.handle);
}
export function silu(x: Tensor): Tensor {
  return op("silu", x.handle);
}
export function sigmoid(x: Tensor): Tensor {
  return op("sigmoid", x.handle);
}
export function tanh(x: Tensor): Tensor {
  return op("tanh", x.handle);
}
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return op("softplus", x.handle, beta, threshold);
}
export function softmax(x: Tensor, dim: number): Tensor {
  return op("softmax", x.handle, dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return op("logSoftmax", x.handle, dim);
}
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return op("dropout", x.handle, p, training);
}

// ---- pooling ----

export interface PoolOptions {
  stride?: Ints;
  padding?: Ints;
  dilation?: Ints;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

export function maxPool(x: Tensor, kernel: Ints, o: PoolOptions = {}): Tensor {
  const n = x.ndim - 2;
  const name = n === 3 ? "maxPool3d" : n === 2 ? "maxPool2d" : null;
  if (!name) throw new Error(`maxPool supports 2d and 3d inputs, got ${x.ndim - 2}d`);
  const k = expand(kernel, n);
  return op(
    name,
    x.handle,
    k,
    expand(o.stride ?? k, n),
    expand(o.padding ?? 0, n),
    expand(o.dilation ?? 1, n),
    o.ceilMode ?? false,
  );
}

export function avgPool(x: Tensor, kernel: Ints, o: PoolOptions = {}): Tensor {
  const n = x.ndim - 2;
  const name = n === 3 ? "avgPool3d" : n === 2 ? "avgPool2d" : null;
  if (!name) throw new Error(`avgPool supports 2d and 3d inputs, got ${x.ndim - 2}d`);
  const k = expand(kernel, n);
  return op(
    name,
    x.handle,
    k,
    expand(o.stride ?? k, n),
    expand(o.padding ?? 0, n),
    o.ceilMode ?? false,
    o.countIncludePad ?? true,
  );
}

export function adaptiveAvgPool(x: Tensor, outputSize: Ints): Tensor {
  const n = x.ndim - 2;
  return op(n === 3 ? "adaptiveAvgPool3d" : "adaptiveAvgPool2d", x.handle, expand(outputSize, n));
}

// ---- resampling ----

export type InterpolateMode = "nearest" | "linear" | "bilinear" | "trilinear" | "bicubic" | "area";

/** Resizes the spatial dimensions to size. alignCorners applies to the (bi/tri)linear and bicubic modes. */
export function interpolate(
  x: Tensor,
  size: readonly number[],
  mode: InterpolateMode = "nearest",
  alignCorners?: boolean,
): Tensor {
  const linear = mode === "linear" || mode === "bilinear" || mode === "trilinear" || mode === "bicubic";
  return op("interpolate", x.handle, size, mode, linear ? (alignCorners ?? false) : null);
}

export interface GridSampleOptions {
  mode?: "bilinear" | "nearest" | "bicubic";
  padding?: "zeros" | "border" | "reflection";
  alignCorners?: boolean;
}

/** Samples input at grid locations in [-1, 1] (last grid dimension ordered x, y[, z]). */
export function gridSample(input: Tensor, grid: Tensor, o: GridSampleOptions = {}): Tensor {
  return op(
    "gridSample",
    input.handle,
    grid.handle,
    o.mode ?? "bilinear",
    o.padding ?? "zeros",
    o.alignCorners ?? false,
  );
}

/** Sampling grid for affine matrices theta [N, d, d+1] and an output size [N, C, ...spatial]. */
export function affineGrid(theta: Tensor, size: readonly number[], alignCorners = false): Tensor {
  return op("affineGrid", theta.handle, size, alignCorners);
}

export type PadMode = "constant" | "reflect" | "replicate" | "circular";

/** Pads as torch.nn.functional.pad: pads lists (before, after) pairs starting from the last dimension. */
export function pad(x: Tensor, pads: readonly number[], mode: PadMode = "constant", value = 0): Tensor {
  return op("pad", x.handle, pads, mode, value);
}

export function oneHot(labels: Tensor, numClasses: number): Tensor {
  return op("oneHot", labels.handle, numClasses);
}

// ---- losses ----

export type Reduction = "mean" | "sum" | "none";

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
}

/** Cross-entropy over logits [N, C, ...] and int64 class targets [N, ...]. */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return op(
    "crossEntropy",
    logits.handle,
    target.handle,
    opt(o.weight),
    o.reduction ?? "mean",
    o.ignoreIndex ?? -100,
    o.labelSmoothing ?? 0,
  );
}

/** Negative log-likelihood over log-probabilities [N, C, ...]. */
export function nllLoss(logProbs: Tensor, target: Tensor, o: Omit<CrossEntropyOptions, "labelSmoothing"> = {}): Tensor {
  return op("nllLoss", logProbs.handle, target.handle, opt(o.weight), o.reduction ?? "mean", o.ignoreIndex ?? -100);
}

export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  target: Tensor,
  o: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  return op("bceWithLogits", logits.handle, target.handle, opt(o.weight), o.reduction ?? "mean", opt(o.posWeight));
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor {
  return op("mseLoss", input.handle, target.handle, reduction);
}

/** Casts if needed (no copy when the dtype already matches). */
export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x.view(x.shape) : x.to(dtype);
}

export type { Tensor };
