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
import { decodeMgh, decodeMghFrames } from "../../src/io/mgh.js";
import { decodeNifti, decodeNiftiFrames, encodeNifti, encodeNiftiFrames } from "../../src/io/nifti.js";
import { readChannels, readVolume } from "../../src/io/read.js";
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

function mgh(shape: number[], extra = 0, frames = 1): Uint8Array {
  const count = shape[0] * shape[1] * shape[2];
  const bytes = new Uint8Array(284 + Math.max(count, 0) * frames + extra);
  const v = new DataView(bytes.buffer);
  v.setInt32(0, 1);
  shape.forEach((n, i) => v.setInt32(4 + 4 * i, n));
  v.setInt32(16, frames);
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

// The formats work (#21) reads 4-D NIfTI, NIfTI-2 and multi-frame MGZ: the same limits hold there,
// with the size the header declares for all frames.
function frames8(n: number): Volume[] {
  return Array.from({ length: n }, (_, f) => new Volume(new Float32Array(512).fill(f + 1), { shape: [8, 8, 8] }));
}

test("a 4-D NIfTI-1 or NIfTI-2 .nii.gz inflating past all its frames is refused without inflating it", async () => {
  for (const [version, offset] of [
    [1, 352],
    [2, 544],
  ] as const) {
    const body = encodeNiftiFrames(frames8(3), false, { version });
    const bomb = gzipSync(Buffer.concat([body, Buffer.alloc(64 << 20)]), { level: 1 });
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(
      () => decodeNiftiFrames(bomb, "bomb4d.nii.gz"),
      new RegExp(
        `bomb4d\\.nii\\.gz: decompresses to more than \\d+ bytes, but its header declares ${offset + 3 * 2048} \\(8×8×8×3 float32 after vox_offset ${offset}\\): trailing data`,
      ),
    );
    assert.ok(
      process.memoryUsage().arrayBuffers - before < 16 << 20,
      `NIfTI-${version}: the 64 MiB were never inflated`,
    );
    // Uncompressed trailing data too; a little padding reads, every frame.
    assert.throws(
      () => decodeNiftiFrames(Buffer.concat([body, Buffer.alloc(1 << 20)]), "long4d.nii"),
      /long4d\.nii: 1048576 bytes of trailing data after the 8×8×8×3 float32 voxels/,
    );
    const padded = decodeNiftiFrames(gzipSync(Buffer.concat([body, Buffer.alloc(16)])), "pad4d.nii.gz");
    assert.deepEqual(
      padded.map((f) => f.data[0]),
      [1, 2, 3],
    );
  }
  // Through readChannels, naming the file.
  const dir = mkdtempSync(path.join(os.tmpdir(), "bs-bomb4d-"));
  const file = path.join(dir, "case.nii.gz");
  writeFileSync(file, gzipSync(Buffer.concat([encodeNiftiFrames(frames8(2), false), Buffer.alloc(8 << 20)])));
  await assert.rejects(readChannels(file), (e: Error) => e.message.startsWith(`${file}: decompresses to more than`));
});

test("NIfTI-2 and 4-D dimensions below 1 are refused; a declared size beyond a buffer is refused unread", () => {
  const two = encodeNiftiFrames(frames8(2), false, { version: 2 });
  const v2 = new DataView(two.buffer, two.byteOffset, two.byteLength);
  v2.setBigInt64(16 + 8 * 2, 0n, true); // dim[2]
  assert.throws(
    () => decodeNiftiFrames(gzipSync(two), "two.nii.gz"),
    /two\.nii\.gz: dim\[2\] = 0: every image dimension/,
  );
  const four = encodeNiftiFrames(frames8(2), false);
  new DataView(four.buffer, four.byteOffset, four.byteLength).setInt16(48, -2, true); // dim[4]
  assert.throws(() => decodeNiftiFrames(four, "four.nii"), /four\.nii: dim\[4\] = -2: every image dimension/);
  // 64-bit dims declaring petabytes: refused from the header, nothing inflated.
  const huge = encodeNiftiFrames(frames8(1), false, { version: 2 });
  const vh = new DataView(huge.buffer, huge.byteOffset, huge.byteLength);
  for (const i of [1, 2, 3]) vh.setBigInt64(16 + 8 * i, 1n << 16n, true);
  assert.throws(
    () => decodeNiftiFrames(gzipSync(huge), "huge.nii.gz"),
    /huge\.nii\.gz: .* more than one image may hold/,
  );
  // So is a vox_offset beyond any buffer.
  const far = encodeNiftiFrames(frames8(1), false, { version: 2 });
  new DataView(far.buffer, far.byteOffset, far.byteLength).setBigInt64(168, 1n << 40n, true);
  assert.throws(() => decodeNiftiFrames(gzipSync(far), "far.nii.gz"), /far\.nii\.gz: .* more than one image may hold/);
});

test("a multi-frame MGZ inflating past its frames and tags is refused; its frames read; dims below 1 refused", () => {
  assert.equal(decodeMghFrames(gzipSync(mgh([2, 3, 4], 0, 3)), "ok.mgz").length, 3);
  assert.equal(decodeMghFrames(gzipSync(mgh([2, 3, 4], 1000, 3)), "tags.mgz").length, 3);
  // The bomb is made (and its 64 MiB source collected) before measuring, so only decoding is measured.
  const bomb = gzipSync(mgh([8, 8, 8], 64 << 20, 3), { level: 1 });
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(
    () => decodeMghFrames(bomb, "bomb.mgz"),
    /bomb\.mgz: decompresses to more than \d+ bytes, but its header declares 1820 \(8×8×8×3 uint8\) plus at most 1048576 bytes of tags/,
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, "the 64 MiB were never inflated");
  assert.throws(
    () => decodeMghFrames(mgh([8, 8, 8], 2 << 20, 3), "long.mgh"),
    /long\.mgh: 2097152 bytes of trailing data after the 8×8×8×3 uint8 voxels/,
  );
  assert.throws(() => decodeMghFrames(gzipSync(mgh([0, 4, 4], 0, 2)), "zero.mgz"), /zero\.mgz: dimensions 0×4×4/);
  assert.throws(() => decodeMghFrames(mgh([4, 4, 4], 0, 0), "none.mgh"), /none\.mgh: MGH nframes 0 is not ≥ 1/);
});
