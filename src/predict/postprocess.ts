// Removing predicted lesion components by a recorded rule (see PostprocessingRule): the step nnU-Net
// determines on cross-validation and applies after prediction. Pure TypeScript (no libtorch), so that
// evaluation can try rules on saved predictions.
import { connectedComponents } from "../grid/components.js";
import type { PostprocessingRule } from "../run/config.js";

export const NO_POSTPROCESSING: PostprocessingRule = { minVolumeMm3: 0, minPeakProbability: 0 };

export function isNoPostprocessing(rule: PostprocessingRule): boolean {
  return rule.minVolumeMm3 <= 0 && rule.minPeakProbability <= 0;
}

/** Says the rule in words, e.g. "remove components < 12 mm³". */
export function describeRule(rule: PostprocessingRule): string {
  const parts: string[] = [];
  if (rule.minVolumeMm3 > 0) parts.push(`< ${+rule.minVolumeMm3.toPrecision(4)} mm³`);
  if (rule.minPeakProbability > 0) parts.push(`with peak lesion probability < ${rule.minPeakProbability}`);
  return parts.length ? `remove components ${parts.join(" or ")}` : "none";
}

/** 0/1 copy of a mask (a plain loop: TypedArray.from with a map function is ~50× slower on 10⁷ voxels). */
export function binaryMask(mask: ArrayLike<number>, value?: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  if (value === undefined) for (let i = 0; i < out.length; i++) out[i] = mask[i] ? 1 : 0;
  else for (let i = 0; i < out.length; i++) out[i] = mask[i] === value ? 1 : 0;
  return out;
}

/** The 26-connected components of a 0/1 mask with each one's peak lesion probability (0 without a map). */
export function lesionComponents(
  mask: Uint8Array,
  shape: readonly number[],
  probability?: ArrayLike<number>,
): { labels: Int32Array; count: number; sizes: number[]; peak: Float64Array } {
  const { labels, count, sizes } = connectedComponents(mask, shape, 26);
  const peak = new Float64Array(count + 1);
  if (probability)
    for (let i = 0; i < labels.length; i++) if (labels[i]) peak[labels[i]] = Math.max(peak[labels[i]], probability[i]);
  return { labels, count, sizes, peak };
}

/** Whether the rule removes a component of `voxels` voxels (each `voxelMm3`) whose peak probability is `peak`. */
export function ruleRemoves(rule: PostprocessingRule, voxels: number, voxelMm3: number, peak: number): boolean {
  const small = rule.minVolumeMm3 > 0 && voxels * voxelMm3 < rule.minVolumeMm3;
  const faint = rule.minPeakProbability > 0 && peak < rule.minPeakProbability;
  return small || faint;
}

/**
 * The mask without the components the rule removes (26-connected, as lesions are counted), and how many
 * were removed. `probability` (the lesion probability per voxel) is needed only for a peak-probability test.
 */
export function applyPostprocessing(
  mask: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
  rule: PostprocessingRule,
  probability?: ArrayLike<number>,
): { mask: Uint8Array; removed: number } {
  const out = binaryMask(mask);
  if (isNoPostprocessing(rule)) return { mask: out, removed: 0 };
  if (rule.minPeakProbability > 0 && !probability)
    throw new Error("a peak-probability postprocessing rule needs the lesion probability map");
  const { labels, count, sizes, peak } = lesionComponents(out, shape, probability);
  const voxel = spacing[0] * spacing[1] * spacing[2];
  const remove = new Uint8Array(count + 1);
  let removed = 0;
  for (let c = 1; c <= count; c++) {
    if (ruleRemoves(rule, sizes[c], voxel, peak[c])) {
      remove[c] = 1;
      removed++;
    }
  }
  if (removed) for (let i = 0; i < labels.length; i++) if (remove[labels[i]]) out[i] = 0;
  return { mask: out, removed };
}
