// Initialisation: nnU-Net's He (every network's default) and PyTorch's default layer init (a measurement knob),
// checked against their closed forms: He std √(2 / ((1 + 0.01²) fan_in)) with zero biases; PyTorch's
// U(±1/√fan_in) for weights and biases (std bound/√3), fan_in from weight dim 1 as PyTorch computes it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { manualSeed, setThreads } from "../../src/engine/index.js";
import { Conv, ConvTranspose } from "../../src/engine/nn/layers.js";
import { applyInit, pytorchDefaultInit, setLesionPrior } from "../../src/models/init.js";
import { buildModel } from "../../src/models/registry.js";
import { SliceAdapter } from "../../src/models/slices.js";

/** A 3-stage U-Net with 4 classes, wrapped in the slice adapter in 2D as buildFromPlan does, and its convolutions. */
function layers(dims: 2 | 3 = 3, features = [16, 32, 64]) {
  manualSeed(3);
  const unet = buildModel("plain", {
    dims,
    inChannels: 2,
    numClasses: 4,
    features,
    strides: [1, 2, 2],
    kernels: [3, 3, 3],
    deepSupervision: true,
  });
  const net = dims === 2 ? new SliceAdapter(unet) : unet;
  const convs = [...net.modules()].filter((m) => m instanceof Conv || m instanceof ConvTranspose) as (
    | Conv
    | ConvTranspose
  )[];
  return { net, convs };
}

const stats = (v: number[]) => {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return {
    mean,
    std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length),
    max: Math.max(...v.map(Math.abs)),
  };
};
const fanIn = (shape: number[]) => shape.slice(1).reduce((a, b) => a * b, 1);

test("He initialisation by default, PyTorch's default layer initialisation on request", () => {
  setThreads(2);
  const he = layers();
  assert.ok(he.convs.some((m) => m instanceof ConvTranspose));
  for (const m of he.convs) {
    const w = m.weight.toArray() as number[];
    if (w.length < 2000) continue; // too few draws for a 10 % check of the spread
    const expected = Math.sqrt(2 / ((1 + 0.01 ** 2) * fanIn(m.weight.shape)));
    assert.ok(Math.abs(stats(w).std / expected - 1) < 0.1, `He std ${stats(w).std} vs ${expected}`);
    assert.ok((m.bias?.toArray() as number[] | undefined)?.every((b) => b === 0) ?? true);
  }
  const torch = layers();
  pytorchDefaultInit(torch.net);
  let checked = 0;
  for (const m of torch.convs) {
    const bound = 1 / Math.sqrt(fanIn(m.weight.shape));
    const w = stats(m.weight.toArray() as number[]);
    assert.ok(w.max <= bound);
    const b = m.bias ? (m.bias.toArray() as number[]) : [];
    assert.ok(b.every((x) => Math.abs(x) <= bound) && b.some((x) => x !== 0), "biases drawn too");
    if (m.weight.numel < 2000) continue;
    assert.ok(Math.abs(w.std / (bound / Math.sqrt(3)) - 1) < 0.1, `uniform std ${w.std} vs ${bound / Math.sqrt(3)}`);
    checked++;
  }
  assert.ok(checked >= 6);
});

test("pytorch-heads and pytorch-body split the network at its 1×1 segmentation heads, in 2D and 3D", () => {
  for (const scheme of ["pytorch-heads", "pytorch-body"] as const)
    for (const dims of [2, 3] as const) {
      const { net, convs } = layers(dims, [8, 16, 32]);
      applyInit(net, scheme);
      const isHead = (m: Conv) => m.weight.shape[0] === 4 && m.weight.shape.slice(2).every((k) => k === 1);
      assert.equal((convs as Conv[]).filter(isHead).length, 2, "one head per decoder stage");
      for (const m of convs as Conv[]) {
        const pytorch = isHead(m) === (scheme === "pytorch-heads");
        const bound = 1 / Math.sqrt(fanIn(m.weight.shape));
        const b = m.bias?.toArray() as number[] | undefined;
        if (!b) continue;
        // PyTorch's default draws biases in ±bound; He leaves them at zero.
        assert.equal(
          b.some((x) => x !== 0),
          pytorch,
          `${scheme} ${dims}D ${m.weight.shape}`,
        );
        if (pytorch) assert.ok(stats(m.weight.toArray() as number[]).max <= bound);
      }
    }
});

