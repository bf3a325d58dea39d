import path from "node:path";
import { type ExperimentConfig, runExperiment } from "../../experiment/experiment.js";
import { workerSteps } from "../../jobs/worker-steps.js";
import { ARCHITECTURES } from "../../models/registry.js";
import { openDatasetArg } from "../dataset-arg.js";
import { CliError, EXIT } from "../exit-codes.js";
import {
  BUDGET_NAMES,
  COLLAPSE,
  COMMON_HELP,
  COMMON_OPTIONS,
  type Verb,
  architectureOption,
  budgetOption,
  collapseOption,
  diceOverOption,
  intOption,
  positiveIntList,
} from "../verb.js";

const list = (v: unknown) => String(v).split(",").filter(Boolean);

function integers(raw: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number[] {
  const values = list(raw).map((v) => (v.trim() === "" ? Number.NaN : Number(v)));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < min || v > max))
    throw new CliError(
      `--${name} must be integers ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `${min}–${max}`} separated by commas, got '${raw}'`,
      EXIT.usage,
    );
  return values;
}

export const experimentVerb: Verb = {
  name: "experiment",
  args: "DIR",
  summary: "binary vs BackSplit with identical settings over folds × seeds: train, predict, evaluate, compare",
  help: `  --background A,B   background sources of the BackSplit arm, in priority order; repeat the
                     option for several BackSplit arms (each compared with binary)
  --folds 0,1,…      folds to run (default 0); predictions of all folds are pooled
  --seeds 1,2,…      seeds per arm (default 1)
  --budget B         tiny | small | medium | full, or --epochs N --iterations N
  --arch A           plain | resenc | segresnet
  --dice-over D      soft Dice over the lesion classes only (default) or all non-zero classes
                     (nnU-Net's; dilutes the lesion's share as background classes are added)
  --fisher-log       log Fisher proxies and gradient-norm variance every epoch (see backsplit fisher)
  --patch ZxYxX, --batch N, --features A,B,C   override the plan (small CPU runs)
  --collapse C       prob (default) or argmax at prediction
  --out DIR          experiment folder (default DIR/experiment)
${COMMON_HELP}`,
  options: {
    ...COMMON_OPTIONS,
    "fisher-log": { type: "boolean", default: false },
    "dice-over": { type: "string", default: "lesion" },
    background: { type: "string", multiple: true },
    folds: { type: "string", default: "0" },
    seeds: { type: "string", default: "1" },
    budget: { type: "string", default: "small" },
    epochs: { type: "string" },
    iterations: { type: "string" },
    arch: { type: "string", default: "plain" },
    patch: { type: "string" },
    batch: { type: "string" },
    features: { type: "string" },
    collapse: { type: "string", default: "prob" },
    out: { type: "string" },
  },
  choices: { arch: ARCHITECTURES, budget: BUDGET_NAMES, collapse: COLLAPSE, "dice-over": ["lesion", "all"] },
  async run(values, positionals) {
    const dataset = openDatasetArg(positionals);
    const backgrounds = ((values.background as string[] | undefined) ?? []).map(list).filter((l) => l.length);
    if (backgrounds.length === 0)
      throw new CliError("--background SOURCE[,SOURCE…] is required (the BackSplit arm's classes)", EXIT.usage);
    const budget = budgetOption(values);
    const architecture = architectureOption(values);
    const collapse = collapseOption(values);
    const root = path.resolve(dataset.root);
    const config: ExperimentConfig = {
      dataset,
      preprocessed: path.join(root, "preprocessed"),
      out: values.out ? path.resolve(String(values.out)) : path.join(root, "experiment"),
      sources: backgrounds[0],
      arms:
        backgrounds.length > 1
          ? backgrounds.map((sources) => ({ name: `backsplit_${sources.join("+")}`, sources }))
          : undefined,
      folds: integers(values.folds, "folds", 0, 4),
      seeds: integers(values.seeds, "seeds", 0),
      train: {
        configuration: "3d_fullres",
        epochs: intOption(values, "epochs", budget[0], 1),
        iterationsPerEpoch: intOption(values, "iterations", budget[1], 1),
        validationIterations: 5,
        batchSize: values.batch ? intOption(values, "batch", undefined, 1) : undefined,
        patchSize: positiveIntList(values, "patch", "x"),
        features: positiveIntList(values, "features", ","),
        architecture,
        lr: 1e-2,
        device: String(values.device),
        amp: false,
        threads: values.threads ? intOption(values, "threads", undefined, 1) : undefined,
        augment: true,
        lesionShare: 1 / 3,
        diceOver: diceOverOption(values),
        fisherLog: Boolean(values["fisher-log"]),
      },
      predict: {
        collapse,
        threshold: 0.5,
        mirror: false,
        device: String(values.device),
        saveProbabilities: true,
        saveClasses: false,
      },
    };
    const json = Boolean(values.json);
    const result = await runExperiment(config, workerSteps(json));
    if (json) {
      for (const c of result.comparisons) process.stdout.write(`${JSON.stringify({ event: "comparison", ...c })}\n`);
    } else {
      process.stdout.write(`${result.report.markdown}\nreport: ${result.report.html}\n`);
      process.stdout.write(
        `results in ${config.out} (evaluation_*.json, comparison_seed*.json, predictions/, runs/)\n`,
      );
    }
    return EXIT.ok;
  },
};
