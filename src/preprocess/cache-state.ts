// Whether a preprocessed cache is complete. Two markers, both written atomically and last:
//   {id}.json       per case: written after the case's arrays, removed before they are rewritten;
//   .complete.json  per configuration: written when every case of the dataset passed the checks
//                   and was cached, removed when a preprocess run starts.
// A preprocess that was killed leaves no .complete.json, and training refuses such a cache instead
// of training (and writing splits) on the cases that happened to be finished.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { Configuration } from "../plan/plan.js";
import { removeStaleTemps, writeFileAtomicSync } from "../util/atomic.js";

export const COMPLETE_MARKER = ".complete.json";

export interface CacheMarker {
  version: 1;
  configuration: string;
  /** Hash of the configuration's entry in plans.json: a replanned configuration needs a new cache. */
  configurationSha256: string;
  /** Every cached case, sorted. */
  cases: string[];
  finishedAt: string;
}

export class IncompleteCacheError extends Error {}

export function configurationHash(cfg: Configuration): string {
  return createHash("sha256").update(JSON.stringify(cfg)).digest("hex");
}

/** A preprocess run starts: the cache stops being complete, a killed run's temporary files go. */
export function beginCacheRun(dir: string): string[] {
  rmSync(path.join(dir, COMPLETE_MARKER), { force: true });
  return removeStaleTemps(dir);
}

/** A case is about to be (re)written: its marker goes first, so old metadata never describes new arrays. */
export function beginCase(dir: string, id: string): void {
  rmSync(path.join(dir, `${id}.json`), { force: true });
}

export function markCacheComplete(dir: string, configuration: string, cfg: Configuration, cases: string[]): void {
  const marker: CacheMarker = {
    version: 1,
    configuration,
    configurationSha256: configurationHash(cfg),
    cases: [...cases].sort(),
    finishedAt: new Date().toISOString(),
  };
  writeFileAtomicSync(path.join(dir, COMPLETE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
}

/** Case ids with a finished case marker ({id}.json), sorted. */
export function cachedCaseIds(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !f.startsWith("."))
    .map((f) => f.slice(0, -5))
    .sort();
}

/**
 * The cases of a complete cache, or an IncompleteCacheError saying what to run. `dataset` is the
 * dataset folder (for the command in the message).
 */
export function completeCaseIds(o: {
  cacheDir: string;
  configuration: string;
  cfg: Configuration;
  dataset: string;
}): string[] {
  const again = `run \`backsplit preprocess ${o.dataset} --config ${o.configuration}\``;
  if (!existsSync(o.cacheDir))
    throw new IncompleteCacheError(
      `configuration '${o.configuration}' is not preprocessed (${o.cacheDir} does not exist): ${again} first`,
    );
  const markerFile = path.join(o.cacheDir, COMPLETE_MARKER);
  const cached = cachedCaseIds(o.cacheDir);
  if (!existsSync(markerFile))
    throw new IncompleteCacheError(
      `${o.cacheDir}: preprocessing did not finish (no ${COMPLETE_MARKER}; ${cached.length} case(s) cached): ${again} (it redoes the cache; training on a partial cache is refused)`,
    );
  let marker: CacheMarker;
  try {
    marker = JSON.parse(readFileSync(markerFile, "utf8")) as CacheMarker;
  } catch (error) {
    throw new IncompleteCacheError(`${markerFile}: unreadable (${(error as Error).message}): ${again}`);
  }
  if (!Array.isArray(marker.cases) || marker.cases.length === 0)
    throw new IncompleteCacheError(`${markerFile}: lists no cases: ${again}`);
  if (marker.configurationSha256 !== configurationHash(o.cfg))
    throw new IncompleteCacheError(
      `${o.cacheDir}: was made with other plans for '${o.configuration}' (plans.json changed since): ${again}`,
    );
  const have = new Set(cached);
  const missing = marker.cases.filter((id) => !have.has(id));
  if (missing.length > 0)
    throw new IncompleteCacheError(
      `${o.cacheDir}: ${missing.length} case(s) listed as cached are missing (${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}): ${again}`,
    );
  return [...marker.cases].sort();
}
