// Sliding-window inference and `predict` on the input's own grid.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { F, type Tensor, manualSeed, noGrad, randn, setThreads, tidy } from "../../src/engine/index.js";
import { readVolume } from "../../src/io/index.js";
import { PlainUNet } from "../../src/models/plain-unet.js";
import { SliceAdapter } from "../../src/models/slices.js";
import { applyPostprocessing } from "../../src/predict/postprocess.js";
import { predictFolder } from "../../src/predict/predict.js";
import { type SlidingOptions, gaussianImportance, slidingWindow, tileStarts } from "../../src/predict/sliding.js";
import { TrainingRun } from "../../src/run/record.js";
import { train } from "../../src/train/trainer.js";
import { config, tinyDataset } from "../fixtures/training.js";
import { assertClose } from "../helpers/assert.js";

test("tile starts cover the axis at half-patch steps, flush with both borders", () => {
  assert.deepEqual(tileStarts(10, 16), [0]);
  assert.deepEqual(tileStarts(16, 16), [0]);
  assert.deepEqual(tileStarts(40, 16), [0, 8, 16, 24]);
  assert.deepEqual(tileStarts(41, 16), [0, 6, 13, 19, 25]);
  const g = gaussianImportance([8, 8, 8]);
  assert.ok(g.every((v) => v > 0));
  assert.ok(Math.abs(Math.max(...g) - g[3 + 8 * (3 + 8 * 3)]) < 1e-7 || Math.max(...g) <= 1);
});

test("one tile equals a plain forward pass; overlapping tiles give valid probabilities", () => {
  setThreads(2);
  manualSeed(0);
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 3, features: [4, 8] }).eval();
  tidy(() => {
    const x = randn([1, 1, 8, 16, 16]);
    const direct = noGrad(() => F.softmax(net.forward(x) as Tensor, 1)).toArray();
    const slid = slidingWindow(net, x.data<"float32">(), 1, [8, 16, 16], {
      patch: [8, 16, 16],
      numClasses: 3,
      device: "cpu",
    });
    assertClose(slid, direct, 1e-5, 1e-6, "single tile");
    const big = randn([1, 1, 12, 20, 30]);
    const p = slidingWindow(net, big.data<"float32">(), 1, [12, 20, 30], {
      patch: [8, 16, 16],
      numClasses: 3,
      device: "cpu",
      mirror: true,
    });
    const n = 12 * 20 * 30;
    for (let i = 0; i < n; i += 97)
      assertClose([p[i] + p[n + i] + p[2 * n + i]], [1], 1e-5, 1e-5, "probabilities sum to 1");
    const small = slidingWindow(net, randn([1, 1, 5, 9, 7]).data<"float32">(), 1, [5, 9, 7], {
      patch: [8, 16, 16],
      numClasses: 3,
      device: "cpu",
    });
    assert.equal(small.length, 3 * 5 * 9 * 7, "smaller than a patch: padded, then cropped back");
  });
});

/** The plain mean, at voxel (c, z, y, x), of two 16-wide tiles of an [1, 1, 8, 16, 24] input: they start at
 * x = 0 and 8, so x in [8, 16) is covered twice. Of the tiles' softmax, or of their logits. */
function twoTileMean(net: PlainUNet, x: Tensor, of: "softmax" | "logits") {
  const tile = (x0: number) =>
    noGrad(() => {
      const out = net.forward(x.slice(4, x0, x0 + 16)) as Tensor;
      return of === "softmax" ? F.softmax(out, 1) : out;
    }).data<"float32">();
  const [left, right] = [tile(0), tile(8)];
  const at = (t: Float32Array, c: number, z: number, y: number, xi: number) => t[xi + 16 * (y + 16 * (z + 8 * c))];
  return (c: number, z: number, y: number, xi: number) => {
    const a = xi < 16 ? at(left, c, z, y, xi) : null;
    const b = xi >= 8 ? at(right, c, z, y, xi - 8) : null;
    return a !== null && b !== null ? (a + b) / 2 : (a ?? b)!;
  };
}
const VOXEL_ROWS = [
  [0, 0],
  [3, 7],
  [7, 15],
] as const;

