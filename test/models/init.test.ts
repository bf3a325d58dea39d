// Initialisation: nnU-Net's He (every network's default) and PyTorch's default layer init (a measurement knob),
// checked against their closed forms: He std √(2 / ((1 + 0.01²) fan_in)) with zero biases; PyTorch's
// U(±1/√fan_in) for weights and biases (std bound/√3), fan_in from weight dim 1 as PyTorch computes it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { manualSeed, setThreads } from "../../src/engine/index.js";
import { Conv, ConvTranspose } from "../../src/engine/nn/layers.js";
import { applyInit, pytorchDefaultInit } from "../../src/models/init.js";
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
