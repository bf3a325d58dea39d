// backsplit <verb> [options]: finds the verb, parses its options, maps errors to exit codes.
import { parseArgs } from "node:util";
import { CliError, EXIT } from "./exit-codes.js";
import { type OptionValues, type Verb, choiceOption } from "./verb.js";
import { datasetCheckVerb, datasetImportMsdVerb, datasetStatsVerb } from "./verbs/dataset.js";
import { demoVerb } from "./verbs/demo.js";
import { engineInfoVerb } from "./verbs/engine-info.js";
import { compareVerb, evaluateVerb } from "./verbs/evaluate.js";
import { experimentVerb } from "./verbs/experiment.js";
import { exportVerb } from "./verbs/export.js";
import { fisherVerb } from "./verbs/fisher.js";
import {
  labelsClusterVerb,
  labelsGroupVerb,
  labelsImportVerb,
  labelsInteractiveVerb,
  labelsMergeVerb,
  labelsPredictVerb,
} from "./verbs/labels.js";
import { planVerb, preprocessVerb } from "./verbs/plan.js";
import { postprocessVerb } from "./verbs/postprocess.js";
import { predictVerb } from "./verbs/predict.js";
import { serveVerb } from "./verbs/serve.js";
import { smokeVerb } from "./verbs/smoke.js";
import { trainVerb } from "./verbs/train.js";

export const VERBS: Verb[] = [
  demoVerb,
  engineInfoVerb,
  smokeVerb,
  datasetCheckVerb,
  datasetStatsVerb,
  datasetImportMsdVerb,
  planVerb,
  preprocessVerb,
  labelsImportVerb,
  labelsPredictVerb,
  labelsGroupVerb,
  labelsClusterVerb,
  labelsInteractiveVerb,
  labelsMergeVerb,
  trainVerb,
  predictVerb,
  postprocessVerb,
  exportVerb,
  evaluateVerb,
  compareVerb,
  experimentVerb,
  fisherVerb,
  serveVerb,
];

const EXIT_HELP = `Exit codes: 0 success, 1 the job failed or found problems, 2 bad command line,
3 missing environment (engine not built, device or file missing), 130 interrupted (SIGINT),
143 terminated (SIGTERM), 129 hang-up or launcher gone.`;

function overview(prefix = ""): string {
  const verbs = VERBS.filter((v) => v.name.startsWith(prefix));
  const width = Math.max(...verbs.map((v) => v.name.length)) + 2;
  return [
    "usage: backsplit <verb> [options]   (backsplit <verb> --help for its options)",
    "",
    ...verbs.map((v) => `  ${v.name.padEnd(width)}${v.summary}`),
    "",
    EXIT_HELP,
  ].join("\n");
}

function verbHelp(verb: Verb): string {
  return [
    `usage: backsplit ${verb.name}${verb.args ? ` ${verb.args}` : ""} [options]`,
    "",
    verb.summary,
    "",
    verb.help,
  ].join("\n");
}

function findVerb(argv: string[]): { verb: Verb; rest: string[] } | null {
  // Longest match first: "engine info" before "engine".
  for (let n = Math.min(3, argv.length); n >= 1; n--) {
    const name = argv.slice(0, n).join(" ");
    const verb = VERBS.find((v) => v.name === name);
    if (verb) return { verb, rest: argv.slice(n) };
  }
  return null;
}

export async function main(argv: string[]): Promise<number> {
  // Output piped into `head` and closed early is not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT.ok);
    throw error;
  });
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    process.stdout.write(`${overview()}\n`);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (argv[0] === "--version") {
    process.stdout.write("backsplit 0.1.0\n");
    return EXIT.ok;
  }
  const found = findVerb(argv);
  if (!found) {
    const group = VERBS.some((v) => v.name.startsWith(`${argv[0]} `));
    const helpAsked = argv.includes("--help") || argv.includes("-h");
    if (group) {
      process.stdout.write(`${overview(`${argv[0]} `)}\n`);
      return helpAsked ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`backsplit: unknown verb '${argv[0]}'\n\n${overview()}\n`);
    return EXIT.usage;
  }
  const { verb, rest } = found;
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${verbHelp(verb)}\n`);
    return EXIT.ok;
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: verb.options, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`backsplit ${verb.name}: ${(error as Error).message}\n\n${verbHelp(verb)}\n`);
    return EXIT.usage;
  }
  try {
    for (const [name, words] of Object.entries(verb.choices ?? {}))
      if (parsed.values[name] !== undefined) choiceOption(parsed.values as OptionValues, name, words);
    return await verb.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
  } catch (error) {
    const e = error as Error & { exitCode?: number; code?: string };
    const code =
      error instanceof CliError
        ? e.exitCode!
        : /not built|no CUDA device|only \d+ CUDA/.test(e.message) || e.code === "ENOENT"
          ? EXIT.environment
          : EXIT.failure;
    process.stderr.write(`backsplit ${verb.name}: ${e.message}\n`);
    if (process.env.BACKSPLIT_DEBUG) process.stderr.write(`${e.stack}\n`);
    return code;
  }
}
