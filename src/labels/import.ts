// `backsplit labels import`: existing label maps → a background source of the dataset, resampled
// onto each case's grid (nearest neighbour through world coordinates) when the geometry differs.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Dataset } from "../dataset/layout.js";
import { resampleNearestToGrid, sameGrid } from "../io/grid.js";
import { IMAGE_ENDINGS, imageEnding, readVolume, writeVolume } from "../io/read.js";
import { Volume } from "../io/volume.js";
import { fsyncPath, removeStaleTemps, tempName } from "../util/atomic.js";
import { withLock } from "../util/lock.js";
import { mapInWorkers } from "../util/worker.js";
import { freesurferNames, readNames } from "./names.js";
import { refuseExisting, registerSource, sourceDir, sourceLock } from "./source.js";

export type ImportLayout = "single" | "per-case" | "per-class";

export interface ImportCaseInput {
  caseId: string;
  reference: string;
  /** One map, or per-class binary masks with the value each one gets. */
  map?: string;
  perClass?: [string, number][];
  out: string;
}

export interface ImportCaseResult {
  caseId: string;
  values: [number, number][];
  resampled: boolean;
}

/** Imports one case's map (runs on a worker thread). */
export async function importCase(input: ImportCaseInput): Promise<ImportCaseResult> {
  const reference = await readVolume(input.reference);
  let map: Volume;
  let resampled = false;
  if (input.map) {
    const source = await readVolume(input.map);
    resampled = !sameGrid(source, reference);
    map = resampleNearestToGrid(source, reference.geometry);
  } else {
    const data = new Int16Array(reference.voxelCount);
    for (const [file, value] of input.perClass ?? []) {
      const source = await readVolume(file);
      resampled ||= !sameGrid(source, reference);
      const mask = resampleNearestToGrid(source, reference.geometry);
      // Earlier classes keep overlapping voxels.
      for (let i = 0; i < data.length; i++) if (mask.data[i] && !data[i]) data[i] = value;
    }
    map = new Volume(data, reference.geometry);
  }
  for (let i = 0; i < map.data.length; i++) {
    if (!Number.isInteger(map.data[i]))
      throw new Error(`${input.map}: label values must be integers, found ${map.data[i]}`);
  }
  const labels =
    map.type === "float32" || map.type === "float64" ? new Volume(Int32Array.from(map.data), map.geometry) : map;
  await writeVolume(input.out, labels);
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.data.length; i++) counts.set(labels.data[i], (counts.get(labels.data[i]) ?? 0) + 1);
  return { caseId: input.caseId, values: [...counts], resampled };
}

export interface ImportOptions {
  source: string;
  from: string;
  /** Value → name table: a JSON file spec (see readNames), "freesurfer", or none (class_<value>). */
  names?: string;
  replace?: boolean;
  workers?: number;
  onCase?: (r: ImportCaseResult) => void;
}

export interface ImportResult {
  layout: ImportLayout;
  classes: Record<string, number>;
  cases: ImportCaseResult[];
}

function findCaseMap(folder: string, caseId: string): string | null {
  for (const ending of IMAGE_ENDINGS) {
    const file = path.join(folder, `${caseId}${ending}`);
    if (existsSync(file)) return file;
  }
  return null;
}

export function detectLayout(from: string, dataset: Dataset): ImportLayout {
  if (!existsSync(from)) throw new Error(`${from}: no such file or folder`);
  if (!statSync(from).isDirectory()) return "single";
  if (dataset.training.some((c) => existsSync(path.join(from, c.id)) && statSync(path.join(from, c.id)).isDirectory()))
    return "per-class";
  return "per-case";
}

/**
 * Imports a source safely: under a lock (a second writer of the same source is refused), built in a
 * temporary folder beside the others, every map checked, then swapped in (folder rename, then
 * dataset.json rewritten atomically). Until the swap the dataset is unchanged: a corrupt input, a
 * bad --names or a kill leaves the old source (or none) exactly as it was.
 */
