// `backsplit labels cluster`: unsupervised background classes. A Gaussian mixture (EM, diagonal
// covariances) on one or more channels inside a mask, k chosen by the user or by BIC, classes sorted
// by mean intensity of the first channel and named by tissue when the channel says which (T1, T2,
// FLAIR); fixed Hounsfield bands for CT.
import os from "node:os";
import type { Dataset } from "../dataset/layout.js";
import { readVolume } from "../io/read.js";
import { Volume } from "../io/volume.js";
import { mulberry32 } from "../util/random.js";
import { mapInWorkers } from "../util/worker.js";
import { prepareSource, registerSource, sourceDir } from "./source.js";

export interface GmmFit {
  k: number;
  weights: number[];
  /** k × channels */
  means: number[][];
  variances: number[][];
  logLikelihood: number;
  bic: number;
}

/** Component log-densities (plus log weight) of one sample. */
function logJoint(fit: Omit<GmmFit, "logLikelihood" | "bic">, x: number[], out: number[]): void {
  for (let j = 0; j < fit.k; j++) {
    let l = Math.log(fit.weights[j]);
    for (let c = 0; c < x.length; c++) {
      const v = fit.variances[j][c];
      l -= 0.5 * (Math.log(2 * Math.PI * v) + (x[c] - fit.means[j][c]) ** 2 / v);
    }
    out[j] = l;
  }
}

/** EM for a diagonal Gaussian mixture; samples are per-channel arrays of equal length. Sorted by the first channel's mean. */
export function fitGmm(samples: ArrayLike<number>[], k: number, iterations = 300, tolerance = 1e-7): GmmFit {
  const n = samples[0].length;
  const channels = samples.length;
  if (n < k * 5) throw new Error(`too few voxels (${n}) for ${k} clusters`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => samples[0][a] - samples[0][b]);
  const variance = samples.map((s) => {
    let m = 0;
    for (let i = 0; i < n; i++) m += s[i];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (s[i] - m) ** 2;
    return Math.max(v / n, 1e-12);
  });
  // Start from quantiles of the first channel (deterministic).
  const fit = {
    k,
    weights: Array(k).fill(1 / k),
    means: Array.from({ length: k }, (_, j) => samples.map((s) => s[order[Math.floor(((j + 0.5) / k) * n)]])),
    variances: Array.from({ length: k }, () => variance.map((v) => v / (k * k))),
  };
  const resp = new Float64Array(n * k);
  const x = new Array(channels).fill(0);
  const l = new Array(k).fill(0);
  let previous = Number.NEGATIVE_INFINITY;
  let logLikelihood = 0;
  for (let it = 0; it < iterations; it++) {
    logLikelihood = 0;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < channels; c++) x[c] = samples[c][i];
      logJoint(fit, x, l);
      const max = Math.max(...l);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(l[j] - max);
      const lse = max + Math.log(sum);
      logLikelihood += lse;
      for (let j = 0; j < k; j++) resp[i * k + j] = Math.exp(l[j] - lse);
    }
    for (let j = 0; j < k; j++) {
      let nk = 0;
      const mean = new Array(channels).fill(0);
      for (let i = 0; i < n; i++) {
        const r = resp[i * k + j];
        nk += r;
        for (let c = 0; c < channels; c++) mean[c] += r * samples[c][i];
      }
      nk = Math.max(nk, 1e-10);
      for (let c = 0; c < channels; c++) mean[c] /= nk;
      const v = new Array(channels).fill(0);
      for (let i = 0; i < n; i++) {
        const r = resp[i * k + j];
        for (let c = 0; c < channels; c++) v[c] += r * (samples[c][i] - mean[c]) ** 2;
      }
      fit.weights[j] = nk / n;
      fit.means[j] = mean;
      fit.variances[j] = v.map((s, c) => Math.max(s / nk, 1e-6 * variance[c]));
    }
    if (Math.abs(logLikelihood - previous) < tolerance * Math.abs(logLikelihood)) break;
    previous = logLikelihood;
  }
  const sorted = [...Array(k).keys()].sort((a, b) => fit.means[a][0] - fit.means[b][0]);
  const parameters = k - 1 + 2 * k * channels;
  return {
    k,
    weights: sorted.map((j) => fit.weights[j]),
    means: sorted.map((j) => fit.means[j]),
    variances: sorted.map((j) => fit.variances[j]),
    logLikelihood,
    bic: -2 * logLikelihood + parameters * Math.log(n),
  };
}

/** Fits k = 2…maxK and keeps the fit with the lowest BIC. */
export function fitGmmBic(samples: ArrayLike<number>[], maxK = 6): GmmFit {
  let best: GmmFit | null = null;
  for (let k = 2; k <= maxK; k++) {
    const fit = fitGmm(samples, k);
    if (!best || fit.bic < best.bic) best = fit;
  }
  return best!;
}

/** Most probable component (1-based, in the fit's sorted order) of each voxel. */
export function assignGmm(fit: GmmFit, channels: ArrayLike<number>[], mask: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(channels[0].length);
  const x = new Array(channels.length).fill(0);
  const l = new Array(fit.k).fill(0);
  for (let i = 0; i < out.length; i++) {
    if (!mask[i]) continue;
    for (let c = 0; c < channels.length; c++) x[c] = channels[c][i];
    logJoint(fit, x, l);
    let best = 0;
    for (let j = 1; j < fit.k; j++) if (l[j] > l[best]) best = j;
    out[i] = best + 1;
  }
  return out;
}

