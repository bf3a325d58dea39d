// Images whose headers lie: zero or negative dimensions are refused at read (never "fixed" to 1),
// and a file that inflates past what its header declares (trailing data, a gzip bomb) is refused
// without inflating it whole.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { decodeMgh } from "../../src/io/mgh.js";
import { decodeNifti, encodeNifti } from "../../src/io/nifti.js";
import { readVolume } from "../../src/io/read.js";
import { Volume } from "../../src/io/volume.js";
import { DATASET_JSON, writeCase } from "../fixtures/corpus.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");

function niftiWith(edit: (v: DataView) => void, gzip = true): Uint8Array {
  const bytes = encodeNifti(new Volume(new Float32Array(24 * 24), { shape: [1, 24, 24] }), false);
  edit(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return gzip ? gzipSync(bytes) : bytes;
}

test("a NIfTI dimension of 0 or below is refused, naming the file and the dimension", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-dims-"));
  for (const [name, value] of [
    ["zero.nii.gz", 0],
    ["negative.nii.gz", -3],
  ] as const) {
    const file = path.join(dir, name);
    writeFileSync(
      file,
      niftiWith((v) => v.setInt16(42, value, true)),
    );
    await assert.rejects(readVolume(file), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`^${file.replace(/[.]/g, "\\.")}: dim\\[1\\] = ${value}: every image dimension must be at least 1`),
      );
      return true;
    });
  }
  // Uncompressed too, and the third axis.
  const flat = niftiWith((v) => v.setInt16(46, 0, true), false);
  assert.throws(() => decodeNifti(flat, "flat.nii"), /flat\.nii: dim\[3\] = 0/);
});

function mgh(shape: number[], extra = 0): Uint8Array {
  const count = shape[0] * shape[1] * shape[2];
  const bytes = new Uint8Array(284 + Math.max(count, 0) + extra);
  const v = new DataView(bytes.buffer);
  v.setInt32(0, 1);
  shape.forEach((n, i) => v.setInt32(4 + 4 * i, n));
  v.setInt32(16, 1); // frames
  v.setInt32(20, 0); // uint8
  return bytes;
}

test("an MGH dimension of 0 or below is refused; a normal one reads", () => {
  assert.deepEqual(decodeMgh(gzipSync(mgh([2, 3, 4])), "ok.mgz").shape, [2, 3, 4]);
  assert.throws(
    () => decodeMgh(mgh([0, 24, 24]), "zero.mgh"),
    /zero\.mgh: dimensions 0×24×24: every dimension must be at least 1/,
  );
  assert.throws(() => decodeMgh(gzipSync(mgh([4, -1, 4])), "neg.mgz"), /neg\.mgz: dimensions 4×-1×4/);
});

test("a .nii.gz that inflates far past its declared size is refused without inflating it", () => {
  // Header + 8×8×8 float32 voxels, then 64 MiB of zeros (compresses to ~64 KiB).
  const body = encodeNifti(new Volume(new Float32Array(512).fill(1), { shape: [8, 8, 8] }), false);
  const bomb = gzipSync(Buffer.concat([body, Buffer.alloc(64 << 20)]), { level: 1 });
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(
    () => decodeNifti(bomb, "bomb.nii.gz"),
    /bomb\.nii\.gz: decompresses to more than \d+ bytes, but its header declares 2400 \(8×8×8 float32 after vox_offset 352\): trailing data/,
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, "the 64 MiB were never inflated");
  // Trailing data of an uncompressed file is reported too; a few bytes of padding are accepted.
  assert.throws(
    () => decodeNifti(Buffer.concat([body, Buffer.alloc(1 << 20)]), "long.nii"),
    /long\.nii: 1048576 bytes of trailing data after the 8×8×8 float32 voxels/,
  );
  assert.equal(decodeNifti(gzipSync(Buffer.concat([body, Buffer.alloc(16)])), "pad.nii.gz").voxelCount, 512);
});

test("dataset check reports the gzip bomb as an error naming the file (exit 1)", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-bomb-"));
  writeFileSync(path.join(root, "dataset.json"), JSON.stringify(DATASET_JSON));
  writeCase(root, "good", {});
  const image = encodeNifti(
    new Volume(
      new Float32Array(512).map((_, i) => i),
      { shape: [8, 8, 8], spacing: [1, 1, 2] },
    ),
    false,
  );
  writeCase(root, "bomb", { images: [gzipSync(Buffer.concat([image, Buffer.alloc(32 << 20)]), { level: 1 }), null] });
  const r = spawnSync(process.execPath, [bin, "dataset", "check", root, "--workers", "1"], { encoding: "utf8" });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /error: imagesTr\/bomb_0000\.nii\.gz: decompresses to more than \d+ bytes.*trailing data/);
});
