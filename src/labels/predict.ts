// `backsplit labels predict`: a pretrained segmentation model (ONNX, run by onnxruntime-node)
// produces background classes for every case. A model card (JSON) says how to feed it: grid
// (orientation, spacing, size), intensity normalisation, foreground cropping, output class names.
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Dataset } from "../dataset/layout.js";
import { setThreads } from "../engine/runtime.js";
import { nonzeroBox } from "../grid/box.js";
import { conform } from "../io/conform.js";
import { readVolume, writeVolume } from "../io/read.js";
import { type Vec3, Volume } from "../io/volume.js";
import { resampleImage } from "../preprocess/resample.js";
import { mapInWorkers } from "../util/worker.js";
import { prepareSource, registerSource, sourceDir } from "./source.js";

export interface Normalization {
  method: "minmax" | "quantile" | "zscore" | "none";
  /** For quantile: the lower and upper quantiles mapped to 0 and 1. */
  quantiles?: [number, number];
}

export interface ModelCard {
  name: string;
  description?: string;
  onnx?: string;
  input: {
    name?: string;
    orientation: string;
    spacing: number;
    size: number[];
    normalization: Normalization;
    cropToForeground?: { margin: number } | null;
  };
  output: { name?: string; labels: string[] };
}

const CARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "models");

/** A card by built-in name (models/<name>.json) or a path to a JSON file. */
export function loadCard(spec: string): ModelCard {
  const file = existsSync(spec) ? spec : path.join(CARD_DIR, `${spec}.json`);
  if (!existsSync(file))
    throw new Error(`model card '${spec}' not found (built-in cards: brainchop-18, brainchop-3; or a JSON file)`);
  const card = JSON.parse(readFileSync(file, "utf8")) as ModelCard;
  if (!card.input?.orientation || !card.input.size || !card.output?.labels)
    throw new Error(`${file}: a model card needs input.orientation, input.size and output.labels`);
  return card;
}

/** Intensities → the model's range; statistics over the non-zero voxels. */
export function normalizeIntensities(data: Float32Array, n: Normalization): Float32Array {
  if (n.method === "none") return data;
  const inside = data.filter((v) => v !== 0 && Number.isFinite(v));
  const values = inside.length > 0 ? inside : data;
  const out = new Float32Array(data.length);
  if (n.method === "zscore") {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) || 1;
    for (let i = 0; i < data.length; i++) out[i] = data[i] === 0 ? 0 : (data[i] - mean) / std;
    return out;
  }
  let lo: number;
  let hi: number;
  if (n.method === "quantile") {
    const sorted = Float32Array.from(values).sort();
    const [ql, qh] = n.quantiles ?? [0.02, 0.98];
    lo = sorted[Math.floor(ql * (sorted.length - 1))];
    hi = sorted[Math.floor(qh * (sorted.length - 1))];
  } else {
    // min-max over the whole volume, background included (as brainchop does)
    lo = Number.POSITIVE_INFINITY;
    hi = Number.NEGATIVE_INFINITY;
    for (const v of data) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const range = hi - lo || 1;
  for (let i = 0; i < data.length; i++) out[i] = Math.min(Math.max((data[i] - lo) / range, 0), 1);
  return out;
}

/** Linear resampling of a volume to an isotropic spacing, keeping its field of view. */
export function resampleVolumeLinear(v: Volume, spacing: number): Volume {
  const shape = v.shape.map((n, a) => Math.max(1, Math.round((n * v.spacing[a]) / spacing))) as Vec3;
  const data = resampleImage(v.data, [...v.shape].reverse(), [...shape].reverse(), "linear");
  const ratio = v.shape.map((n, a) => n / shape[a]);
  return new Volume(data, {
    shape,
    spacing: v.spacing.map((s, a) => s * ratio[a]) as Vec3,
    origin: v.voxelToWorld(ratio.map((r) => 0.5 * r - 0.5)),
    direction: v.direction,
  });
}

export interface PredictCaseInput {
  caseId: string;
  image: string;
  model: string;
  card: ModelCard;
  out: string;
  threads: number;
}

export interface PredictCaseResult {
  caseId: string;
  counts: number[];
  seconds: number;
}

