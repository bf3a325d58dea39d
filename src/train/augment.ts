// Batched data augmentation on the training device (nnU-Net's list and probabilities):
// rotation and scaling (one affine grid per sample, bilinear for images, nearest for labels),
// Gaussian noise and blur, brightness, contrast, low-resolution simulation, gamma, mirroring.
// The intensity transforms draw once per sample for all channels by default; `perChannel` runs them
// as nnU-Net v2 does, per channel (measured against the default in docs/training.md).
// All randomness comes from libtorch's generator, so a seeded run and a resumed run draw the same.
import { F, type Tensor, cat, rand, randn, tensor, tidy } from "../engine/index.js";
import type { AugmentProbability } from "../run/config.js";

/** The probabilities come from the run's list (run/config.ts), so a run can override each of them. */
export interface AugmentOptions extends Partial<Record<AugmentProbability, number>> {
  rotation?: number;
  scaleRange?: [number, number];
  mirrorAxes?: number[];
  /**
   * nnU-Net v2's intensity transforms per channel (batchgeneratorsv2 with synchronize_channels off:
   * each channel its own factors, statistics and, for blur and low resolution, p 0.5 per channel; σ per
   * axis, reflected borders, BGContrast draws around 1). Off by default: one draw and the pooled
   * statistics of all channels, as before. Measured at this project's CPU budget (docs/training.md):
   * per channel left 1.47× the false positives in 3D and a lower Dice in 2D.
   */
  perChannel?: boolean;
}

export const NNUNET_AUGMENTATION: Required<AugmentOptions> = {
  rotation: Math.PI / 6,
  rotationProbability: 0.2,
  scaleRange: [0.7, 1.4],
  scaleProbability: 0.2,
  mirrorAxes: [0, 1, 2],
  noiseProbability: 0.1,
  blurProbability: 0.2,
  brightnessProbability: 0.15,
  contrastProbability: 0.15,
  lowResProbability: 0.25,
  gammaProbability: 0.3,
  invertedGammaProbability: 0.1,
  perChannel: false,
};

/**
 * nnU-Net's initial patch size (get_patch_size): the patch's extent after the largest rotation about
 * each axis in turn, divided by 0.85 (nnU-Net's fixed scale for this, not the scaling range), then
 * rounded up so that the margin on each side is a whole number of voxels. `spatial` is the patch
 * without the depth-1 axis of a 2D configuration.
 */
export function largerPatchSize(spatial: number[], rotation = NNUNET_AUGMENTATION.rotation): number[] {
  const angle = Math.min(rotation, Math.PI / 2);
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  const extent = [...spatial];
  const pairs =
    spatial.length === 3
      ? [
          [1, 2],
          [0, 2],
          [0, 1],
        ]
      : [[0, 1]];
  for (const [a, b] of pairs) {
    extent[a] = Math.max(
      extent[a],
      Math.abs(c * spatial[a] - s * spatial[b]),
      Math.abs(s * spatial[a] + c * spatial[b]),
    );
    extent[b] = Math.max(
      extent[b],
      Math.abs(s * spatial[a] - c * spatial[b]),
      Math.abs(c * spatial[a] + s * spatial[b]),
    );
  }
  return spatial.map((p, a) => p + 2 * Math.ceil((Math.floor(extent[a] / 0.85) - p) / 2));
}

/** Gamma on [0, 1]-rescaled intensities, then the mean and standard deviation restored (over what it is given). */
function gamma(x: Tensor, exponent: number): Tensor {
  return tidy(() => {
    const [mean, std] = [x.mean(), x.std()];
    const [lo, hi] = [x.min(), x.max()];
    const range = hi.sub(lo).add(1e-7);
    const y = x.sub(lo).div(range).clamp(0, 1).pow(exponent).mul(range).add(lo);
    return y.sub(y.mean()).div(y.std().add(1e-7)).mul(std).add(mean);
  });
}

/**
 * batchgeneratorsv2's BGContrast draw from (lo, hi) around 1: below 1 half the time, above 1 otherwise,
 * from two uniform numbers (a picks the side, b the value).
 */
