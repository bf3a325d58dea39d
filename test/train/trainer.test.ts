// Training end to end on tiny synthetic cases: binary and BackSplit overfit, exact resume, splits.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fiveFoldSplits } from "../../src/dataset/splits.js";
import { loadSafetensors, setThreads } from "../../src/engine/index.js";
import { Conv, ConvTranspose } from "../../src/engine/nn/layers.js";
import { buildNetwork, setUpTraining } from "../../src/train/setup.js";
import { train } from "../../src/train/trainer.js";
import { config, tinyDataset } from "../fixtures/training.js";

test("a run interrupted after 2 of 4 epochs and resumed ends with exactly the weights of an uninterrupted run", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const straight = await train(
    config(root, preprocessed, { out: path.join(root, "straight"), mode: "backsplit", sources: ["tissue"] }),
  );
  await train(
    config(root, preprocessed, {
      out: path.join(root, "resumed"),
      mode: "backsplit",
      sources: ["tissue"],
      stopAfterEpochs: 2,
    }),
  );
  const second = await train(
    config(root, preprocessed, {
      out: path.join(root, "resumed"),
      mode: "backsplit",
      sources: ["tissue"],
      resume: true,
    }),
  );
  assert.deepEqual(
    second.log.map((l) => l.epoch),
    [2, 3],
  );
  const a = loadSafetensors(path.join(root, "straight", "checkpoints", "epoch_3.safetensors")).tensors;
  const b = loadSafetensors(path.join(root, "resumed", "checkpoints", "epoch_3.safetensors")).tensors;
  for (const [name, t] of a) assert.deepEqual(b.get(name)!.toArray(), t.toArray(), name);
  const log = readFileSync(path.join(root, "resumed", "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    log.map((l) => l.epoch),
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    log.map((l) => l.trainLoss),
    straight.log.map((l) => l.trainLoss),
  );
  // Every step's loss (iterations.jsonl) and every epoch's weight digest survive the resume too.
  const steps = (dir: string) =>
    readFileSync(path.join(root, dir, "iterations.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { epoch: number; losses: number[]; gradNorms: number[] });
  assert.deepEqual(steps("resumed"), steps("straight"));
  for (const e of steps("straight")) {
    assert.equal(e.losses.length, 3);
    assert.equal(e.gradNorms.length, 3);
    assert.equal(e.losses.reduce((a, b) => a + b, 0) / e.losses.length, straight.log[e.epoch].trainLoss);
  }
  const digests = log.map((l) => l.weightsDigest);
  assert.deepEqual(
    digests,
    straight.log.map((l) => l.weightsDigest),
  );
  assert.equal(new Set(digests).size, 4, "the weights change every epoch, and so does the digest");

  // Resuming into the finished run with another seed or patch is refused, naming what differs, and
  // leaves the run as it was; another thread count is not a different training.
  const resumeWith = (over: Partial<Parameters<typeof config>[2]>) =>
    train(
      config(root, preprocessed, {
        out: path.join(root, "resumed"),
        mode: "backsplit",
        sources: ["tissue"],
        resume: true,
        ...over,
      }),
    );
  await assert.rejects(resumeWith({ seed: 2 }), /cannot resume.*seed: 1 → 2/);
  await assert.rejects(
    resumeWith({ patchSize: [8, 8, 8], diceOver: "lesion" }),
    /patch: 8,16,16 → 8,8,8; diceOver: all → lesion/,
  );
  const unchanged = await resumeWith({ threads: 1 });
  assert.deepEqual(unchanged.log, [], "a finished run resumed with another thread count trains nothing more");
  assert.deepEqual(
    loadSafetensors(path.join(root, "resumed", "checkpoints", "epoch_3.safetensors"))
      .tensors.get(a.keys().next().value!)!
      .toArray(),
    a.get(a.keys().next().value!)!.toArray(),
  );
  assert.match(digests[0] ?? "", /^[0-9a-f]{16}$/);
  // The run says where it trained: bit-identity holds for the same CPU model, threads and libtorch.
  const { machine, init } = JSON.parse(readFileSync(path.join(root, "straight", "training.json"), "utf8"));
  assert.equal(init, "pytorch-body");
  assert.deepEqual(machine, {
    cpu: os.cpus()[0].model.trim(),
    threads: 2,
    libtorch: machine.libtorch,
    device: "cpu",
    worldSize: 1,
  });
  assert.match(machine.libtorch, /^\d+\.\d+/);
  // BackSplit head: background + lesion + 2 tissue classes.
  assert.deepEqual(a.get("head0.weight")!.shape.slice(0, 2), [4, 4]);
  assert.ok(existsSync(path.join(root, "straight", "checkpoints", "best.safetensors")));

  // The Fisher log (--fisher-log) records its proxies and leaves training bit for bit unchanged.
  const logged = await train(
    config(root, preprocessed, {
      out: path.join(root, "fisher"),
      mode: "backsplit",
      sources: ["tissue"],
      fisherLog: true,
    }),
  );
  const c = loadSafetensors(path.join(root, "fisher", "checkpoints", "epoch_3.safetensors")).tensors;
  for (const [name, t] of a) assert.deepEqual(c.get(name)!.toArray(), t.toArray(), `${name} with the Fisher log`);
  assert.deepEqual(
    logged.log.map((l) => l.trainLoss),
    straight.log.map((l) => l.trainLoss),
  );
  for (const e of logged.log) {
    assert.ok(e.gradNorm && e.gradNorm.mean > 0 && e.gradNorm.variance >= 0);
    assert.ok(e.fisher && e.fisher.logitGap > 0 && e.fisher.logitTraceY >= e.fisher.logitGap);
    assert.ok(e.fisher.traceY > 0 && e.fisher.traceZ > 0);
  }
  const meanGap = logged.log.reduce((s, e) => s + e.fisher!.gap, 0) / logged.log.length;
  assert.ok(meanGap > 0, `mean Monte Carlo gap ${meanGap}`);
  assert.equal(straight.log[0].fisher, undefined);
});

for (const mode of ["binary", "backsplit"] as const) {
  test(`a ${mode} model overfits the tiny cases (validation pseudo-Dice on the lesion)`, async () => {
    setThreads(2);
    const { root, preprocessed } = await tinyDataset();
    const { log } = await train(
      config(root, preprocessed, {
        mode,
        sources: mode === "backsplit" ? ["tissue"] : [],
        epochs: 25,
        iterationsPerEpoch: 4,
        augment: false,
        lesionShare: 1,
        out: path.join(root, mode),
      }),
    );
    const last = log.at(-1)!;
    assert.ok(last.trainLoss < log[0].trainLoss * 0.5, `loss ${log[0].trainLoss} → ${last.trainLoss}`);
    assert.ok(last.pseudoDice > 0.8, `pseudo-Dice ${last.pseudoDice}`);
  });
}

test("five-fold splits are stable, disjoint and cover every case", () => {
  const ids = Array.from({ length: 12 }, (_, i) => `case_${i}`);
  const a = fiveFoldSplits(ids);
  assert.deepEqual(fiveFoldSplits([...ids].reverse()), a);
  assert.equal(a.length, 5);
  assert.deepEqual(a.flatMap((f) => f.val).sort(), [...ids].sort());
  for (const f of a) assert.equal(f.train.length + f.val.length, 12);
});

test("fine-tuning BackSplit from a binary run widens the output layer: the split model starts as the binary one", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  await train(config(root, preprocessed, { mode: "binary", epochs: 2, out: path.join(root, "binary") }));
  const { initFromRun } = await import("../../src/train/trainer.js");
  const { buildModel } = await import("../../src/models/registry.js");
  const { F, noGrad, randn, tidy } = await import("../../src/engine/index.js");
  const arch = JSON.parse(readFileSync(path.join(preprocessed, "plans.json"), "utf8")).configurations["3d_fullres"]
    .architecture;
  const common = {
    dims: 3 as const,
    inChannels: 1,
    features: [4, 8, 16],
    strides: arch.strides.slice(0, 3),
    kernels: arch.kernels.slice(0, 3),
    deepSupervision: false,
  };
  const binary = buildModel("plain", { ...common, numClasses: 2 });
  const split = buildModel("plain", { ...common, numClasses: 4 });
  initFromRun(binary, path.join(root, "binary"), { background: 0, lesion: 1 });
  initFromRun(split, path.join(root, "binary"), { background: 0, lesion: 1, upper: 2, lower: 3 });
  tidy(() => {
    const x = randn([1, 1, 8, 16, 16]);
    const pb = noGrad(() => F.softmax(binary.forward(x) as never, 1));
    const ps = noGrad(() => F.softmax(split.forward(x) as never, 1));
    // Lesion probability: binary p1 vs split p1; background mass split over three identical rows.
    const lesionB = pb.select(1, 1).toArray();
    const lesionS = ps.select(1, 1).toArray();
    for (let i = 0; i < lesionB.length; i += 37) {
      const b = lesionB[i];
      // p_split(lesion) = e^l / (e^l + 3 e^b) when three background rows equal the binary background row.
      const expected = b / (b + 3 * (1 - b));
      assert.ok(Math.abs(lesionS[i] - expected) < 1e-5, `voxel ${i}: ${lesionS[i]} vs ${expected}`);
    }
  });
  await train(
    config(root, preprocessed, {
      mode: "backsplit",
      sources: ["tissue"],
      epochs: 1,
      initFrom: path.join(root, "binary"),
      out: path.join(root, "ft"),
    }),
  );
});

test("the 2D configuration trains on slices and predicts slice by slice on the input grid", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const { openDataset } = await import("../../src/dataset/layout.js");
  const { preprocessDataset } = await import("../../src/preprocess/preprocess.js");
  const plans = JSON.parse(readFileSync(path.join(preprocessed, "plans.json"), "utf8"));
  await preprocessDataset(openDataset(root), plans, "2d", preprocessed, { workers: 1 });
  const run = path.join(root, "run2d");
  const { log } = await train(
    config(root, preprocessed, {
      configuration: "2d",
      patchSize: [16, 16],
      features: [8, 16, 32],
      mode: "backsplit",
      sources: ["tissue"],
      epochs: 3,
      out: run,
    }),
  );
  assert.equal(log.length, 3);
  // 2D and 3D start from PyTorch's default on the body, He on the heads with zero biases (docs/results.md
  // §0); with a lesion prior the heads' biases give the lesion 1 %. The record says which, and a resume
  // that would start otherwise is refused.
  const init2d = config(root, preprocessed, {
    configuration: "2d",
    patchSize: [16, 16],
    features: [8, 16, 32],
    mode: "backsplit",
    sources: ["tissue"],
  });
  const record = JSON.parse(readFileSync(path.join(run, "training.json"), "utf8"));
  assert.equal(record.init, "pytorch-body");
  assert.equal(record.lesionPrior, 0);
  const init3d = config(root, preprocessed, { mode: "backsplit", sources: ["tissue"] });
  const isHead = (m: Conv) => m.weight.shape[0] === 4 && m.weight.shape.slice(2).every((k) => k === 1);
  const drawnBias = (m: Conv) => (m.bias?.toArray() as number[]).some((b) => b !== 0);
  // Classes background 0, lesion 1, upper 2, lower 3: softmax of the head's biases 0.33 / 0.01 / 0.33 / 0.33.
  const startsAtPrior = (m: Conv) => {
    const e = (m.bias?.toArray() as number[]).map(Math.exp);
    const p = e.map((x) => x / e.reduce((a, b) => a + b, 0));
    return p.every((x, c) => Math.abs(x - (c === 1 ? 0.01 : 0.33)) < 1e-6);
  };
  for (const c of [init2d, init3d])
    for (const lesionPrior of [undefined, 0.01]) {
      const net = buildNetwork(setUpTraining({ ...c, lesionPrior }, "cpu"));
      const convs = [...net.modules()].filter((m) => m instanceof Conv || m instanceof ConvTranspose) as Conv[];
      const heads = convs.filter(isHead);
      const where = `${c.configuration}, lesion prior ${lesionPrior}`;
      assert.ok(heads.length > 0, where);
      assert.ok(heads.every(lesionPrior ? startsAtPrior : (m) => !drawnBias(m)), `heads' biases (${where})`);
      assert.ok(convs.filter((m) => !isHead(m)).every(drawnBias), `PyTorch's default on the body (${where})`);
      net.dispose();
    }
  await assert.rejects(
    train({ ...init2d, epochs: 3, out: run, resume: true, init: "he" }),
    /cannot resume.*init: pytorch-body → he/,
  );
  await assert.rejects(
    train({ ...init2d, epochs: 3, out: run, resume: true, lesionPrior: 0.01 }),
    /cannot resume.*lesionPrior: 0 → 0.01/,
  );
  const { predictFolder } = await import("../../src/predict/predict.js");
  const { readVolume } = await import("../../src/io/index.js");
  const out = path.join(root, "pred2d");
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
      saveClasses: false,
    },
  });
  const prob = await readVolume(path.join(out, "a_prob.nii.gz"));
  const image = await readVolume(path.join(root, "imagesTr", "a_0000.nii.gz"));
  assert.deepEqual(prob.geometry, image.geometry);
  assert.ok(prob.data.every((p) => p >= 0 && p <= 1.00001));
});

