// Sliding-window inference (nnU-Net's): overlapping tiles at half-patch steps, each tile's logits (as
// nnU-Net v2; or its softmax) weighted by a Gaussian importance map, optional mirroring, aggregated on the
// CPU in float32 so memory stays bounded by the output (classes × voxels) whatever the device.
import { totalmem } from "node:os";
import { F, type Module, type Tensor, autocast, cat, noGrad, tensor, tidy } from "../engine/index.js";
import { DEFAULT_TILE_AVERAGE, type TileAverage } from "./tile-average.js";

/** Tile start positions along one axis (step ≤ stepFraction · patch, first and last tiles flush with the borders). */
export function tileStarts(size: number, patch: number, stepFraction = 0.5): number[] {
  if (size <= patch) return [0];
  if (patch === 1) return Array.from({ length: size }, (_, i) => i); // slice by slice (2D models)
  const n = Math.ceil((size - patch) / (patch * stepFraction)) + 1;
  const step = (size - patch) / (n - 1);
  return Array.from({ length: n }, (_, i) => Math.round(i * step));
}

/** Gaussian importance map over a patch (σ = patch/8, peak 1, no zeros), [z, y, x] C order. */
export function gaussianImportance(patch: number[]): Float32Array {
  const [pz, py, px] = patch;
  const out = new Float32Array(pz * py * px);
  const sigma = patch.map((p) => p / 8);
  const centre = patch.map((p) => (p - 1) / 2);
  let min = Number.POSITIVE_INFINITY;
  for (let z = 0, i = 0; z < pz; z++) {
    for (let y = 0; y < py; y++) {
      for (let x = 0; x < px; x++, i++) {
        const e =
          ((z - centre[0]) / sigma[0]) ** 2 + ((y - centre[1]) / sigma[1]) ** 2 + ((x - centre[2]) / sigma[2]) ** 2;
        out[i] = Math.exp(-0.5 * e);
        if (out[i] > 0 && out[i] < min) min = out[i];
      }
    }
  }
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = min;
  return out;
}

export interface SlidingOptions {
  patch: number[];
  numClasses: number;
  device: string;
  stepFraction?: number;
  /** Average over every combination of flipped axes (8 passes in 3D). */
  mirror?: boolean;
  /** How overlapping tiles are averaged: "gaussian" (nnU-Net's default: tile centres count more) or
   * "uniform" (plain mean, MONAI's "constant" mode). */
  tileWeighting?: "gaussian" | "uniform";
  /** What overlapping tiles and mirrored passes average: "logits" (default, nnU-Net v2's: the raw outputs,
   * one softmax at the end) or "probabilities" (each tile's softmax). With "logits" every class is
   * aggregated, whatever `channels` keeps, since the final softmax needs them all; "probabilities"
   * aggregates only the kept channels, the low-memory choice for many classes on large images. */
  tileAverage?: TileAverage;
  amp?: boolean;
  /** Tiles per forward pass (default 2). */
  batchSize?: number;
  /** Keep only these class channels (selected on the device, before aggregation): the lesion classes
   * when nothing else is needed, so a BackSplit model predicts at the binary model's cost. */
  channels?: number[];
  onTile?: (done: number, total: number) => void;
}

/** The flipped axes of each test-time mirroring pass, over [batch, channel, z, y, x]; the order fixes the sum's. */
const MIRROR_FLIPS = [[], [2], [3], [4], [2, 3], [2, 4], [3, 4], [2, 3, 4]];

/**
 * Class probabilities [classes (or the kept channels), z, y, x] of a preprocessed image [channels, z, y, x] (shape without channels).
 * Images smaller than the patch are zero-padded for inference and cropped back.
 */
