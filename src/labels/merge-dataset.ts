// Merging on disk: per case, the lesion labels and the chosen background sources → one target map
// (what training uses; `backsplit labels merge` writes them out to inspect).
import os from "node:os";
import path from "node:path";
import {
  DEFAULT_TOLERANCES,
  type Problem,
  checkCase,
  keepingReader,
  layoutProblems,
  refuseOnErrors,
} from "../dataset/check.js";
import type { CaseFiles, Dataset, DatasetJson } from "../dataset/layout.js";
import { writeVolume } from "../io/read.js";
import { Volume } from "../io/volume.js";
import { mapInWorkers } from "../util/worker.js";
import { type MergeReport, type SourceMap, mergeTargets } from "./merge.js";

export interface MergeSpec {
  /** Background sources in priority order. */
  sources: string[];
  unassigned?: "background" | "ignore" | "marginal";
  nearMm?: number;
  /** "source:class": keep background classes near this class instead of near lesions. */
  nearClass?: string;
}

export interface MergeCaseInput {
  files: CaseFiles;
  lesionClasses: Record<string, number>;
  sourceClasses: Record<string, Record<string, number>>;
  spec: MergeSpec;
  out: string | null;
  /** Check the case as `dataset check` does first (its images, label and the merged sources). */
  check?: { root: string; json: DatasetJson; channels: string[] };
}

/** Reads one case and merges it; with `out`, writes the target map there. */
export async function mergeCase(
  input: MergeCaseInput,
): Promise<{ id: string; report: MergeReport | null; volume: Volume | null; problems: Problem[] }> {
  const { files, spec } = input;
  const readVolume = keepingReader();
  let problems: Problem[] = [];
  if (input.check) {
    const backgrounds = Object.fromEntries(Object.entries(files.backgrounds).filter(([s]) => spec.sources.includes(s)));
    ({ problems } = await checkCase(
      { ...input.check, files: { ...files, backgrounds }, tolerances: DEFAULT_TOLERANCES },
      readVolume,
    ));
    if (problems.some((p) => p.level === "error")) return { id: files.id, report: null, volume: null, problems };
  }
  if (!files.label) throw new Error(`case ${files.id}: no lesion label map`);
  const lesion = await readVolume(files.label);
  const sources: SourceMap[] = [];
  for (const name of spec.sources) {
    const file = files.backgrounds[name];
    if (!file) continue; // a case without this source: its voxels are unassigned
    const map = await readVolume(file);
    if (map.voxelCount !== lesion.voxelCount)
      throw new Error(`${file}: shape ${map.shape.join("×")} differs from the label map ${lesion.shape.join("×")}`);
    sources.push({ name, map: map.data, classes: input.sourceClasses[name] });
  }
  let nearMask: Uint8Array | undefined;
  if (spec.nearClass) {
    const [source, cls] = spec.nearClass.split(":");
    const value = input.sourceClasses[source]?.[cls];
    const map = sources.find((s) => s.name === source);
    if (value === undefined || !map)
      throw new Error(`--near-class ${spec.nearClass}: no class '${cls}' in source '${source}' for case ${files.id}`);
    nearMask = Uint8Array.from(map.map as ArrayLike<number>, (v) => (v === value ? 1 : 0));
  }
  const { target, report } = mergeTargets({
    lesion: lesion.data,
    lesionClasses: input.lesionClasses,
    sources,
    unassigned: spec.unassigned,
    nearMm: spec.nearMm,
    nearMask,
    shape: lesion.shape,
    spacing: lesion.spacing,
  });
  const volume = new Volume(target, lesion.geometry);
  if (input.out) await writeVolume(input.out, volume);
  return { id: files.id, report, volume: input.out ? null : volume, problems };
}

export async function mergeDataset(
  dataset: Dataset,
  spec: MergeSpec,
  outDir: string,
  options: { workers?: number; onCase?: (id: string, report: MergeReport) => void } = {},
): Promise<{ id: string; report: MergeReport }[]> {
  const sourceClasses: Record<string, Record<string, number>> = {};
  for (const s of spec.sources) {
    const labels = dataset.json.background_sources?.[s]?.labels;
    if (!labels)
      throw new Error(
        `dataset.json has no background source '${s}' (has: ${Object.keys(dataset.json.background_sources ?? {}).join(", ") || "none"})`,
      );
    sourceClasses[s] = labels;
  }
  const layout = layoutProblems(dataset);
  refuseOnErrors(layout, "nothing was merged");
  const check = { root: dataset.root, json: dataset.json, channels: dataset.channels };
  const results = await mapInWorkers<MergeCaseInput, { id: string; report: MergeReport | null; problems: Problem[] }>(
    dataset.training.map((files) => ({
      files,
      lesionClasses: dataset.lesionLabels,
      sourceClasses,
      spec,
      out: path.join(outDir, `${files.id}${dataset.json.file_ending}`),
      check,
    })),
    { module: import.meta.url, exportName: "mergeCase" },
    options.workers ?? os.availableParallelism(),
    (_, r) => {
      if (r.report) options.onCase?.(r.id, r.report);
    },
  );
  refuseOnErrors(
    [...layout, ...results.flatMap((r) => r.problems)],
    "no merge report was written (maps of cases without errors may be in the output folder)",
  );
  return results.map((r) => ({ id: r.id, report: r.report as MergeReport }));
}
