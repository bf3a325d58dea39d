// Training targets per patch: binary (lesion classes vs the rest) or BackSplit (lesion classes plus
// the merged background classes). The lesion values are exactly the annotation in both modes.
import type { DatasetJson } from "../dataset/layout.js";
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

/** The target spec of a training configuration and its dataset.json. */
export function targetSpecFor(
  config: { mode: "binary" | "backsplit"; sources: string[]; unassigned?: TargetSpec["unassigned"]; nearMm?: number },
  json: DatasetJson,
): TargetSpec {
  const lesionClasses = Object.fromEntries(
    Object.entries(json.labels).filter(([n]) => n !== "background" && n !== "ignore"),
  );
  for (const s of config.sources)
    if (!json.background_sources?.[s]) throw new Error(`dataset.json has no background source '${s}'`);
  return {
    mode: config.mode,
    lesionClasses,
    ignoreValue: typeof json.labels.ignore === "number" ? json.labels.ignore : null,
    sources:
      config.mode === "backsplit"
        ? config.sources.map((s) => ({ name: s, classes: json.background_sources![s].labels }))
        : [],
    unassigned: config.unassigned,
    nearMm: config.nearMm,
  };
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
