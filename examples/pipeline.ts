// The whole BackSplit pipeline as a library user writes it, on generated phantoms (no downloads):
//
//   dataset → background sources → plan → preprocess → train binary and BackSplit → predict → evaluate → report
//
// Every import goes through the package's public subpaths ("backsplit/<stage>"), exactly as in a
// project that depends on backsplit; inside this repository they resolve by self-reference through
// package.json "exports". Build with `npm run build:ts`, then:
//
//   node dist/examples/pipeline.js OUT [--budget tiny|small] [--epochs N] [--iterations N]
//        [--train N] [--test N] [--seed N] [--device cpu|cuda|auto] [--threads N]
//
// The budget can also come from the environment: BACKSPLIT_EXAMPLE_BUDGET=tiny. `--tiny` is short for
// `--budget tiny` (what the tests run: under a minute on two cores; the numbers mean nothing).
// `small` (the default) takes about a minute on two cores; `backsplit demo` is the fuller version.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { openDataset } from "backsplit/dataset";
import { writePhantomDataset } from "backsplit/demo";
import { type Evaluation, compareEvaluations, evaluateFolders, summarize } from "backsplit/evaluate";
import { clusterSource } from "backsplit/labels";
import { fingerprintDataset, planExperiment, writePlans } from "backsplit/plan";
import { predictFolder } from "backsplit/predict";
import { preprocessDataset } from "backsplit/preprocess";
import { writeReport } from "backsplit/report";
import { TrainingRun } from "backsplit/run";
import { type TrainConfig, train } from "backsplit/train";

/** Training budget and data size of each named budget. */
const BUDGETS = {
  tiny: { epochs: 2, iterations: 2, train: 3, test: 2, features: [4, 8], patch: [16, 16, 16] },
  small: { epochs: 10, iterations: 20, train: 8, test: 4, features: [8, 16, 32], patch: [24, 24, 24] },
} as const;
type BudgetName = keyof typeof BUDGETS;

const USAGE =
  "usage: node dist/examples/pipeline.js OUT [--budget tiny|small | --tiny] [--epochs N] [--iterations N] [--train N] [--test N] [--seed N] [--device D] [--threads N]";

