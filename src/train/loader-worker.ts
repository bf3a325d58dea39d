// The data-loading thread: reads patches from the cache and builds their targets, ahead of the
// training step. Protocol: {init} once, then {iteration} → {iteration, data, target} (buffers transferred).
import { parentPort, workerData } from "node:worker_threads";
import { type CachedCase, readPatch } from "../preprocess/cache.js";
import { PatchSampler, type SamplerOptions } from "./sampler.js";
import { PatchTargets, type TargetSpec } from "./targets.js";

export interface LoaderInit {
  cacheDir: string;
  cases: CachedCase[];
  sampler: SamplerOptions;
  targets: TargetSpec;
  /** A larger patch to read, centred on each sampled one (nnU-Net's initial patch size); default the patch. */
  load?: number[];
}

const init = workerData as LoaderInit;
const sampler = new PatchSampler(init.cases, init.sampler);
const targets = new PatchTargets(init.targets, init.cacheDir);
const patch = init.load ?? init.sampler.patch;
const margin = patch.map((p, a) => (p - init.sampler.patch[a]) / 2);
const voxels = patch.reduce((a, b) => a * b, 1);
const channels = init.cases[0].shape[0];

parentPort!.on("message", (message: { iteration: number }) => {
  const requests = sampler.batch(message.iteration);
  const data = new Float32Array(requests.length * channels * voxels);
  const target = new Int16Array(requests.length * voxels);
  requests.forEach((r, b) => {
    const meta = init.cases[r.caseIndex];
    const start = r.start.map((s, a) => s - margin[a]);
    const p = readPatch(init.cacheDir, meta, start, patch, targets.sourcesOf(meta));
    data.set(p.data, b * channels * voxels);
    target.set(targets.target(meta, start, patch, p), b * voxels);
  });
  parentPort!.postMessage({ iteration: message.iteration, data, target, lesions: requests.map((r) => r.lesion) }, [
    data.buffer,
    target.buffer,
  ]);
});
