// DICOM-SEG round trip: a tiny oblique series written by pydicom (slices in shuffled file order, frames of
// 7×5 pixels so that 1-bit frames do not end on byte boundaries), label maps on its grid (and on a
// reoriented copy of it) → a SEG written through dcmjs → read back by pydicom: segments, references to the
// source's study, series, instances and frame of reference, frame positions on the source slices, and
// pixel data equal to the maps.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  type DicomSeriesReference,
  type SegmentInput,
  readDicomSeriesReference,
  writeDicomSeg,
} from "../../src/io/dicom-seg.js";
import { Volume, readVolume, reorient } from "../../src/io/index.js";
import { assertClose } from "../helpers/assert.js";
import { SERIES_SPEC, type SeriesInfo, makeSeries, readSeg, segmentOnGrid } from "../helpers/dicom.js";
import { pythonWith } from "../helpers/python.js";

const skip = pythonWith("pydicom, numpy")
  ? false
  : "needs a python3 with pydicom and numpy (Debian: apt-get install python3-pydicom)";

function pattern(n: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => (i * 37) % 1000);
}

async function seriesWithMaps(): Promise<{
  dir: string;
  folder: string;
  info: SeriesInfo;
  grid: Volume;
  lesion: Volume;
  classes: Volume;
}> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-seg-"));
  const folder = path.join(dir, "series");
  const { columns: nx, rows: ny, slices: nz } = SERIES_SPEC;
  const info = makeSeries(folder, pattern(nx * ny * nz));
  const grid = await readVolume(folder);
  assert.deepEqual(grid.shape, [nx, ny, nz]);
  const lesion = new Uint8Array(nx * ny * nz);
  const classes = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const p = i + nx * (j + ny * k);
        lesion[p] = (i - 3) ** 2 + (j - 2) ** 2 + (k - 2.5) ** 2 < 3 ? 1 : 0;
        classes[p] = i === 0 && j === 0 ? 0 : i < 3 ? 2 : 3;
      }
  return {
    dir,
    folder,
    info,
    grid,
    lesion: new Volume(lesion, grid.geometry),
    classes: new Volume(classes, grid.geometry),
  };
}

test("the series reference read with dcmjs has ITK's grid", { skip }, async () => {
  const { folder, grid, info } = await seriesWithMaps();
  const ref: DicomSeriesReference = await readDicomSeriesReference(folder);
  assert.equal(ref.seriesInstanceUID, info.series);
  assert.equal(ref.frameOfReferenceUID, info.frame_of_reference);
  assert.deepEqual(
    ref.slices.map((s) => s.sopInstanceUID),
    info.slices.map((s) => s.sop),
    "slices sorted along the normal",
  );
  assert.deepEqual(ref.geometry.shape, grid.shape);
  assertClose(ref.geometry.spacing, grid.spacing, 0, 1e-5, "spacing");
  assertClose(ref.geometry.origin, grid.origin, 0, 1e-4, "origin");
  assertClose(ref.geometry.direction, grid.direction, 0, 1e-5, "direction");
});