function options(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      budget: { type: "string" },
      tiny: { type: "boolean" },
      epochs: { type: "string" },
      iterations: { type: "string" },
      train: { type: "string" },
      test: { type: "string" },
      seed: { type: "string", default: "1" },
      device: { type: "string", default: "cpu" },
      threads: { type: "string", default: "1" },
    },
  });
  if (positionals.length !== 1) throw new Error(USAGE);
  const name = values.tiny ? "tiny" : (values.budget ?? process.env.BACKSPLIT_EXAMPLE_BUDGET ?? "small");
  if (!(name in BUDGETS)) throw new Error(`unknown budget '${name}' (tiny or small)\n${USAGE}`);
  const budget = BUDGETS[name as BudgetName];
  const int = (v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got '${v}'\n${USAGE}`);
    return n;
  };
  return {
    out: path.resolve(positionals[0]),
    budget: name,
    epochs: int(values.epochs, budget.epochs),
    iterations: int(values.iterations, budget.iterations),
    train: int(values.train, budget.train),
    test: int(values.test, budget.test),
    features: [...budget.features],
    patch: [...budget.patch],
    seed: int(values.seed, 1),
    device: values.device ?? "cpu",
    threads: int(values.threads, 1),
  };
}

/** The two arms: the same network, data and budget; only the training targets differ. */
const ARMS = [
  { name: "binary", mode: "binary", sources: [] },
  // The background split by the phantom's tissue map, then (where it says nothing) by the clustering.
  { name: "backsplit", mode: "backsplit", sources: ["tissue", "gmm"] },
] as const;

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`[pipeline] ${m}\n`);
  mkdirSync(o.out, { recursive: true });

  // 1. Dataset: phantoms in nnU-Net layout (imagesTr, labelsTr, imagesTs, labelsTs, dataset.json), with
  //    each training case's ground-truth tissue map as the background source "tissue".
  const root = path.join(o.out, "dataset");
  log(`${o.train} training and ${o.test} test phantoms in ${root}`);
  writePhantomDataset(root, { train: o.train, test: o.test, seed: o.seed });

  // 2. A second background source that needs no labels at all: a 3-class Gaussian mixture on the image.
  await clusterSource(openDataset(root), { source: "gmm", k: 3, workers: 1 });
  const dataset = openDataset(root); // re-read: dataset.json now lists both sources

  // 3. Plan (spacing, patch, network) from the dataset's fingerprint, then preprocess into the cache.
  const preprocessed = path.join(root, "preprocessed");
  const fingerprint = await fingerprintDataset(dataset, { workers: 1 });
  const plans = planExperiment(dataset, fingerprint, { device: o.device, memoryBudgetGb: 0.5 });
  writePlans(preprocessed, plans);
  log("preprocessing");
  await preprocessDataset(dataset, plans, "3d_fullres", preprocessed, { workers: 1 });

  // 4–6. Per arm: train, predict the held-out phantoms, evaluate lesion by lesion.
  const evaluations: Record<string, Evaluation> = {};
  const logs: Record<string, string> = {};
  for (const arm of ARMS) {
    const run = path.join(o.out, "runs", arm.name);
    const config: TrainConfig = {
      dataset: root,
      preprocessed,
      configuration: "3d_fullres",
      mode: arm.mode,
      sources: [...arm.sources],
      fold: "all",
      epochs: o.epochs,
      iterationsPerEpoch: o.iterations,
      validationIterations: 1,
      batchSize: 2,
      patchSize: o.patch,
      features: o.features,
      lr: 1e-2,
      device: o.device,
      seed: o.seed,
      amp: false,
      threads: o.threads,
      out: run,
      resume: false,
      augment: true,
      lesionShare: 1 / 3,
      diceOver: "lesion",
    };
    log(`training ${arm.name} (${o.epochs} epochs × ${o.iterations} iterations)`);
    const trained = await train(config, (m) => {
      const r = m as { kind: string; epoch?: number; pseudoDice?: number };
      if (r.kind === "epoch") log(`  ${arm.name} epoch ${r.epoch}: pseudo-Dice ${r.pseudoDice?.toFixed(3)}`);
    });
    logs[arm.name] = new TrainingRun(trained.out).logFile;

    const predictions = path.join(o.out, "predictions", arm.name);
    log(`predicting ${arm.name}`);
    await predictFolder({
      runs: [run],
      input: path.join(root, "imagesTs"),
      out: predictions,
      threads: o.threads,
      options: {
        collapse: "prob", // lesion where Σ p(lesion classes) > threshold: the background split is summed away
        threshold: 0.5,
        mirror: false,
        device: o.device,
        saveProbabilities: false,
        saveClasses: false,
        tileStep: o.budget === "tiny" ? 1 : 0.5,
      },
    });

    evaluations[arm.name] = await evaluateFolders(predictions, path.join(root, "labelsTs"));
    writeFileSync(path.join(o.out, `evaluation_${arm.name}.json`), `${JSON.stringify(evaluations[arm.name])}\n`);
  }

  // 7. Compare the arms case by case and write the report (HTML, JSON, CSV, Markdown).
  const comparison = compareEvaluations(evaluations.binary, evaluations.backsplit, ["binary", "backsplit"], o.seed);
  const report = await writeReport(o.out, {
    title: "backsplit example pipeline: binary vs BackSplit on phantoms",
    comparison,
    a: evaluations.binary,
    b: evaluations.backsplit,
    logs,
    montages: evaluations.binary.cases.slice(0, 2).map((c) => ({
      id: c.id,
      image: path.join(root, "imagesTs", `${c.id}_0000.nii.gz`),
      reference: path.join(root, "labelsTs", `${c.id}.nii.gz`),
      predictionA: path.join(o.out, "predictions", "binary", `${c.id}.nii.gz`),
      predictionB: path.join(o.out, "predictions", "backsplit", `${c.id}.nii.gz`),
    })),
    facts: {
      data: `${o.train} training / ${o.test} test phantoms, seed ${o.seed}`,
      budget: `${o.budget}: ${o.epochs} epochs × ${o.iterations} iterations, patch ${o.patch.join("×")}, features ${o.features.join(", ")}`,
      device: o.device,
    },
  });

  for (const arm of ARMS) {
    const lesion = summarize(evaluations[arm.name]).perClass["1"].means;
    log(`${arm.name}: lesion F1 ${lesion.f1.toFixed(3)}, Dice ${lesion.dice.toFixed(3)}`);
  }
  process.stdout.write(`${report.markdown}\nreport: ${report.html}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
