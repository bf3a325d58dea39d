// predict refuses an input image with a NaN voxel (it would make every probability NaN and the mask
// empty), naming the file, with exit 1 and no mask written.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { setThreads } from "../../src/engine/index.js";
import { decodeNifti, encodeNifti } from "../../src/io/nifti.js";
import { train } from "../../src/train/trainer.js";
import { config, tinyDataset } from "../fixtures/training.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
setThreads(2);

test("an input image with one NaN voxel is refused (exit 1, naming the file); a clean one predicts", async () => {
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "run");
  await train(config(root, preprocessed, { epochs: 1, iterationsPerEpoch: 1, out: run }));
  const input = path.join(root, "input");
  mkdirSync(input);
  const source = path.join(root, "imagesTr", "a_0000.nii.gz");
  copyFileSync(source, path.join(input, "clean_0000.nii.gz"));
  const image = decodeNifti(readFileSync(source), source);
  image.data[100] = Number.NaN;
  writeFileSync(path.join(input, "nan_0000.nii.gz"), encodeNifti(image, true));
  const out = path.join(root, "preds");
  const args = [bin, "predict", input, out, "--model", run, "--device", "cpu", "--threads", "2"];
  const r = spawnSync(process.execPath, args, { encoding: "utf8" });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /input\/nan_0000\.nii\.gz: 1 voxels are NaN or infinite; prediction refused/);
  assert.ok(!existsSync(path.join(out, "nan.nii.gz")), "no mask for the NaN case");
  assert.ok(existsSync(path.join(out, "clean.nii.gz")), "the clean case before it was predicted");
});
