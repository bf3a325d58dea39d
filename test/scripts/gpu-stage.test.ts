// scripts/gpu-stage.sh on the real BraTS subset (../shared/data; skipped without it): what it packs for
// the GPU machine fits the checkout's 64 MiB, the staged node runs and finds the packed node_modules,
// and the cropped int16 cases read back through src/io with the original crop's geometry and labels.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { type Volume, readVolume } from "../../src/io/index.js";
import { SHARED_DATA, pythonWith } from "../helpers/python.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const BRATS = path.join(SHARED_DATA, "brats2015-subset");
const python = pythonWith("nibabel, numpy");
const skip = !existsSync(BRATS)
  ? `${BRATS} is missing`
  : !python
    ? "no python3 with nibabel and numpy"
    : spawnSync("xz", ["--version"]).status !== 0
      ? "no xz"
      : false;
const MIB = 1024 * 1024;
const tmp = mkdtempSync(path.join(os.tmpdir(), "bs-gpu-stage-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function duBytes(dir: string): number {
  return Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);
}

/** The voxels of `v` inside [start, end) (x fastest), as the crop of the original. */
function crop(v: Volume, start: number[], end: number[]): Float64Array {
  const [nx, ny] = v.shape;
  const size = end.map((e, a) => e - start[a]);
  const out = new Float64Array(size[0] * size[1] * size[2]);
  let o = 0;
  for (let k = start[2]; k < end[2]; k++)
    for (let j = start[1]; j < end[1]; j++)
      for (let i = start[0]; i < end[0]; i++) out[o++] = v.data[i + nx * (j + ny * k)];
  return out;
}

test("gpu-stage.sh packs node, dist, node_modules and cropped int16 BraTS under 64 MiB", { skip }, async () => {
  const dir = path.join(tmp, "gpu-data");
  const r = spawnSync("bash", [path.join(ROOT, "scripts", "gpu-stage.sh"), dir], {
    cwd: ROOT,
    encoding: "utf8",
    // dist/ is what this test runs from: no recompiling underneath it.
    env: { ...process.env, BACKSPLIT_SHARED_DATA: SHARED_DATA, BACKSPLIT_PYTHON: python!, GPU_STAGE_SKIP_BUILD: "1" },
  });
  assert.equal(r.status, 0, r.stderr);
  const total = duBytes(dir);
  assert.ok(total < 64 * MIB, `staged ${(total / MIB).toFixed(1)} MiB`);
  const staged = JSON.parse(readFileSync(path.join(dir, "STAGED.json"), "utf8"));
  assert.match(staged.sourcesHash, /^[0-9a-f]{16}$/);
  assert.equal(
    staged.sourcesHash,
    execFileSync("bash", [path.join(ROOT, "scripts", "gpu-sources-hash.sh")])
      .toString()
      .trim(),
  );
  assert.equal(staged.runtimeBytes, statSync(path.join(dir, "runtime.tar.xz")).size);

  // The runtime: the packed node runs and resolves what the GPU run imports from the packed node_modules.
  execFileSync("tar", ["-C", tmp, "-xJf", path.join(dir, "runtime.tar.xz")]);
  const rt = path.join(tmp, "runtime");
  for (const f of ["node/include/node/node_api.h", "node/include/node/js_native_api_types.h", "dist/bench/brats.js"])
    assert.ok(existsSync(path.join(rt, f)), f);
  writeFileSync(
    path.join(rt, "probe.mjs"),
    [
      'import { createRequire } from "node:module";',
      'const vl = await import("vega-lite");',
      'const vega = await import("vega");',
      'const dir = createRequire(import.meta.url)("node-addon-api").include_dir;',
      "console.log(JSON.stringify({ vl: typeof vl.compile, vega: typeof vega.View, dir }));",
    ].join("\n"),
  );
  const probe = JSON.parse(
    execFileSync(path.join(rt, "node", "bin", "node"), [path.join(rt, "probe.mjs")], { cwd: ROOT, encoding: "utf8" }),
  );
  assert.deepEqual(probe, { vl: "function", vega: "function", dir: probe.dir });
  // include_dir is relative to the working directory (node-addon-api's own index.js).
  assert.ok(existsSync(path.join(path.resolve(ROOT, probe.dir), "napi.h")), "node-addon-api's headers");
  assert.ok(path.resolve(ROOT, probe.dir).startsWith(rt), "node-addon-api from the packed node_modules");

  // The data: every case cropped around brain and labels, geometry of the crop, labels intact.
  const crops = JSON.parse(readFileSync(path.join(dir, "data", "brats2015-subset", "crops.json"), "utf8")).cases;
  assert.equal(Object.keys(crops).length, 4);
  for (const [id, { start, end }] of Object.entries(crops) as [string, { start: number[]; end: number[] }][]) {
    for (const name of ["OTMultiClass", "brainmask", "Flair_subtrMeanDivStd", "T1c_subtrMeanDivStd"]) {
      const file = path.join(dir, "data", "brats2015-subset", id, `${name}.nii.gz`);
      const bytes = readFileSync(file);
      const header = gunzipSync(bytes).subarray(0, 348);
      assert.equal(header.readInt16LE(70), 4, `${id}/${name}: int16 (datatype 4)`);
      const [orig, got] = [await readVolume(path.join(BRATS, id, `${name}.nii.gz`)), await readVolume(file)];
      const what = `${id}/${name}`;
      assert.deepEqual(
        [...got.shape],
        end.map((e, a) => e - start[a]),
        `${what}: shape`,
      );
      got.spacing.forEach((s, a) => assert.ok(Math.abs(s - orig.spacing[a]) < 1e-5, `${what}: spacing`));
      got.direction.forEach((d, a) => assert.ok(Math.abs(d - orig.direction[a]) < 1e-6, `${what}: direction`));
      const origin = orig.voxelToWorld(start);
      got.origin.forEach((o, a) =>
        assert.ok(Math.abs(o - origin[a]) < 1e-3, `${what}: origin ${got.origin} vs ${origin}`),
      );
      const expected = crop(orig, start, end);
      if (name === "OTMultiClass" || name === "brainmask") {
        for (let i = 0; i < expected.length; i++) if (got.data[i] !== expected[i]) assert.fail(`${what}: voxel ${i}`);
        const nonzero = (d: ArrayLike<number>) => Array.prototype.filter.call(d, (v: number) => v !== 0).length;
        assert.equal(nonzero(got.data), nonzero(orig.data), `${what}: no labelled voxel outside the crop`);
      } else {
        const maxAbs = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const tol = maxAbs / 64000 + 1e-5;
        for (let i = 0; i < expected.length; i++)
          if (Math.abs(got.data[i] - expected[i]) > tol)
            assert.fail(`${what}: voxel ${i} ${got.data[i]} vs ${expected[i]}`);
      }
    }
  }
});
