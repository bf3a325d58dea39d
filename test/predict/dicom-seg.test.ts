// `backsplit predict … --dicom-seg --reference DIR` as a clinical user runs it: the source is a DICOM series
// (written by pydicom), the input a NIfTI converted from it; the SEG written beside the NIfTI outputs holds
// the lesion and background-class segments with pixel data equal to those outputs on the source slices.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { setThreads } from "../../src/engine/index.js";
import { readVolume, writeVolume } from "../../src/io/index.js";
import { train } from "../../src/train/trainer.js";
import { config, tinyDataset } from "../fixtures/training.js";
import { makeSeries, readSeg, segmentOnGrid } from "../helpers/dicom.js";
import { pythonWith } from "../helpers/python.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const bin = path.join(repo, "bin", "backsplit.mjs");
const skip = pythonWith("pydicom, numpy")
  ? false
  : "needs a python3 with pydicom and numpy (Debian: apt-get install python3-pydicom)";

function cli(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, BACKSPLIT_THREADS: "2" },
  });
}

test("predict --dicom-seg writes a SEG per case that pydicom reads back equal to the masks", { skip }, async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "run");
  await train(
    config(root, preprocessed, {
      mode: "backsplit",
      sources: ["tissue"],
      epochs: 8,
      iterationsPerEpoch: 3,
      augment: false,
      lesionShare: 1,
      out: run,
    }),
  );
  // The source series: case a's image as int16 slices on its grid (identity orientation, 1×1×1.5 mm).
  const image = await readVolume(path.join(root, "imagesTr", "a_0000.nii.gz"));
  const [nx, ny, nz] = image.shape;
  const series = path.join(root, "dicom", "a");
  const info = makeSeries(series, Int16Array.from(image.data, Math.round), {
    columns: nx,
    rows: ny,
    slices: nz,
    orientation: [1, 0, 0, 0, 1, 0],
    pixel_spacing: [image.spacing[1], image.spacing[0]],
    origin: [...image.origin],
    step: image.spacing[2],
  });
  // The input, converted from the series as dcm2niix or `readVolume` would.
  const input = path.join(root, "ts");
  mkdirSync(input, { recursive: true });
  await writeVolume(path.join(input, "a_0000.nii.gz"), await readVolume(series));
  const out = path.join(root, "pred");

  const noRef = cli(["predict", input, out, "--model", run, "--dicom-seg"]);
  assert.equal(noRef.status, 2, noRef.stderr);
  assert.match(noRef.stderr, /--dicom-seg needs --reference/);
  const wrongRef = cli(["predict", input, out, "--model", run, "--dicom-seg", "--reference", path.join(root, "nope")]);
  assert.equal(wrongRef.status, 2);
  assert.ok(!existsSync(out), "nothing predicted when the reference is wrong");

  const r = cli([
    "predict",
    input,
    out,
    "--model",
    run,
    "--save-classes",
    "--dicom-seg",
    "--reference",
    path.join(root, "dicom"), // one folder per case
    "--device",
    "cpu",
    "--tile-average",
    "logits", // every class aggregated: the class map still comes out whole
  ]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(out, "prediction.json"), "utf8")).tileAverage, "logits");
  assert.match(r.stdout, /with DICOM-SEG/);
  const seg = readSeg(path.join(out, "a.seg.dcm"));
  const record = JSON.parse(readFileSync(path.join(run, "training.json"), "utf8"));
  const backgroundClasses = Object.entries(record.classes as Record<string, number>).filter(
    ([name, v]) => v !== 0 && !Object.values(record.lesionClasses).includes(v) && name !== "ignore",
  );
  assert.deepEqual(
    seg.segments.map((s) => s.label),
    [...Object.keys(record.lesionClasses), ...backgroundClasses.map(([name]) => name)],
  );
  assert.equal(seg.study, info.study);
  assert.equal(seg.frame_of_reference, info.frame_of_reference);
  assert.equal(seg.referenced_series, info.series);
  const mask = await readVolume(path.join(out, "a.nii.gz"));
  const classes = await readVolume(path.join(out, "a_classes.nii.gz"));
  if (mask.data.some((v) => v !== 0)) {
    const expected = Uint8Array.from(mask.data, (v) => (v === 1 ? 1 : 0));
    assert.deepEqual(segmentOnGrid(seg, info, 1), expected, "lesion segment = predicted mask");
  } else assert.ok(segmentOnGrid(seg, info, 1).every((v) => v === 0));
  backgroundClasses.forEach(([name, value], n) => {
    const expected = Uint8Array.from(classes.data, (v) => (v === value ? 1 : 0));
    assert.deepEqual(segmentOnGrid(seg, info, n + 2), expected, `segment ${name} = predicted class ${value}`);
  });

  // One series for several cases is refused before predicting.
  await writeVolume(path.join(input, "b_0000.nii.gz"), await readVolume(series));
  const many = cli(["predict", input, path.join(root, "pred2"), "--model", run, "--dicom-seg", "--reference", series]);
  assert.equal(many.status, 2);
  assert.match(many.stderr, /is one DICOM series but the input has 2 cases/);
});
