// nnU-Net v2 raw dataset layout, plus BackSplit's background sources:
//   dataset.json, imagesTr/{case}_{XXXX}{ending}, labelsTr/{case}{ending}, imagesTs/…,
//   backgroundTr/<source>/{case}{ending}, with "background_sources": {source: {labels: {name: value}}}.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

export interface BackgroundSource {
  /** Class name → label value (0 means "not assigned" and is implicit). */
  labels: Record<string, number>;
  description?: string;
}

export interface DatasetJson {
  name?: string;
  description?: string;
  channel_names: Record<string, string>;
  /** Class name → label value; nnU-Net's "background" is 0. */
  labels: Record<string, number>;
  numTraining?: number;
  file_ending: string;
  background_sources?: Record<string, BackgroundSource>;
  [key: string]: unknown;
}

export interface CaseFiles {
  id: string;
  /** One file per channel, in channel order (missing channels are null). */
  images: (string | null)[];
  label: string | null;
  /** Background source name → file (absent when the source has no map for this case). */
  backgrounds: Record<string, string>;
}

export interface Dataset {
  root: string;
  json: DatasetJson;
  channels: string[];
  /** Label values that are lesion (or other foreground) classes: every declared label except background and ignore. */
  lesionLabels: Record<string, number>;
  ignoreLabel: number | null;
  training: CaseFiles[];
  test: CaseFiles[];
}

export class DatasetError extends Error {}

/** Reads and validates dataset.json (errors name the file and the field). */
export function readDatasetJson(root: string): DatasetJson {
  const file = path.join(root, "dataset.json");
  if (!existsSync(file)) throw new DatasetError(`${file}: missing (an nnU-Net v2 dataset needs dataset.json)`);
  let json: DatasetJson;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new DatasetError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const where = "dataset.json";
  if (!json.channel_names || typeof json.channel_names !== "object" || Object.keys(json.channel_names).length === 0) {
    throw new DatasetError(`${where}: "channel_names" must map channel indices to names, e.g. {"0": "FLAIR"}`);
  }
  if (!json.labels || typeof json.labels !== "object")
    throw new DatasetError(`${where}: "labels" must map class names to values`);
  for (const [name, value] of Object.entries(json.labels)) {
    if (!Number.isInteger(value))
      throw new DatasetError(`${where}: label "${name}" must be an integer (region lists are not supported yet)`);
  }
  if (json.labels.background !== 0) throw new DatasetError(`${where}: "labels" must contain "background": 0`);
  if (typeof json.file_ending !== "string" || !json.file_ending.startsWith(".")) {
    throw new DatasetError(`${where}: "file_ending" must be a file ending such as ".nii.gz"`);
  }
  for (const [source, spec] of Object.entries(json.background_sources ?? {})) {
    if (!spec || typeof spec.labels !== "object")
      throw new DatasetError(`${where}: background_sources.${source} needs "labels"`);
    for (const [name, value] of Object.entries(spec.labels)) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new DatasetError(
          `${where}: background_sources.${source}.labels.${name} must be a positive integer (0 = not assigned)`,
        );
      }
    }
  }
  return json;
}

function listCases(dir: string, ending: string, channels: number): Map<string, (string | null)[]> {
  const cases = new Map<string, (string | null)[]>();
  if (!existsSync(dir)) return cases;
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(ending)) continue;
    const stem = name.slice(0, -ending.length);
    const match = /^(.*)_(\d{4})$/.exec(stem);
    if (!match) continue;
    const [, id, channel] = match;
    if (!cases.has(id)) cases.set(id, Array(channels).fill(null));
    const c = Number(channel);
    if (c < channels) cases.get(id)![c] = path.join(dir, name);
  }
  return cases;
}

function caseFiles(
  root: string,
  images: Map<string, (string | null)[]>,
  json: DatasetJson,
  labelsDir: string | null,
): CaseFiles[] {
  const ending = json.file_ending;
  return [...images].map(([id, files]) => {
    const label = labelsDir ? path.join(root, labelsDir, `${id}${ending}`) : null;
    const backgrounds: Record<string, string> = {};
    for (const source of Object.keys(json.background_sources ?? {})) {
      const file = path.join(root, "backgroundTr", source, `${id}${ending}`);
      if (existsSync(file)) backgrounds[source] = file;
    }
    return { id, images: files, label: label && existsSync(label) ? label : null, backgrounds };
  });
}

/** Opens a dataset folder: dataset.json plus the cases found on disk (training cases come from imagesTr and labelsTr). */
export function openDataset(root: string): Dataset {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new DatasetError(`${root}: not a dataset folder`);
  const json = readDatasetJson(root);
  const channels = Object.keys(json.channel_names)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => json.channel_names[k]);
  const training = listCases(path.join(root, "imagesTr"), json.file_ending, channels.length);
  // A label without images still counts as a (broken) training case, so check can report it.
  const labelsDir = path.join(root, "labelsTr");
  if (existsSync(labelsDir)) {
    for (const name of readdirSync(labelsDir)) {
      if (name.endsWith(json.file_ending)) {
        const id = name.slice(0, -json.file_ending.length);
        if (!training.has(id)) training.set(id, Array(channels.length).fill(null));
      }
    }
  }
  const test = listCases(path.join(root, "imagesTs"), json.file_ending, channels.length);
  const ignoreLabel = typeof json.labels.ignore === "number" ? json.labels.ignore : null;
  const lesionLabels = Object.fromEntries(
    Object.entries(json.labels).filter(([name]) => name !== "background" && name !== "ignore"),
  );
  return {
    root,
    json,
    channels,
    lesionLabels,
    ignoreLabel,
    training: caseFiles(root, new Map([...training].sort(([a], [b]) => a.localeCompare(b))), json, "labelsTr"),
    test: caseFiles(root, test, json, null),
  };
}

/** A path relative to the dataset root, as used in messages ("labelsTr/case_003.nii.gz"). */
export function relative(dataset: Dataset, file: string): string {
  return path.relative(dataset.root, file) || file;
}
