// The shape of one CLI verb: options for node:util parseArgs, a usage text and a runner.
import type { ParseArgsConfig } from "node:util";
import { BUDGETS } from "../jobs/worker-steps.js";
import { ARCHITECTURES, type ArchitectureName } from "../models/registry.js";
import { DEFAULT_TILE_AVERAGE, TILE_AVERAGES } from "../predict/tile-average.js";
import { CliError, EXIT } from "./exit-codes.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface Verb {
  /** Words after `backsplit`, e.g. "engine info". */
  name: string;
  summary: string;
  /** Positional arguments, e.g. "DIR". */
  args?: string;
  /** Lines describing options and behaviour, shown by --help. */
  help: string;
  options: OptionSpec;
  /**
   * The words each choice option accepts (e.g. collapse: COLLAPSE): main() refuses any other before
   * the verb runs, and test/cli checks that the help names every option and every word.
   */
  choices?: Record<string, readonly string[]>;
  run(values: OptionValues, positionals: string[]): Promise<number>;
}

/** Options every long-running verb accepts. */
export const COMMON_OPTIONS: OptionSpec = {
  json: { type: "boolean", default: false },
  threads: { type: "string" },
  device: { type: "string", default: "auto" },
  seed: { type: "string", default: "0" },
};

export const COMMON_HELP = `  --device D     cpu, cuda, cuda:N or auto (default auto)
  --threads N    libtorch CPU threads (default: BACKSPLIT_THREADS or all cores)
  --seed N       random seed (default 0); CPU runs with the same seed are identical
  --json         JSON lines on stdout instead of progress bars and tables`;

/** An integer option, optionally within [min, max] (a usage error, exit 2, otherwise). */
export function intOption(values: OptionValues, name: string, fallback?: number, min?: number, max?: number): number {
  const raw = values[name];
  if (raw === undefined) {
    if (fallback === undefined) throw new CliError(`--${name} is required`, EXIT.usage);
    return fallback;
  }
  const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n)) throw new CliError(`--${name} must be an integer, got '${raw}'`, EXIT.usage);
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    const range = max === undefined ? `at least ${min}` : min === undefined ? `at most ${max}` : `${min}–${max}`;
    throw new CliError(`--${name} must be ${range}, got ${n}`, EXIT.usage);
  }
  return n;
}

/** A finite number option, optionally > 0 or within a range (exit 2 otherwise). */
export function numberOption(
  values: OptionValues,
  name: string,
  fallback: number,
  o: { positive?: boolean; min?: number; max?: number } = {},
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n)) throw new CliError(`--${name} must be a number, got '${raw}'`, EXIT.usage);
  if (o.positive && !(n > 0)) throw new CliError(`--${name} must be greater than 0, got ${n}`, EXIT.usage);
  if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max))
    throw new CliError(`--${name} must be between ${o.min ?? "-∞"} and ${o.max ?? "∞"}, got ${n}`, EXIT.usage);
  return n;
}

/** A list of positive integers separated by `sep` ("4,8,16", "64x64x32"); exit 2 otherwise. */
export function positiveIntList(values: OptionValues, name: string, sep: string): number[] | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const parts = String(raw).split(sep);
  const list = parts.map((p) => (p.trim() === "" ? Number.NaN : Number(p)));
  if (list.some((n) => !Number.isInteger(n) || n < 1))
    throw new CliError(
      `--${name} must be positive integers separated by '${sep}' (e.g. ${sep === "x" ? "64x64x32" : "16,32,64"}), got '${raw}'`,
      EXIT.usage,
    );
  return list;
}

/** "a", "a or b", "a, b or c". */
export function orList(words: readonly string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** One word of `choices` (exit 2 otherwise); absent: `fallback`, or the option is required. */
export function choiceOption<T extends string>(
  values: OptionValues,
  name: string,
  choices: readonly T[],
  fallback?: T,
): T {
  const raw = values[name];
  if (raw === undefined) {
    if (fallback === undefined) throw new CliError(`--${name} is required`, EXIT.usage);
    return fallback;
  }
  const v = String(raw);
  if (!choices.includes(v as T)) throw new CliError(`--${name} must be ${orList(choices)}, got '${v}'`, EXIT.usage);
  return v as T;
}

// The words of options that several verbs share, validated in one place.
export const COLLAPSE = ["prob", "argmax"] as const;
export const CHECKPOINT = ["latest", "best"] as const;
/** What overlapping sliding-window tiles average (predict/tile-average.ts). */
export const TILE_AVERAGE = TILE_AVERAGES;
/** What voxels no background source labels become (labels/merge.ts). */
export const UNASSIGNED = ["background", "ignore", "marginal"] as const;

/** --collapse prob|argmax (predict, export, experiment). */
export function collapseOption(values: OptionValues): (typeof COLLAPSE)[number] {
  return choiceOption(values, "collapse", COLLAPSE, "prob");
}

/** --checkpoint latest|best (predict, export). */
export function checkpointOption(values: OptionValues): (typeof CHECKPOINT)[number] {
  return choiceOption(values, "checkpoint", CHECKPOINT, "latest");
}

/** --tile-average logits|probabilities (predict, experiment). */
export function tileAverageOption(values: OptionValues): (typeof TILE_AVERAGE)[number] {
  return choiceOption(values, "tile-average", TILE_AVERAGE, DEFAULT_TILE_AVERAGE);
}

/** --unassigned background|ignore|marginal (train, labels merge). */
export function unassignedOption(values: OptionValues): (typeof UNASSIGNED)[number] {
  return choiceOption(values, "unassigned", UNASSIGNED, "background");
}

/** --arch: one of the registered architectures (train, experiment). */
export function architectureOption(values: OptionValues): ArchitectureName {
  return choiceOption(values, "arch", ARCHITECTURES, "plain");
}

/** The names --budget accepts. */
export const BUDGET_NAMES = Object.keys(BUDGETS);

/** --budget: epochs × iterations per epoch by name (train, experiment). */
export function budgetOption(values: OptionValues): [number, number] {
  return BUDGETS[choiceOption(values, "budget", BUDGET_NAMES, "small")];
}

/** --batch-dice on|off; absent: the plan decides. */
export function batchDiceOption(values: OptionValues): boolean | undefined {
  if (values["batch-dice"] === undefined) return undefined;
  return choiceOption(values, "batch-dice", ["on", "off"]) === "on";
}

/** --dice-over: "lesion" (default) or "all". */
export function diceOverOption(values: OptionValues): "lesion" | "all" {
  return choiceOption(values, "dice-over", ["lesion", "all"], "lesion");
}