test("uniform tile weighting is the plain mean of the overlapping tiles' softmax", () => {
  setThreads(2);
  manualSeed(2);
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 2, features: [4, 8] }).eval();
  tidy(() => {
    const x = randn([1, 1, 8, 16, 24]);
    const p = slidingWindow(net, x.data<"float32">(), 1, [8, 16, 24], {
      patch: [8, 16, 16],
      numClasses: 2,
      device: "cpu",
      tileWeighting: "uniform",
      tileAverage: "probabilities",
    });
    const mean = twoTileMean(net, x, "softmax");
    const expected: number[] = [];
    const got: number[] = [];
    for (const [i, [z, y]] of VOXEL_ROWS.entries())
      for (let xi = 0; xi < 24; xi++) {
        const c = i % 2 === 0 ? 1 : 0;
        expected.push(mean(c, z, y, xi));
        got.push(p[xi + 24 * (y + 16 * (z + 8 * c))]);
      }
    assertClose(got, expected, 1e-5, 1e-6, "uniform mean");
  });
});

test("averaging logits (nnU-Net v2): one softmax over the mean of the overlapping tiles' logits", () => {
  setThreads(2);
  manualSeed(3);
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 3, features: [4, 8] }).eval();
  tidy(() => {
    const x = randn([1, 1, 8, 16, 24]);
    const options: SlidingOptions = {
      patch: [8, 16, 16],
      numClasses: 3,
      device: "cpu",
      tileWeighting: "uniform",
      channels: [2, 0], // two of three classes kept, in that order
    };
    const p = slidingWindow(net, x.data<"float32">(), 1, [8, 16, 24], { ...options, tileAverage: "logits" });
    const mean = twoTileMean(net, x, "logits");
    const expected: number[] = [];
    const got: number[] = [];
    for (const [z, y] of VOXEL_ROWS)
      for (let xi = 0; xi < 24; xi++) {
        const e = [0, 1, 2].map((c) => Math.exp(mean(c, z, y, xi)));
        const sum = e[0] + e[1] + e[2];
        expected.push(e[2] / sum, e[0] / sum);
        const i = xi + 24 * (y + 16 * z);
        got.push(p[i], p[8 * 16 * 24 + i]);
      }
    assertClose(got, expected, 1e-5, 1e-6, "softmax of mean logits");
    // It is the default, and it is not the mean of the probabilities where the tiles overlap.
    assert.deepEqual(slidingWindow(net, x.data<"float32">(), 1, [8, 16, 24], options), p);
    const probs = slidingWindow(net, x.data<"float32">(), 1, [8, 16, 24], { ...options, tileAverage: "probabilities" });
    const overlap = 12 + 24 * (7 + 16 * 3);
    assert.ok(Math.abs(probs[overlap] - p[overlap]) > 1e-6, "probability and logit averages differ");
  });
});

test("averaging logits refuses, before allocating, an image whose classes would not fit in memory", () => {
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 3, features: [4, 8] }).eval();
  // A 4096³ patch pads the one-voxel image to 6.9·10¹⁰ voxels: 3 classes of float32 are 770 GiB.
  assert.throws(
    () =>
      slidingWindow(net, new Float32Array(1), 1, [1, 1, 1], {
        patch: [4096, 4096, 4096],
        numClasses: 3,
        device: "cpu",
      }),
    /all 3 classes of 68719476736 voxels \(768\.0 GiB\).*--tile-average probabilities/,
  );
});

test("with mirroring, keeping one channel gives that channel of the full result", () => {
  setThreads(2);
  manualSeed(1);
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 4, features: [4, 8] }).eval();
  tidy(() => {
    const shape = [12, 20, 18];
    const x = randn([1, 1, ...shape]).data<"float32">();
    const o = { patch: [8, 16, 16], numClasses: 4, device: "cpu", mirror: true };
    const all = slidingWindow(net, x, 1, shape, o);
    const kept = slidingWindow(net, x, 1, shape, { ...o, channels: [1] });
    const n = shape[0] * shape[1] * shape[2];
    assert.equal(kept.length, n);
    assertClose(kept, all.slice(n, 2 * n), 1e-6, 1e-6, "channel 1");
  });
});

test("2D mirroring: four passes (the depth-1 axis is not flipped), their logits averaged as by hand", () => {
  setThreads(2);
  manualSeed(2);
  const inner = new PlainUNet({ dims: 2, inChannels: 1, numClasses: 3, features: [4, 8] });
  const counted = new SliceAdapter(inner).eval();
  let passes = 0;
  const forward = counted.forward.bind(counted);
  counted.forward = (x: Tensor) => {
    passes++;
    return forward(x);
  };
  tidy(() => {
    const x = randn([1, 1, 1, 16, 16]);
    const slid = slidingWindow(counted, x.data<"float32">(), 1, [1, 16, 16], {
      patch: [1, 16, 16],
      numClasses: 3,
      device: "cpu",
      mirror: true,
      tileWeighting: "uniform",
    });
    assert.equal(passes, 4, "one tile, four mirrored passes");
    // Reference: each flip of the input through the plain 2D network, flipped back, logits averaged, softmax.
    const plain = x.squeeze(2);
    const logits = noGrad(() =>
      [[], [2], [3], [2, 3]]
        .map((axes) => {
          const out = inner.forward(axes.length ? plain.flip(axes) : plain) as Tensor;
          return axes.length ? out.flip(axes) : out;
        })
        .reduce((a, b) => a.add(b))
        .div(4),
    );
    assertClose(slid, F.softmax(logits, 1).toArray(), 1e-5, 1e-6, "mirrored 2D tile");
  });
});

