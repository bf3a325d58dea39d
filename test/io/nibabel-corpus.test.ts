// nibabel's own test files as a peer corpus: 3-D and 4-D NIfTI-1, NIfTI-2 and a 2-frame MGZ read
// exactly as nibabel reads them (every voxel of every frame, shape, affine); what we write (4-D,
// NIfTI-2) nibabel reads back the same. The references are computed here by Debian's python3-nibabel.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  ImageFormatError,
  type Volume,
  encodeNiftiFrames,
  readChannels,
  readVolume,
  writeChannels,
  writeVolume,
} from "../../src/io/index.js";
import { parseNiftiHeader } from "../../src/io/nifti.js";
import { assertClose } from "../helpers/assert.js";
import { pythonWith, runPythonWith } from "../helpers/python.js";

const python = pythonWith("nibabel, numpy");
const dataDir = python
  ? execFileSync(python, [
      "-c",
      "import nibabel, os; print(os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data'))",
    ])
      .toString()
      .trim()
  : null;
const skip = !python
  ? "needs a python3 with nibabel and numpy (Debian: apt-get install python3-nibabel)"
  : !existsSync(path.join(dataDir!, "example4d.nii.gz"))
    ? `nibabel's test files are not installed (looked in ${dataDir})`
    : false;

interface NibFrames {
  shape: number[];
  affine: number[];
  kind: string;
  frames: string[];
}

function nibabel(files: string[]): NibFrames[] {
  return runPythonWith<NibFrames[]>(python!, "nib_frames.py", { files });
}

function float64(b64: string): Float64Array {
  const bytes = Buffer.from(b64, "base64");
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Every voxel, shape and affine of our frames against nibabel's (NaN equals NaN). */
function assertLikeNibabel(frames: Volume[], ref: NibFrames, name: string): void {
  assert.deepEqual(frames[0].shape, [...ref.shape.slice(0, 3), 1, 1].slice(0, 3), `${name}: shape`);
  assert.equal(frames.length, ref.frames.length, `${name}: frames`);
  for (const [f, frame] of frames.entries()) {
    assert.deepEqual(frame.geometry, frames[0].geometry, `${name}: frame ${f} has the same grid`);
    assertClose(frame.affineRas(), ref.affine, 1e-6, 1e-4, `${name} affine`);
    assertClose(frame.data, float64(ref.frames[f]), 1e-6, 1e-6, `${name} frame ${f} voxels`);
  }
}

const THREE_D = ["anatomical.nii", "standard.nii.gz", "reoriented_anat_moved.nii", "resampled_anat_moved.nii"];
// 4-D NIfTI-1 (2 and 20 frames), 4-D NIfTI-2, 2-frame MGZ with a non-orthogonal affine.
const FOUR_D = ["example4d.nii.gz", "functional.nii", "example_nifti2.nii.gz", "test.mgz"];

test("3-D NIfTI files read like nibabel (readVolume and readChannels)", { skip }, async () => {
  const files = THREE_D.map((f) => path.join(dataDir!, f));
  const refs = nibabel(files);
  for (const [n, file] of files.entries()) {
    assert.equal(refs[n].frames.length, 1);
    assertLikeNibabel([await readVolume(file)], refs[n], THREE_D[n]);
    const channels = await readChannels(file);
    assert.equal(channels.length, 1, THREE_D[n]);
    assertLikeNibabel(channels, refs[n], THREE_D[n]);
  }
});

test("4-D NIfTI-1, NIfTI-2 and multi-frame MGZ read as frames like nibabel", { skip }, async () => {
  const files = FOUR_D.map((f) => path.join(dataDir!, f));
  const refs = nibabel(files);
  assert.deepEqual(
    refs.map((r) => r.kind),
    ["Nifti1Image", "Nifti1Image", "Nifti2Image", "MGHImage"],
  );
  for (const [n, file] of files.entries()) {
    const frames = await readChannels(file);
    assert.equal(frames.length, refs[n].shape[3], FOUR_D[n]);
    assertLikeNibabel(frames, refs[n], FOUR_D[n]);
    // A single-volume reader refuses them with a message that says what to do instead.
    await assert.rejects(readVolume(file), (error: Error) => {
      assert.ok(error instanceof ImageFormatError, String(error));
      assert.match(
        error.message,
        new RegExp(`${FOUR_D[n].replace(".", "\\.")}: ${frames.length} frames.*readChannels`),
      );
      return true;
    });
  }
});

test("4-D and NIfTI-2 files we write read back identically, and like that in nibabel", { skip }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-nib-"));
  const source = await readChannels(path.join(dataDir!, "example4d.nii.gz"));
  // 4-D NIfTI-1 (the writer's default) and the same frames as NIfTI-2.
  const as1 = path.join(dir, "four.nii.gz");
  writeChannels(as1, source);
  const as2 = path.join(dir, "four2.nii");
  writeFileSync(as2, encodeNiftiFrames(source, false, { version: 2 }));
  assert.equal(parseNiftiHeader(encodeNiftiFrames(source, false, { version: 2 }), as2).version, 2);
  // A 3-D volume with a dim beyond int16 is written as NIfTI-2 without being asked.
  const { Volume } = await import("../../src/io/volume.js");
  const long = new Volume(
    Float32Array.from({ length: 40000 * 2 }, (_, i) => Math.sin(i) * 1000),
    { shape: [40000, 2, 1], spacing: [0.5, 2, 3], origin: [10, -20, 30], direction: [0, 1, 0, -1, 0, 0, 0, 0, 1] },
  );
  const longFile = path.join(dir, "long.nii.gz");
  await writeVolume(longFile, long);
  const refs = nibabel([as1, as2, longFile]);
  assert.deepEqual(
    refs.map((r) => r.kind),
    ["Nifti1Image", "Nifti2Image", "Nifti2Image"],
  );
  for (const [n, file] of [as1, as2].entries()) {
    const back = await readChannels(file);
    assert.equal(back.length, source.length);
    back.forEach((f, i) => {
      assert.deepEqual(f.data, source[i].data, `${file} frame ${i}`);
      assertClose(f.affineRas(), source[i].affineRas(), 1e-6, 1e-4, `${file} affine`);
    });
    assertLikeNibabel(source, refs[n], file);
  }
  const longBack = await readVolume(longFile);
  assert.deepEqual(longBack.data, long.data);
  assertClose(longBack.affineRas(), long.affineRas(), 1e-9, 1e-9, "NIfTI-2 keeps double-precision geometry");
  assertLikeNibabel([long], refs[2], "long.nii.gz");
});
