// The real-data benchmark shared by `bench -- ms` and `bench -- brats`: build the dataset and its
// background sources from ../shared/data (once; reused on the next run), plan and preprocess, run the
// experiment (binary and one BackSplit arm per source, same folds, seeds and budget), then print one
// JSON line per arm with pooled lesion-level metrics and bootstrap CIs, and write summary files.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Dataset, openDataset } from "../../src/dataset/layout.js";
import type { Evaluation } from "../../src/evaluate/evaluate.js";
import { type PooledMetric, type PooledSummary, pooledLesionSummary } from "../../src/evaluate/pooled.js";
import {
  type ExperimentArm,
  type ExperimentConfig,
  type ExperimentResult,
  collectExperiment,
  experimentJobs,
  runExperiment,
} from "../../src/experiment/experiment.js";
import { runJobsInParallel, writeExperimentPlan } from "../../src/experiment/scale-out.js";
import { workerSteps } from "../../src/jobs/worker-steps.js";
import { fingerprintDataset } from "../../src/plan/fingerprint.js";
import { type Plans, planExperiment, writePlans } from "../../src/plan/plan.js";
import { DEFAULT_TILE_AVERAGE } from "../../src/predict/tile-average.js";
import { preprocessDataset } from "../../src/preprocess/preprocess.js";
import { TrainingRun } from "../../src/run/record.js";
import { writeFileAtomicSync } from "../../src/util/atomic.js";
import { badOption, missingInput, parseArgs, tileAverageArg } from "./args.js";

export interface Preset {
  /** nnU-Net configuration: "2d" or "3d_fullres". */
  configuration: "2d" | "3d_fullres";
  seeds: number[];
  epochs: number;
  iterations: number;
  patch: number[];
  features: number[];
  batch: number;
  /** Sliding-window step as a fraction of the patch (0.5 as nnU-Net; 1 for no overlap). */
  tileStep: number;
  /** Validation patches per epoch (default 4). */
  validationIterations?: number;
}

/** The presets both real benchmarks use. */
export const PRESETS: Record<string, Preset> = {
  // 2D (nnU-Net's 2d configuration) to fit a 2-core CPU: measured MS 42.8 min with its 5 arms and the
  // sources, BraTS 30.2 min (docs/results.md).
  quick: {
    configuration: "2d",
    seeds: [1, 2],
    epochs: 20,
    iterations: 40,
    patch: [96, 96],
    features: [8, 16, 32, 64],
    batch: 4,
    tileStep: 0.5,
  },
  // 3D sized for 2 CPU cores (#18): the network and budget under which our trainer beat the PyTorch twin
  // in 3D (docs/results.md §0), 500 iterations. `bench -- ms --preset small3d --arms atlas,clicks`.
  small3d: {
    configuration: "3d_fullres",
    seeds: [1, 2, 3],
    epochs: 20,
    iterations: 25,
    patch: [48, 48, 48],
    features: [8, 16, 32, 64],
    batch: 2,
    tileStep: 0.5,
  },
  // A GPU run: 3D, nnU-Net-like widths and a longer schedule.
  full: {
    configuration: "3d_fullres",
    seeds: [1, 2, 3],
    epochs: 100,
    iterations: 100,
    patch: [96, 96, 96],
    features: [32, 64, 128, 256, 320],
    batch: 2,
    tileStep: 0.5,
  },
};

export interface Prepared {
  /** BackSplit arms: name → background sources in priority order (and what unlabelled voxels become). */
  arms: ExperimentArm[];
  /** Folds (each test case predicted by the model that did not see it). */
  splits: { train: string[]; val: string[] }[];
  /** Lesions below this volume count as small. */
  smallMm3: number;
  notes: string[];
}

export interface RealBenchmark {
  name: string;
  presets: Record<string, Preset>;
  /** Writes imagesTr/labelsTr/dataset.json and the background sources into `root`. */
  prepare(root: string, log: (m: string) => void): Promise<Prepared>;
}

export const SHARED = path.resolve(process.env.BACKSPLIT_SHARED_DATA ?? path.join("..", "shared", "data"));

function fmt(m: PooledMetric): string {
  const ci = Number.isNaN(m.ci[0]) ? "" : ` [${m.ci[0].toFixed(3)}, ${m.ci[1].toFixed(3)}]`;
  const spread = m.perSeed.length > 1 ? ` ±${m.seedSd.toFixed(3)}` : "";
  return `${m.value.toFixed(3)}${spread}${ci}`;
}

