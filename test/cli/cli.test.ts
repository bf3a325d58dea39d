// The CLI as a user runs it: the launcher, help, exit codes, the smoke job.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const bin = path.join(root, "bin", "backsplit.mjs");

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const fullEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete fullEnv[k];
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: fullEnv });
}

test("the launcher sets the malloc tunables unless the user set their own", () => {
  const tunables = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295";
  const auto = cli(["engine", "info", "--json"], { GLIBC_TUNABLES: undefined });
  assert.equal(auto.status, 0, auto.stderr);
  assert.equal(JSON.parse(auto.stdout).glibcTunables, tunables);
  const own = cli(["engine", "info", "--json"], { GLIBC_TUNABLES: "glibc.malloc.arena_max=2" });
  assert.equal(JSON.parse(own.stdout).glibcTunables, "glibc.malloc.arena_max=2");
});

test("engine info prints the libtorch version, where it came from, CUDA and threads", () => {
  const r = cli(["engine", "info", "--threads", "1"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /libtorch\s+\d+\.\d+/);
  assert.match(r.stdout, /found\s+(LIBTORCH|python torch|debian libtorch-dev)/);
  assert.match(r.stdout, /CUDA\s+(available|not available)/);
  assert.match(r.stdout, /threads\s+1 intra-op/);
});

test("help lists the verbs; every verb has --help; bad input gives usage exit codes", () => {
  const help = cli(["--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /engine info/);
  assert.match(help.stdout, /smoke/);
  for (const verb of [["engine", "info"], ["smoke"]]) {
    const r = cli([...verb, "--help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, new RegExp(`usage: backsplit ${verb.join(" ")}`));
  }
  assert.equal(cli(["frobnicate"]).status, 2);
  assert.equal(cli(["smoke", "--no-such-option"]).status, 2);
  const bad = cli(["smoke", "--steps", "many"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--steps must be an integer, got 'many'/);
  assert.equal(cli([]).status, 2);
  // fisher: usage errors and a clear message for a folder that is not a run.
  assert.match(cli(["fisher", "--help"]).stdout, /tr I_Z \(its binary collapse/);
  assert.equal(cli(["fisher"]).status, 2);
  assert.equal(cli(["fisher", "--model", root, "--patches", "1"]).status, 2);
  const notRun = cli(["fisher", "--model", root]);
  assert.equal(notRun.status, 1);
  assert.match(notRun.stderr, /not a training run \(no training\.json\)/);
});

test("smoke trains a tiny 3D U-Net and prints JSON lines with a falling loss", () => {
  const args = ["smoke", "--steps", "8", "--size", "16", "--threads", "2", "--device", "cpu", "--json"];
  const r = cli(args);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.event === "progress").length, 8);
  const result = lines.at(-1);
  assert.equal(result.event, "result");
  assert.equal(result.losses.length, 8);
  assert.ok(result.losses[7] < result.losses[0]);
  const again = cli(args);
  assert.deepEqual(JSON.parse(again.stdout.trim().split("\n").at(-1)!).losses, result.losses, "same seed, same losses");
});

test("asking for a missing CUDA device exits with the environment code", () => {
  const info = JSON.parse(cli(["engine", "info", "--json"]).stdout);
  if (info.cudaAvailable) return;
  const r = cli(["smoke", "--device", "cuda", "--steps", "1"]);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /sees no CUDA device/);
});
