// `backsplit demo`: the whole idea in minutes on a CPU. Generate phantoms, build background sources
// (the phantom's tissue map and an unsupervised clustering), train binary and BackSplit with the same
// budget, predict held-out phantoms, evaluate lesion by lesion, compare, write the report.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { openDataset } from "../dataset/layout.js";
import { type Evaluation, compareEvaluations, evaluateFolders, summarize } from "../evaluate/evaluate.js";
import type { FisherResult } from "../fisher/fisher.js";
import type { FisherJob } from "../jobs/fisher.js";
import { clusterSource } from "../labels/cluster.js";
import { fingerprintDataset } from "../plan/fingerprint.js";
import { planExperiment, writePlans } from "../plan/plan.js";
import type { PredictJob } from "../predict/predict.js";
import { preprocessDataset } from "../preprocess/preprocess.js";
import { writeReport } from "../report/report.js";
import { TrainingRun } from "../run/record.js";
import type { TrainConfig } from "../train/trainer.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import { writePhantomDataset } from "./phantom.js";

export interface DemoOptions {
  out: string;
  seed: number;
  device: string;
  threads?: number;
  train: number;
  test: number;
  epochs: number;
  iterations: number;
  features: number[];
  patch: number[];
}

export interface DemoSteps {
  train(config: TrainConfig, label: string): Promise<void>;
  predict(job: PredictJob, label: string): Promise<void>;
  fisher(job: FisherJob, label: string): Promise<FisherResult>;
  log(message: string): void;
}

export interface DemoArm {
  name: string;
  mode: "binary" | "backsplit";
  sources: string[];
}

export const DEMO_ARMS: DemoArm[] = [
  { name: "binary", mode: "binary", sources: [] },
  { name: "backsplit_tissue", mode: "backsplit", sources: ["tissue"] },
  { name: "backsplit_cluster", mode: "backsplit", sources: ["gmm"] },
];

export interface DemoRow {
  arm: string;
  lesionF1: number;
  recall: number;
  smallLesionRecall: number | null;
  dice: number;
  falsePositivesPerCase: number;
  /** BackSplit arms: Monte Carlo tr I_Y and tr I_Z per patch (mean ± SE), from `backsplit fisher`. */
  fisher: { traceY: number; traceZ: number; gap: number; gapSe: number } | null;
}

