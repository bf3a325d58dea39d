// `backsplit dataset stats`: lesions per case (connected components), their volumes in mm³,
// background-class volumes and how much lesion lies in each background class.
import os from "node:os";
import { type Connectivity, connectedComponents } from "../grid/components.js";
import { readVolume } from "../io/read.js";
import { mapInWorkers } from "../util/worker.js";
import type { CaseFiles, Dataset, DatasetJson } from "./layout.js";

export const DEFAULT_SIZE_BINS_MM3 = [10, 100, 1000];

export interface CaseStats {
  id: string;
  spacing: number[];
  voxelVolumeMm3: number;
  /** Per lesion class name: the volume (mm³) of every connected component. */
  lesions: Record<string, number[]>;
  /** Per background source: class name → volume in mm³. */
  backgroundVolumes: Record<string, Record<string, number>>;
  /** Per background source: class name → lesion volume (mm³, all lesion classes) inside that class. */
  lesionOverlap: Record<string, Record<string, number>>;
}

export interface StatsInput {
  json: DatasetJson;
  files: CaseFiles;
  connectivity: Connectivity;
}

function classNames(labels: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(labels).map(([name, value]) => [value, name]));
}

/** Statistics of one case (runs on a worker thread). */
export async function caseStats(input: StatsInput): Promise<CaseStats> {
  const { json, files, connectivity } = input;
  if (!files.label) throw new Error(`case ${files.id} has no label map`);
  const label = await readVolume(files.label);
  const voxel = label.spacing[0] * label.spacing[1] * label.spacing[2];
  const lesionClasses = Object.entries(json.labels).filter(([name]) => name !== "background" && name !== "ignore");
  const lesions: Record<string, number[]> = {};
  const anyLesion = new Uint8Array(label.voxelCount);
  for (const [name, value] of lesionClasses) {
    const mask = new Uint8Array(label.voxelCount);
    for (let i = 0; i < mask.length; i++) {
      if (label.data[i] === value) {
        mask[i] = 1;
        anyLesion[i] = 1;
      }
    }
    const components = connectedComponents(mask, label.shape, connectivity);
    lesions[name] = components.sizes.slice(1).map((n) => n * voxel);
  }
  const backgroundVolumes: Record<string, Record<string, number>> = {};
  const lesionOverlap: Record<string, Record<string, number>> = {};
  for (const [source, file] of Object.entries(files.backgrounds)) {
    const map = await readVolume(file);
    const names = classNames(json.background_sources?.[source]?.labels ?? {});
    const volumes: Record<string, number> = {};
    const overlap: Record<string, number> = {};
    for (const name of names.values()) {
      volumes[name] = 0;
      overlap[name] = 0;
    }
    for (let i = 0; i < map.data.length; i++) {
      const name = names.get(map.data[i]);
      if (name === undefined) continue;
      volumes[name] += voxel;
      if (anyLesion[i]) overlap[name] += voxel;
    }
    backgroundVolumes[source] = volumes;
    lesionOverlap[source] = overlap;
  }
  return {
    id: files.id,
    spacing: [...label.spacing],
    voxelVolumeMm3: voxel,
    lesions,
    backgroundVolumes,
    lesionOverlap,
  };
}

export interface DatasetStats {
  cases: CaseStats[];
  overall: {
    cases: number;
    /** Per lesion class: total lesions, median volume and a size histogram. */
    lesions: Record<string, { count: number; medianMm3: number; histogram: { bin: string; count: number }[] }>;
  };
}

export function sizeBinLabels(bins: readonly number[]): string[] {
  return [`<${bins[0]}`, ...bins.slice(1).map((b, i) => `${bins[i]}-${b}`), `>=${bins[bins.length - 1]}`];
}

export function histogram(volumes: readonly number[], bins: readonly number[]): { bin: string; count: number }[] {
  const labels = sizeBinLabels(bins);
  const counts = new Array(labels.length).fill(0);
  for (const v of volumes) {
    const k = bins.findIndex((b) => v < b);
    counts[k < 0 ? bins.length : k]++;
  }
  return labels.map((bin, i) => ({ bin, count: counts[i] }));
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function datasetStats(
  dataset: Dataset,
  options: { connectivity?: Connectivity; bins?: number[]; workers?: number; onCase?: (s: CaseStats) => void } = {},
): Promise<DatasetStats> {
  const cases = dataset.training.filter((c) => c.label);
  const results = await mapInWorkers<StatsInput, CaseStats>(
    cases.map((files) => ({ json: dataset.json, files, connectivity: options.connectivity ?? 26 })),
    { module: import.meta.url, exportName: "caseStats" },
    options.workers ?? os.availableParallelism(),
    (_, s) => options.onCase?.(s),
  );
  const lesions: DatasetStats["overall"]["lesions"] = {};
  for (const name of Object.keys(dataset.lesionLabels)) {
    const all = results.flatMap((r) => r.lesions[name] ?? []);
    lesions[name] = {
      count: all.length,
      medianMm3: median(all),
      histogram: histogram(all, options.bins ?? DEFAULT_SIZE_BINS_MM3),
    };
  }
  return { cases: results, overall: { cases: results.length, lesions } };
}
