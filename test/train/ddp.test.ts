// Data-parallel training on c10d/Gloo: two processes with half the batch each end with the weights of one
// process with the whole batch; collectives against hand values; a dead rank fails the others fast;
// the launchers' variables.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { distributedBackends } from "../../src/engine/index.js";
import { buckets, firstSlurmHost, launchEnv, localBatch, rankSeed } from "../../src/train/distributed.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const gloo = distributedBackends().gloo;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function runNode(script: string, args: (string | number)[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [script, ...args.map(String)], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

test("the engine was built with Gloo (Debian's libtorch 1.13 and pip's torch have it)", () => {
  assert.equal(gloo, true, "build-native prints why Gloo is missing (e.g. apt-get install libgloo-dev)");
});

test(
  "collectives over 3 ranks: sum in one packed bucket, avg, max, broadcast, allgather, store",
  { skip: !gloo },
  async () => {
    const port = await freePort();
    const worker = path.join(here, "..", "engine", "dist-worker.js");
    const runs = await Promise.all([0, 1, 2].map((r) => runNode(worker, [port, r, 3])));
    for (const [r, run] of runs.entries()) {
      assert.equal(run.code, 0, run.stderr);
      const got = JSON.parse(run.stdout);
      assert.equal(got.rank, r);
      // Hand values: a = [r+1, 10(r+1), -r], b = i(r+1) summed over r = 0, 1, 2.
      assert.deepEqual(got.sum, [
        [6, 60, -3],
        [0, 6, 12, 18],
      ]);
      assert.deepEqual(got.avg, [2, 4]);
      assert.deepEqual(got.max, [2, 0]);
      assert.deepEqual(got.broadcast, [[1, 1, 1, 1], [7]]);
      assert.deepEqual(got.gathered, [
        [0, 1],
        [100, 101],
        [200, 201],
      ]);
      assert.equal(got.fromStore, "folder-x");
    }
  },
);

test("a rank that dies makes the others fail their next collective, not hang", { skip: !gloo }, async () => {
  const port = await freePort();
  const worker = path.join(here, "..", "engine", "dist-worker.js");
  const env = { DIST_TIMEOUT_MS: "20000" };
  const runs = await Promise.all([0, 1, 2].map((r) => runNode(worker, [port, r, 3, "die"], env)));
  assert.equal(runs[1].code, 9);
  for (const r of [0, 2]) {
    assert.equal(runs[r].code, 1, `rank ${r} exited ${runs[r].code}: ${runs[r].stdout}${runs[r].stderr}`);
    const got = JSON.parse(runs[r].stdout);
    assert.ok(got.error, "the collective must throw");
    assert.ok(got.ms < 20000, `rank ${r} took ${got.ms} ms (timeout 20 s)`);
  }
});

test(
  "2 ranks × batch 2 equal 1 process × batch 4 after 3 SGD steps (plain and residual U-Net, batch and per-sample Dice)",
  { skip: !gloo },
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "backsplit-ddp-"));
    const worker = path.join(here, "ddp-worker.js");
    const single = await runNode(worker, [0, 0, 1, 4, 3, path.join(dir, "single.json")]);
    assert.equal(single.code, 0, single.stderr);
    const port = await freePort();
    const ranks = await Promise.all([0, 1].map((r) => runNode(worker, [port, r, 2, 4, 3, path.join(dir, "ddp.json")])));
    for (const run of ranks) assert.equal(run.code, 0, run.stderr);
    const a = JSON.parse(readFileSync(path.join(dir, "single.json"), "utf8"));
    const b = JSON.parse(readFileSync(path.join(dir, "ddp.json"), "utf8"));
    assert.deepEqual(Object.keys(b).sort(), ["plain/batch", "plain/sample", "resenc/batch", "resenc/sample"]);
    for (const key of Object.keys(a)) {
      const wa: number[] = a[key].weights;
      const wb: number[] = b[key].weights;
      assert.equal(wa.length, wb.length);
      const scale = Math.max(...wa.map(Math.abs));
      const worst = Math.max(...wa.map((v, i) => Math.abs(v - wb[i])));
      assert.ok(worst / scale < 1e-5, `${key}: weights differ by ${worst} (scale ${scale})`);
      // The weights moved (a test of nothing would pass too): step 3 differs from the start.
      a[key].losses.forEach((l: number, i: number) => {
        assert.ok(Math.abs(l - b[key].losses[i]) < 1e-5 * Math.abs(l), `${key} loss ${i}: ${l} vs ${b[key].losses[i]}`);
      });
      assert.ok(a[key].losses[2] < a[key].losses[0] - 1e-3, `${key}: the loss did not move`);
    }
  },
);

test("launch variables: torchrun first, SLURM as the fallback, single process otherwise", () => {
  assert.equal(launchEnv({}), null);
  assert.equal(launchEnv({ WORLD_SIZE: "1", RANK: "0" }), null);
  assert.deepEqual(
    launchEnv({
      WORLD_SIZE: "4",
      RANK: "3",
      LOCAL_RANK: "1",
      MASTER_ADDR: "node1",
      MASTER_PORT: "29400",
      TORCHELASTIC_RUN_ID: "x",
      TORCHELASTIC_USE_AGENT_STORE: "True",
      TORCHELASTIC_RESTART_COUNT: "2",
    }),
    {
      rank: 3,
      localRank: 1,
      worldSize: 4,
      masterAddr: "node1",
      masterPort: 29400,
      agentStore: true,
      attempt: 2,
      launcher: "torchrun",
    },
  );
  assert.deepEqual(
    launchEnv({ SLURM_NTASKS: "8", SLURM_PROCID: "5", SLURM_LOCALID: "1", SLURM_JOB_NODELIST: "gpu[07-09,12],cpu1" }),
    {
      rank: 5,
      localRank: 1,
      worldSize: 8,
      masterAddr: "gpu07",
      masterPort: 29500,
      agentStore: false,
      attempt: 0,
      launcher: "slurm",
    },
  );
  assert.throws(() => launchEnv({ WORLD_SIZE: "2" }), /RANK is not set/);
  assert.throws(() => launchEnv({ WORLD_SIZE: "2", RANK: "2", MASTER_ADDR: "h" }), /not below WORLD_SIZE/);
  assert.throws(() => launchEnv({ WORLD_SIZE: "2", RANK: "1" }), /MASTER_ADDR/);
  assert.throws(() => launchEnv({ WORLD_SIZE: "two", RANK: "1" }), /WORLD_SIZE=two/);
  assert.equal(firstSlurmHost("cn042"), "cn042");
  assert.equal(firstSlurmHost("a[3,5-7]"), "a3");
});

test("batch split, rank seeds and buckets", () => {
  assert.equal(localBatch(4, 2), 2);
  assert.throws(() => localBatch(3, 2), /multiple of the number of processes/);
  assert.throws(() => localBatch(1, 2), /multiple/);
  assert.equal(rankSeed(12, 0), 12);
  assert.notEqual(rankSeed(12, 1), rankSeed(12, 0));
  assert.notEqual(rankSeed(12, 1), rankSeed(13, 0));
  const sizes = [10, 10, 30, 5, 100].map((numel) => ({ numel }));
  assert.deepEqual(
    buckets(sizes, 80).map((b) => b.map((t) => t.numel)),
    [[10, 10], [30], [5], [100]],
  );
});