export async function runDemo(
  o: DemoOptions,
  steps: DemoSteps,
): Promise<{ report: string; markdown: string; rows: DemoRow[] }> {
  const root = path.join(o.out, "dataset");
  mkdirSync(o.out, { recursive: true });
  steps.log(`phantoms: ${o.train} training and ${o.test} test cases (seed ${o.seed}) in ${root}`);
  writePhantomDataset(root, { train: o.train, test: o.test, seed: o.seed });
  let dataset = openDataset(root);
  steps.log("background source 'gmm': a 4-class Gaussian mixture on the image (no labels used)");
  await clusterSource(dataset, { source: "gmm", k: 4, workers: 1 });
  dataset = openDataset(root);
  const preprocessed = path.join(root, "preprocessed");
  const plans = planExperiment(dataset, await fingerprintDataset(dataset, { workers: 1 }), {
    device: o.device,
    memoryBudgetGb: 0.5,
  });
  writePlans(preprocessed, plans);
  steps.log("preprocessing");
  await preprocessDataset(dataset, plans, "3d_fullres", preprocessed, { workers: 1 });
  const evaluations: Record<string, Evaluation> = {};
  const logs: Record<string, string> = {};
  for (const arm of DEMO_ARMS) {
    const run = path.join(o.out, "runs", arm.name);
    logs[arm.name] = new TrainingRun(run).logFile;
    await steps.train(
      {
        dataset: root,
        preprocessed,
        configuration: "3d_fullres",
        mode: arm.mode,
        sources: arm.sources,
        fold: "all",
        epochs: o.epochs,
        iterationsPerEpoch: o.iterations,
        validationIterations: 2,
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
        fisherLog: true,
      },
      arm.name,
    );
    const predictions = path.join(o.out, "predictions", arm.name);
    await steps.predict(
      {
        runs: [run],
        input: path.join(root, "imagesTs"),
        out: predictions,
        threads: o.threads,
        options: {
          collapse: "prob",
          threshold: 0.5,
          // Unlike `predict`'s default: every stored demo table (README, docs/results.md §1) was predicted without it.
          mirror: false,
          device: o.device,
          saveProbabilities: false,
          saveClasses: false,
        },
      },
      arm.name,
    );
    evaluations[arm.name] = await evaluateFolders(predictions, path.join(root, "labelsTs"));
    writeFileAtomicSync(path.join(o.out, `evaluation_${arm.name}.json`), `${JSON.stringify(evaluations[arm.name])}\n`);
  }
  // Fisher diagnostics of each BackSplit model: traces on validation patches, the map on a test case.
  const fisher: { name: string; result: FisherResult; image: string }[] = [];
  const mapCase = `phantom_${String(o.train).padStart(3, "0")}`;
  for (const arm of DEMO_ARMS.filter((a) => a.mode === "backsplit")) {
    const result = await steps.fisher(
      {
        run: path.join(o.out, "runs", arm.name),
        cases: "val",
        patches: 8,
        samples: 2,
        seed: o.seed,
        device: o.device,
        threads: o.threads,
        mapCase,
        out: path.join(o.out, "fisher", arm.name),
      },
      arm.name,
    );
    fisher.push({ name: arm.name, result, image: path.join(root, "imagesTs", `${mapCase}_0000.nii.gz`) });
  }
  const rows: DemoRow[] = DEMO_ARMS.map((arm) => {
    const e = evaluations[arm.name];
    const s = summarize(e).perClass["1"];
    const lesions = e.cases.flatMap((c) => c.classes["1"].lesions);
    const small = lesions.filter((l) => l.refVolumeMm3 < 30);
    return {
      arm: arm.name,
      lesionF1: s.means.f1,
      recall: lesions.filter((l) => l.detected).length / Math.max(lesions.length, 1),
      smallLesionRecall: small.length ? small.filter((l) => l.detected).length / small.length : null,
      dice: s.means.dice,
      falsePositivesPerCase: s.means.falsePositives,
      fisher: (() => {
        const f = fisher.find((x) => x.name === arm.name)?.result.summary.total;
        return f ? { traceY: f.traceY.mean, traceZ: f.traceZ.mean, gap: f.gap.mean, gapSe: f.gap.se } : null;
      })(),
    };
  });
  const comparison = compareEvaluations(
    evaluations.binary,
    evaluations.backsplit_tissue,
    ["binary", "backsplit_tissue"],
    o.seed,
  );
  const ending = ".nii.gz";
  const montageCases = [...evaluations.binary.cases]
    .sort((x, y) => y.classes["1"].lesions.length - x.classes["1"].lesions.length)
    .slice(0, 4);
  const report = await writeReport(o.out, {
    title: "backsplit demo: binary vs BackSplit on phantoms",
    comparison,
    a: evaluations.binary,
    b: evaluations.backsplit_tissue,
    logs,
    fisher,
    montages: montageCases.map((c) => ({
      id: c.id,
      image: path.join(root, "imagesTs", `${c.id}_0000${ending}`),
      reference: path.join(root, "labelsTs", `${c.id}${ending}`),
      predictionA: path.join(o.out, "predictions", "binary", `${c.id}.nii.gz`),
      predictionB: path.join(o.out, "predictions", "backsplit_tissue", `${c.id}.nii.gz`),
    })),
    facts: {
      data: `${o.train} training / ${o.test} test phantoms, seed ${o.seed}`,
      budget: `${o.epochs} epochs × ${o.iterations} iterations, batch 2, patch ${o.patch.join("×")}, features ${o.features.join(", ")}`,
      device: o.device,
      "small lesions": "< 30 mm³",
      arms: DEMO_ARMS.map((a) => `${a.name}${a.sources.length ? ` (${a.sources.join(", ")})` : ""}`).join("; "),
    },
  });
  writeFileAtomicSync(path.join(o.out, "demo_summary.json"), `${JSON.stringify(rows, null, 2)}\n`);
  return { report: report.html, markdown: report.markdown, rows };
}