export async function importSource(dataset: Dataset, o: ImportOptions): Promise<ImportResult> {
  const final = sourceDir(dataset, o.source);
  return withLock(sourceLock(dataset, o.source), `background source '${o.source}'`, async () => {
    removeStaleTemps(path.dirname(final)); // a killed import's temporary folder
    refuseExisting(dataset, o.source, o.replace ?? false);
    return buildAndSwap(dataset, o, final);
  });
}

async function buildAndSwap(dataset: Dataset, o: ImportOptions, final: string): Promise<ImportResult> {
  const layout = detectLayout(o.from, dataset);
  // The names first: a missing or broken --names file fails before any map is read or written.
  const table = layout !== "per-class" && o.names && o.names !== "freesurfer" ? readNames(o.names) : null;
  const cases = dataset.training.filter((c) => c.images[0]);
  // Per-class folders: one value per mask name, consistent across cases.
  const classFiles = new Map<string, Map<string, string>>();
  if (layout === "per-class") {
    for (const c of cases) {
      const dir = path.join(o.from, c.id);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => imageEnding(f)) : [];
      classFiles.set(c.id, new Map(files.map((f) => [f.slice(0, -imageEnding(f)!.length), path.join(dir, f)])));
    }
  }
  const classNames = [...new Set([...classFiles.values()].flatMap((m) => [...m.keys()]))].sort();
  const building = tempName(final);
  const inputs: ImportCaseInput[] = [];
  const missing: string[] = [];
  for (const c of cases) {
    const out = path.join(building, `${c.id}${dataset.json.file_ending}`);
    if (layout === "single") inputs.push({ caseId: c.id, reference: c.images[0]!, map: o.from, out });
    else if (layout === "per-case") {
      const map = findCaseMap(o.from, c.id);
      if (map) inputs.push({ caseId: c.id, reference: c.images[0]!, map, out });
      else missing.push(c.id);
    } else {
      const files = classFiles.get(c.id)!;
      if (files.size === 0) missing.push(c.id);
      else
        inputs.push({
          caseId: c.id,
          reference: c.images[0]!,
          perClass: [...files].map(([name, file]) => [file, classNames.indexOf(name) + 1]),
          out,
        });
    }
  }
  if (inputs.length === 0)
    throw new Error(
      `${o.from}: no label map found for any case (expected e.g. ${path.join(o.from, `${cases[0]?.id ?? "case"}${dataset.json.file_ending}`)})`,
    );
  mkdirSync(building, { recursive: true });
  let backup: string | null = null;
  try {
    const results = await mapInWorkers<ImportCaseInput, ImportCaseResult>(
      inputs,
      { module: import.meta.url, exportName: "importCase" },
      o.workers ?? os.availableParallelism(),
      (_, r) => o.onCase?.(r),
    );
    const present = new Set(results.flatMap((r) => r.values.map(([v]) => v)).filter((v) => v !== 0));
    if (present.size === 0)
      throw new Error(`${o.from}: every imported map is 0 everywhere: no classes to import (source not created)`);
    let names: Map<number, string>;
    if (layout === "per-class") names = new Map(classNames.map((n, i) => [i + 1, n]));
    else if (o.names === "freesurfer") names = freesurferNames(present);
    else if (table) names = table;
    else names = new Map([...present].map((v) => [v, `class_${v}`]));
    const classes: Record<string, number> = {};
    for (const v of [...present].sort((a, b) => a - b)) {
      let name = names.get(v) ?? `class_${v}`;
      if (name in classes) name = `${name}_${v}`;
      classes[name] = v;
    }
    // The swap: the old folder aside, the new one in, its flush, then dataset.json (atomic).
    if (existsSync(final)) {
      backup = tempName(final);
      renameSync(final, backup);
    }
    renameSync(building, final);
    fsyncPath(path.dirname(final), true);
    registerSource(
      dataset,
      o.source,
      classes,
      `imported from ${path.resolve(o.from)}${missing.length ? ` (${missing.length} cases without a map)` : ""}`,
    );
    if (backup) rmSync(backup, { recursive: true, force: true });
    return { layout, classes, cases: results };
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    if (backup && !existsSync(final))
      renameSync(backup, final); // put the old source back
    else if (backup) rmSync(backup, { recursive: true, force: true });
    throw error;
  }
}
