// The shape of one CLI verb: options for node:util parseArgs, a usage text and a runner.
import type { ParseArgsConfig } from "node:util";
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

export function intOption(values: OptionValues, name: string, fallback?: number): number {
  const raw = values[name];
  if (raw === undefined) {
    if (fallback === undefined) throw new CliError(`--${name} is required`, EXIT.usage);
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new CliError(`--${name} must be an integer, got '${raw}'`, EXIT.usage);
  return n;
}

/** --dice-over: "lesion" (default) or "all". */
/** --batch-dice on|off; absent: the plan decides. */
export function batchDiceOption(values: OptionValues): boolean | undefined {
  const v = values["batch-dice"];
  if (v === undefined) return undefined;
  if (v !== "on" && v !== "off") throw new CliError(`--batch-dice must be on or off, got '${v}'`, EXIT.usage);
  return v === "on";
}

export function diceOverOption(values: OptionValues): "lesion" | "all" {
  const v = String(values["dice-over"] ?? "lesion");
  if (v !== "lesion" && v !== "all") throw new CliError(`--dice-over must be lesion or all, got '${v}'`, EXIT.usage);
  return v;
}