/** Runs the model on one case (on a worker thread) and writes its label map on the case's own grid. */
export async function predictCase(input: PredictCaseInput): Promise<PredictCaseResult> {
  const started = performance.now();
  setThreads(input.threads);
  const { card } = input;
  const image = await readVolume(input.image);
  const conformed = await conform(
    image,
    { orientation: card.input.orientation, spacing: card.input.spacing, size: card.input.size },
    resampleVolumeLinear,
  );
  const grid = conformed.volume;
  const data = normalizeIntensities(Float32Array.from(grid.data), card.input.normalization);
  const shape = [...grid.shape].reverse(); // [z, y, x]
  let box = { start: [0, 0, 0], end: shape };
  if (card.input.cropToForeground) {
    const fg = nonzeroBox([grid.data], shape);
    const m = card.input.cropToForeground.margin;
    box = { start: fg.start.map((s) => Math.max(0, s - m)), end: fg.end.map((e, a) => Math.min(shape[a], e + m)) };
  }
  const size = box.end.map((e, a) => e - box.start[a]);
  const crop = new Float32Array(size[0] * size[1] * size[2]);
  for (let z = 0, o = 0; z < size[0]; z++) {
    for (let y = 0; y < size[1]; y++, o += size[2]) {
      const from = box.start[2] + shape[2] * (box.start[1] + y + shape[1] * (box.start[0] + z));
      crop.set(data.subarray(from, from + size[2]), o);
    }
  }
  const ort = (await import("onnxruntime-node")).default;
  const session = await ort.InferenceSession.create(input.model, {
    intraOpNumThreads: input.threads,
    interOpNumThreads: 1,
  });
  const inputName = card.input.name ?? session.inputNames[0];
  const outputName = card.output.name ?? session.outputNames[0];
  const result = await session.run({ [inputName]: new ort.Tensor("float32", crop, [1, 1, ...size]) });
  const logits = result[outputName].data as Float32Array;
  await session.release();
  const classes = card.output.labels.length;
  const n = crop.length;
  if (logits.length !== classes * n)
    throw new Error(`${input.model}: output has ${logits.length / n} channels, the card names ${classes} classes`);
  const labels = new Uint8Array(grid.voxelCount);
  const counts = new Array(classes).fill(0);
  for (let z = 0, p = 0; z < size[0]; z++) {
    for (let y = 0; y < size[1]; y++) {
      let q = box.start[2] + shape[2] * (box.start[1] + y + shape[1] * (box.start[0] + z));
      for (let x = 0; x < size[2]; x++, p++, q++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (logits[c * n + p] > logits[best * n + p]) best = c;
        labels[q] = best;
      }
    }
  }
  const back = conformed.back(new Volume(labels, grid.geometry));
  for (const v of back.data) counts[v]++;
  await writeVolume(input.out, back);
  return { caseId: input.caseId, counts, seconds: (performance.now() - started) / 1000 };
}

export interface PredictOptions {
  source: string;
  model: string;
  card: string;
  channel?: number;
  replace?: boolean;
  workers?: number;
  onCase?: (r: PredictCaseResult) => void;
}

export async function predictSource(
  dataset: Dataset,
  o: PredictOptions,
): Promise<{ classes: Record<string, number>; cases: PredictCaseResult[] }> {
  const card = loadCard(o.card);
  if (!existsSync(o.model)) throw new Error(`${o.model}: no such ONNX model`);
  prepareSource(dataset, o.source, o.replace ?? false);
  const dir = sourceDir(dataset, o.source);
  const workers = o.workers ?? 1;
  const cases = await mapInWorkers<PredictCaseInput, PredictCaseResult>(
    dataset.training.map((c) => {
      const image = c.images[o.channel ?? 0];
      if (!image) throw new Error(`case ${c.id} has no channel ${o.channel ?? 0}`);
      return {
        caseId: c.id,
        image,
        model: path.resolve(o.model),
        card,
        out: path.join(dir, `${c.id}${dataset.json.file_ending}`),
        threads: Math.max(1, Math.floor(os.availableParallelism() / workers)),
      };
    }),
    { module: import.meta.url, exportName: "predictCase" },
    workers,
    (_, r) => o.onCase?.(r),
  );
  const classes = Object.fromEntries(card.output.labels.map((name, i) => [name, i]).slice(1));
  registerSource(dataset, o.source, classes, `${card.name} (${path.basename(o.model)})`);
  return { classes, cases };
}
