// `backsplit dataset import-msd` on a tiny Decathlon-style task made here (4-D images with two modalities,
// oblique geometry, macOS "._" files as in the real archives): the nnU-Net dataset it writes keeps every
// voxel and the geometry, and `dataset check`, `plan`, `preprocess` and `train` accept it; broken cases
// stop the import (nothing written) or are left out with --skip-bad.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Mat3, type Vec3, Volume, readVolume, writeChannels, writeVolume } from "../../src/io/index.js";
import { assertClose } from "../helpers/assert.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const bin = path.join(repo, "bin", "backsplit.mjs");

function cli(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, BACKSPLIT_THREADS: "2" },
  });
}

const SHAPE: Vec3 = [24, 20, 16];
const c = Math.cos(0.3);
const s = Math.sin(0.3);
// Rotated about z, origin off the centre: geometry that a careless conversion would lose.
const GEOMETRY = { shape: SHAPE, spacing: [0.9, 1.1, 1.6] as Vec3, origin: [-12.5, 20, 7.25] as Vec3 };
const DIRECTION: Mat3 = [c, -s, 0, s, c, 0, 0, 0, 1];

/** Two int16 modalities and a label: a box "head" with a ball lesion whose place depends on the case. */
function makeCase(seed: number): { frames: Volume[]; label: Volume } {
  const n = SHAPE[0] * SHAPE[1] * SHAPE[2];
  const flair = new Int16Array(n);
  const t1 = new Int16Array(n);
  const label = new Uint8Array(n);
  for (let k = 0; k < SHAPE[2]; k++)
    for (let j = 0; j < SHAPE[1]; j++)
      for (let i = 0; i < SHAPE[0]; i++) {
        const p = i + SHAPE[0] * (j + SHAPE[1] * k);
        if (i < 3 || i >= 21 || j < 2 || j >= 18 || k < 2 || k >= 14) continue;
        const lesion = (i - 10 - seed) ** 2 + (j - 10) ** 2 + ((k - 8) * 1.5) ** 2 < 9;
        flair[p] = 300 + ((p * 7 + seed) % 23) + (lesion ? 250 : 0);
        t1[p] = 500 - ((p * 3 + seed) % 17) - (lesion ? 120 : 0);
        label[p] = lesion ? 1 : 0;
      }
  const geometry = { ...GEOMETRY, direction: DIRECTION };
  return {
    frames: [new Volume(flair, geometry), new Volume(t1, geometry)],
    label: new Volume(label, geometry),
  };
}

const MSD_JSON = {
  name: "TinyLesion",
  description: "a Decathlon-style task made by the test",
  reference: "none",
  licence: "CC-BY-SA 4.0",
  release: "1.0",
  tensorImageSize: "4D",
  modality: { "0": "FLAIR", "1": "T1w" },
  labels: { "0": "background", "1": "lesion" },
  numTraining: 3,
  numTest: 1,
  training: ["tiny_001", "tiny_002", "tiny_003"].map((id) => ({
    image: `./imagesTr/${id}.nii.gz`,
    label: `./labelsTr/${id}.nii.gz`,
  })),
  test: ["./imagesTs/tiny_101.nii.gz"],
};

async function makeTask(root: string, cases = ["tiny_001", "tiny_002", "tiny_003"]): Promise<Map<string, Volume[]>> {
  const task = path.join(root, "Task42_TinyLesion");
  for (const d of ["imagesTr", "labelsTr", "imagesTs"]) mkdirSync(path.join(task, d), { recursive: true });
  writeFileSync(path.join(task, "dataset.json"), JSON.stringify(MSD_JSON, null, 4));
  const frames = new Map<string, Volume[]>();
  for (const [n, id] of cases.entries()) {
    const made = makeCase(n - 1);
    writeChannels(path.join(task, "imagesTr", `${id}.nii.gz`), made.frames);
    await writeVolume(path.join(task, "labelsTr", `${id}.nii.gz`), made.label);
    frames.set(id, made.frames);
  }
  const testCase = makeCase(2);
  writeChannels(path.join(task, "imagesTs", "tiny_101.nii.gz"), testCase.frames);
  frames.set("tiny_101", testCase.frames);
  // AppleDouble files, as in the Decathlon's archives: not images, must be ignored.
  writeFileSync(path.join(task, "imagesTr", "._tiny_001.nii.gz"), "Mac OS X resource fork");
  writeFileSync(path.join(task, "labelsTr", "._tiny_001.nii.gz"), "Mac OS X resource fork");
  return frames;
}