test("a lesion mask and background classes → DICOM-SEG that pydicom reads back exactly", { skip }, async () => {
  const { dir, folder, info, lesion, classes } = await seriesWithMaps();
  const segments: SegmentInput[] = [
    { map: lesion, value: 1, label: "lesion" },
    { map: classes, value: 2, label: "grey matter", kind: "tissue" },
    { map: classes, value: 3, label: "white matter", kind: "tissue" },
  ];
  const file = path.join(dir, "out.seg.dcm");
  await writeDicomSeg(file, folder, segments, { seriesDescription: "test SEG" });
  const seg = readSeg(file);
  assert.equal(seg.sop_class, "1.2.840.10008.5.1.4.1.1.66.4");
  assert.equal(seg.modality, "SEG");
  assert.equal(seg.segmentation_type, "BINARY");
  assert.equal(seg.bits_allocated, 1);
  assert.deepEqual(
    seg.segments.map((s) => [s.number, s.label, s.algorithm, s.category, s.type]),
    [
      [1, "lesion", "AUTOMATIC", "Morphologically Altered Structure", "Lesion"],
      [2, "grey matter", "AUTOMATIC", "Tissue", "Tissue"],
      [3, "white matter", "AUTOMATIC", "Tissue", "Tissue"],
    ],
  );
  assert.equal(seg.study, info.study);
  assert.equal(seg.frame_of_reference, info.frame_of_reference);
  assert.equal(seg.patient_id, "seg-0");
  assert.equal(seg.referenced_series, info.series);
  assert.notEqual(seg.series, info.series, "a new series");
  assert.deepEqual([...seg.referenced_instances].sort(), info.slices.map((s) => s.sop).sort());
  assertClose(seg.orientation, SERIES_SPEC.orientation, 0, 1e-6, "orientation");
  assertClose(seg.pixel_spacing, SERIES_SPEC.pixel_spacing, 0, 1e-9, "pixel spacing");
  assert.equal(seg.frames.length, seg.number_of_frames);
  // Frames only where a segment has voxels: the lesion spans slices 1–4, the classes every slice.
  const slicesWith = (v: Volume, value: number) =>
    new Set([...v.data.keys()].filter((i) => v.data[i] === value).map((i) => Math.floor(i / (7 * 5)))).size;
  assert.equal(seg.number_of_frames, slicesWith(lesion, 1) + slicesWith(classes, 2) + slicesWith(classes, 3));
  segments.forEach((s, n) => {
    const expected = Uint8Array.from(s.map.data, (v) => (v === s.value ? 1 : 0));
    assert.deepEqual(segmentOnGrid(seg, info, n + 1), expected, `segment ${s.label}: pixels`);
  });

  // The same maps on another grid (reoriented: the same voxels in world space) give the same frames.
  const moved = path.join(dir, "moved.seg.dcm");
  await writeDicomSeg(moved, folder, [
    { map: reorient(lesion, "RAS"), value: 1, label: "lesion" },
    { map: reorient(classes, "LIP"), value: 2, label: "grey matter", kind: "tissue" },
  ]);
  const segMoved = readSeg(moved);
  assert.deepEqual(segmentOnGrid(segMoved, info, 1), segmentOnGrid(seg, info, 1));
  assert.deepEqual(segmentOnGrid(segMoved, info, 2), segmentOnGrid(seg, info, 2));
});

test("an empty mask is a valid SEG; maps elsewhere and mixed folders are refused", { skip }, async () => {
  const { dir, folder, info, lesion } = await seriesWithMaps();
  const empty = new Volume(new Uint8Array(lesion.voxelCount), lesion.geometry);
  const file = path.join(dir, "empty.seg.dcm");
  await writeDicomSeg(file, folder, [{ map: empty, value: 1, label: "lesion" }]);
  const seg = readSeg(file);
  assert.equal(seg.number_of_frames, info.slices.length, "one empty frame per slice");
  assert.ok(segmentOnGrid(seg, info, 1).every((v) => v === 0));

  const far = new Volume(lesion.data, { ...lesion.geometry, origin: [500, 500, 500] });
  await assert.rejects(
    writeDicomSeg(path.join(dir, "far.seg.dcm"), folder, [{ map: far, value: 1, label: "lesion" }]),
    /does not overlap segment "lesion"'s image/,
  );
  // A slice of a second series in the same folder.
  const other = makeSeries(path.join(dir, "other"), pattern(7 * 5 * 6), { origin: [0, 0, 0] });
  copyFileSync(path.join(dir, "other", other.slices[0].file), path.join(folder, "stray.dcm"));
  await assert.rejects(readDicomSeriesReference(folder), /2 series .* a reference folder must hold one series/);
  assert.ok(
    readdirSync(dir).every((f) => !f.includes(".tmp-")),
    "no temporary files left",
  );
});