test("predict writes a lesion mask and probability on the input's exact grid, recording the collapse rule", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "run");
  await train(
    config(root, preprocessed, {
      mode: "backsplit",
      sources: ["tissue"],
      epochs: 25,
      iterationsPerEpoch: 4,
      augment: false,
      lesionShare: 1,
      out: run,
    }),
  );
  const out = path.join(root, "pred");
  await predictFolder({
    runs: [run],
    input: path.join(root, "imagesTr"),
    out,
    options: {
      collapse: "prob",
      threshold: 0.5,
      mirror: false,
      device: "cpu",
      saveProbabilities: true,
      saveClasses: true,
    },
  });
  const recorded = JSON.parse(readFileSync(path.join(out, "prediction.json"), "utf8"));
  assert.equal(recorded.collapse, "prob");
  assert.equal(recorded.tileAverage, "logits"); // the default, nnU-Net v2's
  for (const id of ["a", "b"]) {
    const mask = await readVolume(path.join(out, `${id}.nii.gz`));
    const label = await readVolume(path.join(root, "labelsTr", `${id}.nii.gz`));
    assert.deepEqual(mask.geometry, label.geometry);
    assert.equal(mask.type, "uint8");
    let both = 0;
    let sum = 0;
    for (let i = 0; i < mask.data.length; i++) {
      both += mask.data[i] && label.data[i] ? 1 : 0;
      sum += (mask.data[i] ? 1 : 0) + (label.data[i] ? 1 : 0);
    }
    assert.ok((2 * both) / sum > 0.7, `${id}: Dice ${(2 * both) / sum}`);
    const prob = await readVolume(path.join(out, `${id}_prob.nii.gz`));
    assert.equal(prob.type, "float32");
    assert.ok(prob.data.every((p) => p >= 0 && p <= 1.00001));
    assert.ok(existsSync(path.join(out, `${id}_classes.nii.gz`)));
  }
  assert.equal(recorded.postprocessing, null);
  // A rule recorded with the run is applied by predict (and written to prediction.json); "none" skips it.
  const rule = { minVolumeMm3: 1e9, minPeakProbability: 0.97 }; // every component goes
  new TrainingRun(run).writePostprocessing({
    rule,
    determinedOn: { predictions: out, reference: path.join(root, "labelsTr"), cases: 2 },
    without: { f1: 0, dice: 0 },
    with: { f1: 0, dice: 0 },
  });
  const options = {
    collapse: "prob",
    threshold: 0.5,
    mirror: false,
    device: "cpu",
    saveProbabilities: false,
    saveClasses: false,
  } as const;
  const post = path.join(root, "pred-post");
  const raw = path.join(root, "pred-raw");
  await predictFolder({ runs: [run], input: path.join(root, "imagesTr"), out: post, options });
  await predictFolder({
    runs: [run],
    input: path.join(root, "imagesTr"),
    out: raw,
    options: { ...options, postprocessing: "none" },
  });
  assert.deepEqual(JSON.parse(readFileSync(path.join(post, "prediction.json"), "utf8")).postprocessing, rule);
  let removedSomewhere = false;
  for (const id of ["a", "b"]) {
    const first = await readVolume(path.join(out, `${id}.nii.gz`));
    const prob = await readVolume(path.join(out, `${id}_prob.nii.gz`));
    const expected = applyPostprocessing(first.data, first.shape, first.spacing, rule, prob.data);
    removedSomewhere ||= expected.removed > 0;
    assert.deepEqual((await readVolume(path.join(post, `${id}.nii.gz`))).data, expected.mask, `${id}: postprocessed`);
    assert.deepEqual((await readVolume(path.join(raw, `${id}.nii.gz`))).data, first.data, `${id}: raw`);
  }
  assert.ok(removedSomewhere, "the rule removes a component in at least one case");
});

