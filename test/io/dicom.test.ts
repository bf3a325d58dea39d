// A DICOM series folder (written by pydicom, slices in reverse file order) read through ITK.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { readVolume } from "../../src/io/index.js";
import { assertClose } from "../helpers/assert.js";
import { PY_DIR, pythonWithTorch } from "../helpers/python.js";

test("a DICOM series folder reads with its geometry and rescaled voxels", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-dcm-"));
  execFileSync(pythonWithTorch(), [path.join(PY_DIR, "make_dicom.py"), dir]);
  const v = await readVolume(dir);
  assert.deepEqual(v.shape, [6, 5, 4]);
  assertClose(v.spacing, [0.5, 0.75, 2.5], 0, 1e-6, "spacing");
  assertClose(v.origin, [-20, 30, 40], 0, 1e-6, "origin (LPS, first slice)");
  assertClose(v.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1], 0, 1e-9, "direction");
  for (const [i, j, k] of [
    [0, 0, 0],
    [5, 4, 3],
    [2, 3, 1],
  ]) {
    assert.equal(v.at(i, j, k), 10 * i + 100 * j + 1000 * k - 1024, `voxel ${i},${j},${k}`);
  }
});
