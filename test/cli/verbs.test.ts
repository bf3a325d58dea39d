// Every verb's help against its option table: each option is named in the help, each word a choice
// option accepts is too, and main() refuses other words before the verb runs (exit 2).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { VERBS } from "../../src/cli/main.js";
import { encodeNifti } from "../../src/io/nifti.js";
import { Volume } from "../../src/io/volume.js";
import { DATASET_JSON, SHAPE, writeCase } from "../fixtures/corpus.js";
import { jsonEvents } from "../helpers/cli.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });

test("the help of every verb names each of its options and each word of its choice options", () => {
  for (const verb of VERBS) {
    for (const name of Object.keys(verb.options))
      assert.match(verb.help, new RegExp(`--${name}\\b`), `backsplit ${verb.name}: --${name} is not in its help`);
    for (const [name, words] of Object.entries(verb.choices ?? {})) {
      assert.ok(name in verb.options, `backsplit ${verb.name}: choice --${name} is not an option`);
      for (const word of words)
        assert.ok(verb.help.includes(word), `backsplit ${verb.name}: --${name} ${word} is not in its help`);
    }
  }
});

test("choice options: other words exit 2 naming the accepted ones; shared options agree across verbs", () => {
  const collapse = VERBS.filter((v) => v.options.collapse).map((v) => [v.name, v.choices?.collapse]);
  assert.deepEqual(collapse, [
    ["predict", ["prob", "argmax"]],
    ["export", ["prob", "argmax"]],
    ["experiment", ["prob", "argmax"]],
  ]);
  const unassigned = VERBS.filter((v) => v.options.unassigned).map((v) => v.choices?.unassigned);
  assert.deepEqual(unassigned, [
    ["background", "ignore", "marginal"],
    ["background", "ignore", "marginal"],
  ]);
  for (const [args, message] of [
    [["predict", "in", "out", "--model", "m", "--collapse", "max"], "--collapse must be prob or argmax, got 'max'"],
    [["export", "run", "--onnx", "f", "--collapse", "x"], "--collapse must be prob or argmax, got 'x'"],
    [["predict", "in", "out", "--checkpoint", "ema"], "--checkpoint must be latest or best, got 'ema'"],
    [["predict", "in", "out", "--tile-average", "mean"], "--tile-average must be logits or probabilities, got 'mean'"],
    [["train", "d", "--mode", "multi"], "--mode must be binary or backsplit, got 'multi'"],
    [["train", "d", "--init", "xavier"], "--init must be he, pytorch, pytorch-heads or pytorch-body, got 'xavier'"],
    [["experiment", "d", "--init", "x"], "--init must be he, pytorch, pytorch-heads or pytorch-body, got 'x'"],
    [["train", "d", "--lesion-sampling", "case"], "--lesion-sampling must be instance or voxel, got 'case'"],
    [["train", "d", "--warmup-epochs=-1"], "--warmup-epochs must be between 0 and ∞, got -1"],
    [["train", "d", "--lesion-share", "1.5"], "--lesion-share must be between 0 and 1, got 1.5"],
    [["train", "d", "--background-warmup", "2"], "--background-warmup needs --mode backsplit"],
    [
      ["train", "d", "--mode", "backsplit", "--background", "t", "--background-warmup=-1"],
      "--background-warmup must be between 0 and ∞, got -1",
    ],
    [["labels", "merge", "d", "--unassigned", "x"], "--unassigned must be background, ignore or marginal, got 'x'"],
  ] as const) {
    const r = cli(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.includes(message), r.stderr);
  }
});

test("labels merge --unassigned marginal (offered by its help) marks unlabelled voxels unknown_background", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-verbs-"));
  writeFileSync(path.join(root, "dataset.json"), JSON.stringify(DATASET_JSON));
  writeCase(root, "a", {});
  // An atlas labelling only the lower half (z < 4): the rest is unassigned.
  const atlas = new Uint8Array(512).map((_, i) => (Math.floor(i / 64) < 4 ? 2 : 0));
  const atlasFile = path.join(root, "atlas.nii.gz");
  writeFileSync(atlasFile, encodeNifti(new Volume(atlas, { shape: SHAPE, spacing: [1, 1, 2] }), true));
  let r = cli(
    "labels",
    "import",
    root,
    "--source",
    "fs",
    "--from",
    atlasFile,
    "--names",
    "freesurfer",
    "--workers",
    "1",
  );
  assert.equal(r.status, 0, r.stderr);
  r = cli("labels", "merge", root, "--sources", "fs", "--unassigned", "marginal", "--json", "--workers", "1");
  assert.equal(r.status, 0, r.stderr);
  const merged = jsonEvents(r.stdout, "merged");
  assert.equal(merged.length, 1);
  assert.ok(merged[0].report.classes.unknown_background > 0, JSON.stringify(merged[0].report.classes));
});
