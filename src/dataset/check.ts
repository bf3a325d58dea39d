// `backsplit dataset check`: every problem of a dataset as one line naming the file.
import os from "node:os";
import path from "node:path";
import { readVolume } from "../io/read.js";
import { type Geometry, type Volume, geometryDifference } from "../io/volume.js";
import { mapInWorkers } from "../util/worker.js";
import type { CaseFiles, Dataset, DatasetJson } from "./layout.js";

export interface Problem {
  level: "error" | "warning";
  /** Path relative to the dataset root ("" for the dataset as a whole). */
  file: string;
  message: string;
}

export interface Tolerances {
  /** Millimetres, for spacing and origin. */
  mm: number;
  /** For direction cosines. */
  direction: number;
}

export const DEFAULT_TOLERANCES: Tolerances = { mm: 1e-3, direction: 1e-4 };

export interface CaseCheckInput {
  root: string;
  json: DatasetJson;
  files: CaseFiles;
  channels: string[];
  tolerances: Tolerances;
}

export interface CaseCheckResult {
  id: string;
  problems: Problem[];
  lesionVoxels: number;
}

const fmt = (v: readonly number[]) => v.map((x) => Number(x.toFixed(4))).join("×");
const fmtVec = (v: readonly number[]) => `(${v.map((x) => Number(x.toFixed(4))).join(", ")})`;

/** Geometry mismatches of `other` against the reference image, as messages. */
export function geometryProblems(other: Geometry, reference: Geometry, tolerances: Tolerances): string[] {
  const d = geometryDifference(other, reference);
  if (!d.shape) return [`shape ${other.shape.join("×")} differs from image ${reference.shape.join("×")}`];
  const out: string[] = [];
  if (d.spacing > tolerances.mm)
    out.push(
      `spacing ${fmt(other.spacing)} differs from image ${fmt(reference.spacing)} (tolerance ${tolerances.mm} mm)`,
    );
  if (d.origin > tolerances.mm)
    out.push(
      `origin ${fmtVec(other.origin)} (LPS) differs from image ${fmtVec(reference.origin)} by ${d.origin.toFixed(4)} mm (tolerance ${tolerances.mm} mm)`,
    );
  if (d.direction > tolerances.direction)
    out.push(
      `direction ${fmtVec(other.direction)} differs from image ${fmtVec(reference.direction)} (tolerance ${tolerances.direction})`,
    );
  return out;
}

interface ValueSummary {
  nonFinite: number;
  nonInteger: number;
  firstNonInteger: number;
  min: number;
  max: number;
  values: Map<number, number>;
}

function summarise(volume: Volume, countValues: boolean): ValueSummary {
  const s: ValueSummary = {
    nonFinite: 0,
    nonInteger: 0,
    firstNonInteger: 0,
    min: Infinity,
    max: -Infinity,
    values: new Map(),
  };
  const data = volume.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      s.nonFinite++;
      continue;
    }
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
    if (countValues) {
      if (!Number.isInteger(v)) {
        if (s.nonInteger++ === 0) s.firstNonInteger = v;
        continue;
      }
      s.values.set(v, (s.values.get(v) ?? 0) + 1);
    }
  }
  return s;
}

function labelValueProblems(summary: ValueSummary, declared: Set<number>, what: string): string[] {
  const out: string[] = [];
  if (summary.nonFinite > 0) out.push(`${summary.nonFinite} ${what} voxels are NaN or infinite`);
  if (summary.nonInteger > 0)
    out.push(`${what} values must be integers; ${summary.nonInteger} voxels are not (e.g. ${summary.firstNonInteger})`);
  const undeclared = [...summary.values.keys()].filter((v) => !declared.has(v)).sort((a, b) => a - b);
  if (undeclared.length > 0) out.push(`${what} values ${undeclared.join(", ")} are not declared in dataset.json`);
  return out;
}

/** Reads an image; preprocess and merge pass a reader that keeps what it read, to use it after the check. */
export type VolumeReader = (file: string) => Promise<Volume>;