export function aroundOne(lo: number, hi: number, a: number, b: number): number {
  if (a < 0.5 && lo < 1) return lo + b * (1 - lo);
  const from = Math.max(lo, 1);
  return from + b * (hi - from);
}

function rotation3(a: number, b: number, c: number): number[][] {
  const [ca, sa, cb, sb, cc, sc] = [Math.cos(a), Math.sin(a), Math.cos(b), Math.sin(b), Math.cos(c), Math.sin(c)];
  const rx = [
    [1, 0, 0],
    [0, ca, -sa],
    [0, sa, ca],
  ];
  const ry = [
    [cb, 0, sb],
    [0, 1, 0],
    [-sb, 0, cb],
  ];
  const rz = [
    [cc, -sc, 0],
    [sc, cc, 0],
    [0, 0, 1],
  ];
  const mul = (p: number[][], q: number[][]) =>
    p.map((row) => q[0].map((_, j) => row.reduce((s, v, k) => s + v * q[k][j], 0)));
  return mul(rz, mul(ry, rx));
}

/** Uniform numbers drawn per sample (see augmentBatch), then per channel when perChannel is on. */
const DRAWS = 23;
const CHANNEL_DRAWS = 14;

/** Random draws for one batch, from libtorch's generator: [N, DRAWS + C · CHANNEL_DRAWS] uniform numbers. */
function draws(n: number, channels: number): number[][] {
  const width = DRAWS + channels * CHANNEL_DRAWS;
  return tidy(() => {
    const u = rand([n, width]).toArray();
    return Array.from({ length: n }, (_, i) => u.slice(width * i, width * (i + 1)));
  });
}

function gaussianKernel1d(sigma: number): number[] {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const k = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const s = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / s);
}

/**
 * Separable Gaussian blur of one sample [1, C, ...spatial], σ per spatial axis (or one for all). Borders
 * are zero-padded (this trainer's default path) or reflected (batchgeneratorsv2's, the per-channel path).
 */
export function gaussianBlur(
  x: Tensor,
  sigma: number | readonly number[],
  borders: "zeros" | "reflect" = "zeros",
): Tensor {
  return tidy(() => {
    const dims = x.ndim - 2;
    const channels = x.size(1);
    let out = x;
    for (let axis = 0; axis < dims; axis++) {
      const k = gaussianKernel1d(typeof sigma === "number" ? sigma : sigma[axis]);
      if (borders === "zeros") {
        const shape = [channels, 1, ...Array(dims).fill(1)];
        shape[2 + axis] = k.length;
        const weight = tensor(Array.from({ length: channels }, () => k).flat(), shape, { device: x.device }).to(
          x.dtype,
        );
        const padding = Array(dims).fill(0);
        padding[axis] = (k.length - 1) / 2;
        out = F.conv(out, weight, null, { padding, groups: channels });
        continue;
      }
      const radius = Math.min((k.length - 1) / 2, x.size(2 + axis) - 1);
      const kernel = k.slice((k.length - 1) / 2 - radius, (k.length - 1) / 2 + radius + 1);
      const total = kernel.reduce((a, b) => a + b, 0);
      const shape = [channels, 1, ...Array(dims).fill(1)];
      shape[2 + axis] = kernel.length;
      const weight = tensor(Array.from({ length: channels }, () => kernel.map((v) => v / total)).flat(), shape, {
        device: x.device,
      }).to(x.dtype);
      // F.pad lists (before, after) pairs from the last dimension backwards.
      const pads = Array(2 * dims).fill(0);
      pads[2 * (dims - 1 - axis)] = radius;
      pads[2 * (dims - 1 - axis) + 1] = radius;
      out = F.conv(F.pad(out, pads, "reflect"), weight, null, { groups: channels });
    }
    return out;
  });
}

/**
 * Augments a batch: image [N, C, ...spatial] (float), target [N, ...spatial] (int64).
 * Returns new tensors; the inputs are left untouched. With `patch` (smaller than the input's spatial
 * shape, by an even margin), the rotation and scaling sample the patch's grid from the larger input,
 * centred, and a sample without them is the centre crop.
 */
