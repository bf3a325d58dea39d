// Importing background sources: TotalSegmentator multi-label and per-class folders, atlases on
// another grid (resampled through world coordinates), grouping into organ and tissue groups.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { openDataset } from "../../src/dataset/layout.js";
import { readVolume } from "../../src/io/index.js";
import { groupSource } from "../../src/labels/group.js";
import { importSource } from "../../src/labels/import.js";
import { PY_DIR, SHARED_DATA, pythonWithTorch } from "../helpers/python.js";

const TS = path.join(SHARED_DATA, "totalsegmentator-examples");
const skip = existsSync(TS) ? false : "no shared data";

function dataset(images: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-import-"));
  mkdirSync(path.join(root, "imagesTr"));
  for (const [id, file] of Object.entries(images)) symlinkSync(file, path.join(root, "imagesTr", `${id}_0000.nii.gz`));
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({ channel_names: { "0": "CT" }, labels: { background: 0, lesion: 1 }, file_ending: ".nii.gz" }),
  );
  return root;
}

test(
  "TotalSegmentator multi-label import lists the 41 classes present, named from task 'total'; grouping gives organ groups",
  { skip },
  async () => {
    const root = dataset({ ct: path.join(TS, "example_ct_sm.nii.gz") });
    const classesJson = path.join(TS, "classes.json");
    const result = await importSource(openDataset(root), {
      source: "totalseg",
      from: path.join(TS, "example_seg.nii.gz"),
      names: `${classesJson}#'total'`,
      workers: 1,
    });
    const expected = JSON.parse(
      execFileSync(
        pythonWithTorch(),
        [path.join(PY_DIR, "unique_names.py"), path.join(TS, "example_seg.nii.gz"), classesJson, "'total'"],
        { encoding: "utf8" },
      ),
    );
    assert.equal(Object.keys(result.classes).length, 41);
    assert.deepEqual(result.classes, expected);
    assert.equal(result.cases[0].resampled, false);
    const json = JSON.parse(readFileSync(path.join(root, "dataset.json"), "utf8"));
    assert.deepEqual(json.background_sources.totalseg.labels, expected, "names recorded in dataset.json");
    // The written map equals the input map.
    const written = await readVolume(path.join(root, "backgroundTr", "totalseg", "ct.nii.gz"));
    const original = await readVolume(path.join(TS, "example_seg.nii.gz"));
    assert.ok(written.data.every((v, i) => v === original.data[i]));
    // A second import under the same name is refused.
    await assert.rejects(
      importSource(openDataset(root), { source: "totalseg", from: path.join(TS, "example_seg.nii.gz") }),
      /already exists/,
    );

    const grouped = await groupSource(openDataset(root), {
      source: "totalseg",
      grouping: "totalsegmentator",
      target: "organs",
    });
    const g = grouped.mapping;
    assert.equal(g.liver, "liver");
    assert.equal(g.kidney_left, "kidney");
    assert.equal(g.kidney_right, "kidney");
    assert.equal(g.lung_upper_lobe_left, "lung");
    assert.equal(g.small_bowel, "bowel");
    assert.equal(g.aorta, "vessels");
    assert.deepEqual(
      Object.entries(g).filter(([, v]) => v === null),
      [],
      "every class present has a group",
    );
    const groupedMap = await readVolume(path.join(root, "backgroundTr", "organs", "ct.nii.gz"));
    const liverValue = expected.liver;
    for (let i = 0; i < original.data.length; i++) {
      if (original.data[i] === liverValue) assert.equal(groupedMap.data[i], grouped.classes.liver);
      if (original.data[i] === 0) assert.equal(groupedMap.data[i], 0);
    }
  },
);

test(
  "per-class folders (TotalSegmentator tissue types) become one map with one value per mask name",
  { skip },
  async () => {
    const root = dataset({ ct: path.join(TS, "example_ct_sm.nii.gz") });
    const folder = mkdtempSync(path.join(os.tmpdir(), "bs-perclass-"));
    mkdirSync(path.join(folder, "ct"));
    for (const f of ["skeletal_muscle", "subcutaneous_fat", "torso_fat"]) {
      symlinkSync(path.join(TS, "example_seg_tissue_types", `${f}.nii.gz`), path.join(folder, "ct", `${f}.nii.gz`));
    }
    const result = await importSource(openDataset(root), { source: "tissue", from: folder, workers: 1 });
    assert.equal(result.layout, "per-class");
    assert.deepEqual(result.classes, { skeletal_muscle: 1, subcutaneous_fat: 2, torso_fat: 3 });
    const map = await readVolume(path.join(root, "backgroundTr", "tissue", "ct.nii.gz"));
    const fat = await readVolume(path.join(TS, "example_seg_tissue_types", "torso_fat.nii.gz"));
    const muscle = await readVolume(path.join(TS, "example_seg_tissue_types", "skeletal_muscle.nii.gz"));
    for (let i = 0; i < map.data.length; i++) {
      if (muscle.data[i]) assert.equal(map.data[i], 1);
      else if (fat.data[i] && map.data[i] !== 2) assert.equal(map.data[i], 3);
    }
  },
);

const MS = path.join(SHARED_DATA, "ms-lesjak2017", "patient07", "FLAIR.nii.gz");
test(
  "an atlas on a flipped grid is resampled through world coordinates (JHU x-flipped vs MS LAS)",
  { skip: existsSync(MS) ? false : "no shared data" },
  async () => {
    const root = dataset({ p07: MS });
    const atlas = path.join(SHARED_DATA, "atlases-mni", "JHU-WhiteMatter-labels-1mm.nii.gz");
    const result = await importSource(openDataset(root), { source: "jhu", from: atlas, workers: 1 });
    assert.equal(result.cases[0].resampled, true);
    const map = await readVolume(path.join(root, "backgroundTr", "jhu", "p07.nii.gz"));
    const jhu = await readVolume(atlas);
    const image = await readVolume(MS);
    assert.deepEqual(map.geometry, image.geometry);
    const [nx, ny, nz] = map.shape;
    for (let k = 0; k < nz; k += 7)
      for (let j = 0; j < ny; j += 5)
        for (let i = 0; i < nx; i += 3) assert.equal(map.at(i, j, k), jhu.at(nx - 1 - i, j, k));
  },
);
