// `backsplit dataset import-msd`: a Medical Segmentation Decathlon task folder → an nnU-Net v2 raw dataset,
// as nnU-Net's nnUNetv2_convert_MSD_dataset does it:
//   TaskNN_Name/dataset.json       {"modality": {"0": "FLAIR", …}, "labels": {"0": "background", …}, "training": […]}
//   TaskNN_Name/imagesTr/case.nii.gz   one 4-D image per case (modalities as frames; 3-D when there is one)
//   TaskNN_Name/labelsTr/case.nii.gz   3-D labels
//   TaskNN_Name/imagesTs/case.nii.gz   optional test images
// becomes imagesTr/case_XXXX.nii.gz (one 3-D file per modality, the frame's voxels and the 4-D file's
// geometry unchanged), labelsTr/case.nii.gz (copied), imagesTs/case_XXXX.nii.gz, and a dataset.json with
// modality → channel_names, labels inverted to name → value, file_ending ".nii.gz".
// Hidden files (macOS's "._case.nii.gz", which the Decathlon archives contain) and files starting with
// "_" are ignored, as nnU-Net does. Every training case is then checked as `dataset check` checks it
// (geometry of every channel and of the label, label values, NaNs); the dataset appears under OUT only
// when every case passes (or, with skipBad, without the cases that did not).
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeNifti } from "../io/nifti.js";
import { readChannelsSync } from "../io/read.js";
import type { Volume } from "../io/volume.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { mapInWorkers } from "../util/worker.js";
import { DEFAULT_TOLERANCES, type Problem, type Tolerances, checkCase } from "./check.js";
import { type CaseFiles, DatasetError, type DatasetJson, readDatasetJson } from "./layout.js";

/** The Decathlon's dataset.json (fields we use; the rest is carried over). */
export interface MsdDatasetJson {
  name?: string;
  modality: Record<string, string>;
  labels: Record<string, string>;
  training?: { image: string; label: string }[];
  test?: string[];
  [key: string]: unknown;
}

export interface ImportMsdOptions {
  tolerances?: Tolerances;
  /** Worker threads converting cases in parallel (default: number of cores). */
  workers?: number;
  /** Leave out the cases with errors instead of writing nothing. */
  skipBad?: boolean;
  /** Called once with the number of cases to convert, before the first. */
  onStart?: (cases: number) => void;
  onCase?: (result: MsdCaseResult) => void;
}

export interface ImportMsdResult {
  /** The nnU-Net dataset.json written (or that would have been written). */
  json: DatasetJson;
  training: string[];
  test: string[];
  /** Cases left out (skipBad) or that stopped the import. */
  failed: string[];
  problems: Problem[];
  /** False when nothing was written under OUT. */
  written: boolean;
}

const ENDING = ".nii.gz";

/** Image files of an MSD folder: .nii.gz (or .nii), not hidden, not starting with "_", sorted. */
function listImages(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".") || name.startsWith("_")) continue;
    const ending = [".nii.gz", ".nii"].find((e) => name.endsWith(e));
    if (!ending || !statSync(path.join(dir, name)).isFile()) continue;
    out.set(name.slice(0, -ending.length), path.join(dir, name));
  }
  return out;
}

/** Reads and validates the Decathlon's dataset.json; errors name the field. */
export function readMsdJson(taskDir: string): MsdDatasetJson {
  const file = path.join(taskDir, "dataset.json");
  if (!existsSync(file)) throw new DatasetError(`${file}: missing (a Decathlon task folder has dataset.json)`);
  let json: MsdDatasetJson;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new DatasetError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const isMap = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isMap(json.modality) || Object.keys(json.modality).length === 0) {
    const hint = isMap(json.channel_names) ? " (it has channel_names: is it already an nnU-Net v2 dataset?)" : "";
    throw new DatasetError(`${file}: "modality" must map channel indices to names, e.g. {"0": "CT"}${hint}`);
  }
  const keys = Object.keys(json.modality).sort((a, b) => Number(a) - Number(b));
  if (!keys.every((k, i) => k === String(i)))
    throw new DatasetError(`${file}: "modality" keys must be 0, 1, … (got ${keys.join(", ")})`);
  if (!isMap(json.labels)) throw new DatasetError(`${file}: "labels" must map label values to names`);
  return json;
}