test("unassigned voxels as 'unknown background' train with the marginal likelihood (no extra output channel)", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "marginal");
  const { log } = await train(
    config(root, preprocessed, { mode: "backsplit", sources: ["tissue"], unassigned: "marginal", epochs: 2, out: run }),
  );
  assert.ok(log.every((l) => Number.isFinite(l.trainLoss)));
  const record = JSON.parse(readFileSync(path.join(run, "training.json"), "utf8"));
  assert.deepEqual(record.classes, { background: 0, lesion: 1, upper: 2, lower: 3, unknown_background: 4 });
  assert.equal(record.numClasses, 4);
});

test("deep supervision is on by default; off, the network gives the loss its full-resolution output only", async () => {
  setThreads(2);
  const { setUpTraining, buildNetwork } = await import("../../src/train/setup.js");
  const { outputsOf } = await import("../../src/train/step.js");
  const { randn, tidy } = await import("../../src/engine/index.js");
  const { root, preprocessed } = await tinyDataset();
  const outputs = (deepSupervision?: boolean) => {
    const c = config(root, preprocessed, { out: path.join(root, "ds"), deepSupervision });
    const s = setUpTraining(c, "cpu");
    const net = buildNetwork(s);
    return tidy(() => outputsOf(net, randn([1, s.channels, ...s.patch])).map((o) => o.shape));
  };
  const on = outputs(undefined);
  const off = outputs(false);
  assert.ok(on.length > 1, `deep supervision: ${on.length} outputs`);
  assert.deepEqual(off, [on[0]], "one output, the full-resolution one");
  // The coarse targets' rule reaches the loss: nearest by default, lesion-max when asked.
  const rule = (deepSupervisionTargets?: "nearest" | "lesion-max") =>
    setUpTraining(config(root, preprocessed, { out: path.join(root, "ds"), deepSupervisionTargets }), "cpu").lossOptions
      .deepSupervisionTargets;
  assert.equal(rule(undefined), undefined);
  assert.equal(rule("lesion-max"), "lesion-max");
});

test("init 'pytorch' reaches the network: PyTorch's default draws biases, He leaves them at zero", async () => {
  const { root, preprocessed } = await tinyDataset();
  const biases = (init?: "he" | "pytorch") => {
    // Lesion prior 0: the heads keep the biases the initialisation drew.
    const net = buildNetwork(setUpTraining(config(root, preprocessed, { init, lesionPrior: 0 }), "cpu"));
    // Convolution biases (the norms' biases start at zero under either).
    const values = [...net.modules()]
      .filter((m) => m instanceof Conv || m instanceof ConvTranspose)
      .flatMap((m) => (m as Conv).bias?.toArray() as number[]);
    net.dispose();
    return values;
  };
  assert.ok(biases("he").every((b) => b === 0));
  const drawn = biases("pytorch");
  assert.ok(drawn.length > 0 && drawn.every((b) => b !== 0));
});
