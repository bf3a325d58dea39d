// Training, prediction and Fisher estimates on worker threads with progress bars, shared by the
// verbs that chain them (experiment, demo) and by the benchmarks.
import type { FisherResult } from "../fisher/fisher.js";
import type { PredictJob } from "../predict/predict.js";
import type { TrainConfig } from "../train/trainer.js";
import { Progress } from "../util/progress.js";
import { runInWorker } from "../util/worker.js";
import type { FisherJob } from "./fisher.js";

/** The module of the training and prediction jobs (for runInWorker). */
export const JOBS = new URL("./train.js", import.meta.url).href;
const FISHER_JOB = new URL("./fisher.js", import.meta.url).href;

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

export function workerSteps(json: boolean): WorkerSteps {
  return {
    async train(config, label) {
      const progress = new Progress({
        label: `train ${label}`,
        total: config.epochs * config.iterationsPerEpoch,
        json,
      });
      await runInWorker({
        module: JOBS,
        exportName: "trainJob",
        input: config,
        onReport: (m) => {
          const r = m as { kind: string; loss?: number; warning?: string };
          if (r.kind === "iteration") progress.tick(1, { loss: r.loss ?? 0 });
          else if (r.warning && json)
            process.stdout.write(`${JSON.stringify({ event: "warning", run: label, message: r.warning })}\n`);
          else if (r.warning) process.stderr.write(`\nwarning (${label}): ${r.warning}\n`);
        },
      });
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