/** Class names by rank of mean intensity, from what the first channel is. */
export function tissueNames(channel: string, k: number): string[] {
  const c = channel.toUpperCase();
  if (k === 3) {
    if (c.includes("T1")) return ["csf", "grey_matter", "white_matter"];
    if (c.includes("FLAIR")) return ["csf", "white_matter", "grey_matter"];
    if (c.includes("T2")) return ["white_matter", "grey_matter", "csf"];
  }
  return Array.from({ length: k }, (_, i) => `intensity_${i + 1}`);
}

/** Fixed CT bands in Hounsfield units; voxels between bands stay unassigned (0). */
export const CT_BANDS: { name: string; min: number; max: number }[] = [
  { name: "air_lung", min: Number.NEGATIVE_INFINITY, max: -500 },
  { name: "fat", min: -190, max: -30 },
  { name: "soft_tissue", min: -29, max: 150 },
  { name: "bone", min: 150.000001, max: Number.POSITIVE_INFINITY },
];

export function ctBands(hu: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(hu.length);
  for (let i = 0; i < hu.length; i++) {
    const v = hu[i];
    for (let b = 0; b < CT_BANDS.length; b++) {
      if (v >= CT_BANDS[b].min && v <= CT_BANDS[b].max) {
        out[i] = b + 1;
        break;
      }
    }
  }
  return out;
}

export interface ClusterCaseInput {
  caseId: string;
  images: string[];
  method: "gmm" | "ct";
  k: number | "bic";
  /** Fit on at most this many voxels (sampled with a fixed seed). */
  maxSamples: number;
  out: string;
}

export interface ClusterCaseResult {
  caseId: string;
  k: number;
  means: number[][];
  fractions: number[];
}

export async function clusterCase(input: ClusterCaseInput): Promise<ClusterCaseResult> {
  const volumes = await Promise.all(input.images.map((f) => readVolume(f)));
  const channels = volumes.map((v) => v.data);
  let labels: Uint8Array;
  let means: number[][] = [];
  let k: number;
  if (input.method === "ct") {
    labels = ctBands(channels[0]);
    k = CT_BANDS.length;
  } else {
    // Inside the mask: voxels non-zero in the first channel (skull-stripped images).
    const mask = Uint8Array.from(channels[0], (v) => (v !== 0 && Number.isFinite(v) ? 1 : 0));
    const inside: number[] = [];
    for (let i = 0; i < mask.length; i++) if (mask[i]) inside.push(i);
    const random = mulberry32(7);
    const picks =
      inside.length <= input.maxSamples
        ? inside
        : Array.from({ length: input.maxSamples }, () => inside[Math.floor(random() * inside.length)]);
    const samples = channels.map((c) => Float64Array.from(picks, (i) => c[i]));
    const fit = input.k === "bic" ? fitGmmBic(samples) : fitGmm(samples, input.k);
    labels = assignGmm(fit, channels, mask);
    means = fit.means;
    k = fit.k;
  }
  const { writeVolume } = await import("../io/read.js");
  await writeVolume(input.out, new Volume(labels, volumes[0].geometry));
  const counts = new Array(k + 1).fill(0);
  for (const v of labels) counts[v]++;
  const total = counts.slice(1).reduce((a, b) => a + b, 0);
  return { caseId: input.caseId, k, means, fractions: counts.slice(1).map((c) => c / Math.max(total, 1)) };
}

export interface ClusterOptions {
  source: string;
  /** Channel indices to cluster on (default [0]). */
  channels?: number[];
  method?: "gmm" | "ct";
  k?: number | "bic";
  maxSamples?: number;
  replace?: boolean;
  workers?: number;
  onCase?: (r: ClusterCaseResult) => void;
}

export async function clusterSource(
  dataset: Dataset,
  o: ClusterOptions,
): Promise<{ classes: Record<string, number>; cases: ClusterCaseResult[] }> {
  const channels = o.channels ?? [0];
  const method = o.method ?? (dataset.channels[channels[0]]?.toUpperCase() === "CT" ? "ct" : "gmm");
  prepareSource(dataset, o.source, o.replace ?? false);
  const dir = sourceDir(dataset, o.source);
  const inputs: ClusterCaseInput[] = dataset.training.map((c) => ({
    caseId: c.id,
    images: channels.map((ch) => {
      const f = c.images[ch];
      if (!f) throw new Error(`case ${c.id} has no channel ${ch}`);
      return f;
    }),
    method,
    k: o.k ?? 3,
    maxSamples: o.maxSamples ?? 100000,
    out: `${dir}/${c.id}${dataset.json.file_ending}`,
  }));
  const cases = await mapInWorkers<ClusterCaseInput, ClusterCaseResult>(
    inputs,
    { module: import.meta.url, exportName: "clusterCase" },
    o.workers ?? os.availableParallelism(),
    (_, r) => o.onCase?.(r),
  );
  const k = Math.max(...cases.map((c) => c.k));
  const names = method === "ct" ? CT_BANDS.map((b) => b.name) : tissueNames(dataset.channels[channels[0]] ?? "", k);
  const classes = Object.fromEntries(names.map((n, i) => [n, i + 1]));
  registerSource(
    dataset,
    o.source,
    classes,
    method === "ct" ? "CT Hounsfield bands" : `Gaussian mixture on channels ${channels.join(", ")}`,
  );
  return { classes, cases };
}
