// Command-line validation: bad numbers and shapes are usage errors (exit 2) before any worker or run
// folder; something not there yet (a folder, plans.json, a configuration's cache) is exit 3 with the
// command to run; evaluate's options and inputs likewise.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeNifti } from "../../src/io/nifti.js";
import { Volume } from "../../src/io/volume.js";
import { tinyDataset } from "../fixtures/training.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });

test("train: bad numbers, shapes and folds exit 2 with a clear line and leave no run folder", async () => {
  const { root } = await tinyDataset();
  const base = ["train", root, "--device", "cpu", "--threads", "1"];
  for (const [args, message] of [
    [["--epochs=-5"], /--epochs must be at least 1, got -5/],
    [["--patch", "16x16"], /--patch 16x16: configuration '3d_fullres' is 3D, give 3 sizes/],
    [["--batch", "0"], /--batch must be at least 1, got 0/],
    [["--patch", "0x0x0"], /--patch must be positive integers separated by 'x'/],
    [["--features", "0"], /--features must be positive integers separated by ','/],
    [["--patch", "9x16x16"], /--patch 9x16x16: each size must be a multiple of/],
    [["--fold", "9"], /--fold must be 0–4, got 9/],
    [["--fold", "3"], /--fold 3: 2 preprocessed cases make 2 fold\(s\) \(0–1\)/],
    [["--lr", "abc"], /--lr must be a number, got 'abc'/],
  ] as const) {
    const r = cli(...base, ...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /libtorch|at Object|TypeError/);
  }
  assert.ok(!existsSync(path.join(root, "runs")), "no run folder was created");
  for (const [args, message] of [
    [["--folds", "9"], /--folds must be integers 0–4/],
    [["--epochs=-5"], /--epochs must be at least 1/],
    [["--patch", "0x0x0"], /--patch must be positive integers/],
  ] as const) {
    const r = cli("experiment", root, "--background", "tissue", ...args);
    assert.equal(r.status, 2, `experiment ${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.ok(!existsSync(path.join(root, "experiment")), "no experiment folder was created");
});

test("train: a missing dataset, plans.json or configuration cache says what to run (exit 3)", async () => {
  const { root } = await tinyDataset();
  const missing = cli("train", path.join(root, "nope"));
  assert.equal(missing.status, 3, missing.stderr);
  assert.match(missing.stderr, /nope: no such dataset folder/);
  const twoD = cli("train", root, "--config", "2d");
  assert.equal(twoD.status, 3, twoD.stderr);
  assert.match(twoD.stderr, /configuration '2d' is not preprocessed .*run `backsplit preprocess .* --config 2d` first/);
  const bare = mkdtempSync(path.join(os.tmpdir(), "bs-bare-"));
  writeFileSync(path.join(bare, "dataset.json"), "{}");
  const noPlans = cli("train", bare);
  assert.equal(noPlans.status, 3, noPlans.stderr);
  assert.match(noPlans.stderr, /plans\.json: missing: run `backsplit preprocess/);
  const check = cli("dataset", "check", path.join(root, "nope"));
  assert.equal(check.status, 3, check.stderr);
});

test("predict: a case missing channel 0000 is named; a missing input folder exits 3", async () => {
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "fake-run");
  mkdirSync(run);
  writeFileSync(path.join(run, "training.json"), JSON.stringify({ plans: preprocessed }));
  const input = path.join(root, "input");
  mkdirSync(input);
  const v = new Volume(new Float32Array(64).fill(1), { shape: [4, 4, 4] });
  writeFileSync(path.join(input, "x_0001.nii.gz"), encodeNifti(v, true));
  const r = cli("predict", input, path.join(root, "out"), "--model", run);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /input\/x_0000\.nii\.gz: missing \(the model reads 1 channel\(s\) per case\)/);
  assert.match(r.stderr, /input\/x_0001\.nii\.gz: channel 1, but the model reads 1 channel\(s\)/);
  const none = cli("predict", path.join(root, "nope"), path.join(root, "out"), "--model", run);
  assert.equal(none.status, 3, none.stderr);
});

test("serve: a port out of range is a usage error", () => {
  const r = cli("serve", ".", "--port", "99999");
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--port must be 0–65535, got 99999/);
});

function labelFile(dir: string, name: string, data: Float32Array | Uint8Array, direction?: number[]): void {
  mkdirSync(dir, { recursive: true });
  const v = new Volume(data, { shape: [4, 4, 4], ...(direction ? { direction: direction as never } : {}) });
  writeFileSync(path.join(dir, name), encodeNifti(v, true));
}

test("evaluate: bad bins exit 2, a missing folder exits 3, a flipped or non-integer prediction is refused", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-eval-"));
  const ref = path.join(dir, "ref");
  const mask = new Uint8Array(64);
  mask[21] = 1;
  labelFile(ref, "a.nii.gz", mask);
  const ok = path.join(dir, "ok");
  labelFile(ok, "a.nii.gz", mask);
  assert.equal(cli("evaluate", ok, ref).status, 0);
  const bins = cli("evaluate", ok, ref, "--bins", "abc");
  assert.equal(bins.status, 2, bins.stderr);
  assert.match(bins.stderr, /--bins must be positive numbers separated by commas, got 'abc'/);
  const missing = cli("evaluate", path.join(dir, "nope"), ref);
  assert.equal(missing.status, 3, missing.stderr);
  assert.match(missing.stderr, /nope: no such prediction folder/);
  const flipped = path.join(dir, "flipped");
  labelFile(flipped, "a.nii.gz", mask, [-1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const f = cli("evaluate", flipped, ref);
  assert.equal(f.status, 1, f.stderr);
  assert.match(f.stderr, /flipped\/a\.nii\.gz: direction differs from the reference/);
  const soft = path.join(dir, "soft");
  labelFile(
    soft,
    "a.nii.gz",
    Float32Array.from(mask, (m) => m * 0.7),
  );
  const s = cli("evaluate", soft, ref);
  assert.equal(s.status, 1, s.stderr);
  assert.match(s.stderr, /soft\/a\.nii\.gz: label values must be integers, found 0\.69/);
});

test("train --lesion-share reaches the run's recorded config", async () => {
  const { root } = await tinyDataset();
  const out = path.join(root, "share");
  const budget = ["--epochs", "1", "--iterations", "1", "--patch", "8x16x16", "--batch", "2", "--features", "4,8"];
  const r = cli("train", root, "--fold", "all", ...budget, "--lesion-share", "1", "--out", out, "--threads", "1");
  assert.equal(r.status, 0, r.stderr);
  const recorded = JSON.parse(readFileSync(path.join(out, "training.json"), "utf8")) as {
    config: { lesionShare: number };
  };
  assert.equal(recorded.config.lesionShare, 1);
});
