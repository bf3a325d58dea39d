// The benchmarks' option parsing: node's parseArgs, but a wrong option is one line naming it and
// exit 2 (bad command line), as in the CLI, instead of a stack trace. `--help` is answered by
// scripts/run-bench.mjs from the benchmark's header comment before the benchmark starts.
import { type ParseArgsConfig, parseArgs as nodeParseArgs } from "node:util";
import { TILE_AVERAGES, type TileAverage } from "../../src/predict/tile-average.js";

export function parseArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof nodeParseArgs<T>> {
  try {
    return nodeParseArgs(config);
  } catch (error) {
    badOption((error as Error).message);
  }
}

function benchName(): string {
  return process.argv[1]?.replace(/^.*[\\/]/, "").replace(/\.js$/, "") ?? "bench";
}

/** A wrong option value: one line and exit 2, like parseArgs' own errors. */
export function badOption(message: string): never {
  process.stderr.write(`npm run bench -- ${benchName()}: ${message} (--help lists the options)\n`);
  process.exit(2);
}

/** Something the benchmark needs is missing (shared data, a tool): one line and exit 3. */
export function missingInput(message: string): never {
  process.stderr.write(`npm run bench -- ${benchName()}: ${message}\n`);
  process.exit(3);
}

/** --tile-average, checked (predict's choices). */
export function tileAverageArg(value: string): TileAverage {
  if (!TILE_AVERAGES.includes(value as TileAverage)) badOption(`--tile-average must be ${TILE_AVERAGES.join(" or ")}`);
  return value as TileAverage;
}
