// Training targets per patch: binary (lesion classes vs the rest) or BackSplit (lesion classes plus
// the merged background classes). The lesion values are exactly the annotation in both modes.
import { type MergeReport, type SourceMap, mergeTargets } from "../labels/merge.js";

export interface TargetSpec {
  mode: "binary" | "backsplit";
  lesionClasses: Record<string, number>;
  ignoreValue: number | null;
  /** BackSplit: background sources in priority order with their class names. */
  sources: { name: string; classes: Record<string, number> }[];
  unassigned?: "background" | "ignore" | "marginal";
  nearMm?: number;
}

/** The target classes (name → value) a spec produces, without any data. */
export function targetClasses(spec: TargetSpec): MergeReport["classes"] {
  if (spec.mode === "binary") return { background: 0, ...spec.lesionClasses };
  return mergeTargets({
    lesion: [],
    lesionClasses: spec.lesionClasses,
    sources: spec.sources.map((s) => ({ name: s.name, map: [], classes: s.classes })),
    unassigned: spec.unassigned,
    shape: [0, 0, 0],
    spacing: [1, 1, 1],
  }).report.classes;
}

/** Target of one patch ([z, y, x] arrays of equal length). */
export function patchTarget(
  spec: TargetSpec,
  seg: Int16Array,
  backgrounds: Record<string, Int16Array>,
  shapeZyx: number[],
  spacingZyx: number[],
): Int16Array {
  const lesionValues = new Set(Object.values(spec.lesionClasses));
  if (spec.mode === "binary") {
    return Int16Array.from(seg, (v) =>
      lesionValues.has(v) ? v : spec.ignoreValue !== null && v === spec.ignoreValue ? v : 0,
    );
  }
  const sources: SourceMap[] = spec.sources.map((s) => ({
    name: s.name,
    map: backgrounds[s.name] ?? new Int16Array(seg.length),
    classes: s.classes,
  }));
  return mergeTargets({
    lesion: seg,
    lesionClasses: spec.lesionClasses,
    sources,
    unassigned: spec.unassigned,
    nearMm: spec.nearMm,
    // merge works on x-fastest [nx, ny, nz]: the same memory as [z, y, x].
    shape: [...shapeZyx].reverse(),
    spacing: [...spacingZyx].reverse(),
  }).target;
}