export function augmentBatch(
  image: Tensor,
  target: Tensor,
  options: AugmentOptions = {},
  patch?: number[],
): { image: Tensor; target: Tensor } {
  // An option given as undefined keeps its default (a spread alone would replace it).
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  const o: Required<AugmentOptions> = { ...NNUNET_AUGMENTATION, ...Object.fromEntries(given) };
  return tidy(() => {
    const n = image.size(0);
    const dims = image.ndim - 2;
    const input = image.shape.slice(2);
    const output = patch ?? input;
    if (output.length !== dims || output.some((p, a) => p > input[a] || (input[a] - p) % 2 !== 0))
      throw new Error(`augment: patch ${output.join("×")} must fit ${input.join("×")} with an even margin`);
    // Affine grids are in normalised coordinates: the patch's [-1, 1] is [-p/L, p/L] of the larger input
    // (align_corners false), per axis; theta's rows run x, y, z, the reverse of the tensor's axes.
    const ratio = output.map((p, a) => p / input[a]).reverse();
    const r = draws(n, o.perChannel ? image.size(1) : 0);
    // Spatial: one affine matrix per sample (identity when neither rotation nor scaling is drawn).
    const thetas: number[] = [];
    let anySpatial = false;
    for (let i = 0; i < n; i++) {
      const rotate = r[i][0] < o.rotationProbability;
      const scale = r[i][1] < o.scaleProbability ? o.scaleRange[0] + r[i][2] * (o.scaleRange[1] - o.scaleRange[0]) : 1;
      anySpatial ||= rotate || scale !== 1;
      const angle = (u: number) => (rotate ? (2 * u - 1) * o.rotation : 0);
      const m =
        dims === 3
          ? rotation3(angle(r[i][3]), angle(r[i][4]), angle(r[i][5]))
          : [
              [Math.cos(angle(r[i][3])), -Math.sin(angle(r[i][3]))],
              [Math.sin(angle(r[i][3])), Math.cos(angle(r[i][3]))],
            ];
      m.forEach((row, k) => thetas.push(...row.map((v) => (v / scale) * ratio[k]), 0));
    }
    let img = image;
    let tgt = target;
    if (!anySpatial && output.some((p, a) => p !== input[a])) {
      for (let a = 0; a < dims; a++) {
        img = img.narrow(a + 2, (input[a] - output[a]) / 2, output[a]);
        tgt = tgt.narrow(a + 1, (input[a] - output[a]) / 2, output[a]);
      }
    } else if (anySpatial) {
      const theta = tensor(thetas, [n, dims, dims + 1], { device: image.device });
      const grid = F.affineGrid(theta, [n, image.size(1), ...output], false).to(image.dtype);
      img = F.gridSample(image, grid, { mode: "bilinear", padding: "zeros" });
      tgt = F.gridSample(target.unsqueeze(1).to(image.dtype), grid, { mode: "nearest", padding: "zeros" })
        .squeeze(1)
        .long();
    }
    // Per-sample intensity changes, then mirroring.
    const samples: Tensor[] = [];
    const targets: Tensor[] = [];
    for (let i = 0; i < n; i++) {
      let x = img.narrow(0, i, 1);
      let t = tgt.narrow(0, i, 1);
      const u = r[i];
      x = o.perChannel ? intensityPerChannel(x, u, o, dims) : intensityPooled(x, u, o, dims);
      const flips = o.mirrorAxes.filter((a) => a < dims && u[18 + a] < 0.5).map((a) => a + 2);
      if (flips.length > 0) {
        x = x.flip(flips);
        t = t.flip(flips.map((a) => a - 1));
      }
      samples.push(x);
      targets.push(t);
    }
    return { image: cat(samples, 0), target: cat(targets, 0) };
  });
}

