// Writing a background source into a dataset: maps under backgroundTr/<source>/{case}{ending}
// (atomic, never into another source's folder) and the class names in dataset.json.
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { Dataset, DatasetJson } from "../dataset/layout.js";
import { writeVolume } from "../io/read.js";
import type { Volume } from "../io/volume.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { assertUnlocked } from "../util/lock.js";

const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function checkSourceName(name: string): void {
  if (!SOURCE_NAME.test(name))
    throw new Error(`source name '${name}' must be letters, digits, '_', '-' or '.' (no slashes)`);
}

export function sourceDir(dataset: Dataset, source: string): string {
  checkSourceName(source);
  return path.join(dataset.root, "backgroundTr", source);
}

/** The lock file of a source's writer: backgroundTr/.<source>.lock, holding its PID. */
export function sourceLock(dataset: Dataset, source: string): string {
  return path.join(dataset.root, "backgroundTr", `.${source}.lock`);
}

/** Refuses an existing source unless `replace` is set, and a source another process is writing. */
export function refuseExisting(dataset: Dataset, source: string, replace: boolean): string {
  const dir = sourceDir(dataset, source);
  const declared = dataset.json.background_sources?.[source] !== undefined;
  if ((declared || existsSync(dir)) && !replace) {
    throw new Error(
      `background source '${source}' already exists in ${dataset.root} (use --replace to overwrite it, or another --source name)`,
    );
  }
  return dir;
}

/** Refuses to replace an existing source unless `replace` is set (then its folder is emptied first). */
export function prepareSource(dataset: Dataset, source: string, replace: boolean): string {
  assertUnlocked(sourceLock(dataset, source), `background source '${source}'`);
  const dir = refuseExisting(dataset, source, replace);
  if (replace) rmSync(dir, { recursive: true, force: true });
  return dir;
}

export async function writeSourceMap(dataset: Dataset, source: string, caseId: string, map: Volume): Promise<string> {
  const file = path.join(sourceDir(dataset, source), `${caseId}${dataset.json.file_ending}`);
  await writeVolume(file, map);
  return file;
}

/** Records the source's class names (name → value) in dataset.json, re-reading it first so concurrent edits survive. */
export function registerSource(
  dataset: Dataset,
  source: string,
  labels: Record<string, number>,
  description?: string,
): void {
  const file = path.join(dataset.root, "dataset.json");
  const json = JSON.parse(readFileSync(file, "utf8")) as DatasetJson;
  json.background_sources = {
    ...(json.background_sources ?? {}),
    [source]: { labels, ...(description ? { description } : {}) },
  };
  writeFileAtomicSync(file, `${JSON.stringify(json, null, 2)}\n`);
  dataset.json.background_sources = json.background_sources;
}