/** A reader that reads each file once and hands the same volume to every later caller. */
export function keepingReader(): VolumeReader {
  const kept = new Map<string, Promise<Volume>>();
  return (file) => {
    let volume = kept.get(file);
    if (!volume) {
      volume = readVolume(file);
      kept.set(file, volume);
    }
    return volume;
  };
}

/** One problem as `dataset check` prints it: "error: labelsTr/a.nii.gz: message". */
export function formatProblem(p: Problem): string {
  return `${p.level}: ${p.file ? `${p.file}: ` : ""}${p.message}`;
}

/**
 * The errors `dataset check` would report, raised by a verb that refuses to work on such a dataset
 * (preprocess, labels merge): the message lists every error line.
 */
export class DatasetProblemsError extends Error {
  constructor(
    readonly problems: Problem[],
    what: string,
  ) {
    const errors = problems.filter((p) => p.level === "error");
    super(
      `${errors.length} error(s) in the dataset (the checks of \`backsplit dataset check\`); ${what}:\n${errors.map(formatProblem).join("\n")}`,
    );
  }
}

/** Throws DatasetProblemsError when `problems` holds errors. */
export function refuseOnErrors(problems: Problem[], what: string): void {
  if (problems.some((p) => p.level === "error")) throw new DatasetProblemsError(problems, what);
}

async function tryRead(file: string, root: string, problems: Problem[], read: VolumeReader): Promise<Volume | null> {
  try {
    return await read(file);
  } catch (error) {
    const message = (error as Error).message.replace(`${file}: `, "");
    problems.push({ level: "error", file: path.relative(root, file), message });
    return null;
  }
}

/** Checks one training case (runs on a worker thread in `checkDataset`; preprocess and merge call it too). */
export async function checkCase(input: CaseCheckInput, read: VolumeReader = readVolume): Promise<CaseCheckResult> {
  const { root, json, files, channels, tolerances } = input;
  const problems: Problem[] = [];
  const rel = (f: string) => path.relative(root, f);
  const ending = json.file_ending;
  const images: Volume[] = [];
  let reference: Volume | null = null;
  for (const [c, file] of files.images.entries()) {
    if (!file) {
      const expected = path.join("imagesTr", `${files.id}_${String(c).padStart(4, "0")}${ending}`);
      problems.push({ level: "error", file: expected, message: `missing (channel ${c}, "${channels[c]}")` });
      continue;
    }
    const volume = await tryRead(file, root, problems, read);
    if (!volume) continue;
    const s = summarise(volume, false);
    if (s.nonFinite > 0)
      problems.push({ level: "error", file: rel(file), message: `${s.nonFinite} voxels are NaN or infinite` });
    if (s.min === s.max)
      problems.push({ level: "error", file: rel(file), message: `image is empty (every voxel is ${s.min})` });
    if (reference) {
      for (const m of geometryProblems(volume, reference, tolerances))
        problems.push({ level: "error", file: rel(file), message: m.replace("image", "channel 0") });
    } else {
      reference = volume;
    }
    images.push(volume);
  }
  let lesionVoxels = 0;
  const labelFile = files.label ?? path.join(root, "labelsTr", `${files.id}${ending}`);
  if (!files.label) {
    problems.push({ level: "error", file: rel(labelFile), message: "missing (every training case needs a label map)" });
  } else {
    const label = await tryRead(files.label, root, problems, read);
    if (label) {
      if (reference)
        for (const m of geometryProblems(label, reference, tolerances))
          problems.push({ level: "error", file: rel(files.label), message: m });
      const s = summarise(label, true);
      const declared = new Set(Object.values(json.labels));
      for (const m of labelValueProblems(s, declared, "label"))
        problems.push({ level: "error", file: rel(files.label), message: m });
      const ignore = typeof json.labels.ignore === "number" ? json.labels.ignore : -1;
      for (const [v, n] of s.values) if (v !== 0 && v !== ignore) lesionVoxels += n;
      if (lesionVoxels === 0)
        problems.push({ level: "warning", file: rel(files.label), message: "no lesion voxels in this case" });
    }
  }
  for (const [source, file] of Object.entries(files.backgrounds)) {
    const map = await tryRead(file, root, problems, read);
    if (!map) continue;
    if (reference)
      for (const m of geometryProblems(map, reference, tolerances))
        problems.push({ level: "error", file: rel(file), message: m });
    const declared = new Set([0, ...Object.values(json.background_sources?.[source]?.labels ?? {})]);
    for (const m of labelValueProblems(summarise(map, true), declared, "background"))
      problems.push({ level: "error", file: rel(file), message: m });
  }
  return { id: files.id, problems, lesionVoxels };
}

