// The labels verbs as a user runs them on a small dataset: import, cluster, group, merge.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { readVolume } from "../../src/io/index.js";
import { encodeNifti } from "../../src/io/nifti.js";
import { Volume } from "../../src/io/volume.js";
import { DATASET_JSON, SHAPE, writeCase } from "../fixtures/corpus.js";
import { jsonEvents } from "../helpers/cli.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args, "--workers", "1"], { encoding: "utf8" });

test("import an atlas, cluster, group and merge from the command line", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-labels-cli-"));
  writeFileSync(path.join(root, "dataset.json"), JSON.stringify(DATASET_JSON));
  writeCase(root, "a", {});
  writeCase(root, "b", {});
  // An "atlas" with FreeSurfer values: left WM (2) on z < 4, left cortex (3) above.
  const atlas = new Uint8Array(512).map((_, i) => (Math.floor(i / 64) < 4 ? 2 : 3));
  const atlasFile = path.join(root, "atlas.nii.gz");
  writeFileSync(atlasFile, encodeNifti(new Volume(atlas, { shape: SHAPE, spacing: [1, 1, 2] }), true));
  let r = cli("labels", "import", root, "--source", "fs", "--from", atlasFile, "--names", "freesurfer");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Left-Cerebral-White-Matter/);
  r = cli("labels", "import", root, "--source", "fs", "--from", atlasFile);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /background source 'fs' already exists/);
  r = cli("labels", "group", root, "--source", "fs", "--grouping", "freesurfer", "--target", "tissue");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /white_matter/);
  r = cli("labels", "cluster", root, "--k", "2");
  assert.equal(r.status, 0, r.stderr);
  r = cli("labels", "merge", root, "--sources", "tissue,gmm", "--json");
  assert.equal(r.status, 0, r.stderr);
  const reports = jsonEvents(r.stdout, "merged");
  assert.deepEqual(reports[0].report.classes, {
    background: 0,
    lesion: 1,
    white_matter: 2,
    cortex: 3,
    intensity_1: 4,
    intensity_2: 5,
  });
  assert.equal(reports[0].report.volumes.lesion, 8);
  const merged = await readVolume(path.join(root, "merged", "a.nii.gz"));
  assert.equal(merged.at(2, 2, 2), 1, "the lesion wins");
  assert.equal(merged.at(0, 0, 0), 2, "tissue (first source) paints white matter at z = 0");
  const json = JSON.parse(readFileSync(path.join(root, "dataset.json"), "utf8"));
  assert.deepEqual(Object.keys(json.background_sources), ["fs", "tissue", "gmm"]);
  assert.ok(existsSync(path.join(root, "merged", "merge_report.json")));
  r = cli("labels", "merge", root, "--sources", "nope");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no background source 'nope'/);
});

test("labels interactive: simulated clicks on a reference source make a new source, with Dice per structure", async () => {
  const { writePhantomDataset } = await import("../../src/demo/phantom.js");
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-clicks-"));
  writePhantomDataset(root, { train: 2, test: 0, seed: 3 });
  assert.equal(cli("labels", "interactive", root, "--reference", "tissue", "--simulate-clicks", "0").status, 2);
  const r = cli("labels", "interactive", root, "--reference", "tissue", "--simulate-clicks", "3", "--json");
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split("\n").pop()!) as { meanDice: Record<string, number> };
  // The organ and the fat shell differ from their surroundings in intensity: a few clicks suffice.
  assert.ok(result.meanDice.organ > 0.8, `organ Dice ${result.meanDice.organ}`);
  const json = JSON.parse(readFileSync(path.join(root, "dataset.json"), "utf8"));
  assert.deepEqual(json.background_sources.tissue_clicks3.labels, json.background_sources.tissue.labels);
  const map = await readVolume(path.join(root, "backgroundTr", "tissue_clicks3", "phantom_000.nii.gz"));
  const ref = await readVolume(path.join(root, "backgroundTr", "tissue", "phantom_000.nii.gz"));
  assert.deepEqual(map.shape, ref.shape);
  // Never overwrite a source by accident.
  assert.equal(cli("labels", "interactive", root, "--reference", "tissue", "--simulate-clicks", "3").status, 1);
});
