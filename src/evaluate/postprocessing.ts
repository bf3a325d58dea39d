// Postprocessing decided on cross-validation, as nnU-Net does after training its folds: on the pooled
// held-out predictions, each candidate rule is applied and scored; one is kept only if it raises the
// pooled lesion F1 without lowering the mean voxel Dice. Removing components only ever helps
// precision, so the candidates trade it against recall and Dice on data the models did not train on.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { IMAGE_ENDINGS, readVolume } from "../io/read.js";
import {
  NO_POSTPROCESSING,
  applyPostprocessing,
  binaryMask,
  lesionComponents,
  ruleRemoves,
} from "../predict/postprocess.js";
import type { PostprocessingRule } from "../run/config.js";
import type { PostprocessingRecord } from "../run/record.js";
import { lesionMetrics } from "./metrics.js";

/** Component sizes tried, in voxels of each case (converted to mm³ with the first case's spacing). */
export const MIN_SIZE_VOXELS = [2, 3, 5, 10, 20, 50, 100];
/** Peak lesion probabilities tried (with `{case}_prob` maps beside the masks). */
export const MIN_PEAK_PROBABILITIES = [0.6, 0.7, 0.8, 0.9, 0.95];

export interface CandidateScore {
  rule: PostprocessingRule;
  /** Pooled over cases: lesion TP/FP/FN summed, then F1. */
  f1: number;
  /** Mean over cases of the voxel Dice (1 where both masks are empty). */
  dice: number;
  falsePositives: number;
  truePositives: number;
}

export interface PostprocessingChoice {
  /** The rule kept (NO_POSTPROCESSING when no candidate qualified). */
  rule: PostprocessingRule;
  without: CandidateScore;
  chosen: CandidateScore;
  candidates: CandidateScore[];
  cases: number;
  /** Whether `{case}_prob` maps were found, so peak-probability rules were tried. */
  probabilities: boolean;
}

interface LoadedCase {
  mask: Uint8Array;
  ref: Uint8Array;
  prob?: ArrayLike<number>;
  shape: readonly number[];
  spacing: readonly number[];
}

function imageIn(dir: string, id: string): string | null {
  for (const ending of IMAGE_ENDINGS)
    if (existsSync(path.join(dir, `${id}${ending}`))) return path.join(dir, `${id}${ending}`);
  return null;
}

function score(cases: LoadedCase[], rule: PostprocessingRule): CandidateScore {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let diceSum = 0;
  for (const c of cases) {
    const { mask } = applyPostprocessing(c.mask, c.shape, c.spacing, rule, c.prob);
    const lm = lesionMetrics(mask, c.ref, c.shape, c.spacing);
    tp += lm.tp;
    fp += lm.fp;
    fn += lm.fn;
    let both = 0;
    let p = 0;
    let r = 0;
    for (let i = 0; i < mask.length; i++) {
      both += mask[i] & c.ref[i];
      p += mask[i];
      r += c.ref[i];
    }
    diceSum += p + r === 0 ? 1 : (2 * both) / (p + r);
  }
  const f1 = tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn);
  return { rule, f1, dice: diceSum / cases.length, falsePositives: fp, truePositives: tp };
}

/**
 * Tries every candidate rule on the predictions in `predictions` ({case}.nii.gz masks, optionally
 * {case}_prob.nii.gz) against the references in `reference` (label `lesionLabel`), and keeps the one with
 * the highest pooled lesion F1 among those that raise it and do not lower the mean voxel Dice.
 */
export async function determinePostprocessing(
  predictions: string,
  reference: string,
  o: { lesionLabel?: number; onCase?: (id: string, total: number) => void } = {},
): Promise<PostprocessingChoice> {
  const label = o.lesionLabel ?? 1;
  const ids = readdirSync(reference)
    .flatMap((name) => {
      const ending = IMAGE_ENDINGS.find((e) => name.endsWith(e));
      return ending ? [name.slice(0, -ending.length)] : [];
    })
    .sort();
  if (ids.length === 0) throw new Error(`${reference}: no reference label maps`);
  const cases: LoadedCase[] = [];
  for (const id of ids) {
    const predFile = imageIn(predictions, id);
    if (!predFile) throw new Error(`${predictions}: no prediction for ${id}`);
    const pred = await readVolume(predFile);
    const ref = await readVolume(imageIn(reference, id)!);
    if (pred.shape.join() !== ref.shape.join())
      throw new Error(`${predFile}: shape ${pred.shape.join("×")} differs from the reference ${ref.shape.join("×")}`);
    const probFile = imageIn(predictions, `${id}_prob`);
    cases.push({
      mask: binaryMask(pred.data),
      ref: binaryMask(ref.data, label),
      prob: probFile ? (await readVolume(probFile)).data : undefined,
      shape: ref.shape,
      spacing: ref.spacing,
    });
    o.onCase?.(id, ids.length);
  }
  const probabilities = cases.every((c) => c.prob);
  const voxel = cases[0].spacing[0] * cases[0].spacing[1] * cases[0].spacing[2];
  const rules: PostprocessingRule[] = [
    ...MIN_SIZE_VOXELS.map((n) => ({ minVolumeMm3: n * voxel, minPeakProbability: 0 })),
    ...(probabilities ? MIN_PEAK_PROBABILITIES.map((p) => ({ minVolumeMm3: 0, minPeakProbability: p })) : []),
  ];
  const without = score(cases, NO_POSTPROCESSING);
  // A rule that removes no component in any case scores exactly as no postprocessing: not recomputed.
  const components = cases.map((c) => lesionComponents(c.mask, c.shape, c.prob));
  const removesSome = (r: PostprocessingRule) =>
    components.some(({ count, sizes, peak }) => {
      for (let k = 1; k <= count; k++) if (ruleRemoves(r, sizes[k], voxel, peak[k])) return true;
      return false;
    });
  const candidates = rules.map((r) => (removesSome(r) ? score(cases, r) : { ...without, rule: r }));
  let chosen = without;
  for (const c of candidates) if (c.f1 > chosen.f1 && c.dice >= without.dice) chosen = c;
  return { rule: chosen.rule, without, chosen, candidates, cases: cases.length, probabilities };
}

/** What a run keeps of a choice (its postprocessing.json). */
export function postprocessingRecord(
  choice: PostprocessingChoice,
  predictions: string,
  reference: string,
): PostprocessingRecord {
  return {
    rule: choice.rule,
    determinedOn: { predictions, reference, cases: choice.cases },
    without: { f1: choice.without.f1, dice: choice.without.dice },
    with: { f1: choice.chosen.f1, dice: choice.chosen.dice },
  };
}