/** checkCase as a worker job (a job's second argument is its report callback, not a reader). */
export function checkCaseJob(input: CaseCheckInput): Promise<CaseCheckResult> {
  return checkCase(input);
}

/** Names sharing one value in a name → value table. */
function sharedValues(table: Record<string, number>): string[] {
  const byValue = new Map<number, string[]>();
  for (const [name, value] of Object.entries(table)) byValue.set(value, [...(byValue.get(value) ?? []), name]);
  return [...byValue]
    .filter(([, names]) => names.length > 1)
    .map(([value, names]) => `${names.map((n) => `"${n}"`).join(" and ")} share the value ${value}`);
}

/** Dataset-level problems that need no image reading. */
export function layoutProblems(dataset: Dataset): Problem[] {
  const problems: Problem[] = [];
  const n = dataset.training.length;
  if (n === 0)
    problems.push({
      level: "error",
      file: "imagesTr",
      message: `no training cases (expected files like imagesTr/case_001_0000${dataset.json.file_ending})`,
    });
  if (dataset.json.numTraining !== undefined && dataset.json.numTraining !== n) {
    problems.push({
      level: "warning",
      file: "dataset.json",
      message: `numTraining is ${dataset.json.numTraining} but ${n} training cases were found`,
    });
  }
  for (const m of sharedValues(dataset.json.labels))
    problems.push({ level: "error", file: "dataset.json", message: `labels ${m} (each class needs its own value)` });
  for (const [source, spec] of Object.entries(dataset.json.background_sources ?? {}))
    for (const m of sharedValues(spec.labels))
      problems.push({
        level: "error",
        file: "dataset.json",
        message: `background_sources.${source}.labels ${m} (each class needs its own value)`,
      });
  const trainingIds = new Set(dataset.training.map((c) => c.id));
  for (const c of dataset.test) {
    if (!trainingIds.has(c.id)) continue;
    const file = c.images.find((f) => f) ?? path.join(dataset.root, "imagesTs", c.id);
    problems.push({
      level: "error",
      file: path.relative(dataset.root, file),
      message: `case id '${c.id}' is also a training case (imagesTr): a test case must not be trained on`,
    });
  }
  for (const source of Object.keys(dataset.json.background_sources ?? {})) {
    const missing = dataset.training.filter((c) => !c.backgrounds[source]).length;
    if (missing > 0)
      problems.push({
        level: "warning",
        file: path.join("backgroundTr", source),
        message: `${missing} of ${n} training cases have no map from this source`,
      });
  }
  return problems;
}

export interface CheckOptions {
  tolerances?: Tolerances;
  /** Worker threads reading cases in parallel (default: number of cores). */
  workers?: number;
  onCase?: (result: CaseCheckResult) => void;
}

/** Checks a whole dataset; problems are sorted dataset-level first, then by case. */
export async function checkDataset(dataset: Dataset, options: CheckOptions = {}): Promise<Problem[]> {
  const inputs: CaseCheckInput[] = dataset.training.map((files) => ({
    root: dataset.root,
    json: dataset.json,
    files,
    channels: dataset.channels,
    tolerances: options.tolerances ?? DEFAULT_TOLERANCES,
  }));
  const results = await mapInWorkers<CaseCheckInput, CaseCheckResult>(
    inputs,
    { module: import.meta.url, exportName: "checkCaseJob" },
    options.workers ?? os.availableParallelism(),
    (_, result) => options.onCase?.(result),
  );
  return [...layoutProblems(dataset), ...results.flatMap((r) => r.problems)];
}