for (const architecture of ["resenc", "segresnet"] as const) {
  test(`${architecture}: trains through the same trainer and predicts through the same path`, async () => {
    setThreads(2);
    const { root, preprocessed } = await tinyDataset();
    const run = path.join(root, architecture);
    const { log } = await train(
      config(root, preprocessed, { architecture, features: [8, 16, 32], epochs: 2, iterationsPerEpoch: 2, out: run }),
    );
    assert.equal(log.length, 2);
    const out = path.join(root, `pred-${architecture}`);
    await predictFolder({
      runs: [run],
      input: path.join(root, "imagesTr"),
      out,
      options: {
        collapse: "argmax",
        threshold: 0.5,
        mirror: false,
        device: "cpu",
        saveProbabilities: false,
        saveClasses: false,
      },
    });
    const mask = await readVolume(path.join(out, "a.nii.gz"));
    const label = await readVolume(path.join(root, "labelsTr", "a.nii.gz"));
    assert.deepEqual(mask.geometry, label.geometry);
  });
}

test("export --onnx: onnxruntime reproduces our lesion probability and mask on a patch", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "run");
  await train(config(root, preprocessed, { mode: "backsplit", sources: ["tissue"], epochs: 2, out: run }));
  const { spawnSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
  for (const collapse of ["prob", "argmax"]) {
    const file = path.join(root, `model-${collapse}.onnx`);
    const r = spawnSync(process.execPath, [bin, "export", run, "--onnx", file, "--collapse", collapse], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const { loadRun } = await import("../../src/predict/predict.js");
    const model = loadRun(run, "cpu");
    const ort = (await import("onnxruntime-node")).default;
    const session = await ort.InferenceSession.create(file);
    const x = randn([1, 1, 8, 16, 16]);
    const probs = noGrad(() => F.softmax(model.net.forward(x) as Tensor, 1));
    const ours = probs.select(1, 1).toArray();
    const result = await session.run({ input: new ort.Tensor("float32", x.data<"float32">(), x.shape) });
    assertClose(
      Array.from(result.lesion_probability.data as Float32Array),
      ours,
      1e-4,
      1e-5,
      `${collapse}: lesion probability`,
    );
    const classes = probs.argmax(1).toArray();
    const mask = Array.from(result.lesion_mask.data as Uint8Array);
    const expected = collapse === "prob" ? ours.map((p) => (p > 0.5 ? 1 : 0)) : classes.map((c) => (c === 1 ? 1 : 0));
    const mismatches = mask.filter((m, i) => m !== expected[i]).length;
    assert.ok(mismatches <= 2, `${collapse}: ${mismatches} mask voxels differ (ties at the threshold)`);
  }
});

test("a trained BackSplit run serves as a background source for a dataset (labels predict --run)", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "run");
  await train(config(root, preprocessed, { mode: "backsplit", sources: ["tissue"], epochs: 2, out: run }));
  const { sourceFromRun } = await import("../../src/labels/from-run.js");
  const { openDataset } = await import("../../src/dataset/layout.js");
  const { classes } = await sourceFromRun(openDataset(root), { source: "own", run, device: "cpu" });
  assert.deepEqual(classes, { upper: 2, lower: 3 });
  const map = await readVolume(path.join(root, "backgroundTr", "own", "a.nii.gz"));
  const image = await readVolume(path.join(root, "imagesTr", "a_0000.nii.gz"));
  assert.deepEqual(map.geometry, image.geometry);
  assert.ok(map.data.every((v) => v === 0 || v === 2 || v === 3));
  const json = JSON.parse(readFileSync(path.join(root, "dataset.json"), "utf8"));
  assert.deepEqual(json.background_sources.own.labels, { upper: 2, lower: 3 });
});

test("the lesion-only path (prob rule, no class map) gives the same mask and probability as the full path", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "run");
  await train(config(root, preprocessed, { mode: "backsplit", sources: ["tissue"], epochs: 3, out: run }));
  const outs: string[] = [];
  for (const saveClasses of [false, true]) {
    const out = path.join(root, `pred-${saveClasses}`);
    outs.push(out);
    await predictFolder({
      runs: [run],
      input: path.join(root, "imagesTr"),
      out,
      options: { collapse: "prob", threshold: 0.5, mirror: false, device: "cpu", saveProbabilities: true, saveClasses },
    });
  }
  for (const f of ["a.nii.gz", "a_prob.nii.gz", "b.nii.gz"]) {
    const [lean, full] = await Promise.all(outs.map((o) => readVolume(path.join(o, f))));
    assertClose(Array.from(lean.data), Array.from(full.data), 1e-5, 1e-6, f);
  }
});
