// Pretrained ONNX models as a background source: exact conform/back, Dice against FreeSurfer,
// a prediction on an MS case's own grid that finds white matter where the atlas has tracts.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { openDataset } from "../../src/dataset/layout.js";
import { setThreads } from "../../src/engine/index.js";
import { conform } from "../../src/io/conform.js";
import { readVolume } from "../../src/io/index.js";
import { Volume } from "../../src/io/volume.js";
import { FREESURFER_GROUPING, groupOf } from "../../src/labels/groupings.js";
import { freesurferName } from "../../src/labels/names.js";
import { loadCard, predictCase, predictSource, resampleVolumeLinear } from "../../src/labels/predict.js";
import { prng } from "../helpers/data.js";
import { SHARED_DATA } from "../helpers/python.js";

const MS_T1 = path.join(SHARED_DATA, "ms-lesjak2017", "patient07", "T1.nii.gz");
const ONNX = path.join(SHARED_DATA, "brainchop", "onnx");
const skip = existsSync(ONNX) ? false : "no shared data";

test("conforming to LIA 256³ and back reproduces the input grid voxel for voxel", { skip }, async () => {
  const ms = await readVolume(MS_T1);
  const r = prng(5);
  const labels = new Volume(
    Uint8Array.from({ length: ms.voxelCount }, () => Math.floor(r() * 7)),
    ms.geometry,
  );
  const c = await conform(labels, { orientation: "LIA", spacing: 1, size: [256, 256, 256] }, resampleVolumeLinear);
  assert.equal(c.volume.orientation(), "LIA");
  assert.deepEqual(c.volume.shape, [256, 256, 256]);
  // The world position of a voxel is kept.
  const world = ms.voxelToWorld([10, 20, 30]);
  const v = c.volume.worldToVoxel(world).map(Math.round);
  assert.equal(c.volume.at(v[0], v[1], v[2]), labels.at(10, 20, 30));
  const back = c.back(c.volume);
  assert.deepEqual(back.geometry, ms.geometry);
  assert.ok(
    back.data.every((x, i) => x === labels.data[i]),
    "exact round trip",
  );
});

function groupedDice(pred: Volume, predNames: string[], reference: Volume): number[] {
  const groups = Object.keys(FREESURFER_GROUPING.groups).length;
  const predGroup = predNames.map((n, i) => (i === 0 ? 0 : groupOf(FREESURFER_GROUPING, n)));
  const refGroup = new Map<number, number>();
  const inter = new Array(groups + 1).fill(0);
  const a = new Array(groups + 1).fill(0);
  const b = new Array(groups + 1).fill(0);
  for (let i = 0; i < pred.data.length; i++) {
    const v = reference.data[i];
    if (!refGroup.has(v)) refGroup.set(v, v === 0 ? 0 : groupOf(FREESURFER_GROUPING, freesurferName(v)));
    const x = predGroup[pred.data[i]];
    const y = refGroup.get(v)!;
    a[x]++;
    b[y]++;
    if (x === y) inter[x]++;
  }
  return Array.from({ length: groups }, (_, g) => (2 * inter[g + 1]) / (a[g + 1] + b[g + 1]));
}

test(
  "the brainchop 18-class model on norm.mgz, grouped, reaches mean Dice ≥ 0.75 against FreeSurfer's aseg",
  { skip },
  async () => {
    setThreads(2);
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), "bs-pred-")), "fs.nii.gz");
    const card = loadCard("brainchop-18");
    const fs = path.join(SHARED_DATA, "freesurfer-subject");
    await predictCase({
      caseId: "fs",
      image: path.join(fs, "norm.mgz"),
      model: path.join(ONNX, card.onnx!),
      card,
      out,
      threads: 2,
    });
    const pred = await readVolume(out);
    const aseg = await readVolume(path.join(fs, "aparc.a2009s+aseg.mgz"));
    assert.deepEqual(pred.geometry.shape, aseg.geometry.shape);
    const dice = groupedDice(pred, card.output.labels, aseg);
    const mean = dice.reduce((s, d) => s + d, 0) / dice.length;
    assert.ok(mean >= 0.75, `mean grouped Dice ${mean.toFixed(3)} (${dice.map((d) => d.toFixed(3)).join(", ")})`);
  },
);

test(
  "predict on an MS case (LAS 182×218×182) returns a map on the exact input grid, white matter under the tracts",
  { skip },
  async () => {
    setThreads(2);
    const root = mkdtempSync(path.join(os.tmpdir(), "bs-pred-ms-"));
    mkdirSync(path.join(root, "imagesTr"));
    symlinkSync(MS_T1, path.join(root, "imagesTr", "p07_0000.nii.gz"));
    writeFileSync(
      path.join(root, "dataset.json"),
      JSON.stringify({ channel_names: { "0": "T1" }, labels: { background: 0, lesion: 1 }, file_ending: ".nii.gz" }),
    );
    const { classes } = await predictSource(openDataset(root), {
      source: "brainchop3",
      model: path.join(ONNX, "model20chan3cls.onnx"),
      card: "brainchop-3",
      workers: 1,
    });
    assert.deepEqual(classes, { white_matter: 1, grey_matter: 2 });
    const map = await readVolume(path.join(root, "backgroundTr", "brainchop3", "p07.nii.gz"));
    const image = await readVolume(MS_T1);
    assert.deepEqual(map.geometry, image.geometry, "the exact input grid");
    const jhu = await readVolume(path.join(SHARED_DATA, "atlases-mni", "JHU-WhiteMatter-labels-1mm.nii.gz"));
    const [nx] = map.shape;
    let brain = 0;
    let brainInTracts = 0;
    let wm = 0;
    let wmInTracts = 0;
    for (let p = 0; p < map.data.length; p++) {
      if (image.data[p] === 0) continue;
      const i = p % nx;
      const tract = jhu.data[p - i + (nx - 1 - i)] > 0; // JHU is x-flipped against the MS grid
      brain++;
      if (tract) brainInTracts++;
      if (map.data[p] === 1) {
        wm++;
        if (tract) wmInTracts++;
      }
    }
    const chance = brainInTracts / brain;
    const observed = wmInTracts / wm;
    assert.ok(wm > 0.1 * brain, `white matter is ${((100 * wm) / brain).toFixed(1)} % of the brain`);
    assert.ok(
      observed > 2 * chance,
      `share of predicted white matter inside tracts ${observed.toFixed(3)} vs chance ${chance.toFixed(3)}`,
    );
  },
);
