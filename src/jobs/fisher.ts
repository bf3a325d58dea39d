import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { DatasetJson } from "../dataset/layout.js";
import { readSplits, splitsFile } from "../dataset/splits.js";
import { manualSeed, resolveDevice, setThreads, tensor, tidy } from "../engine/index.js";
import {
  type FisherMapSummary,
  type FisherResult,
  type PatchFisher,
  patchFisher,
  summarizeFisher,
} from "../fisher/fisher.js";
import { readVolume } from "../io/read.js";
import { listInputCases, loadRun, predictImages } from "../predict/predict.js";
// `backsplit fisher`: Fisher traces of a trained run on patches of its preprocessed cases, and the
// closed-form voxel map on one whole case. Runs on a worker thread (see cli/verbs/fisher.ts).
import { cachedCaseIds } from "../preprocess/cache-state.js";
import { readCachedMeta, readPatch } from "../preprocess/cache.js";
import { TrainingRun } from "../run/record.js";
import { PatchSampler } from "../train/sampler.js";
import { PatchTargets, targetClasses, targetSpecFor } from "../train/targets.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import type { Report } from "../util/worker.js";

export type { FisherResult };

export interface FisherJob {
  run: string;
  /** Dataset folder (dataset.json, imagesTr…); default: the run's dataset. */
  data?: string;
  /** Which preprocessed cases give patches: the run's validation cases (default), training cases, or all. */
  cases: "val" | "train" | "all";
  patches: number;
  samples: number;
  seed: number;
  device: string;
  threads?: number;
  /** Case for the voxel map (an id in imagesTr or imagesTs); null: the first patch case; "none": no map. */
  mapCase: string | null;
  out: string;
}

function findCaseImages(data: string, id: string): string[] | null {
  for (const folder of ["imagesTr", "imagesTs"]) {
    const dir = path.join(data, folder);
    if (!existsSync(dir)) continue;
    const found = listInputCases(dir).get(id);
    if (found) return found;
  }
  return null;
}

export async function fisherJob(job: FisherJob, report: Report = () => {}): Promise<FisherResult> {
  const started = performance.now();
  setThreads(job.threads);
  manualSeed(job.seed);
  const device = resolveDevice(job.device);
  const run = new TrainingRun(job.run);
  const record = run.record();
  const data = job.data ?? record.config.dataset;
  const jsonFile = path.join(data, "dataset.json");
  if (!existsSync(jsonFile)) throw new Error(`${data}: no dataset.json`);
  const json = JSON.parse(readFileSync(jsonFile, "utf8")) as DatasetJson;
  const plans = run.plans(record);
  const cfg = plans.configurations[record.config.configuration];
  const cacheDir = path.join(record.plans, cfg.data_identifier);
  if (!existsSync(cacheDir)) throw new Error(`${cacheDir}: the run's preprocessed cases are missing`);
  const ids = cachedCaseIds(cacheDir);
  let chosen = ids;
  const fold = record.config.fold;
  if (job.cases !== "all" && fold !== "all") {
    const split = readSplits(splitsFile(record.plans))[fold];
    chosen = split[job.cases].filter((id) => ids.includes(id));
  }
  if (chosen.length === 0) throw new Error(`no preprocessed ${job.cases} cases for fold ${fold} in ${cacheDir}`);

  const loaded = loadRun(job.run, device);
  const lesionValues = loaded.lesionValues;
  const spec = targetSpecFor(record.config, json);
  const classes = targetClasses(spec);
  const excluded = [classes.ignore, classes.unknown_background].filter((v) => v !== undefined) as number[];
  const metas = chosen.map((id) => readCachedMeta(cacheDir, id));
  const sampler = new PatchSampler(metas, { patch: loaded.patch, batch: 1, seed: job.seed, lesionShare: 1 / 3 });
  const targets = new PatchTargets(spec, cacheDir);
  const channels = metas[0].shape[0];
  const results: PatchFisher[] = [];
  for (let i = 0; i < job.patches; i++) {
    const [r] = sampler.batch(i);
    const meta = metas[r.caseIndex];
    const p = readPatch(cacheDir, meta, r.start, loaded.patch, targets.sourcesOf(meta));
    const target = targets.target(meta, r.start, loaded.patch, p);
    results.push(
      tidy(() => {
        const image = tensor(p.data, [1, channels, ...loaded.patch], { device });
        const t = tensor(target, [1, ...loaded.patch])
          .to("int64")
          .to(device);
        const exclude = excluded.length ? excluded.map((v) => t.eq(v)).reduce((a, b) => a.logicalOr(b)) : undefined;
        return patchFisher(loaded.net, image, {
          lesionClasses: lesionValues,
          samples: job.samples,
          target: t,
          exclude,
        });
      }),
    );
    report({ kind: "patch", done: i + 1, total: job.patches });
  }
  const summary = summarizeFisher(results);

  mkdirSync(job.out, { recursive: true });
  let map: FisherMapSummary | null = null;
  if (job.mapCase !== "none") {
    const caseId = job.mapCase ?? chosen[0];
    const images = findCaseImages(data, caseId);
    if (!images) throw new Error(`${data}: no images for case '${caseId}' in imagesTr or imagesTs`);
    const base = path.join(job.out, caseId);
    await predictImages([loaded], images, base, {
      collapse: "prob",
      threshold: 0.5,
      mirror: false,
      device,
      saveProbabilities: false,
      saveClasses: true,
      saveFisherMap: true,
    });
    const gap = await readVolume(`${base}_fisher_gap.nii.gz`);
    const predicted = await readVolume(`${base}_classes.nii.gz`);
    const names = new Map(Object.entries(record.classes).map(([n, v]) => [v, n]));
    const perClass = new Map<number, { voxels: number; sum: number }>();
    for (let i = 0; i < gap.voxelCount; i++) {
      const c = predicted.data[i];
      const e = perClass.get(c) ?? { voxels: 0, sum: 0 };
      e.voxels++;
      e.sum += gap.data[i];
      perClass.set(c, e);
    }
    map = {
      caseId,
      file: `${base}_fisher_gap.nii.gz`,
      perClass: [...perClass]
        .sort((a, b) => a[0] - b[0])
        .map(([value, e]) => ({
          name: names.get(value) ?? `class_${value}`,
          value,
          voxels: e.voxels,
          meanGap: e.sum / e.voxels,
          sumGap: e.sum,
        })),
    };
  }
  loaded.net.dispose();
  const result: FisherResult = {
    run: path.resolve(job.run),
    classes: record.classes,
    lesionClasses: lesionValues,
    patch: loaded.patch,
    cases: chosen,
    summary,
    map,
    seconds: (performance.now() - started) / 1000,
  };
  writeFileAtomicSync(path.join(job.out, "fisher.json"), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}