const PAIRED = ["lesionF1", "recall", "smallLesionRecall", "falsePositivesPerCase", "voxelDice"] as const;
/** Metrics where a lower value is better. */
const LOWER_IS_BETTER = new Set<string>(["falsePositivesPerCase"]);

export interface PairedDifference {
  /** Arm − binary, seed by seed (each seed's models on the same test cases). */
  perSeed: number[];
  mean: number;
  sd: number;
  /** Seeds on which the arm was better than binary (lower for false positives). */
  better: number;
}

/** Per-seed paired differences arm − binary of the pooled metrics. */
export function pairedBySeed(arm: PooledSummary, binary: PooledSummary): Record<string, PairedDifference> {
  return Object.fromEntries(
    PAIRED.map((m) => {
      const d = arm[m].perSeed.map((v, i) => v - binary[m].perSeed[i]);
      const valid = d.filter((x) => !Number.isNaN(x));
      const mean = valid.reduce((a, b) => a + b, 0) / Math.max(valid.length, 1);
      const sd = Math.sqrt(valid.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(valid.length - 1, 1));
      const better = valid.filter((x) => (LOWER_IS_BETTER.has(m) ? x < 0 : x > 0)).length;
      return [m, { perSeed: d, mean, sd, better }];
    }),
  );
}

/**
 * The model's Fisher trace ratio tr I_Y / tr I_Z (Monte Carlo, first validation patch, last epoch of the
 * --fisher-log; Y the model's own classes, Z their lesion/background coarsening), averaged over the folds,
 * one value per seed: how much more the model's labels say about its weights than the binary label does
 * (1 for a binary model, whose Y is Z).
 */
export function fisherTraceRatios(experimentDir: string, arm: string, seeds: number[], folds: number[]): number[] {
  return seeds.map((seed) => {
    const ratios = folds.flatMap((fold) => {
      const log = new TrainingRun(path.join(experimentDir, "runs", `${arm}_seed${seed}_fold${fold}`)).log();
      const last = [...log].reverse().find((e) => e.fisher && e.fisher.traceZ > 0);
      return last?.fisher ? [last.fisher.traceY / last.fisher.traceZ] : [];
    });
    return ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : Number.NaN;
  });
}

/**
 * When each training of an arm first predicted a lesion on its validation patches, per seed and fold: the
 * epoch counted from its first start (a stalled start's epochs included; null: never), and whether it
 * started over. A study is only as good as its weakest run, so the summary shows every one.
 */
export function learningEpochs(
  experimentDir: string,
  arm: string,
  seeds: number[],
  folds: number[],
): { firstLearningEpoch: (number | null)[][]; restarted: boolean[][] } {
  const runs = seeds.map((seed) =>
    folds.map((fold) => new TrainingRun(path.join(experimentDir, "runs", `${arm}_seed${seed}_fold${fold}`))),
  );
  return {
    firstLearningEpoch: runs.map((perFold) =>
      perFold.map((run) => {
        const epoch = run.logSinceFirstStart().findIndex((e) => e.pseudoDice > 0);
        return epoch < 0 ? null : epoch;
      }),
    ),
    restarted: runs.map((perFold) => perFold.map((run) => run.stalledStartLog().length > 0)),
  };
}

/** One line per arm: the first learning epochs, seed by seed ("/"), fold by fold (","); * marks a restart. */
export function learningLine(arm: string, l: ReturnType<typeof learningEpochs>): string {
  const cells = l.firstLearningEpoch.map((perFold, i) =>
    perFold.map((e, f) => `${e ?? "never"}${l.restarted[i][f] ? "*" : ""}`).join(", "),
  );
  return `${arm} ${cells.join(" / ")}`;
}

