// An experiment's jobs beyond one sequential process: its plan as a file, the jobs run N at a time as
// child processes (`--jobs N`), or written out as a SLURM array / shell list (`--emit`) for a cluster,
// with `--collect` evaluating once every run exists. Job K means the same run wherever it runs.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { constants, availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openDataset } from "../dataset/layout.js";
import { writeFileAtomicSync } from "../util/atomic.js";
import type { ExperimentConfig } from "./experiment.js";

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
const PLAN_VERSION = 1;

type StoredPlan = { version: number; datasetRoot: string; config: Omit<ExperimentConfig, "dataset"> };

/** Writes the experiment's resolved configuration to `<out>/experiment-plan.json` and returns its path. */
export function writeExperimentPlan(c: ExperimentConfig): string {
  mkdirSync(c.out, { recursive: true });
  const file = path.join(c.out, "experiment-plan.json");
  const { dataset, ...config } = c;
  const stored: StoredPlan = { version: PLAN_VERSION, datasetRoot: path.resolve(dataset.root), config };
  writeFileAtomicSync(file, `${JSON.stringify(stored, null, 2)}\n`);
  return file;
}

export function readExperimentPlan(file: string): ExperimentConfig {
  if (!existsSync(file)) throw new Error(`${file}: no such experiment plan`);
  let stored: StoredPlan;
  try {
    stored = JSON.parse(readFileSync(file, "utf8")) as StoredPlan;
  } catch (error) {
    throw new Error(`${file}: not a JSON experiment plan (${(error as Error).message})`);
  }
  if (stored.version !== PLAN_VERSION || !stored.datasetRoot || !stored.config) {
    throw new Error(`${file}: not an experiment plan of this version (written by \`backsplit experiment\`)`);
  }
  return { ...stored.config, dataset: openDataset(stored.datasetRoot) };
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

/** The command that runs job K of a plan (or the collection step with "collect"). */
export function jobCommand(planFile: string, job: number | "collect"): string {
  const tail = job === "collect" ? ["--collect"] : ["--job", String(job)];
  return [process.execPath, CLI, "experiment", "--plan", path.resolve(planFile), ...tail].map(quote).join(" ");
}

export interface EmittedJobs {
  files: string[];
  jobs: number;
}

/**
 * Writes the jobs for a scheduler: `slurm` an sbatch array script (one task per job, then a collect job
 * that waits for the array), `shell` a plain list (one command a line) and a script that runs it.
 */
export function emitJobs(planFile: string, jobs: number, kind: "slurm" | "shell", dir: string): EmittedJobs {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileAtomicSync(file, text);
    chmodSync(file, 0o755);
    files.push(file);
  };
  const lines = Array.from({ length: jobs }, (_, k) => jobCommand(planFile, k));
  if (kind === "shell") {
    write("jobs.txt", `${lines.join("\n")}\n`);
    write(
      "run-jobs.sh",
      [
        "#!/usr/bin/env bash",
        "# Runs every job of the experiment (one per line of jobs.txt), N at a time, then collects.",
        "#   bash run-jobs.sh [N]",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        'xargs -P "${1:-1}" -I{} bash -c {} < jobs.txt',
        jobCommand(planFile, "collect"),
        "",
      ].join("\n"),
    );
  } else {
    write(
      "experiment.sbatch",
      [
        "#!/usr/bin/env bash",
        "#SBATCH --job-name=backsplit-experiment",
        `#SBATCH --array=0-${jobs - 1}`,
        "#SBATCH --ntasks=1",
        "#SBATCH --output=slurm-%A_%a.out",
        "# One task per arm × fold × seed. Add your site's --partition, --gres=gpu:1, --time, --cpus-per-task.",
        "# Then: sbatch --dependency=afterok:<array job id> collect.sbatch",
        "set -euo pipefail",
        `${jobCommand(planFile, 0).replace(/--job 0$/, '--job "$SLURM_ARRAY_TASK_ID"')}`,
        "",
      ].join("\n"),
    );
    write(
      "collect.sbatch",
      [
        "#!/usr/bin/env bash",
        "#SBATCH --job-name=backsplit-collect",
        "#SBATCH --ntasks=1",
        "set -euo pipefail",
        jobCommand(planFile, "collect"),
        "",
      ].join("\n"),
    );
    write(
      "submit.sh",
      [
        "#!/usr/bin/env bash",
        "# Submits the array, then the collect step to run once every task has succeeded.",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        'array=$(sbatch --parsable experiment.sbatch "$@")',
        'sbatch --dependency=afterok:"${array%%;*}" collect.sbatch',
        "",
      ].join("\n"),
    );
  }
  return { files, jobs };
}

export interface ParallelJobsOptions {
  /** How many jobs at once. */
  parallel: number;
  /** "cpu", "cuda" (jobs spread over the GPUs) or "cuda:K". */
  device: string;
  gpus?: number;
  /** Threads per job on CPU (default: the cores shared out). */
  threads?: number;
  onStart?: (job: number, slot: number) => void;
  onEnd?: (job: number, code: number) => void;
}

/**
 * Runs the plan's jobs as child processes, `parallel` at a time: on CPU the cores are shared out, on
 * CUDA slot s gets GPU s mod gpus. Stops starting new jobs after a failure; resolves to the first
 * non-zero exit code (0 when all succeeded).
 */
export async function runJobsInParallel(planFile: string, jobs: number[], o: ParallelJobsOptions): Promise<number> {
  const queue = [...jobs];
  let failed = 0;
  const threads = o.threads ?? Math.max(1, Math.floor(availableParallelism() / o.parallel));
  const runOne = (job: number, slot: number) =>
    new Promise<number>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, BACKSPLIT_THREADS: String(threads) };
      if (o.device === "cuda" && (o.gpus ?? 0) > 0) env.CUDA_VISIBLE_DEVICES = String(slot % o.gpus!);
      o.onStart?.(job, slot);
      const child = spawn(process.execPath, [CLI, "experiment", "--plan", planFile, "--job", String(job)], {
        stdio: ["ignore", "ignore", "inherit"],
        env,
      });
      child.on("error", () => resolve(3));
      child.on("exit", (code, signal) => {
        const result = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
        o.onEnd?.(job, result);
        resolve(result);
      });
    });
  const slots = Array.from({ length: Math.min(o.parallel, jobs.length) }, async (_, slot) => {
    while (queue.length > 0 && failed === 0) {
      const code = await runOne(queue.shift()!, slot);
      if (code !== 0 && failed === 0) failed = code;
    }
  });
  await Promise.all(slots);
  return failed;
}
