// `backsplit preprocess`: crop → normalise → resample → cache, per case on worker threads; and the
// way back (restorePrediction) for predictions made on the cached grid.
import { mkdirSync } from "node:fs";
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
import { setThreads } from "../engine/runtime.js";
import { type Box, boxShape, cropArray, nonzeroBox, uncropArray } from "../grid/box.js";
import { connectedComponents } from "../grid/components.js";
import { type Mat3, type Vec3, Volume } from "../io/volume.js";
import type { Configuration, Plans } from "../plan/plan.js";
import { mapInWorkers } from "../util/worker.js";
import { beginCacheRun, beginCase, markCacheComplete } from "./cache-state.js";
import { type CachedCase, type LesionInstance, writeCachedCase } from "./cache.js";
import { ctNormalize, zscore } from "./normalize.js";
import { resampleImage, resampleLabels, resampledShape } from "./resample.js";

export interface PreprocessCaseInput {
  /** Dataset root and channel names, for the checks' messages. */
  root: string;
  channels: string[];
  files: CaseFiles;
  json: DatasetJson;
  configuration: Configuration;
  intensity: Plans["foreground_intensity_properties_per_channel"];
  outDir: string;
  threads: number;
}

const f32 = (n: number) => new Float32Array(n);

function lesionInstances(seg: Int16Array, shape: number[], lesionValues: number[]): LesionInstance[] {
  const out: LesionInstance[] = [];
  const [nz, ny, nx] = shape;
  for (const value of lesionValues) {
    const mask = new Uint8Array(seg.length);
    for (let i = 0; i < seg.length; i++) mask[i] = seg[i] === value ? 1 : 0;
    // components() takes x-fastest [nx, ny, nz], the same memory as [z, y, x].
    const { labels, count } = connectedComponents(mask, [nx, ny, nz], 26);
    const lo = Array.from({ length: count + 1 }, () => [nz, ny, nx]);
    const hi = Array.from({ length: count + 1 }, () => [-1, -1, -1]);
    const voxels = new Array(count + 1).fill(0);
    for (let z = 0, p = 0; z < nz; z++) {
      for (let y = 0; y < ny; y++) {
        for (let x = 0; x < nx; x++, p++) {
          const l = labels[p];
          if (!l) continue;
          voxels[l]++;
          const c = [z, y, x];
          for (let a = 0; a < 3; a++) {
            lo[l][a] = Math.min(lo[l][a], c[a]);
            hi[l][a] = Math.max(hi[l][a], c[a]);
          }
        }
      }
    }
    for (let l = 1; l <= count; l++)
      out.push({
        label: value,
        center: lo[l].map((v, a) => Math.round((v + hi[l][a]) / 2)),
        voxels: voxels[l],
        lo: lo[l],
        hi: hi[l],
      });
  }
  return out;
}

/** Crop to the non-zero box, normalise each channel, resample to the configuration's spacing. */
export function preprocessImages(
  images: Volume[],
  cfg: Configuration,
  intensity: Plans["foreground_intensity_properties_per_channel"],
) {
  const first = images[0];
  const shape = [...first.shape].reverse();
  const spacing = [...first.spacing].reverse();
  const box = nonzeroBox(
    images.map((v) => v.data),
    shape,
  );
  const cropShape = boxShape(box);
  const target =
    cfg.dims === 3
      ? resampledShape(cropShape, spacing, cfg.spacing)
      : [cropShape[0], ...resampledShape(cropShape.slice(1), spacing.slice(1), cfg.spacing.slice(1))];
  const cropped = images.map((v) =>
    cropArray(v.data instanceof Float32Array ? v.data : Float32Array.from(v.data), shape, box, f32),
  );
  const mask = new Uint8Array(cropped[0].length);
  for (const c of cropped) for (let i = 0; i < c.length; i++) if (c[i] !== 0) mask[i] = 1;
  const channelSize = target[0] * target[1] * target[2];
  const data = new Float32Array(images.length * channelSize);
  cropped.forEach((c, k) => {
    const scheme = cfg.normalization_schemes[k];
    const normalized =
      scheme === "CTNormalization"
        ? ctNormalize(c, intensity[String(k)])
        : zscore(c, cfg.use_mask_for_norm[k] ? mask : undefined);
    data.set(resampleImage(normalized, cropShape, target, cfg.resampling_data), k * channelSize);
  });
  return { data, box, cropShape, target: target as number[] };
}

export interface PreprocessCaseResult {
  /** null when the case failed the checks (nothing of it was written). */
  meta: CachedCase | null;
  problems: Problem[];
}

/**
 * Checks one case as `dataset check` does (reading each file once) and, if it has no errors,
 * preprocesses it into the cache (runs on a worker thread).
 */
