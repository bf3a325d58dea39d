// `backsplit train` as a data-parallel run: `--nproc 2`, a resume, torchrun as the launcher, and a rank
// killed mid-run (the other must exit non-zero quickly, not hang).
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { distributedBackends } from "../../src/engine/index.js";
import { RESTART_LESION_STARTS } from "../../src/train/index.js";
import { freePort } from "../../src/train/launch.js";
import { stallingDataset, tinyDataset, tinyExperimentArgs } from "../fixtures/training.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
const gloo = distributedBackends().gloo;
const torchrun = spawnSync("torchrun", ["--help"], { encoding: "utf8" }).status === 0;

/**
 * torchrun's options for `--no_python bin …`. --redirects 1 --tee 1: Debian's torchrun 1.13 under Python 3.11
 * cannot parse the default "0" (its Std flag enum lost the zero member); torchrun 2.x needs none of it.
 */
function torchrunArgs(port: number, launch: string[], args: string[]): string[] {
  return [...launch, "--master_port", String(port), "--redirects", "1", "--tee", "1", "--no_python", bin, ...args];
}

function trainArgs(root: string, out: string, epochs: number): string[] {
  return [
    "train",
    root,
    "--mode",
    "backsplit",
    "--background",
    "tissue",
    "--fold",
    "all",
    "--epochs",
    String(epochs),
    "--iterations",
    "3",
    "--val-iterations",
    "1",
    "--batch",
    "2",
    "--patch",
    "8x16x16",
    "--features",
    "4,8,16",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--out",
    out,
  ];
}

const logOf = (out: string) =>
  readFileSync(path.join(out, "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { epoch: number; trainLoss: number; pseudoDice: number });

test("train --nproc 2 trains one run (rank 0 writes it), and resumes", { skip: !gloo }, async () => {
  const { root } = await tinyDataset();
  const out = path.join(root, "runs", "ddp");
  const first = spawnSync(process.execPath, [bin, ...trainArgs(root, out, 2), "--nproc", "2"], { encoding: "utf8" });
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout.match(/^trained /gm)?.length, 1, `one summary line, got:\n${first.stdout}`);
  const log = logOf(out);
  assert.deepEqual(
    log.map((l) => l.epoch),
    [0, 1],
  );
  for (const l of log) assert.ok(Number.isFinite(l.trainLoss) && l.trainLoss !== 0, `loss ${l.trainLoss}`);
  const record = JSON.parse(readFileSync(path.join(out, "training.json"), "utf8"));
  assert.equal(record.batch, 2, "the record keeps the global batch");
  assert.ok(existsSync(path.join(out, "checkpoints", "latest.json")));

  const again = spawnSync(process.execPath, [bin, ...trainArgs(root, out, 3), "--nproc", "2", "--resume"], {
    encoding: "utf8",
  });
  assert.equal(again.status, 0, again.stderr);
  const resumed = logOf(out);
  assert.deepEqual(
    resumed.map((l) => l.epoch),
    [0, 1, 2],
  );
  assert.deepEqual(resumed.slice(0, 2), log, "a resume keeps the finished epochs as they were");

  const odd = spawnSync(process.execPath, [bin, ...trainArgs(root, out, 1), "--nproc", "2", "--batch", "3"], {
    encoding: "utf8",
  });
  assert.equal(odd.status, 2);
  assert.match(odd.stderr, /--batch 3 must be a multiple of --nproc 2/);
  if (!distributedBackends().nccl) {
    const cuda = spawnSync(process.execPath, [bin, ...trainArgs(root, out, 1), "--nproc", "2", "--device", "cuda"], {
      encoding: "utf8",
    });
    assert.equal(cuda.status, 3, "a backend the engine lacks is a missing environment piece");
    assert.match(cuda.stderr, /needs NCCL, which this engine was built without/);
  }
});

test(
  "train --nproc 2: a stalled run starts over on every rank, rank 0 sets the abandoned start aside",
  { skip: !gloo },
  async () => {
    const { root } = await stallingDataset();
    const out = path.join(root, "runs", "ddp-stall");
    const args = [...trainArgs(root, out, 3), "--mode", "binary", "--lr", "0.05", "--no-augment", "--nproc", "2"];
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /starting over from a fresh initialisation at a 0.1 % lesion start/);
    const aside = readFileSync(path.join(out, "stalled-start", "log.jsonl"), "utf8")
      .trim()
      .split("\n");
    assert.equal(aside.length, 2);
    assert.deepEqual(
      logOf(out).map((l) => l.epoch),
      [0, 1, 2],
    );
    const record = JSON.parse(readFileSync(path.join(out, "training.json"), "utf8"));
    assert.equal(record.lesionPrior, RESTART_LESION_STARTS[0]);
    assert.equal(record.config.restartedAfterEpochs, 2);
  },
);

