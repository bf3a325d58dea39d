// Lesion labels + background sources → one training target. The rules, in order:
// 1. the lesion always wins: every lesion voxel keeps exactly its annotated value;
// 2. background sources paint the rest in priority order (the first source listed wins overlaps);
//    classes of the same name from different sources become one target class;
// 3. optionally, background classes survive only within a margin (mm) of a lesion or of a mask
//    (e.g. an organ): elsewhere the voxel is generic background;
// 4. voxels no source labelled are generic background (0), `ignore`, or "unknown background" (trained
//    with the marginal likelihood over every background class).
import { dilateMm } from "../grid/distance.js";

export interface SourceMap {
  name: string;
  /** Label values, same grid as the lesion map (0 = not assigned). */
  map: ArrayLike<number>;
  /** Class name → value in `map`. */
  classes: Record<string, number>;
}

export interface MergeOptions {
  /** Lesion label map (0 = not lesion) and the values that are lesion classes. */
  lesion: ArrayLike<number>;
  lesionClasses: Record<string, number>;
  /** In priority order: the first source wins where sources overlap. */
  sources: SourceMap[];
  /**
   * What voxels no source labels become: generic background (a class of its own), ignore, or
   * "marginal" (some background class, which one unknown: trained with −log Σ_background p).
   */
  unassigned?: "background" | "ignore" | "marginal";
  /** Keep background classes only within this many mm of a lesion (or of `nearMask` if given). */
  nearMm?: number;
  nearMask?: ArrayLike<number>;
  shape: readonly number[];
  spacing: readonly number[];
}

export interface MergeReport {
  /** Target class name → value: 0 background, lesion classes unchanged, then background classes. */
  classes: Record<string, number>;
  ignoreValue: number | null;
  /** Per source: lesion voxels that the source had labelled (overridden by the lesion). */
  lesionClaimed: Record<string, number>;
  /** "a & b": voxels labelled by both sources (the first listed won). */
  overlaps: Record<string, number>;
  /** Voxels per target class. */
  volumes: Record<string, number>;
}

/** How a merge numbers its classes and maps each source's values: the same for every case. */
export interface MergePlan {
  classes: Record<string, number>;
  ignoreValue: number | null;
  lesionValues: Set<number>;
  /** Per source (in priority order): source value → target value. */
  lookups: Map<number, number>[];
}

/**
 * The target classes of lesion classes and background sources (no data needed): 0 background,
 * the lesion classes unchanged, then each background class name once, then ignore/unknown_background.
 */
export function planMerge(
  lesionClasses: Record<string, number>,
  sources: readonly Pick<SourceMap, "name" | "classes">[],
  unassigned?: MergeOptions["unassigned"],
): MergePlan {
  const classes: Record<string, number> = { background: 0, ...lesionClasses };
  let next = Math.max(0, ...Object.values(lesionClasses)) + 1;
  const lookups = sources.map((s) => {
    const lookup = new Map<number, number>();
    for (const [name, value] of Object.entries(s.classes)) {
      if (name in lesionClasses || name === "background")
        throw new Error(`background source ${s.name}: class "${name}" clashes with a lesion class name`);
      if (!(name in classes)) classes[name] = next++;
      lookup.set(value, classes[name]);
    }
    return lookup;
  });
  const ignoreValue = unassigned === "ignore" || unassigned === "marginal" ? next : null;
  if (ignoreValue !== null) classes[unassigned === "marginal" ? "unknown_background" : "ignore"] = ignoreValue;
  return { classes, ignoreValue, lesionValues: new Set(Object.values(lesionClasses)), lookups };
}

/** Voxels within `mm` of a lesion voxel (or of `mask` when given) over the whole map: rule 3's region. */
export function nearRegion(
  lesion: ArrayLike<number>,
  lesionValues: ReadonlySet<number>,
  shape: readonly number[],
  spacing: readonly number[],
  mm: number,
  mask?: ArrayLike<number>,
): Uint8Array {
  return dilateMm(
    mask ?? Uint8Array.from(lesion as ArrayLike<number>, (v) => (lesionValues.has(v) ? 1 : 0)),
    shape,
    spacing,
    mm,
  );
}

/**
 * Rules 1, 2 and 4 voxel by voxel, rule 3 from a precomputed `near` region (null: no margin rule).
 * With `counts`, also the report's lesion claims and overlaps.
 */
export function paintTargets(
  plan: MergePlan,
  lesion: ArrayLike<number>,
  sources: readonly SourceMap[],
  near: ArrayLike<number> | null,
  counts?: Pick<MergeReport, "lesionClaimed" | "overlaps">,
): Int16Array {
  const { lookups, lesionValues, ignoreValue } = plan;
  const n = lesion.length;
  const target = new Int16Array(n);
  const pairKeys = sources.map((a, i) => sources.map((b, j) => (i < j ? `${a.name} & ${b.name}` : "")));
  const labelledBy: number[] = [];
  for (let p = 0; p < n; p++) {
    const l = lesion[p];
    labelledBy.length = 0;
    for (let s = 0; s < sources.length; s++) if (lookups[s].has(sources[s].map[p])) labelledBy.push(s);
    if (counts) {
      for (let a = 0; a < labelledBy.length; a++)
        for (let b = a + 1; b < labelledBy.length; b++) counts.overlaps[pairKeys[labelledBy[a]][labelledBy[b]]]++;
    }
    if (lesionValues.has(l)) {
      target[p] = l;
      if (counts) for (const s of labelledBy) counts.lesionClaimed[sources[s].name]++;
      continue;
    }
    if (labelledBy.length === 0 || (near && !near[p])) {
      target[p] = labelledBy.length === 0 && ignoreValue !== null ? ignoreValue : 0;
      continue;
    }
    const s = labelledBy[0];
    target[p] = lookups[s].get(sources[s].map[p])!;
  }
  return target;
}

export function mergeTargets(o: MergeOptions): { target: Int16Array; report: MergeReport } {
  const plan = planMerge(o.lesionClasses, o.sources, o.unassigned);
  const near =
    o.nearMm === undefined ? null : nearRegion(o.lesion, plan.lesionValues, o.shape, o.spacing, o.nearMm, o.nearMask);
  const lesionClaimed: Record<string, number> = Object.fromEntries(o.sources.map((s) => [s.name, 0]));
  const overlaps: Record<string, number> = {};
  for (let i = 0; i < o.sources.length; i++)
    for (let j = i + 1; j < o.sources.length; j++) overlaps[`${o.sources[i].name} & ${o.sources[j].name}`] = 0;
  const target = paintTargets(plan, o.lesion, o.sources, near, { lesionClaimed, overlaps });
  const { classes, ignoreValue } = plan;
  const names = new Map(Object.entries(classes).map(([k, v]) => [v, k]));
  const volumes: Record<string, number> = Object.fromEntries(Object.keys(classes).map((k) => [k, 0]));
  for (let p = 0; p < target.length; p++) volumes[names.get(target[p])!]++;
  return { target, report: { classes, ignoreValue, lesionClaimed, overlaps, volumes } };
}