/** The intensity transforms with one draw for all channels and their pooled statistics (the default). */
function intensityPooled(input: Tensor, u: number[], o: Required<AugmentOptions>, dims: number): Tensor {
  let x = input;
  // nnU-Net v2's noise: a standard deviation drawn from U(0, 0.1) (batchgeneratorsv2 names it a
  // variance but uses it as the σ of the normal; an earlier version here took its square root, 3× more).
  if (u[6] < o.noiseProbability) x = x.add(randn(x.shape, { device: x.device }).mul(0.1 * u[7]));
  if (u[8] < o.blurProbability) x = gaussianBlur(x, 0.5 + 0.5 * u[9]);
  if (u[10] < o.brightnessProbability) x = x.mul(0.75 + 0.5 * u[11]);
  if (u[12] < o.contrastProbability) {
    const mean = x.mean();
    const [lo, hi] = [x.min(), x.max()];
    x = x
      .sub(mean)
      .mul(0.75 + 0.5 * u[13])
      .add(mean)
      .maximum(lo)
      .minimum(hi);
  }
  if (u[14] < o.lowResProbability) {
    const size = x.shape.slice(2);
    const small = size.map((s) => Math.max(1, Math.round(s * (0.5 + 0.5 * u[15]))));
    x = F.interpolate(F.interpolate(x, small, "nearest"), size, dims === 3 ? "trilinear" : "bilinear", false);
  }
  // nnU-Net's two gamma transforms: on the inverted image (p 0.1), then on the image (p 0.3), each
  // on the sample rescaled to [0, 1] and with its mean and standard deviation restored afterwards.
  if (u[21] < o.invertedGammaProbability) x = gamma(x.neg(), 0.7 + 0.8 * u[22]).neg();
  if (u[16] < o.gammaProbability) x = gamma(x, 0.7 + 0.8 * u[17]);
  return x;
}

/**
 * nnU-Net v2's intensity transforms as batchgeneratorsv2 runs them (synchronize_channels off): every
 * channel draws its own factors and uses its own statistics, so a contrast or gamma on FLAIR does not
 * depend on T1c's range.
 */
function intensityPerChannel(input: Tensor, u: number[], o: Required<AugmentOptions>, dims: number): Tensor {
  let x = input;
  // One σ drawn from U(0, 0.1) for all channels (synchronize_channels on for noise).
  if (u[6] < o.noiseProbability) x = x.add(randn(x.shape, { device: x.device }).mul(0.1 * u[7]));
  const blur = u[8] < o.blurProbability;
  const brightness = u[10] < o.brightnessProbability;
  const contrast = u[12] < o.contrastProbability;
  const lowRes = u[14] < o.lowResProbability;
  const invertedGamma = u[21] < o.invertedGammaProbability;
  const plainGamma = u[16] < o.gammaProbability;
  if (!(blur || brightness || contrast || lowRes || invertedGamma || plainGamma)) return x;
  const out: Tensor[] = [];
  for (let c = 0; c < x.size(1); c++) {
    const v = u.slice(DRAWS + c * CHANNEL_DRAWS, DRAWS + (c + 1) * CHANNEL_DRAWS);
    let y = x.narrow(1, c, 1);
    // Blur and low resolution reach each channel with probability ½ (p_per_channel 0.5).
    if (blur && v[0] < 0.5)
      y = gaussianBlur(
        y,
        [v[1], v[2], v[3]].slice(3 - dims).map((w) => 0.5 + 0.5 * w),
        "reflect",
      );
    if (brightness) y = y.mul(aroundOne(0.75, 1.25, v[4], v[5]));
    if (contrast) {
      const mean = y.mean();
      const [lo, hi] = [y.min(), y.max()];
      y = y
        .sub(mean)
        .mul(aroundOne(0.75, 1.25, v[6], v[7]))
        .add(mean)
        .maximum(lo)
        .minimum(hi);
    }
    if (lowRes && v[8] < 0.5) {
      const size = y.shape.slice(2);
      const small = size.map((s) => Math.max(1, Math.round(s * (0.5 + 0.5 * v[9]))));
      y = F.interpolate(F.interpolate(y, small, "nearest"), size, dims === 3 ? "trilinear" : "bilinear", false);
    }
    if (invertedGamma) y = gamma(y.neg(), aroundOne(0.7, 1.5, v[10], v[11])).neg();
    if (plainGamma) y = gamma(y, aroundOne(0.7, 1.5, v[12], v[13]));
    out.push(y);
  }
  return cat(out, 1);
}
