// dataset check: a case id in both imagesTr and imagesTs, and two class names sharing a value, are errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeNifti } from "../../src/io/nifti.js";
import { DATASET_JSON, image, writeCase } from "../fixtures/corpus.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

test("the same case id in imagesTr and imagesTs, and labels sharing a value, are reported", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-layout-"));
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({
      ...DATASET_JSON,
      labels: { background: 0, lesion: 1, edema: 1 },
      background_sources: { atlas: { labels: { left: 1, right: 1, csf: 2 } } },
    }),
  );
  writeCase(root, "a", {});
  writeCase(root, "b", {});
  mkdirSync(path.join(root, "imagesTs"));
  for (const c of ["0000", "0001"])
    writeFileSync(path.join(root, "imagesTs", `a_${c}.nii.gz`), encodeNifti(image(1), true));
  const r = spawnSync(process.execPath, [bin, "dataset", "check", root, "--workers", "1"], { encoding: "utf8" });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  for (const line of [
    'error: dataset.json: labels "lesion" and "edema" share the value 1 (each class needs its own value)',
    'error: dataset.json: background_sources.atlas.labels "left" and "right" share the value 1',
    "error: imagesTs/a_0000.nii.gz: case id 'a' is also a training case (imagesTr)",
  ])
    assert.ok(r.stdout.includes(line), `missing: ${line}\n--- got:\n${r.stdout}`);
});
