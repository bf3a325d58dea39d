// DICOM test helpers: series written by pydicom (test/py/make_series.py), SEGs read back by pydicom (read_seg.py).
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { assertClose } from "./assert.js";
import { pythonWith, runPythonWith } from "./python.js";

function pydicomPython(): string {
  const py = pythonWith("pydicom, numpy");
  if (!py) throw new Error("needs a python3 with pydicom and numpy (Debian: apt-get install python3-pydicom)");
  return py;
}

export interface SeriesInfo {
  study: string;
  series: string;
  frame_of_reference: string;
  slices: { file: string; sop: string; sop_class: string; position: number[] }[];
}

export interface SegInfo {
  sop_class: string;
  modality: string;
  segmentation_type: string;
  bits_allocated: number;
  rows: number;
  columns: number;
  number_of_frames: number;
  study: string;
  series: string;
  frame_of_reference: string;
  patient_id: string;
  referenced_series: string;
  referenced_instances: string[];
  orientation: number[];
  pixel_spacing: number[];
  segments: { number: number; label: string; algorithm: string; category: string; type: string }[];
  frames: { segment: number; position: number[]; source: string; pixels: string }[];
}

const ROTATION = 0.2;
export const SERIES_SPEC = {
  columns: 7,
  rows: 5,
  slices: 6,
  orientation: [Math.cos(ROTATION), Math.sin(ROTATION), 0, -Math.sin(ROTATION), Math.cos(ROTATION), 0],
  pixel_spacing: [0.8, 0.6],
  origin: [-10, 20, 30],
  step: 2,
  modality: "MR",
};

/** Writes a series with pydicom from int16 voxels (x fastest) and returns what pydicom wrote. */
export function makeSeries(
  folder: string,
  voxels: Int16Array,
  spec: Partial<typeof SERIES_SPEC> = {},
  py: string = pydicomPython(),
): SeriesInfo {
  mkdirSync(path.dirname(folder), { recursive: true });
  const raw = path.join(path.dirname(folder), `${path.basename(folder)}.i16`);
  writeFileSync(raw, new Uint8Array(voxels.buffer, voxels.byteOffset, voxels.byteLength));
  return runPythonWith<SeriesInfo>(py, "make_series.py", { ...SERIES_SPEC, ...spec, folder, voxels: raw });
}

export function readSeg(file: string, py: string = pydicomPython()): SegInfo {
  return runPythonWith<SegInfo>(py, "read_seg.py", {}, [file]);
}

/** The SEG's frames of one segment put back on the series grid (slices found by their source instance). */
export function segmentOnGrid(seg: SegInfo, info: SeriesInfo, segment: number): Uint8Array {
  const plane = seg.rows * seg.columns;
  const out = new Uint8Array(plane * info.slices.length);
  for (const f of seg.frames.filter((x) => x.segment === segment)) {
    const k = info.slices.findIndex((s) => s.sop === f.source);
    assert.ok(k >= 0, `frame source ${f.source} is a slice of the series`);
    assertClose(f.position, info.slices[k].position, 0, 1e-4, `frame position of slice ${k}`);
    out.set(Buffer.from(f.pixels, "base64"), k * plane);
  }
  return out;
}