export function slidingWindow(
  net: Module,
  image: Float32Array,
  channels: number,
  shape: number[],
  o: SlidingOptions,
): Float32Array {
  const padded = shape.map((s, a) => Math.max(s, o.patch[a]));
  const size = padded[0] * padded[1] * padded[2];
  const keep = o.channels ?? [...Array(o.numClasses).keys()];
  const averageLogits = (o.tileAverage ?? DEFAULT_TILE_AVERAGE) === "logits";
  // Aggregated channels: the kept ones, or every class when logits are averaged (softmax comes last).
  const k = averageLogits ? o.numClasses : keep.length;
  const bytes = 4 * k * size;
  if (averageLogits && bytes > totalmem() / 2)
    throw new Error(
      `averaging logits over tiles holds all ${k} classes of ${size} voxels (${(bytes / 2 ** 30).toFixed(1)} GiB), over half this machine's memory: average probabilities instead (predict --tile-average probabilities), which aggregates only the kept classes`,
    );
  let input = image;
  if (padded.some((p, a) => p !== shape[a])) {
    input = new Float32Array(channels * size);
    for (let c = 0; c < channels; c++)
      for (let z = 0; z < shape[0]; z++)
        for (let y = 0; y < shape[1]; y++) {
          const from = shape[2] * (y + shape[1] * (z + shape[0] * c));
          input.set(image.subarray(from, from + shape[2]), padded[2] * (y + padded[1] * (z + padded[0] * c)));
        }
  }
  const keepIndex =
    o.channels && !averageLogits
      ? tensor(new BigInt64Array(keep.map(BigInt)), [keep.length], { device: o.device })
      : null;
  const sums = new Float32Array(k * size);
  const weights = new Float32Array(size);
  const gauss =
    (o.tileWeighting ?? "gaussian") === "gaussian"
      ? gaussianImportance(o.patch)
      : new Float32Array(o.patch[0] * o.patch[1] * o.patch[2]).fill(1);
  const starts = o.patch.map((p, a) => tileStarts(padded[a], p, o.stepFraction ?? 0.5));
  const tiles = starts[0].flatMap((z) => starts[1].flatMap((y) => starts[2].map((x) => [z, y, x])));
  // Every subset of the spatial axes: 8 passes in 3D. A 2D patch (depth 1) has nothing to mirror in depth: 4.
  const flips = o.mirror ? MIRROR_FLIPS.filter((axes) => axes.every((axis) => o.patch[axis - 2] > 1)) : [[]];
  const [pz, py, px] = o.patch;
  const full = tensor(input, [1, channels, ...padded], { device: o.device });
  const tileVoxels = pz * py * px;
  const batchSize = Math.max(1, o.batchSize ?? 2);
  for (let first = 0; first < tiles.length; first += batchSize) {
    const group = tiles.slice(first, first + batchSize);
    // One forward pass for a batch of tiles: [B, C, pz, py, px] → kept channels, back on the CPU.
    const probs = noGrad(() =>
      tidy(() => {
        const batch = cat(
          group.map(([z0, y0, x0]) =>
            full
              .slice(2, z0, z0 + pz)
              .slice(3, y0, y0 + py)
              .slice(4, x0, x0 + px),
          ),
          0,
        );
        let acc: Tensor | null = null;
        for (const axes of flips) {
          const x = axes.length ? batch.flip(axes) : batch;
          const raw = autocast(() => (net.forward(x) as Tensor).float(), "float16", o.amp ?? false);
          let p = averageLogits ? raw : F.softmax(raw, 1);
          // Only the kept channels are flipped back and summed (with mirroring, 8 flips of every class
          // would make a wide BackSplit head cost more than the binary one).
          if (keepIndex) p = p.indexSelect(1, keepIndex);
          if (axes.length) p = p.flip(axes);
          acc = acc ? acc.add(p) : p;
        }
        return acc!.div(flips.length).to("cpu").data<"float32">();
      }),
    );
    group.forEach(([z0, y0, x0], b) => {
      const offset = b * k * tileVoxels;
      for (let c = 0; c < k; c++) {
        for (let z = 0, i = 0; z < pz; z++) {
          for (let y = 0; y < py; y++) {
            let q = c * size + padded[2] * (y0 + y + padded[1] * (z0 + z)) + x0;
            for (let x = 0; x < px; x++, i++, q++) sums[q] += probs[offset + c * tileVoxels + i] * gauss[i];
          }
        }
      }
      for (let z = 0, i = 0; z < pz; z++) {
        for (let y = 0; y < py; y++) {
          let q = padded[2] * (y0 + y + padded[1] * (z0 + z)) + x0;
          for (let x = 0; x < px; x++, i++, q++) weights[q] += gauss[i];
        }
      }
      o.onTile?.(first + b + 1, tiles.length);
    });
  }
  full.dispose();
  keepIndex?.dispose();
  return averageLogits
    ? softmaxOfMeanLogits(sums, weights, k, keep, shape, padded)
    : meanOverTiles(sums, weights, k, shape, padded);
}

/** The weighted mean of the aggregated channels, cropped from the padded grid to the image's. */
function meanOverTiles(sums: Float32Array, weights: Float32Array, k: number, shape: number[], padded: number[]) {
  const size = weights.length;
  const n = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(k * n);
  for (let c = 0; c < k; c++) {
    for (let z = 0, i = 0; z < shape[0]; z++) {
      for (let y = 0; y < shape[1]; y++) {
        let q = padded[2] * (y + padded[1] * z);
        for (let x = 0; x < shape[2]; x++, i++, q++) out[c * n + i] = sums[c * size + q] / weights[q];
      }
    }
  }
  return out;
}

/** Voxel by voxel, the softmax over all k classes of the weighted mean logits, written for the kept channels
 * only: nothing but the aggregation buffer holds every class. */
function softmaxOfMeanLogits(
  sums: Float32Array,
  weights: Float32Array,
  k: number,
  keep: number[],
  shape: number[],
  padded: number[],
) {
  const size = weights.length;
  const n = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(keep.length * n);
  const e = new Float64Array(k);
  for (let z = 0, i = 0; z < shape[0]; z++) {
    for (let y = 0; y < shape[1]; y++) {
      let q = padded[2] * (y + padded[1] * z);
      for (let x = 0; x < shape[2]; x++, i++, q++) {
        let max = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < k; c++) {
          e[c] = sums[c * size + q] / weights[q];
          if (e[c] > max) max = e[c];
        }
        let total = 0;
        for (let c = 0; c < k; c++) {
          e[c] = Math.exp(e[c] - max);
          total += e[c];
        }
        for (let j = 0; j < keep.length; j++) out[j * n + i] = e[keep[j]] / total;
      }
    }
  }
  return out;
}