test("an MSD task becomes an nnU-Net dataset: split modalities, geometry kept, dataset.json converted", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-msd-"));
  const frames = await makeTask(root);
  const task = path.join(root, "Task42_TinyLesion");
  const out = path.join(root, "Dataset042_TinyLesion");
  const r = cli(["dataset", "import-msd", task, out, "--workers", "2"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3 training and 1 test cases →/);
  const json = JSON.parse(readFileSync(path.join(out, "dataset.json"), "utf8"));
  assert.deepEqual(json.channel_names, { "0": "FLAIR", "1": "T1w" });
  assert.deepEqual(json.labels, { background: 0, lesion: 1 });
  assert.equal(json.file_ending, ".nii.gz");
  assert.equal(json.numTraining, 3);
  assert.equal(json.numTest, 1);
  assert.equal(json.name, "TinyLesion");
  assert.equal(json.licence, "CC-BY-SA 4.0");
  assert.equal(json.tensorImageSize, "3D");
  for (const gone of ["modality", "training", "test"]) assert.ok(!(gone in json), `${gone} is not carried over`);
  assert.deepEqual(readdirSync(path.join(out, "imagesTr")).sort(), [
    "tiny_001_0000.nii.gz",
    "tiny_001_0001.nii.gz",
    "tiny_002_0000.nii.gz",
    "tiny_002_0001.nii.gz",
    "tiny_003_0000.nii.gz",
    "tiny_003_0001.nii.gz",
  ]);
  assert.deepEqual(readdirSync(path.join(out, "imagesTs")).sort(), ["tiny_101_0000.nii.gz", "tiny_101_0001.nii.gz"]);
  assert.deepEqual(readdirSync(path.join(out, "labelsTr")).sort(), [
    "tiny_001.nii.gz",
    "tiny_002.nii.gz",
    "tiny_003.nii.gz",
  ]);
  assert.deepEqual(
    readdirSync(root).filter((f) => f.startsWith(".")),
    [],
    "no temporary folder left",
  );
  for (const [id, source] of frames) {
    const dir = id === "tiny_101" ? "imagesTs" : "imagesTr";
    for (const [ch, frame] of source.entries()) {
      const v = await readVolume(path.join(out, dir, `${id}_000${ch}.nii.gz`));
      assert.equal(v.type, "int16");
      assert.deepEqual(v.data, frame.data, `${id} channel ${ch}: voxels`);
      assertClose(v.affineLps(), frame.affineLps(), 0, 1e-5, `${id} channel ${ch}: geometry`);
    }
  }
  // Labels are copied byte for byte.
  for (const id of ["tiny_001", "tiny_002", "tiny_003"])
    assert.deepEqual(
      readFileSync(path.join(out, "labelsTr", `${id}.nii.gz`)),
      readFileSync(path.join(task, "labelsTr", `${id}.nii.gz`)),
    );

  // The dataset works downstream.
  const check = cli(["dataset", "check", out, "--workers", "2"]);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /3 training cases: 0 error\(s\), 0 warning\(s\)/);
  const plan = cli(["plan", out, "--memory-gb", "0.05", "--workers", "2"]);
  assert.equal(plan.status, 0, plan.stdout + plan.stderr);
  const plans = JSON.parse(readFileSync(path.join(out, "preprocessed", "plans.json"), "utf8"));
  assert.equal(Object.keys(plans.foreground_intensity_properties_per_channel).length, 2);
  const pre = cli(["preprocess", out, "--workers", "2"]);
  assert.equal(pre.status, 0, pre.stdout + pre.stderr);
  const train = cli([
    "train",
    out,
    "--fold",
    "all",
    "--epochs",
    "1",
    "--iterations",
    "1",
    "--val-iterations",
    "1",
    "--batch",
    "2",
    "--patch",
    "8x16x16",
    "--features",
    "4,8",
    "--device",
    "cpu",
    "--threads",
    "2",
    "--json",
  ]);
  assert.equal(train.status, 0, train.stdout + train.stderr);
  assert.ok(existsSync(path.join(out, "runs", "binary_foldall", "training.json")));
});

test("broken cases stop the import with one line each (nothing written); --skip-bad leaves them out", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "bs-msd-bad-"));
  await makeTask(root, ["tiny_001", "tiny_002", "tiny_003", "tiny_004", "tiny_005"]);
  const task = path.join(root, "Task42_TinyLesion");
  // tiny_003: three frames for two modalities; tiny_004: the label on another grid; tiny_005: no label.
  const three = makeCase(0).frames;
  writeChannels(path.join(task, "imagesTr", "tiny_003.nii.gz"), [...three, three[0]]);
  const shifted = makeCase(1).label;
  await writeVolume(
    path.join(task, "labelsTr", "tiny_004.nii.gz"),
    new Volume(shifted.data, { ...shifted.geometry, origin: [-10, 20, 7.25] }),
  );
  const { rmSync } = await import("node:fs");
  rmSync(path.join(task, "labelsTr", "tiny_005.nii.gz"));
  const out = path.join(root, "out");
  const r = cli(["dataset", "import-msd", task, out, "--workers", "2"]);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const lines = r.stdout.trim().split("\n");
  const expected = [
    "error: imagesTr/tiny_003.nii.gz: 3 frame(s) (24×20×16×3), but dataset.json declares 2 modalities (FLAIR, T1w)",
    "error: labelsTr/tiny_004.nii.gz: origin (-10, 20, 7.25) (LPS) differs from image (-12.5, 20, 7.25)",
    "error: labelsTr/tiny_005.nii.gz: missing (every training case needs a label map)",
  ];
  for (const line of expected)
    assert.ok(
      lines.some((l) => l.startsWith(line)),
      `missing line: ${line}\n--- got:\n${r.stdout}`,
    );
  assert.match(lines.at(-1)!, /nothing written: 3 error\(s\) in tiny_003, tiny_004, tiny_005/);
  assert.ok(!existsSync(out), "nothing written");
  assert.deepEqual(
    readdirSync(root).filter((f) => f.startsWith(".")),
    [],
    "no temporary folder left",
  );

  const skipped = cli(["dataset", "import-msd", task, out, "--workers", "2", "--skip-bad"]);
  assert.equal(skipped.status, 0, skipped.stdout + skipped.stderr);
  assert.match(skipped.stdout, /2 training and 1 test cases → .*\(left out: tiny_003, tiny_004, tiny_005\)/);
  assert.equal(JSON.parse(readFileSync(path.join(out, "dataset.json"), "utf8")).numTraining, 2);
  assert.deepEqual(readdirSync(path.join(out, "labelsTr")).sort(), ["tiny_001.nii.gz", "tiny_002.nii.gz"]);
  assert.equal(cli(["dataset", "check", out]).status, 0);
  // OUT now exists and is not empty: a second import refuses to write into it.
  const again = cli(["dataset", "import-msd", task, out]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already exists and is not empty/);
});
