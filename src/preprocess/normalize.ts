// Intensity normalisation per channel (nnU-Net's schemes).
import type { IntensityProperties } from "../plan/fingerprint.js";

/** Per-image z-score; with a mask, statistics come from the mask and voxels outside become 0. */
export function zscore(data: Float32Array, mask?: Uint8Array): Float32Array {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    if (mask && !mask[i]) continue;
    sum += data[i];
    n++;
  }
  const mean = n ? sum / n : 0;
  let sq = 0;
  for (let i = 0; i < data.length; i++) {
    if (mask && !mask[i]) continue;
    sq += (data[i] - mean) ** 2;
  }
  const std = Math.max(Math.sqrt(n ? sq / n : 0), 1e-8);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = mask && !mask[i] ? 0 : (data[i] - mean) / std;
  return out;
}

/** CT: clip to the dataset's foreground 0.5–99.5 percentiles, then z-score with the foreground mean and std. */
export function ctNormalize(data: Float32Array, p: IntensityProperties): Float32Array {
  const std = Math.max(p.std, 1e-8);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Math.min(Math.max(data[i], p.percentile_00_5), p.percentile_99_5);
    out[i] = (v - p.mean) / std;
  }
  return out;
}
