// `backsplit predict`: trained runs (one or several folds) → lesion mask and lesion probability on
// the input image's own grid. The BackSplit network's extra background channels change nothing at
// inference: only the lesion probability is used, by the recorded collapse rule.
import { mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { resolveDevice, setCudnnBenchmark, setThreads } from "../engine/index.js";
import type { Module } from "../engine/nn/module.js";
import { IMAGE_ENDINGS, readVolume, writeVolume } from "../io/read.js";
import { Volume } from "../io/volume.js";
import { buildFromPlan } from "../models/registry.js";
import type { Plans } from "../plan/plan.js";
import type { CachedCase } from "../preprocess/cache.js";
import { preprocessImages, restoreProbabilities } from "../preprocess/preprocess.js";
import type { PostprocessingRule } from "../run/config.js";
import { TrainingRun } from "../run/record.js";
import { loadWeights } from "../run/weights.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import type { Report } from "../util/worker.js";
import { type Collapse, argmaxClass, collapse, lesionProbability, lesionTest } from "./collapse.js";
import { refuseNonFinite } from "./inputs.js";
import { applyPostprocessing } from "./postprocess.js";
import { slidingWindow } from "./sliding.js";
import { DEFAULT_TILE_AVERAGE, type TileAverage } from "./tile-average.js";

export type { Collapse } from "./collapse.js";

export interface LoadedModel {
  run: string;
  net: Module;
  classes: Record<string, number>;
  numClasses: number;
  lesionValues: number[];
  patch: number[];
  plans: Plans;
  configuration: string;
  /** The run's recorded postprocessing (determined on cross-validation), or null. */
  postprocessing: PostprocessingRule | null;
}

/**
 * Loads a training run's network: the final weights by default, as nnU-Net predicts with
 * checkpoint_final (the "best" one is picked on a few noisy validation patches), or the best-EMA ones.
 * The plans are the run's own copy, so a run keeps working after its preprocessed folder moves.
 */
export function loadRun(run: string, device: string, checkpoint: "best" | "latest" = "latest"): LoadedModel {
  const folder = new TrainingRun(run);
  const record = folder.record();
  const plans = folder.plans(record);
  const cfg = plans.configurations[record.config.configuration];
  const net = buildFromPlan(cfg, {
    architecture: record.architecture,
    inChannels: Object.keys(plans.foreground_intensity_properties_per_channel).length,
    numClasses: record.numClasses,
    features: record.features,
    deepSupervision: false,
  });
  loadWeights(folder, net, checkpoint);
  net.to(device).eval();
  const lesionValues = Object.values(record.lesionClasses);
  return {
    run,
    net,
    classes: record.classes,
    numClasses: record.numClasses,
    lesionValues,
    postprocessing: folder.postprocessing()?.rule ?? null,
    patch: record.patch,
    plans,
    configuration: record.config.configuration,
  };
}

export interface PredictOptions {
  collapse: Collapse;
  threshold: number;
  mirror: boolean;
  device: string;
  saveProbabilities: boolean;
  saveClasses: boolean;
  amp?: boolean;
  /** Tile step as a fraction of the patch (nnU-Net: 0.5; 1 = no overlap, about 2^dims times fewer tiles). */
  tileStep?: number;
  /** Averaging of overlapping tiles (default "gaussian", nnU-Net's). */
  tileWeighting?: "gaussian" | "uniform";
  /** What overlapping tiles average: each tile's "logits" (default, nnU-Net v2's) or its "probabilities". */
  tileAverage?: TileAverage;
  /** Also write {case}_fisher_gap.nii.gz: the closed-form logit-space Fisher gap (1 − p_lesion)(1 − ‖q‖²). */
  saveFisherMap?: boolean;
  /** Which weights: the final ones (default, nnU-Net's) or the best validation EMA's. */
  checkpoint?: "latest" | "best";
  /** "run" (default): apply the first run's recorded postprocessing, if any; "none": the raw mask. */
  postprocessing?: "run" | "none";
}

/** Predicts one case (its channel files) with one or more runs (averaged) and writes the outputs. */
export async function predictImages(
  models: LoadedModel[],
  images: string[],
  outBase: string,
  o: PredictOptions,
  onTile?: (d: number, t: number) => void,
): Promise<{ lesionVoxels: number; removedComponents: number }> {
  const first = models[0];
  const cfg = first.plans.configurations[first.configuration];
  const volumes = await Promise.all(images.map((f) => readVolume(f)));
  refuseNonFinite(volumes, images); // #15: one NaN voxel would make every probability NaN
  const { data, box, target } = preprocessImages(volumes, cfg, first.plans.foreground_intensity_properties_per_channel);
  const k = first.numClasses;
  const n = target[0] * target[1] * target[2];
  // With the prob rule and no class map asked for, only the lesion channels are aggregated and restored.
  const lesionOnly = o.collapse === "prob" && !o.saveClasses && !o.saveFisherMap;
  const channels = lesionOnly ? first.lesionValues : [...Array(k).keys()];
  const probs = new Float32Array(channels.length * n);
  for (const m of models) {
    if (m.numClasses !== k)
      throw new Error(`ensembled runs must have the same classes (${first.run}: ${k}, ${m.run}: ${m.numClasses})`);
    const p = slidingWindow(m.net, data, volumes.length, target, {
      patch: m.patch,
      numClasses: k,
      device: o.device,
      mirror: o.mirror,
      amp: o.amp,
      channels: lesionOnly ? channels : undefined,
      stepFraction: o.tileStep,
      tileWeighting: o.tileWeighting,
      tileAverage: o.tileAverage,
      onTile,
    });
    for (let i = 0; i < p.length; i++) probs[i] += p[i] / models.length;
  }
  const meta: CachedCase = {
    id: path.basename(outBase),
    shape: [volumes.length, ...target],
    spacing: cfg.spacing,
    original: {
      shapeXyz: [...volumes[0].shape],
      spacingXyz: [...volumes[0].spacing],
      origin: [...volumes[0].origin],
      direction: [...volumes[0].direction],
      box,
    },
    lesions: [],
    backgroundSources: [],
  };
  const restored = restoreProbabilities(
    probs,
    channels.length,
    meta,
    channels.map((c) => (c === 0 ? 1 : 0)),
  );
  const voxels = restored[0].voxelCount;
  const test = lesionTest({ collapse: o.collapse, threshold: o.threshold, lesionValues: first.lesionValues });
  const lesionProb = new Float32Array(voxels);
  const mask = new Uint8Array(voxels);
  const classes = new Uint8Array(voxels);
  // One voxel's class probabilities (channels not restored stay 0: the prob rule reads only lesion ones).
  const p = new Float64Array(k);
  for (let i = 0; i < voxels; i++) {
    for (let j = 0; j < channels.length; j++) p[channels[j]] = restored[j].data[i];
    lesionProb[i] = lesionProbability(p, first.lesionValues);
    mask[i] = collapse(p, test);
    if (!lesionOnly) classes[i] = argmaxClass(p);
  }
  const geometry = volumes[0].geometry;
  const rule = o.postprocessing === "none" ? null : first.postprocessing;
  const post = rule
    ? applyPostprocessing(mask, volumes[0].shape, volumes[0].spacing, rule, lesionProb)
    : { mask, removed: 0 };
  mkdirSync(path.dirname(outBase), { recursive: true });
  await writeVolume(`${outBase}.nii.gz`, new Volume(post.mask, geometry));
  if (o.saveProbabilities) await writeVolume(`${outBase}_prob.nii.gz`, new Volume(lesionProb, geometry));
  if (o.saveClasses) await writeVolume(`${outBase}_classes.nii.gz`, new Volume(classes, geometry));
  if (o.saveFisherMap) {
    const gap = fisherGapMap(
      restored.map((r) => r.data as Float32Array),
      first.lesionValues,
    );
    await writeVolume(`${outBase}_fisher_gap.nii.gz`, new Volume(gap, geometry));
  }
  return { lesionVoxels: post.mask.reduce((s, v) => s + (v ? 1 : 0), 0), removedComponents: post.removed };
}

/** Per voxel (1 − p_lesion)(1 − ‖q‖²) from class probability maps (see src/fisher/fisher.ts). */
export function fisherGapMap(probabilities: Float32Array[], lesionValues: number[]): Float32Array {
  const n = probabilities[0].length;
  const gap = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let lesion = 0;
    let squares = 0;
    for (let c = 0; c < probabilities.length; c++) {
      const p = probabilities[c][i];
      if (lesionValues.includes(c)) lesion += p;
      else squares += p * p;
    }
    const b = 1 - lesion;
    gap[i] = b > 1e-12 ? Math.max(0, b * (1 - squares / (b * b))) : 0;
  }
  return gap;
}

