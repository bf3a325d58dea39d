// Experiment scale-out: `--emit shell` jobs run by their script and `--jobs 2` give the same report numbers
// as a local sequential run (same seeds, one thread each, same machine); `--collect` refuses while jobs
// are missing; the SLURM array covers every job.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openDataset } from "../../src/dataset/layout.js";
import { experimentJobs } from "../../src/experiment/experiment.js";
import { config, tinyDataset, tinyExperimentArgs } from "../fixtures/training.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

test("emitted jobs, --jobs 2 and a local run give the same comparison; collect waits for every job", async () => {
  const { root } = await tinyDataset();
  const common = tinyExperimentArgs(root);
  const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  const local = run([...common, "--out", path.join(root, "local")]);
  assert.equal(local.status, 0, local.stderr);

  // Shell list: 2 arms × 2 folds = 4 jobs, each `experiment --plan … --job K`.
  const emitted = run([...common, "--out", path.join(root, "emitted"), "--emit", "shell"]);
  assert.equal(emitted.status, 0, emitted.stderr);
  const jobsDir = path.join(root, "emitted", "jobs");
  const lines = readFileSync(path.join(jobsDir, "jobs.txt"), "utf8").trim().split("\n");
  assert.equal(lines.length, 4);
  lines.forEach((l, k) => assert.match(l, new RegExp(`experiment --plan .*experiment-plan\\.json --job ${k}$`)));
  const plan = path.join(root, "emitted", "experiment-plan.json");
  const early = run(["experiment", "--plan", plan, "--collect"]);
  assert.equal(early.status, 1, "collect must refuse before the jobs ran");
  assert.match(early.stderr, /4 job\(s\) have not finished: job 0 \(binary_seed1 fold 0\)/);
  const script = spawnSync("bash", [path.join(jobsDir, "run-jobs.sh"), "2"], { encoding: "utf8" });
  assert.equal(script.status, 0, script.stderr);

  const parallel = run([...common, "--out", path.join(root, "parallel"), "--jobs", "2"]);
  assert.equal(parallel.status, 0, parallel.stderr);
  assert.match(parallel.stderr, /\[job 3\] backsplit_seed1 fold 1 done/);

  const numbers = (dir: string) => {
    const c = JSON.parse(readFileSync(path.join(root, dir, "comparison_seed1.json"), "utf8"));
    return JSON.stringify({ cases: c.cases, metrics: c.metrics ?? c.classes ?? c });
  };
  assert.equal(numbers("emitted"), numbers("local"));
  assert.equal(numbers("parallel"), numbers("local"));
  for (const arm of ["binary_seed1", "backsplit_seed1"]) {
    const e = (dir: string) => readFileSync(path.join(root, dir, `evaluation_${arm}.json`), "utf8");
    assert.equal(e("emitted"), e("local").replaceAll("/local/", "/emitted/"));
  }

  // SLURM: an array over the same 4 jobs and a collect job.
  const slurm = run([
    ...common,
    "--out",
    path.join(root, "emitted"),
    "--emit",
    "slurm",
    "--emit-dir",
    path.join(root, "slurm"),
  ]);
  assert.equal(slurm.status, 0, slurm.stderr);
  const sbatch = readFileSync(path.join(root, "slurm", "experiment.sbatch"), "utf8");
  assert.match(sbatch, /#SBATCH --array=0-3\n/);
  assert.match(sbatch, /--job "\$SLURM_ARRAY_TASK_ID"/);
  assert.match(readFileSync(path.join(root, "slurm", "collect.sbatch"), "utf8"), /--collect/);
  assert.match(readFileSync(path.join(root, "slurm", "submit.sh"), "utf8"), /--dependency=afterok/);

  const bad = run([...common, "--emit", "pbs"]);
  assert.equal(bad.status, 2);
  const noPlan = run(["experiment", "--plan", path.join(root, "nope.json"), "--job", "0"]);
  assert.equal(noPlan.status, 3);
});

test("an arm's own unassigned rule reaches its trainings, and binary keeps the shared one", async () => {
  const { root, preprocessed } = await tinyDataset();
  const jobs = experimentJobs({
    dataset: openDataset(root),
    preprocessed,
    out: path.join(root, "arms"),
    sources: [],
    arms: [
      { name: "tissue", sources: ["tissue"] },
      { name: "tissue_marginal", sources: ["tissue"], unassigned: "marginal" },
    ],
    folds: [0],
    seeds: [1],
    train: config(root, preprocessed, {}),
    predict: {
      collapse: "prob",
      threshold: 0.5,
      mirror: false,
      device: "cpu",
      saveProbabilities: false,
      saveClasses: false,
    },
  });
  const byLabel = Object.fromEntries(jobs.map((j) => [j.label, j.train]));
  assert.equal(byLabel["binary_seed1 fold 0"].mode, "binary");
  assert.equal(byLabel["binary_seed1 fold 0"].unassigned, undefined);
  assert.equal(byLabel["tissue_seed1 fold 0"].unassigned, undefined);
  assert.equal(byLabel["tissue_marginal_seed1 fold 0"].unassigned, "marginal");
  assert.deepEqual(byLabel["tissue_marginal_seed1 fold 0"].sources, ["tissue"]);
});
