// Reading agrees with nibabel; read → write NIfTI → read keeps voxels and geometry; nibabel reads what we write.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { type Volume, readVolume, reorient, writeVolume } from "../../src/io/index.js";
import { assertClose } from "../helpers/assert.js";
import { prng } from "../helpers/data.js";
import { SHARED_DATA, runPython } from "../helpers/python.js";

const D = SHARED_DATA;
const NIBABEL_FILES = [
  "ms-lesjak2017/patient07/FLAIR.nii.gz",
  "ms-lesjak2017/patient07/GOLD_STANDARD.nii.gz",
  "freesurfer-subject/norm.mgz",
  "format-samples/stroke-t2/T2.nii",
  "atlases-mni/JHU-WhiteMatter-labels-1mm.nii.gz",
  "totalsegmentator-examples/example_ct_sm.nii.gz",
];
const ITK_FILES = ["format-samples/pyradiomics/brain1_image.nrrd", "format-samples/pyradiomics/brain1_label.nrrd"];

interface NibInfo {
  shape: number[];
  affine: number[];
  sum: number;
  sumsq: number;
  values: number[];
  axcodes: string;
}

function sampleIndices(shape: readonly number[], n: number, seed: number): number[][] {
  const r = prng(seed);
  return Array.from({ length: n }, () => shape.map((s) => Math.floor(r() * s)));
}

function stats(v: Volume, indices: number[][]) {
  let sum = 0;
  let sumsq = 0;
  for (let i = 0; i < v.data.length; i++) {
    sum += v.data[i];
    sumsq += v.data[i] * v.data[i];
  }
  return { sum, sumsq, values: indices.map(([i, j, k]) => v.at(i, j, k)) };
}

const haveData = existsSync(D) ? false : `shared data not found at ${D}`;

test("NIfTI and MGZ reading agrees with nibabel: voxels, affine, orientation", { skip: haveData }, async () => {
  const files = NIBABEL_FILES.map((f) => path.join(D, f));
  const volumes = await Promise.all(files.map((f) => readVolume(f)));
  const indices = volumes.map((v, n) => sampleIndices(v.shape, 500, n + 1));
  const ref = runPython<NibInfo[]>("nib_reference.py", {
    files: files.map((p, n) => ({ path: p, indices: indices[n] })),
  });
  volumes.forEach((v, n) => {
    const name = NIBABEL_FILES[n];
    assert.deepEqual(v.shape, ref[n].shape, name);
    assertClose(v.affineRas(), ref[n].affine, 1e-6, 1e-4, `${name} affine`);
    assert.equal(v.orientation(), ref[n].axcodes, name);
    const s = stats(v, indices[n]);
    assertClose([s.sum, s.sumsq], [ref[n].sum, ref[n].sumsq], 1e-9, 0, `${name} sums`);
    assertClose(s.values, ref[n].values, 1e-6, 1e-6, `${name} sampled voxels`);
  });
});

test(
  "every format round-trips through NIfTI with identical voxels and geometry; nibabel agrees",
  { skip: haveData },
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "bs-io-"));
    const written: string[] = [];
    for (const [n, f] of [...NIBABEL_FILES, ...ITK_FILES].entries()) {
      const original = await readVolume(path.join(D, f));
      const out = path.join(dir, `${n}.nii.gz`);
      await writeVolume(out, original);
      written.push(out);
      const back = await readVolume(out);
      assert.equal(back.type, original.type, f);
      assert.deepEqual(back.shape, original.shape, f);
      assert.ok(
        back.data.every((x, i) => x === original.data[i] || (Number.isNaN(x) && Number.isNaN(original.data[i]))),
        `${f}: voxels differ`,
      );
      assertClose(back.spacing, original.spacing, 1e-6, 0, `${f} spacing`);
      assertClose(back.origin, original.origin, 1e-6, 1e-4, `${f} origin`);
      assertClose(back.direction, original.direction, 0, 1e-6, `${f} direction`);
      // nibabel reads our file with the same geometry (its RAS affine is our LPS one, x and y negated).
      const [nib] = runPython<NibInfo[]>("nib_reference.py", { files: [{ path: out, indices: [] }] });
      assertClose(nib.affine, original.affineRas(), 1e-6, 1e-4, `${f} affine in nibabel`);
      assertClose([nib.sum], [stats(original, []).sum], 1e-9, 0, `${f} sum in nibabel`);
    }
    assert.deepEqual(readdirSync(dir).sort(), written.map((w) => path.basename(w)).sort(), "no temporary files left");
  },
);

