// What `train` checks before it starts a worker or creates a run folder: the preprocessed
// folder, plans.json, the configuration, a complete cache, and the overrides against the plan.
// Every refusal is one line saying what to run or what to change (exit 2 for the command line,
// 3 for something not there yet, 1 for an incomplete cache).
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Plans } from "../plan/plan.js";
import { IncompleteCacheError, completeCaseIds } from "../preprocess/cache-state.js";
import { CliError, EXIT } from "./exit-codes.js";

export interface TrainInputs {
  dataset: string;
  preprocessed: string;
  configuration: string;
  fold: number | "all";
  patchSize?: number[];
  features?: number[];
}

export function checkTrainInputs(o: TrainInputs): void {
  if (!existsSync(o.dataset) || !statSync(o.dataset).isDirectory())
    throw new CliError(`${o.dataset}: no such dataset folder`, EXIT.environment);
  if (!existsSync(path.join(o.dataset, "dataset.json")))
    throw new CliError(`${o.dataset}: no dataset.json (not an nnU-Net dataset folder)`, EXIT.environment);
  const plansFile = path.join(o.preprocessed, "plans.json");
  if (!existsSync(plansFile))
    throw new CliError(
      `${plansFile}: missing: run \`backsplit preprocess ${o.dataset} --config ${o.configuration}\` first`,
      EXIT.environment,
    );
  let plans: Plans;
  try {
    plans = JSON.parse(readFileSync(plansFile, "utf8")) as Plans;
  } catch (error) {
    throw new CliError(`${plansFile}: not valid JSON (${(error as Error).message})`, EXIT.failure);
  }
  const cfg = plans.configurations?.[o.configuration];
  if (!cfg)
    throw new CliError(
      `--config ${o.configuration}: plans.json has no such configuration (has: ${Object.keys(plans.configurations ?? {}).join(", ")})`,
      EXIT.usage,
    );
  const cacheDir = path.join(o.preprocessed, cfg.data_identifier);
  let ids: string[];
  try {
    ids = completeCaseIds({ cacheDir, configuration: o.configuration, cfg, dataset: o.dataset });
  } catch (error) {
    if (!(error instanceof IncompleteCacheError)) throw error;
    throw new CliError(error.message, existsSync(cacheDir) ? EXIT.failure : EXIT.environment);
  }
  const splitsFile = path.join(o.preprocessed, "splits_final.json");
  let folds = Math.min(5, ids.length);
  try {
    if (existsSync(splitsFile)) folds = (JSON.parse(readFileSync(splitsFile, "utf8")) as unknown[]).length || folds;
  } catch {
    // training reports an unreadable splits file itself
  }
  if (o.fold !== "all" && o.fold >= folds)
    throw new CliError(
      `--fold ${o.fold}: ${ids.length} preprocessed cases make ${folds} fold(s) (0–${folds - 1})`,
      EXIT.usage,
    );
  const stages = o.features?.length ?? cfg.architecture.features.length;
  if (stages > cfg.architecture.strides.length)
    throw new CliError(
      `--features: at most ${cfg.architecture.strides.length} stages for this plan, got ${stages}`,
      EXIT.usage,
    );
  if (o.patchSize) {
    if (o.patchSize.length !== cfg.dims)
      throw new CliError(
        `--patch ${o.patchSize.join("x")}: configuration '${o.configuration}' is ${cfg.dims}D, give ${cfg.dims} sizes (plan: ${cfg.patch_size.join("x")})`,
        EXIT.usage,
      );
    // Every stage halves (or keeps) each axis: the patch must divide by the total downsampling.
    const factor = cfg.patch_size.map((_, a) =>
      cfg.architecture.strides.slice(0, stages).reduce((f, s) => f * (s[a] ?? 1), 1),
    );
    if (o.patchSize.some((n, a) => n % factor[a] !== 0))
      throw new CliError(
        `--patch ${o.patchSize.join("x")}: each size must be a multiple of ${factor.join("x")} (the network's downsampling over ${stages} stages)`,
        EXIT.usage,
      );
  }
}
