// Training, prediction and Fisher estimates on worker threads with progress bars, shared by the
// verbs that chain them (experiment, demo) and by the benchmarks.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FisherResult } from "../fisher/fisher.js";
import type { PredictJob } from "../predict/predict.js";
import { launchLocal } from "../train/launch.js";
import type { TrainConfig } from "../train/trainer.js";
import { Progress } from "../util/progress.js";
import { runInWorker } from "../util/worker.js";
import type { FisherJob } from "./fisher.js";

/** The module of the training and prediction jobs (for runInWorker). */
export const JOBS = new URL("./train.js", import.meta.url).href;
const FISHER_JOB = new URL("./fisher.js", import.meta.url).href;
const TRAIN_RANK = fileURLToPath(new URL("./train-rank.js", import.meta.url));

/** One training as `nproc` local ranks (src/jobs/train-rank.ts), rank 0's reports feeding the bar. */
async function trainOnRanks(config: TrainConfig, label: string, nproc: number, onReport: (m: unknown) => void) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "backsplit-ranks-"));
  const file = path.join(dir, "config.json");
  try {
    writeFileSync(file, JSON.stringify(config));
    const code = await launchLocal({
      nproc,
      script: TRAIN_RANK,
      argv: [file],
      threadsPerRank: config.threads ?? Math.max(1, Math.floor(os.availableParallelism() / nproc)),
      onMainLine: (line) => {
        try {
          onReport(JSON.parse(line));
        } catch {
          process.stdout.write(`${line}\n`);
        }
      },
    });
    if (code !== 0) throw new Error(`training ${label} failed on one of its ${nproc} processes (exit ${code})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** nnU-Net-like budgets (epochs × iterations per epoch) for --budget. */
export const BUDGETS: Record<string, [number, number]> = {
  tiny: [5, 10],
  small: [20, 25],
  medium: [100, 50],
  full: [1000, 250],
};

export interface WorkerSteps {
  train(config: TrainConfig, label: string): Promise<void>;
  predict(job: PredictJob, label: string): Promise<void>;
  fisher(job: FisherJob, label: string): Promise<FisherResult>;
}

export interface WorkerStepOptions {
  /** Each training data-parallel over this many local processes (train --nproc); 1: a worker thread. */
  nproc?: number;
}

export function workerSteps(json: boolean, options: WorkerStepOptions = {}): WorkerSteps {
  const nproc = options.nproc ?? 1;
  return {
    async train(config, label) {
      const progress = new Progress({
        label: `train ${label}`,
        total: config.epochs * config.iterationsPerEpoch,
        json,
      });
      const onReport = (m: unknown) => {
        const r = m as { kind: string; loss?: number; warning?: string; epochs?: number };
        if (r.kind === "restart") progress.extend((r.epochs ?? 0) * config.iterationsPerEpoch);
        else if (r.kind === "iteration") progress.tick(1, { loss: r.loss ?? 0 });
        else if (r.warning && json)
          process.stdout.write(`${JSON.stringify({ event: "warning", run: label, message: r.warning })}\n`);
        else if (r.warning) process.stderr.write(`\nwarning (${label}): ${r.warning}\n`);
      };
      if (nproc > 1) {
        await trainOnRanks(config, label, nproc, onReport);
        return;
      }
      await runInWorker({ module: JOBS, exportName: "trainJob", input: config, onReport });
    },
    async fisher(job, label) {
      const progress = new Progress({ label: `fisher ${label}`, total: job.patches, json });
      return (await runInWorker({
        module: FISHER_JOB,
        exportName: "fisherJob",
        input: job,
        onReport: () => progress.tick(),
      })) as FisherResult;
    },
    async predict(job, label) {
      let progress: Progress | null = null;
      await runInWorker({
        module: JOBS,
        exportName: "predictJob",
        input: job,
        onReport: (m) => {
          progress ??= new Progress({ label: `predict ${label}`, total: (m as { total: number }).total, json });
          progress.tick();
        },
      });
    },
  };
}