/** The biases of the 1×1 heads (4 output channels, kernel 1) of a network built by `layers`. */
function headBiases(net: { modules(): Iterable<unknown> }): number[][] {
  return [...net.modules()]
    .filter(
      (m): m is Conv => m instanceof Conv && m.weight.shape[0] === 4 && m.weight.shape.slice(2).every((k) => k === 1),
    )
    .map((m) => m.bias?.toArray() as number[]);
}
const softmax = (b: number[]) => {
  const e = b.map((x) => Math.exp(x - Math.max(...b)));
  const sum = e.reduce((a, c) => a + c, 0);
  return e.map((x) => x / sum);
};

test("a lesion prior sets every head's biases so that their softmax is the prior, in 2D and 3D", () => {
  for (const dims of [2, 3] as const) {
    const { net, convs } = layers(dims, [8, 16, 32]);
    const drawn = convs.map((m) => m.weight.toArray() as number[]);
    // One lesion class (3) of four: it starts at 1 %, the three others share 99 % evenly.
    setLesionPrior(net, 4, [3], 0.01);
    const heads = headBiases(net);
    assert.equal(heads.length, 2, "both deep-supervision heads");
    for (const b of heads) {
      const p = softmax(b);
      assert.ok(Math.abs(p[3] - 0.01) < 1e-6, `lesion ${p[3]}`);
      for (const c of [0, 1, 2]) assert.ok(Math.abs(p[c] - 0.33) < 1e-6, `class ${c}: ${p[c]}`);
      // Binary-equivalent hand value: the lesion logit sits log(0.01 / 0.33) below each other class.
      assert.ok(Math.abs(b[3] - b[0] - Math.log(0.01 / 0.33)) < 1e-5);
    }
    // Weights are left as drawn.
    convs.forEach((m, i) => assert.deepEqual(m.weight.toArray(), drawn[i]));
    // Two lesion classes share the prior.
    setLesionPrior(net, 4, [2, 3], 0.02);
    for (const b of headBiases(net)) {
      const p = softmax(b);
      assert.ok(Math.abs(p[2] - 0.01) < 1e-6 && Math.abs(p[3] - 0.01) < 1e-6 && Math.abs(p[0] - 0.49) < 1e-6);
    }
  }
});

test("lesion prior 0 leaves the drawn biases; a prior outside [0, 1) or classes that do not fit throw", () => {
  const { net } = layers(3, [8, 16, 32]);
  applyInit(net, "pytorch");
  const before = headBiases(net);
  setLesionPrior(net, 4, [3], 0);
  assert.deepEqual(headBiases(net), before);
  assert.ok(before.flat().some((b) => b !== 0));
  assert.throws(() => setLesionPrior(net, 4, [3], 1), /\[0, 1\)/);
  assert.throws(() => setLesionPrior(net, 4, [3], Number.NaN), /\[0, 1\)/);
  assert.throws(() => setLesionPrior(net, 4, [0, 1, 2, 3], 0.01), /do not leave/);
  assert.throws(() => setLesionPrior(net, 4, [4], 0.01), /do not leave/);
  assert.throws(() => setLesionPrior(net, 3, [2], 0.01), /no bias of 3 classes/);
});

test("every architecture's heads take the lesion prior: residual-encoder U-Net and SegResNet too", () => {
  for (const architecture of ["resenc", "segresnet"] as const) {
    manualSeed(5);
    const net = buildModel(architecture, {
      dims: 3,
      inChannels: 1,
      numClasses: 4,
      features: [8, 16, 32],
      strides: [1, 2, 2],
      kernels: [3, 3, 3],
      deepSupervision: true,
    });
    setLesionPrior(net, 4, [1], 0.01);
    const heads = headBiases(net);
    assert.ok(heads.length > 0, architecture);
    for (const b of heads) assert.ok(Math.abs(softmax(b)[1] - 0.01) < 1e-6, `${architecture}: ${softmax(b)}`);
  }
});