test("world coordinates of voxels agree with nibabel's affine to 1e-4 mm", { skip: haveData }, async () => {
  for (const f of ["format-samples/stroke-t2/T2.nii", "freesurfer-subject/norm.mgz"]) {
    const v = await readVolume(path.join(D, f));
    const [nib] = runPython<NibInfo[]>("nib_reference.py", { files: [{ path: path.join(D, f), indices: [] }] });
    for (const ijk of sampleIndices(v.shape, 50, 9)) {
      const lps = v.voxelToWorld(ijk);
      const ras = [0, 1, 2].map(
        (r) =>
          nib.affine[4 * r] * ijk[0] +
          nib.affine[4 * r + 1] * ijk[1] +
          nib.affine[4 * r + 2] * ijk[2] +
          nib.affine[4 * r + 3],
      );
      assertClose([-lps[0], -lps[1], lps[2]], ras, 0, 1e-4, `${f} world of ${ijk}`);
      assertClose(v.worldToVoxel(lps), ijk, 0, 1e-6, `${f} voxel of world`);
    }
  }
});

test(
  "reorienting to RAS matches nibabel.as_closest_canonical and keeps world positions",
  { skip: haveData },
  async () => {
    for (const f of ["ms-lesjak2017/patient07/FLAIR.nii.gz", "freesurfer-subject/norm.mgz"]) {
      const v = await readVolume(path.join(D, f));
      const ras = reorient(v, "RAS");
      assert.equal(ras.orientation(), "RAS");
      const indices = sampleIndices(ras.shape, 300, 4);
      const [nib] = runPython<NibInfo[]>("nib_reference.py", {
        files: [{ path: path.join(D, f), indices, canonical: true }],
      });
      assert.deepEqual(ras.shape, nib.shape);
      assertClose(ras.affineRas(), nib.affine, 1e-6, 1e-4, `${f} canonical affine`);
      assertClose(stats(ras, indices).values, nib.values, 0, 0, `${f} canonical voxels`);
      // Round trip back to the original orientation is exact.
      const back = reorient(ras, v.orientation());
      assert.ok(back.data.every((x, i) => x === v.data[i]));
      assertClose(back.origin, v.origin, 0, 1e-9);
      const lia = reorient(v, "LIA");
      for (const ijk of sampleIndices(lia.shape, 20, 5)) {
        const world = lia.voxelToWorld(ijk);
        const src = v.worldToVoxel(world).map(Math.round);
        assert.equal(lia.at(ijk[0], ijk[1], ijk[2]), v.at(src[0], src[1], src[2]));
      }
    }
  },
);

test("MetaImage and NRRD written through ITK read back identically", async () => {
  const { Volume } = await import("../../src/io/volume.js");
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-itk-"));
  const data = Int16Array.from({ length: 5 * 4 * 3 }, (_, i) => i * 7 - 100);
  const original = new Volume(data, {
    shape: [5, 4, 3],
    spacing: [0.5, 0.75, 2.5],
    origin: [-20, 30, 40],
    direction: [0, 1, 0, 1, 0, 0, 0, 0, -1],
  });
  for (const ending of [".mha", ".nrrd"]) {
    const file = path.join(dir, `v${ending}`);
    await writeVolume(file, original);
    const back = await readVolume(file);
    assert.deepEqual(Array.from(back.data), Array.from(data), ending);
    assert.deepEqual(back.shape, original.shape);
    assertClose(back.spacing, original.spacing, 0, 1e-9, `${ending} spacing`);
    assertClose(back.origin, original.origin, 0, 1e-9, `${ending} origin`);
    assertClose(back.direction, original.direction, 0, 1e-9, `${ending} direction`);
  }
  assert.deepEqual(readdirSync(dir).sort(), ["v.mha", "v.nrrd"]);
});
