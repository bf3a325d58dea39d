// The collapse rule: class probabilities → lesion mask. A BackSplit network's background classes
// change nothing here: only which classes are lesion classes matters. Defined once; prediction
// (predict.ts) evaluates it voxel by voxel, and the ONNX export (onnx.ts) emits the same test as
// graph nodes from lesionTest().

/** prob: the summed lesion probability exceeds the threshold; argmax: the most probable class is a lesion class. */
export type Collapse = "prob" | "argmax";
export const COLLAPSE_RULES: readonly Collapse[] = ["prob", "argmax"];

export interface CollapseRule {
  collapse: Collapse;
  /** For prob: a voxel is lesion when Σ_lesion p > threshold. */
  threshold: number;
  /** Target values that are lesion classes (channel indices of the network's output). */
  lesionValues: readonly number[];
}

/** What decides "lesion" at a voxel, as data both the TypeScript path and the ONNX graph follow. */
export type LesionTest =
  | { kind: "sum-above"; channels: readonly number[]; threshold: number }
  | { kind: "argmax-in"; classes: readonly number[] };

export function lesionTest(rule: CollapseRule): LesionTest {
  return rule.collapse === "prob"
    ? { kind: "sum-above", channels: rule.lesionValues, threshold: rule.threshold }
    : { kind: "argmax-in", classes: rule.lesionValues };
}

/** The most probable class (the first one on ties). `p[c]` is class c's probability. */
export function argmaxClass(p: ArrayLike<number>): number {
  let best = 0;
  for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
  return best;
}

/** Σ_lesion p, accumulated in float32 as the lesion probability map that predict writes. */
export function lesionProbability(p: ArrayLike<number>, lesionValues: readonly number[]): number {
  let sum = 0;
  for (const v of lesionValues) sum = Math.fround(sum + p[v]);
  return sum;
}

/**
 * The mask value of one voxel from its class probabilities (`p[c]`; under prob only the lesion
 * classes are read) by a rule's lesion test (lesionTest(rule), made once for all voxels): 0, or
 * the lesion class (the most probable lesion class under prob, the winning class under argmax).
 */
export function collapse(p: ArrayLike<number>, test: LesionTest): number {
  if (test.kind === "argmax-in") {
    const best = argmaxClass(p);
    return test.classes.includes(best) ? best : 0;
  }
  if (!(lesionProbability(p, test.channels) > test.threshold)) return 0;
  // The most probable lesion class (one class in the usual single-lesion case).
  let lesion = test.channels[0];
  for (const v of test.channels) if (p[v] > p[lesion]) lesion = v;
  return lesion;
}
