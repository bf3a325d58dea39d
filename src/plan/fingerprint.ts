// Dataset fingerprint (nnU-Net's dataset_fingerprint.json): spacings, shapes after cropping and
// foreground intensity statistics per channel. Arrays are in [z, y, x] order, as nnU-Net's.
import os from "node:os";
import path from "node:path";
import type { CaseFiles, Dataset } from "../dataset/layout.js";
import { boxShape, nonzeroBox } from "../grid/box.js";
import { readVolume } from "../io/read.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { mulberry32 } from "../util/random.js";
import { mapInWorkers } from "../util/worker.js";

/** Foreground voxels sampled per case and channel for the intensity statistics. */
export const SAMPLES_PER_CASE = 10000;

export interface CaseFingerprint {
  id: string;
  spacing: number[];
  shapeBeforeCrop: number[];
  shapeAfterCrop: number[];
  /** Per channel: sampled intensities of voxels inside the lesion labels (nnU-Net's "foreground"). */
  foregroundSamples: number[][];
}

export interface IntensityProperties {
  mean: number;
  median: number;
  std: number;
  min: number;
  max: number;
  percentile_00_5: number;
  percentile_99_5: number;
}

export interface Fingerprint {
  spacings: number[][];
  shapes_after_crop: number[][];
  median_relative_size_after_cropping: number;
  foreground_intensity_properties_per_channel: Record<string, IntensityProperties>;
}

export async function caseFingerprint(input: { files: CaseFiles; seed: number }): Promise<CaseFingerprint> {
  const { files, seed } = input;
  const images = await Promise.all(
    files.images.map((f) => (f ? readVolume(f) : Promise.reject(new Error(`case ${files.id}: missing channel`)))),
  );
  const first = images[0];
  const shape = [...first.shape].reverse();
  const box = nonzeroBox(
    images.map((v) => v.data),
    shape,
  );
  const foregroundSamples: number[][] = images.map(() => []);
  if (files.label) {
    const label = await readVolume(files.label);
    const foreground: number[] = [];
    for (let i = 0; i < label.data.length; i++) if (label.data[i] > 0) foreground.push(i);
    const random = mulberry32(seed);
    const picks =
      foreground.length <= SAMPLES_PER_CASE
        ? foreground
        : Array.from({ length: SAMPLES_PER_CASE }, () => foreground[Math.floor(random() * foreground.length)]);
    images.forEach((v, c) => {
      foregroundSamples[c] = picks.map((i) => v.data[i]);
    });
  }
  return {
    id: files.id,
    spacing: [...first.spacing].reverse(),
    shapeBeforeCrop: shape,
    shapeAfterCrop: boxShape(box),
    foregroundSamples,
  };
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  // Linear interpolation between closest ranks (numpy's default).
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function intensityProperties(values: number[]): IntensityProperties {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const variance = sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(n, 1);
  return {
    mean,
    median: percentile(Array.from(sorted), 50),
    std: Math.sqrt(variance),
    min: n ? sorted[0] : Number.NaN,
    max: n ? sorted[n - 1] : Number.NaN,
    percentile_00_5: percentile(Array.from(sorted), 0.5),
    percentile_99_5: percentile(Array.from(sorted), 99.5),
  };
}

export async function fingerprintDataset(
  dataset: Dataset,
  options: { workers?: number; onCase?: () => void } = {},
): Promise<Fingerprint> {
  const cases = await mapInWorkers<{ files: CaseFiles; seed: number }, CaseFingerprint>(
    dataset.training.map((files, i) => ({ files, seed: 1234 + i })),
    { module: import.meta.url, exportName: "caseFingerprint" },
    options.workers ?? os.availableParallelism(),
    () => options.onCase?.(),
  );
  const relative = cases
    .map((c) => c.shapeAfterCrop.reduce((a, b) => a * b, 1) / c.shapeBeforeCrop.reduce((a, b) => a * b, 1))
    .sort((a, b) => a - b);
  const properties: Record<string, IntensityProperties> = {};
  dataset.channels.forEach((_, c) => {
    properties[String(c)] = intensityProperties(cases.flatMap((fp) => fp.foregroundSamples[c] ?? []));
  });
  return {
    spacings: cases.map((c) => c.spacing),
    shapes_after_crop: cases.map((c) => c.shapeAfterCrop),
    median_relative_size_after_cropping: percentile(relative, 50),
    foreground_intensity_properties_per_channel: properties,
  };
}

export function writeFingerprint(dir: string, fingerprint: Fingerprint): string {
  const file = path.join(dir, "dataset_fingerprint.json");
  writeFileAtomicSync(file, `${JSON.stringify(fingerprint, null, 2)}\n`);
  return file;
}