export async function preprocessCase(input: PreprocessCaseInput): Promise<PreprocessCaseResult> {
  const { files, json, configuration: cfg, intensity, outDir } = input;
  setThreads(input.threads);
  const readVolume = keepingReader();
  const { problems } = await checkCase(
    { root: input.root, json, files, channels: input.channels, tolerances: DEFAULT_TOLERANCES },
    readVolume,
  );
  if (problems.some((p) => p.level === "error")) return { meta: null, problems };
  beginCase(outDir, files.id);
  const images = await Promise.all(
    files.images.map((f, c) => (f ? readVolume(f) : Promise.reject(new Error(`${files.id}: channel ${c} is missing`)))),
  );
  const first = images[0];
  const shape = [...first.shape].reverse();
  const { data, box, cropShape, target } = preprocessImages(images, cfg, intensity);
  const channelSize = target[0] * target[1] * target[2];
  const readLabels = async (file: string) => {
    const v = await readVolume(file);
    const c = cropArray(Int16Array.from(v.data), shape, box, (n) => new Int16Array(n));
    return resampleLabels(c, cropShape, target, cfg.resampling_seg);
  };
  const seg = files.label ? await readLabels(files.label) : new Int16Array(channelSize);
  const backgrounds: Record<string, Int16Array> = {};
  for (const [source, file] of Object.entries(files.backgrounds)) backgrounds[source] = await readLabels(file);
  const lesionValues = Object.entries(json.labels)
    .filter(([name]) => name !== "background" && name !== "ignore")
    .map(([, v]) => v);
  const meta: CachedCase = {
    id: files.id,
    shape: [images.length, ...target],
    spacing: cfg.spacing,
    original: {
      shapeXyz: [...first.shape],
      spacingXyz: [...first.spacing],
      origin: [...first.origin],
      direction: [...first.direction],
      box,
    },
    lesions: lesionInstances(seg, target, lesionValues),
    backgroundSources: Object.keys(backgrounds),
  };
  writeCachedCase(outDir, meta, { data, seg, backgrounds });
  return { meta, problems };
}

/**
 * Preprocesses every training case into outRoot/<data_identifier>/. Every case is checked as
 * `dataset check` does; with any error nothing is marked complete and a DatasetProblemsError lists
 * them (training refuses a cache without its completion marker).
 */
export async function preprocessDataset(
  dataset: Dataset,
  plans: Plans,
  configurationName: string,
  outRoot: string,
  options: { workers?: number; onCase?: (meta: CachedCase | null, id: string) => void } = {},
): Promise<string> {
  const cfg = plans.configurations[configurationName];
  if (!cfg)
    throw new Error(
      `plans.json has no configuration '${configurationName}' (has: ${Object.keys(plans.configurations).join(", ")})`,
    );
  const layout = layoutProblems(dataset);
  refuseOnErrors(layout, "nothing was preprocessed");
  const outDir = path.join(outRoot, cfg.data_identifier);
  mkdirSync(outDir, { recursive: true });
  beginCacheRun(outDir);
  const workers = options.workers ?? os.availableParallelism();
  const results = await mapInWorkers<PreprocessCaseInput, PreprocessCaseResult>(
    dataset.training.map((files) => ({
      root: dataset.root,
      channels: dataset.channels,
      files,
      json: dataset.json,
      configuration: cfg,
      intensity: plans.foreground_intensity_properties_per_channel,
      outDir,
      threads: Math.max(1, Math.floor(os.availableParallelism() / workers)),
    })),
    { module: import.meta.url, exportName: "preprocessCase" },
    workers,
    (i, r) => options.onCase?.(r.meta, dataset.training[i].id),
  );
  refuseOnErrors(
    [...layout, ...results.flatMap((r) => r.problems)],
    `the cache in ${outDir} is not marked complete and training refuses it`,
  );
  markCacheComplete(
    outDir,
    configurationName,
    cfg,
    dataset.training.map((c) => c.id),
  );
  return outDir;
}

/**
 * Maps per-class probabilities [classes, z, y, x] on the cached grid back onto the original image:
 * resampled (linear) to the crop box, placed into the full grid (outside the box: background
 * probability 1), as a list of Volumes with the original geometry.
 */
export function restoreProbabilities(
  probabilities: Float32Array,
  classes: number,
  meta: CachedCase,
  outsideFill: number[] = [],
): Volume[] {
  const target = meta.shape.slice(1);
  const size = target[0] * target[1] * target[2];
  const original = meta.original;
  const fullShape = [...original.shapeXyz].reverse();
  const cropShape = boxShape(original.box);
  return Array.from({ length: classes }, (_, k) => {
    const channel = probabilities.subarray(k * size, (k + 1) * size);
    const resampled = resampleImage(channel, target, cropShape, "linear");
    const full = uncropArray(resampled, fullShape, original.box, f32, outsideFill[k] ?? (k === 0 ? 1 : 0));
    return new Volume(full, geometryOf(meta));
  });
}

/** Maps a label map on the cached grid back onto the original image (per-class smooth resampling). */
export function restoreLabels(labels: Int16Array, meta: CachedCase): Volume {
  const target = meta.shape.slice(1);
  const fullShape = [...meta.original.shapeXyz].reverse();
  const resampled = resampleLabels(labels, target, boxShape(meta.original.box), "smooth");
  return new Volume(
    uncropArray(resampled, fullShape, meta.original.box, (n) => new Int16Array(n)),
    geometryOf(meta),
  );
}

function geometryOf(meta: CachedCase) {
  const o = meta.original;
  return {
    shape: o.shapeXyz as Vec3,
    spacing: o.spacingXyz as Vec3,
    origin: o.origin as Vec3,
    direction: o.direction as Mat3,
  };
}

export type { Box };
