// Case-level metrics of a predicted mask against a reference: voxel overlap, surface distances in
// world units (anisotropic spacing respected), and lesion-wise detection on 26-connected components.
//
// Empty conventions (used everywhere): both empty → Dice = IoU = NSD = 1, HD95 = 0; exactly one empty
// → Dice = IoU = NSD = 0, HD95 = the image diagonal in mm (the largest possible distance).
import { connectedComponents } from "../grid/components.js";
import { squaredDistanceToMask } from "../grid/distance.js";

export interface VoxelMetrics {
  dice: number;
  iou: number;
  predVolumeMm3: number;
  refVolumeMm3: number;
  volumeDifferenceMm3: number;
  hd95Mm: number;
  nsd: number;
}

/** Surface voxels: in the mask with a 6-neighbour outside it (or on the volume border). */
export function surface(mask: ArrayLike<number>, shape: readonly number[]): Uint8Array {
  const [nx, ny, nz] = shape;
  const out = new Uint8Array(mask.length);
  for (let z = 0, p = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, p++) {
        if (!mask[p]) continue;
        if (x === 0 || y === 0 || z === 0 || x === nx - 1 || y === ny - 1 || z === nz - 1) out[p] = 1;
        else if (
          !mask[p - 1] ||
          !mask[p + 1] ||
          !mask[p - nx] ||
          !mask[p + nx] ||
          !mask[p - nx * ny] ||
          !mask[p + nx * ny]
        )
          out[p] = 1;
      }
    }
  }
  return out;
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const pos = (q / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.ceil(pos)] - s[lo]) * (pos - lo);
}

/** Distances (mm) from each surface voxel of `from` to the surface of `to`. */
function surfaceDistances(
  fromSurface: Uint8Array,
  toSurface: Uint8Array,
  shape: readonly number[],
  spacing: readonly number[],
): number[] {
  const d2 = squaredDistanceToMask(toSurface, shape, spacing);
  const out: number[] = [];
  for (let i = 0; i < fromSurface.length; i++) if (fromSurface[i]) out.push(Math.sqrt(d2[i]));
  return out;
}

export function voxelMetrics(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
  toleranceMm = 1,
): VoxelMetrics {
  let tp = 0;
  let p = 0;
  let r = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] ? 1 : 0;
    const b = ref[i] ? 1 : 0;
    tp += a & b;
    p += a;
    r += b;
  }
  const voxel = spacing[0] * spacing[1] * spacing[2];
  const diagonal = Math.hypot(...shape.map((n, a) => n * spacing[a]));
  const base = { predVolumeMm3: p * voxel, refVolumeMm3: r * voxel, volumeDifferenceMm3: (p - r) * voxel };
  if (p === 0 && r === 0) return { dice: 1, iou: 1, hd95Mm: 0, nsd: 1, ...base };
  if (p === 0 || r === 0) return { dice: 0, iou: 0, hd95Mm: diagonal, nsd: 0, ...base };
  const predMask = Uint8Array.from(pred as ArrayLike<number>, (v) => (v ? 1 : 0));
  const refMask = Uint8Array.from(ref as ArrayLike<number>, (v) => (v ? 1 : 0));
  const sp = surface(predMask, shape);
  const sr = surface(refMask, shape);
  const dp = surfaceDistances(sp, sr, shape, spacing);
  const dr = surfaceDistances(sr, sp, shape, spacing);
  const within = dp.filter((d) => d <= toleranceMm).length + dr.filter((d) => d <= toleranceMm).length;
  return {
    dice: (2 * tp) / (p + r),
    iou: tp / (p + r - tp),
    hd95Mm: Math.max(percentile(dp, 95), percentile(dr, 95)),
    nsd: within / (dp.length + dr.length),
    ...base,
  };
}

export interface LesionMatch {
  /** Reference lesion volume (mm³) and its matched prediction's Dice (0 when missed). */
  refVolumeMm3: number;
  detected: boolean;
  dice: number;
}

export interface LesionMetrics {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  f1: number;
  /** BraTS-2023 style: mean Dice over reference lesions and false-positive lesions (both missed and FP count 0). */
  lesionDice: number;
  falsePositives: number;
  lesions: LesionMatch[];
}

/**
 * One-to-one matching of 26-connected components by largest overlap: a reference lesion is detected
 * when its best-overlapping free predicted component covers at least `minOverlap` of it
 * (default 0: any overlap).
 */
export function lesionMetrics(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
  minOverlap = 0,
): LesionMetrics {
  const voxel = spacing[0] * spacing[1] * spacing[2];
  const P = connectedComponents(pred, shape, 26);
  const R = connectedComponents(ref, shape, 26);
  const overlaps = new Map<number, number>();
  for (let i = 0; i < P.labels.length; i++) {
    const a = P.labels[i];
    const b = R.labels[i];
    if (a && b) overlaps.set(b * (P.count + 1) + a, (overlaps.get(b * (P.count + 1) + a) ?? 0) + 1);
  }
  const pairs = [...overlaps]
    .map(([k, n]) => ({ ref: Math.floor(k / (P.count + 1)), pred: k % (P.count + 1), n }))
    .sort((x, y) => y.n - x.n || x.ref - y.ref || x.pred - y.pred);
  const refMatch = new Map<number, number>();
  const predUsed = new Set<number>();
  for (const { ref: rr, pred: pp, n } of pairs) {
    if (refMatch.has(rr) || predUsed.has(pp)) continue;
    if (minOverlap > 0 ? n / R.sizes[rr] < minOverlap : n === 0) continue;
    refMatch.set(rr, pp);
    predUsed.add(pp);
  }
  const lesions: LesionMatch[] = [];
  for (let rr = 1; rr <= R.count; rr++) {
    const pp = refMatch.get(rr);
    const n = pp === undefined ? 0 : overlaps.get(rr * (P.count + 1) + pp)!;
    lesions.push({
      refVolumeMm3: R.sizes[rr] * voxel,
      detected: pp !== undefined,
      dice: pp === undefined ? 0 : (2 * n) / (R.sizes[rr] + P.sizes[pp]),
    });
  }
  const tp = refMatch.size;
  const fn = R.count - tp;
  const fp = P.count - predUsed.size;
  const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 1 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  const denominator = R.count + fp;
  const lesionDice = denominator === 0 ? 1 : lesions.reduce((s, l) => s + l.dice, 0) / denominator;
  return { tp, fp, fn, precision, recall, f1, lesionDice, falsePositives: fp, lesions };
}

export const DEFAULT_BINS_MM3 = [10, 100, 1000];

/** Recall and lesion Dice per reference-lesion size bin ("<10", "10-100", …); null where a bin is empty. */
export function sizeStratified(
  lesions: LesionMatch[],
  bins: readonly number[] = DEFAULT_BINS_MM3,
): { bin: string; count: number; recall: number | null; dice: number | null }[] {
  const labels = [`<${bins[0]}`, ...bins.slice(1).map((b, i) => `${bins[i]}-${b}`), `>=${bins[bins.length - 1]}`];
  return labels.map((bin, k) => {
    const inBin = lesions.filter((l) => {
      const idx = bins.findIndex((b) => l.refVolumeMm3 < b);
      return (idx < 0 ? bins.length : idx) === k;
    });
    return {
      bin,
      count: inBin.length,
      recall: inBin.length ? inBin.filter((l) => l.detected).length / inBin.length : null,
      dice: inBin.length ? inBin.reduce((s, l) => s + l.dice, 0) / inBin.length : null,
    };
  });
}