/** nnU-Net's conversion of the Decathlon's dataset.json (labels value → name become name → value). */
export function convertMsdJson(msd: MsdDatasetJson, taskName: string, training: number, test: number): DatasetJson {
  const { modality, labels, training: _training, test: _test, numTraining, numTest, tensorImageSize, ...rest } = msd;
  const converted: Record<string, number> = {};
  for (const [value, name] of Object.entries(labels)) {
    const v = Number(value);
    if (!Number.isInteger(v) || String(v) !== value.trim())
      throw new DatasetError(`dataset.json: label value "${value}" is not an integer`);
    if (typeof name !== "string" || name === "")
      throw new DatasetError(`dataset.json: label ${value} needs a name (got ${JSON.stringify(name)})`);
    if (name in converted)
      throw new DatasetError(`dataset.json: label name "${name}" is used for ${converted[name]} and ${v}`);
    converted[name] = v;
  }
  const channelNames = Object.fromEntries(
    Object.keys(modality)
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => [k, modality[k]]),
  );
  return {
    ...rest,
    ...(tensorImageSize !== undefined ? { tensorImageSize: "3D" } : {}),
    channel_names: channelNames,
    labels: converted,
    numTraining: training,
    ...(test > 0 || numTest !== undefined ? { numTest: test } : {}),
    file_ending: ENDING,
    converted_from: `Medical Segmentation Decathlon ${taskName} (backsplit dataset import-msd)`,
  };
}

export interface MsdCaseInput {
  id: string;
  split: "Tr" | "Ts";
  image: string;
  label: string | null;
  /** The dataset being written (a temporary folder beside OUT). */
  root: string;
  json: DatasetJson;
  channels: string[];
  tolerances: Tolerances;
}

export interface MsdCaseResult {
  id: string;
  split: "Tr" | "Ts";
  problems: Problem[];
  /** Files written, relative to the dataset root. */
  files: string[];
}

function channelFile(id: string, c: number): string {
  return `${id}_${String(c).padStart(4, "0")}${ENDING}`;
}

/** Converts and checks one case (runs on a worker thread in `importMsd`). */
export async function importMsdCase(input: MsdCaseInput): Promise<MsdCaseResult> {
  const { id, split, image, label, root, json, channels } = input;
  const problems: Problem[] = [];
  const files: string[] = [];
  const source = `${split === "Tr" ? "imagesTr" : "imagesTs"}/${path.basename(image)}`;
  const fail = (file: string, message: string) => problems.push({ level: "error", file, message });
  const result = () => ({ id, split, problems, files });
  let frames: Volume[];
  try {
    frames = readChannelsSync(image)!;
  } catch (error) {
    fail(source, (error as Error).message.replace(`${image}: `, ""));
    return result();
  }
  if (frames.length !== channels.length) {
    fail(
      source,
      `${frames.length} frame(s) (${frames[0].shape.join("×")}×${frames.length}), but dataset.json declares ${channels.length} modalities (${channels.join(", ")})`,
    );
    return result();
  }
  const imagesDir = split === "Tr" ? "imagesTr" : "imagesTs";
  mkdirSync(path.join(root, imagesDir), { recursive: true });
  for (const [c, frame] of frames.entries()) {
    const rel = path.join(imagesDir, channelFile(id, c));
    // A 3-D .nii.gz is copied byte for byte (as nnU-Net does); frames are written with the 4-D file's geometry.
    if (frames.length === 1 && image.endsWith(ENDING)) copyFileSync(image, path.join(root, rel));
    else writeNifti(path.join(root, rel), frame);
    files.push(rel);
  }
  if (split === "Ts") return result();
  if (!label) {
    fail(path.join("labelsTr", `${id}${ENDING}`), "missing (every training case needs a label map)");
    return result();
  }
  const labelRel = path.join("labelsTr", `${id}${ENDING}`);
  mkdirSync(path.join(root, "labelsTr"), { recursive: true });
  if (label.endsWith(ENDING)) copyFileSync(label, path.join(root, labelRel));
  else {
    try {
      const [volume, ...more] = readChannelsSync(label)!;
      if (more.length > 0) throw new Error(`${label}: ${more.length + 1} frames; a label map must be 3-D`);
      writeNifti(path.join(root, labelRel), volume);
    } catch (error) {
      fail(`labelsTr/${path.basename(label)}`, (error as Error).message.replace(`${label}: `, ""));
      return result();
    }
  }
  files.push(labelRel);
  // The written case, checked as `dataset check` checks it.
  const caseFiles: CaseFiles = {
    id,
    images: files.filter((f) => f.startsWith("imagesTr")).map((f) => path.join(root, f)),
    label: path.join(root, labelRel),
    backgrounds: {},
  };
  const checked = await checkCase({ root, json, files: caseFiles, channels, tolerances: input.tolerances });
  problems.push(...checked.problems);
  return result();
}