function pairedCell(d: PairedDifference, seeds: number): string {
  const sign = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(3)}`;
  return `${sign(d.mean)} ± ${d.sd.toFixed(3)} (${d.better}/${seeds})`;
}

/** Paired differences with binary and the Fisher trace ratio, one row per arm. */
export function pairedTable(
  rows: { arm: string; paired?: Record<string, PairedDifference>; fisher: number[] }[],
  seeds: number,
): string {
  const fisher = (v: number[]) => (v.some(Number.isNaN) ? "–" : v.map((x) => x.toFixed(2)).join(" / "));
  return [
    "| arm − binary | lesion F1 | recall | small-lesion recall | FP / case | voxel Dice | Fisher tr I_Y / tr I_Z (per seed) |",
    "|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      r.paired
        ? `| ${r.arm} | ${PAIRED.map((m) => pairedCell(r.paired![m], seeds)).join(" | ")} | ${fisher(r.fisher)} |`
        : `| ${r.arm} (reference) | | | | | | ${fisher(r.fisher)} |`,
    ),
  ].join("\n");
}

export function summaryTable(rows: { arm: string; summary: PooledSummary }[]): string {
  const small = rows[0].summary;
  return [
    `| arm | lesion Dice | lesion F1 | recall | small-lesion recall (< ${small.smallMm3} mm³, n=${small.smallReferenceLesions}) | FP / case | voxel Dice |`,
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.arm} | ${fmt(r.summary.lesionDice)} | ${fmt(r.summary.lesionF1)} | ${fmt(r.summary.recall)} | ${fmt(r.summary.smallLesionRecall)} | ${fmt(r.summary.falsePositivesPerCase)} | ${fmt(r.summary.voxelDice)} |`,
    ),
  ].join("\n");
}

