// What the web app can show: the dataset's cases (images, lesion labels, background maps), and under
// the run folders the training runs (log.jsonl, training.json), prediction folders (prediction.json)
// and reports (report.html). Found by a bounded scan that never follows symbolic links.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { type Dataset, openDataset } from "../dataset/layout.js";
import { RUN_CHECKPOINTS, RUN_LOG, RUN_RECORD, TrainingRun } from "../run/record.js";

export interface Roots {
  /** Root id → absolute folder: "data" is the dataset, "r0", "r1", … the run folders. */
  [id: string]: string;
}

export interface FileRef {
  root: string;
  path: string;
}

export interface CaseEntry {
  id: string;
  split: "train" | "test";
  images: (FileRef | null)[];
  label: FileRef | null;
  backgrounds: Record<string, FileRef>;
  /** Prediction folder (e.g. "predictions/binary") → this case's prediction. */
  predictions: Record<string, FileRef>;
}

export interface RunEntry extends FileRef {
  mode?: string;
  sources?: string[];
  epochs?: number;
  hasLog: boolean;
}

export interface Catalog {
  dataset: {
    name: string;
    channels: string[];
    labels: Record<string, number>;
    sources: Record<string, { labels: Record<string, number>; description?: string }>;
  };
  cases: CaseEntry[];
  runs: RunEntry[];
  predictionFolders: FileRef[];
  reports: FileRef[];
}

const SKIP = new Set([
  RUN_CHECKPOINTS,
  "node_modules",
  "preprocessed",
  "imagesTr",
  "imagesTs",
  "labelsTr",
  "backgroundTr",
]);
const MAX_DIRS = 5000;

/** Folders under `root` (itself included), at most `depth` deep, in a stable order. */
function scan(root: string, depth = 5): { dir: string; files: Set<string> }[] {
  const out: { dir: string; files: Set<string> }[] = [];
  const queue: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }];
  while (queue.length && out.length < MAX_DIRS) {
    const { dir, depth: d } = queue.shift()!;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const files = new Set<string>();
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isFile()) files.add(e.name);
      else if (e.isDirectory() && d < depth && !e.name.startsWith(".") && !SKIP.has(e.name))
        queue.push({ dir: path.join(dir, e.name), depth: d + 1 });
    }
    out.push({ dir, files });
  }
  return out;
}

function rel(roots: Roots, id: string, file: string): FileRef {
  return { root: id, path: path.relative(roots[id], file).split(path.sep).join("/") || "." };
}

export function buildCatalog(roots: Roots): Catalog {
  const dataset: Dataset = openDataset(roots.data);
  const ref = (file: string | null) => (file ? rel(roots, "data", file) : null);
  const runs: RunEntry[] = [];
  const predictionFolders: (FileRef & { dir: string })[] = [];
  const reports: FileRef[] = [];
  for (const id of Object.keys(roots).filter((k) => k !== "data")) {
    for (const { dir, files } of scan(roots[id])) {
      if (files.has(RUN_RECORD) || files.has(RUN_LOG)) {
        const entry: RunEntry = { ...rel(roots, id, dir), hasLog: files.has(RUN_LOG) };
        // A run that has just started may not have training.json yet.
        const config = new TrainingRun(dir).recordOrNull()?.config;
        entry.mode = config?.mode;
        entry.sources = config?.sources;
        entry.epochs = config?.epochs;
        runs.push(entry);
      }
      if (files.has("prediction.json")) predictionFolders.push({ ...rel(roots, id, dir), dir });
      if (files.has("report.html")) reports.push(rel(roots, id, path.join(dir, "report.html")));
    }
  }
  const ending = dataset.json.file_ending;
  const entry =
    (split: "train" | "test") =>
    (c: Dataset["training"][number]): CaseEntry => {
      const predictions: Record<string, FileRef> = {};
      for (const folder of predictionFolders) {
        for (const name of [`${c.id}${ending}`, `${c.id}.nii.gz`]) {
          const file = path.join(folder.dir, name);
          if (existsSync(file)) {
            predictions[`${folder.root}:${folder.path}`] = rel(roots, folder.root, file);
            break;
          }
        }
      }
      return {
        id: c.id,
        split,
        images: c.images.map(ref),
        label: ref(c.label),
        backgrounds: Object.fromEntries(Object.entries(c.backgrounds).map(([s, f]) => [s, ref(f)!])),
        predictions,
      };
    };
  return {
    dataset: {
      name: dataset.json.name ?? path.basename(roots.data),
      channels: dataset.channels,
      labels: dataset.json.labels,
      sources: dataset.json.background_sources ?? {},
    },
    cases: [...dataset.training.map(entry("train")), ...dataset.test.map(entry("test"))],
    runs,
    predictionFolders: predictionFolders.map(({ root, path: p }) => ({ root, path: p })),
    reports,
  };
}