/**
 * Converts a Decathlon task folder into an nnU-Net v2 dataset at `outDir` (which must not exist or be
 * empty). Writes into a temporary folder beside it and renames it into place only when the result is
 * valid (every case without errors, or skipBad); otherwise nothing is left behind.
 */
export async function importMsd(
  taskDir: string,
  outDir: string,
  options: ImportMsdOptions = {},
): Promise<ImportMsdResult> {
  if (!existsSync(taskDir) || !statSync(taskDir).isDirectory())
    throw new DatasetError(`${taskDir}: not a Decathlon task folder`);
  if (existsSync(outDir) && (!statSync(outDir).isDirectory() || readdirSync(outDir).length > 0))
    throw new DatasetError(`${outDir}: already exists and is not empty (choose a new folder)`);
  const msd = readMsdJson(taskDir);
  const taskName = path.basename(path.resolve(taskDir));
  const images = listImages(path.join(taskDir, "imagesTr"));
  const labels = listImages(path.join(taskDir, "labelsTr"));
  const tests = listImages(path.join(taskDir, "imagesTs"));
  if (images.size === 0)
    throw new DatasetError(`${path.join(taskDir, "imagesTr")}: no images (expected imagesTr/<case>.nii.gz)`);
  const problems: Problem[] = [];
  for (const id of labels.keys())
    if (!images.has(id))
      problems.push({ level: "error", file: `labelsTr/${path.basename(labels.get(id)!)}`, message: "no image" });
  const listed = new Set((msd.training ?? []).map((t) => path.basename(String(t.image)).replace(/\.nii(\.gz)?$/, "")));
  for (const id of listed)
    if (!images.has(id))
      problems.push({ level: "warning", file: "dataset.json", message: `training case ${id} is listed but missing` });

  const channels = Object.keys(msd.modality)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => msd.modality[k]);
  const json = convertMsdJson(msd, taskName, images.size, tests.size);
  const parent = path.dirname(path.resolve(outDir));
  mkdirSync(parent, { recursive: true });
  const root = path.join(parent, `.${path.basename(outDir)}.import-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  // The converted dataset.json is validated (labels, background 0) before any image is converted.
  writeFileAtomicSync(path.join(root, "dataset.json"), `${JSON.stringify(json, null, 2)}\n`);
  try {
    readDatasetJson(root);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const tolerances = options.tolerances ?? DEFAULT_TOLERANCES;
  const inputs: MsdCaseInput[] = [
    ...[...images].map(([id, image]) => ({ id, split: "Tr" as const, image, label: labels.get(id) ?? null })),
    ...[...tests].map(([id, image]) => ({ id, split: "Ts" as const, image, label: null })),
  ].map((c) => ({ ...c, root, json, channels, tolerances }));
  let results: MsdCaseResult[];
  options.onStart?.(inputs.length);
  try {
    results = await mapInWorkers<MsdCaseInput, MsdCaseResult>(
      inputs,
      { module: import.meta.url, exportName: "importMsdCase" },
      options.workers ?? os.availableParallelism(),
      (_, r) => options.onCase?.(r),
    );
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  // Problems name files of the task folder where they concern its inputs, of the new dataset otherwise.
  for (const r of results) problems.push(...r.problems);
  const failed = results.filter((r) => r.problems.some((p) => p.level === "error"));
  const good = results.filter((r) => !failed.includes(r));
  const training = good.filter((r) => r.split === "Tr").map((r) => r.id);
  const test = good.filter((r) => r.split === "Ts").map((r) => r.id);
  // With skipBad, broken cases are left out and labels without an image are not copied.
  const errors = problems.some((p) => p.level === "error");
  const stop = training.length === 0 || (errors && !options.skipBad);
  const outJson = {
    ...json,
    numTraining: training.length,
    ...(json.numTest !== undefined ? { numTest: test.length } : {}),
  };
  if (stop) {
    rmSync(root, { recursive: true, force: true });
    return { json: outJson, training, test, failed: failed.map((r) => r.id), problems, written: false };
  }
  for (const r of failed) for (const f of r.files) rmSync(path.join(root, f), { force: true });
  writeFileAtomicSync(path.join(root, "dataset.json"), `${JSON.stringify(outJson, null, 2)}\n`);
  if (existsSync(outDir)) rmSync(outDir, { recursive: true }); // empty (checked above)
  renameSync(root, outDir);
  return { json: outJson, training, test, failed: failed.map((r) => r.id), problems, written: true };
}