export async function main(b: RealBenchmark): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      preset: { type: "string" },
      out: { type: "string" },
      device: { type: "string", default: "cpu" },
      threads: { type: "string" },
      seeds: { type: "string" },
      epochs: { type: "string" },
      iterations: { type: "string" },
      // Overrides of the preset's patch (e.g. 64x64x64), widths (e.g. 4,8,16) and tile step: short checks.
      patch: { type: "string" },
      features: { type: "string" },
      "tile-step": { type: "string" },
      // What overlapping tiles average at prediction (predict's --tile-average; the stored rows before
      // the default became logits were made with probabilities).
      "tile-average": { type: "string", default: DEFAULT_TILE_AVERAGE },
      arms: { type: "string" },
      // The Dice term of the loss: on the lesion (the default) or over every class (a BackSplit arm's
      // background classes too): a check of whether the split's classes compete with the lesion.
      "dice-over": { type: "string", default: "lesion" },
      // Experiment jobs run this many at a time as child processes (resumable; --threads per job).
      jobs: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const presetName = values.preset ?? (values.quick ? "quick" : "full");
  const base = b.presets[presetName];
  const diceOver = values["dice-over"];
  if (diceOver !== "lesion" && diceOver !== "all") badOption("--dice-over must be lesion or all");
  const tileAverage = tileAverageArg(values["tile-average"]);
  if (!base) badOption(`--preset must be one of ${Object.keys(b.presets).join(", ")}`);
  const preset: Preset = {
    ...base,
    seeds: values.seeds ? values.seeds.split(",").map(Number) : base.seeds,
    epochs: values.epochs ? Number(values.epochs) : base.epochs,
    iterations: values.iterations ? Number(values.iterations) : base.iterations,
    patch: values.patch ? values.patch.split("x").map(Number) : base.patch,
    features: values.features ? values.features.split(",").map(Number) : base.features,
    tileStep: values["tile-step"] ? Number(values["tile-step"]) : base.tileStep,
  };
  const out = path.resolve(values.out ?? path.join(os.tmpdir(), `backsplit-bench-${b.name}`));
  const root = path.join(out, "dataset");
  const log = (m: string) => process.stderr.write(`[bench ${b.name}] ${m}\n`);
  const started = performance.now();
  const minutes = () => (performance.now() - started) / 60000;
  if (!existsSync(SHARED)) missingInput(`${SHARED}: the shared data folder is missing (set BACKSPLIT_SHARED_DATA)`);

  // 1. Dataset and sources (cached in OUT/dataset: delete it to rebuild).
  const preparedFile = path.join(root, "prepared.json");
  let prepared: Prepared;
  if (existsSync(preparedFile)) {
    prepared = JSON.parse(readFileSync(preparedFile, "utf8"));
    log(`reusing the dataset and sources in ${root}`);
  } else {
    mkdirSync(root, { recursive: true });
    prepared = await b.prepare(root, log);
    writeFileAtomicSync(preparedFile, `${JSON.stringify(prepared, null, 2)}\n`);
  }
  if (values.arms) {
    // A subset of the BackSplit arms (binary always runs): --arms atlas,clicks
    const wanted = values.arms.split(",");
    const unknown = wanted.filter((a) => !prepared.arms.some((arm) => arm.name === a));
    if (unknown.length)
      throw new Error(`--arms: unknown ${unknown.join(", ")} (have ${prepared.arms.map((a) => a.name).join(", ")})`);
    prepared.arms = prepared.arms.filter((arm) => wanted.includes(arm.name));
  }
  const sourcesMinutes = minutes();
  let dataset: Dataset = openDataset(root);

  // 2. Plan and preprocess for this device, then the fixed splits.
  const preprocessed = path.join(out, "preprocessed");
  const plansFile = path.join(preprocessed, "plans.json");
  if (!existsSync(plansFile)) {
    log("planning");
    writePlans(
      preprocessed,
      planExperiment(dataset, await fingerprintDataset(dataset, { workers: 1 }), { device: values.device }),
    );
  }
  const plans = JSON.parse(readFileSync(plansFile, "utf8")) as Plans;
  const identifier = plans.configurations[preset.configuration].data_identifier;
  if (!existsSync(path.join(preprocessed, identifier))) {
    log(`preprocessing (${preset.configuration})`);
    await preprocessDataset(dataset, plans, preset.configuration, preprocessed, { workers: 1 });
  }
  writeFileAtomicSync(path.join(preprocessed, "splits_final.json"), `${JSON.stringify(prepared.splits, null, 2)}\n`);
  dataset = openDataset(root);

  // 3. The experiment: binary and every BackSplit arm, all folds × seeds.
  const experimentDir = path.join(out, `experiment_${presetName}`);
  const json = Boolean(values.json);
  const config: ExperimentConfig = {
    dataset,
    preprocessed,
    out: experimentDir,
    sources: prepared.arms[0].sources,
    arms: prepared.arms,
    folds: prepared.splits.map((_, f) => f),
    seeds: preset.seeds,
    train: {
      configuration: preset.configuration,
      epochs: preset.epochs,
      iterationsPerEpoch: preset.iterations,
      validationIterations: preset.validationIterations ?? 4,
      batchSize: preset.batch,
      patchSize: preset.patch,
      features: preset.features,
      lr: 1e-2,
      device: values.device,
      amp: values.device !== "cpu",
      threads: values.threads ? Number(values.threads) : undefined,
      augment: true,
      lesionShare: 1 / 3,
      diceOver,
      fisherLog: true,
    },
    predict: {
      collapse: "prob",
      threshold: 0.5,
      // Unlike `predict`'s default (since stop 50), as every stored row of these presets was predicted.
      mirror: false,
      device: values.device,
      saveProbabilities: false,
      saveClasses: false,
      amp: values.device !== "cpu",
      tileStep: preset.tileStep,
      tileAverage,
    },
  };
  const jobs = values.jobs ? Number(values.jobs) : 1;
  let result: ExperimentResult | null;
  if (jobs > 1) {
    // The experiment's jobs as child processes, `jobs` at a time (one thread each unless --threads says).
    const planFile = writeExperimentPlan(config);
    const list = experimentJobs(config);
    const code = await runJobsInParallel(
      planFile,
      list.map((j) => j.index),
      {
        parallel: jobs,
        device: values.device,
        threads: values.threads ? Number(values.threads) : undefined,
        onStart: (k, slot) => log(`job ${k} (${list[k].label}) started in slot ${slot}`),
        onEnd: (k, c) =>
          log(`job ${k} (${list[k].label}) ${c === 0 ? "done" : `failed (exit ${c})`} at ${minutes().toFixed(1)} min`),
      },
    );
    if (code !== 0) throw new Error(`a job failed (exit ${code}); run the benchmark again to resume`);
    result = await collectExperiment(config);
  } else result = await runExperiment(config, workerSteps(json));
  if (!result) throw new Error("the benchmark runs as one process (no launcher variables)");

  // 4. One JSON line per arm: pooled lesion-level metrics, mean over seeds, bootstrap CI.
  const armNames = ["binary", ...prepared.arms.map((a) => a.name)];
  const rows = armNames.map((arm) => {
    const evaluations: Evaluation[] = preset.seeds.map((s) => result.evaluations[`${arm}_seed${s}`]);
    return { arm, summary: pooledLesionSummary(evaluations, { smallMm3: prepared.smallMm3 }) };
  });
  const folds = prepared.splits.map((_, f) => f);
  const extras = rows.map((r) => ({
    arm: r.arm,
    paired: r.arm === "binary" ? undefined : pairedBySeed(r.summary, rows[0].summary),
    fisher: fisherTraceRatios(experimentDir, r.arm, preset.seeds, folds),
    learning: learningEpochs(experimentDir, r.arm, preset.seeds, folds),
  }));
  const lines = rows.map((r, i) => {
    const arm = prepared.arms.find((a) => a.name === r.arm);
    const pick = (m: PooledMetric) => ({ value: m.value, ci95: m.ci, seedSd: m.seedSd, perSeed: m.perSeed });
    return JSON.stringify({
      bench: b.name,
      preset: presetName,
      arm: r.arm,
      sources: arm?.sources ?? [],
      ...(arm?.unassigned ? { unassigned: arm.unassigned } : {}),
      seeds: preset.seeds,
      referenceLesions: r.summary.referenceLesions,
      smallReferenceLesions: r.summary.smallReferenceLesions,
      smallMm3: r.summary.smallMm3,
      lesionDice: pick(r.summary.lesionDice),
      lesionF1: pick(r.summary.lesionF1),
      smallLesionRecall: pick(r.summary.smallLesionRecall),
      recall: pick(r.summary.recall),
      falsePositivesPerCase: pick(r.summary.falsePositivesPerCase),
      voxelDice: pick(r.summary.voxelDice),
      ...(extras[i].paired ? { pairedVsBinary: extras[i].paired } : {}),
      fisherTraceRatio: { perSeed: extras[i].fisher },
      learning: extras[i].learning,
      device: values.device,
      threadsPerTraining: values.threads ? Number(values.threads) : null,
      jobs,
      cpu: os.cpus()[0]?.model.trim() ?? null,
      configuration: preset.configuration,
      budget: `${preset.epochs}x${preset.iterations}`,
      tileAverage,
      patch: preset.patch,
      features: preset.features,
      minutes: Number(minutes().toFixed(1)),
    });
  });
  for (const line of lines) process.stdout.write(`${line}\n`);
  const table = summaryTable(rows);
  writeFileAtomicSync(path.join(experimentDir, "summary.jsonl"), `${lines.join("\n")}\n`);
  writeFileAtomicSync(
    path.join(experimentDir, "summary.md"),
    [
      `# bench ${b.name} (${presetName})`,
      "",
      `${preset.configuration}; ${preset.seeds.length} seed(s) ${preset.seeds.join(", ")}; ${preset.epochs} × ${preset.iterations} iterations, batch ${preset.batch}, patch ${preset.patch.join("×")}, features ${preset.features.join(", ")}; tile step ${preset.tileStep}, tiles average ${tileAverage}; device ${values.device}, ${values.threads ?? "all"} thread(s) per training, ${jobs} job(s) at a time, ${os.availableParallelism()} CPU cores (${os.cpus()[0]?.model.trim() ?? "unknown CPU"}); ${minutes().toFixed(1)} min in all (${sourcesMinutes.toFixed(1)} min for the dataset and sources).`,
      "Values: mean over seeds ± seed SD [95 % lesion-level bootstrap CI]; lesion metrics pooled over the test cases.",
      "",
      table,
      "",
      "Paired by seed (arm − binary: mean ± SD over seeds, seeds better in brackets; the same test cases), and each model's Fisher trace ratio:",
      "",
      pairedTable(extras, preset.seeds.length),
      "",
      `First epoch with validation pseudo-Dice > 0 of ${preset.epochs}, counted from each training's first start (seeds by "/", folds ${folds.join(", ")} by ","; * started over after a stalled start):`,
      "",
      ...extras.map((e) => `- ${learningLine(e.arm, e.learning)}`),
      "",
      ...prepared.notes.map((n) => `- ${n}`),
      "",
    ].join("\n"),
  );
  log(`\n${table}\n\n${pairedTable(extras, preset.seeds.length)}`);
  log(`report: ${result.report.html}`);
  log(`summary: ${path.join(experimentDir, "summary.md")} (${minutes().toFixed(1)} min)`);
}