/** Cases of an images folder: {case}_{XXXX}{ending} grouped by case, channels in order. */
export function listInputCases(folder: string): Map<string, string[]> {
  const cases = new Map<string, string[]>();
  for (const name of readdirSync(folder).sort()) {
    const ending = IMAGE_ENDINGS.find((e) => name.endsWith(e));
    if (!ending) continue;
    const m = /^(.*)_(\d{4})$/.exec(name.slice(0, -ending.length));
    if (!m) continue;
    const list = cases.get(m[1]) ?? [];
    list[Number(m[2])] = path.join(folder, name);
    cases.set(m[1], list);
  }
  return cases;
}

export interface PredictJob {
  runs: string[];
  input: string;
  out: string;
  options: PredictOptions;
  threads?: number;
}

/** Predicts every case of a folder (runs on a worker thread). */
export async function predictFolder(job: PredictJob, report: Report = () => {}): Promise<{ cases: number }> {
  setThreads(job.threads);
  const device = resolveDevice(job.options.device);
  if (device.startsWith("cuda")) setCudnnBenchmark(true);
  const models = job.runs.map((r) => loadRun(r, device, job.options.checkpoint ?? "latest"));
  const cases = listInputCases(job.input);
  if (cases.size === 0) throw new Error(`${job.input}: no images named {case}_0000${".nii.gz"} found`);
  const options = { ...job.options, device };
  writeFileAtomicSync(
    path.join(job.out, "prediction.json"),
    `${JSON.stringify({ runs: job.runs, collapse: options.collapse, threshold: options.threshold, mirror: options.mirror, tileAverage: options.tileAverage ?? DEFAULT_TILE_AVERAGE, classes: models[0].classes, postprocessing: options.postprocessing === "none" ? null : models[0].postprocessing }, null, 2)}\n`,
  );
  let done = 0;
  for (const [id, files] of cases) {
    const r = await predictImages(models, files, path.join(job.out, id), options);
    report({ case: id, done: ++done, total: cases.size, ...r });
  }
  for (const m of models) m.net.dispose();
  return { cases: cases.size };
}