test(
  "train --nproc 2 --background-warmup: every rank waits for the lesion in step (rank 0's vote each epoch)",
  { skip: !gloo },
  async () => {
    const { root } = await stallingDataset();
    const out = path.join(root, "runs", "ddp-warmup");
    const args = [...trainArgs(root, out, 3), "--lr", "0.05", "--no-augment", "--lesion-prior", "0.01"];
    const r = spawnSync(process.execPath, [bin, ...args, "--background-warmup", "1", "--nproc", "2"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const log = readFileSync(path.join(out, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { pseudoDice: number; backgroundSplitWeight?: number });
    assert.deepEqual(
      log.map((l) => l.pseudoDice),
      [0, 0, 0],
    );
    assert.deepEqual(
      log.map((l) => l.backgroundSplitWeight),
      [0, 0, 0],
      "no lesion found: the merged background throughout",
    );
  },
);

test("torchrun --no_python launches backsplit train as 2 ranks", { skip: !gloo || !torchrun }, async () => {
  const { root } = await tinyDataset();
  const out = path.join(root, "runs", "torchrun");
  const port = await freePort();
  const r = spawnSync("torchrun", torchrunArgs(port, ["--nproc_per_node", "2"], trainArgs(root, out, 1)), {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "1" },
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.equal(logOf(out).length, 1);
});

test(
  "torchrun --nnodes 2: two 'machines' (here both on 127.0.0.1) train one run",
  { skip: !gloo || !torchrun },
  async () => {
    const { root } = await tinyDataset();
    const out = path.join(root, "runs", "nodes");
    const port = await freePort();
    const node = (rank: number) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(
          "torchrun",
          torchrunArgs(
            port,
            ["--nnodes", "2", "--node_rank", String(rank), "--nproc_per_node", "1", "--master_addr", "127.0.0.1"],
            trainArgs(root, out, 1),
          ),
          { env: { ...process.env, OMP_NUM_THREADS: "1" } },
        );
        let output = "";
        child.stdout.on("data", (d) => {
          output += d;
        });
        child.stderr.on("data", (d) => {
          output += d;
        });
        child.on("exit", (code) => resolve({ code, output }));
      });
    const [a, b] = await Promise.all([node(0), node(1)]);
    assert.equal(a.code, 0, a.output);
    assert.equal(b.code, 0, b.output);
    assert.equal(logOf(out).length, 1);
    assert.match(a.output + b.output, /trained backsplit/);
  },
);

test("srun's variables (SLURM_NTASKS, SLURM_PROCID, SLURM_LOCALID) make the ranks", { skip: !gloo }, async () => {
  const { root } = await tinyDataset();
  const out = path.join(root, "runs", "slurm");
  const port = await freePort();
  const env = (rank: number) => {
    const e: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ["WORLD_SIZE", "RANK", "LOCAL_RANK"]) delete e[k];
    return {
      ...e,
      SLURM_NTASKS: "2",
      SLURM_PROCID: String(rank),
      SLURM_LOCALID: String(rank),
      SLURM_JOB_NODELIST: "localhost",
      MASTER_PORT: String(port),
    };
  };
  const runs = await Promise.all(
    [0, 1].map(
      (rank) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, [bin, ...trainArgs(root, out, 1)], { stdio: "ignore", env: env(rank) });
          child.on("exit", (code) => resolve(code));
        }),
    ),
  );
  assert.deepEqual(runs, [0, 0]);
  assert.equal(logOf(out).length, 1);
});

test(
  "experiment: under torchrun every rank trains and rank 0 reports; --nproc 2 does the same locally",
  { skip: !gloo },
  async () => {
    const { root } = await tinyDataset();
    const common = tinyExperimentArgs(root);
    // Four trainings one after another in the same two processes: each makes a fresh group on one store.
    const local = spawnSync(process.execPath, [bin, ...common, "--out", path.join(root, "np"), "--nproc", "2"], {
      encoding: "utf8",
    });
    assert.equal(local.status, 0, local.stderr);
    assert.match(local.stdout, /report: .*np\/report.html/);
    if (!torchrun) return;
    const port = await freePort();
    const r = spawnSync(
      "torchrun",
      torchrunArgs(port, ["--nproc_per_node", "2"], [...common, "--out", path.join(root, "tr")]),
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout.match(/report: /g)?.length, 1, "only rank 0 reports");
    for (const f of ["comparison_seed1.json", "evaluation_binary_seed1.json", "evaluation_backsplit_seed1.json"])
      assert.ok(existsSync(path.join(root, "tr", f)), f);
  },
);

test("a killed rank makes the other exit non-zero within seconds", { skip: !gloo }, async () => {
  const { root } = await tinyDataset();
  const out = path.join(root, "runs", "killed");
  const port = await freePort();
  const ranks: ChildProcess[] = [0, 1].map((rank) =>
    spawn(process.execPath, [bin, ...trainArgs(root, out, 200)], {
      stdio: "ignore",
      env: {
        ...process.env,
        WORLD_SIZE: "2",
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
        BACKSPLIT_DIST_TIMEOUT: "120",
      },
    }),
  );
  const exited = ranks.map(
    (c) =>
      new Promise<number | null>((resolve) => c.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null)))),
  );
  // Wait until rank 0 has finished an epoch: both ranks are inside the training loop.
  const started = Date.now();
  while (!(existsSync(path.join(out, "log.jsonl")) && logOf(out).length > 0)) {
    assert.ok(Date.now() - started < 120_000, "the run did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
  ranks[1].kill("SIGKILL");
  const killedAt = Date.now();
  const code = await exited[0];
  const seconds = (Date.now() - killedAt) / 1000;
  assert.notEqual(code, 0, "rank 0 must fail when its peer is gone");
  assert.ok(seconds < 30, `rank 0 took ${seconds} s to notice (timeout 120 s)`);
});
