// Fisher diagnostics against an exact reference (torch autograd, by definition) on a linear softmax
// model; zero gap without a split; the closed-form voxel map against the head-bias estimate of a U-Net.
import assert from "node:assert/strict";
import { test } from "node:test";
import { manualSeed, setThreads, tensor } from "../../src/engine/index.js";
import { Conv } from "../../src/engine/nn/layers.js";
import { parameterGroup, patchFisher, summarizeFisher } from "../../src/fisher/fisher.js";
import { buildModel } from "../../src/models/registry.js";
import { normals } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

setThreads(2);

function linearSoftmax(k: number, c: number, seed: number): { net: Conv; W: number[][]; b: number[] } {
  const w = normals(k * c, seed).map((v) => 1.5 * v);
  const b = normals(k, seed + 1).map((v) => 0.8 * v);
  const net = new Conv({ dims: 3, inChannels: c, outChannels: k, kernel: 1 });
  net.loadStateDict(
    new Map([
      ["weight", tensor(Float32Array.from(w), [k, c, 1, 1, 1])],
      ["bias", tensor(Float32Array.from(b), [k])],
    ]),
  );
  return { net, W: Array.from({ length: k }, (_, i) => w.slice(i * c, i * c + c)), b };
}

const within = (value: number, expected: number, se: number, what: string) =>
  assert.ok(
    Math.abs(value - expected) <= 4 * se + 1e-9,
    `${what}: ${value.toFixed(4)} vs exact ${expected.toFixed(4)} (SE ${se.toFixed(4)})`,
  );

test("Monte Carlo traces of I_Y and I_Z match the exact Fisher of a softmax model within their errors", () => {
  manualSeed(3);
  const [k, c, v] = [4, 2, 8];
  const { net, W, b } = linearSoftmax(k, c, 11);
  const x = normals(c * v, 5);
  const image = tensor(Float32Array.from(x), [1, c, 2, 2, 2]);
  const exact = runPython<{
    traceY: Record<string, number>;
    traceZ: Record<string, number>;
    minEigenvalueGap: number;
    maxEigenvalueGap: number;
  }>("fisher_reference.py", {
    x: Array.from({ length: c }, (_, ch) => x.slice(ch * v, ch * v + v)),
    W,
    b,
    lesion: 1,
  });
  const s = summarizeFisher([patchFisher(net, image, { lesionClasses: [1], samples: 3000 })]);
  for (const g of s.groups) {
    within(g.traceY.mean, exact.traceY[g.group], g.traceY.se, `tr I_Y (${g.group})`);
    within(g.traceZ.mean, exact.traceZ[g.group], g.traceZ.se, `tr I_Z (${g.group})`);
    within(g.gap.mean, exact.traceY[g.group] - exact.traceZ[g.group], g.gap.se, `tr I_Y − tr I_Z (${g.group})`);
  }
  // I_Y − I_Z is positive semi-definite, and not zero: the split adds information.
  assert.ok(exact.minEigenvalueGap > -1e-6, `smallest eigenvalue of I_Y − I_Z: ${exact.minEigenvalueGap}`);
  assert.ok(exact.maxEigenvalueGap > 1e-3);
  // The closed form: for the bias the Jacobian is the identity, so Σ_v (1 − p_l)(1 − ‖q‖²) is exact.
  const logitGap = s.logitPerVoxel.gap * v;
  assert.ok(
    Math.abs(logitGap - (exact.traceY.bias - exact.traceZ.bias)) < 1e-4 * exact.traceY.bias,
    `closed-form gap ${logitGap} vs exact bias gap ${exact.traceY.bias - exact.traceZ.bias}`,
  );
  assert.ok(Math.abs(s.logitPerVoxel.traceY * v - exact.traceY.bias) < 1e-4 * exact.traceY.bias);
  assert.ok(Math.abs(s.logitPerVoxel.traceZ * v - exact.traceZ.bias) < 1e-4 * exact.traceY.bias);
});

test("with two classes (no split) the gap is zero, sample for sample", () => {
  manualSeed(4);
  const { net } = linearSoftmax(2, 3, 21);
  const image = tensor(Float32Array.from(normals(3 * 27, 8)), [1, 3, 3, 3, 3]);
  const s = summarizeFisher([patchFisher(net, image, { lesionClasses: [1], samples: 50 })]);
  assert.ok(s.total.traceY.mean > 0.1);
  assert.ok(Math.abs(s.total.gap.mean) < 1e-5 * s.total.traceY.mean, `gap ${s.total.gap.mean}`);
  assert.ok(Math.abs(s.logitPerVoxel.gap) < 1e-7);
});

test("a U-Net's head-bias estimate equals the closed-form voxel map summed over the patch", () => {
  manualSeed(5);
  const net = buildModel("plain", {
    dims: 3,
    inChannels: 1,
    numClasses: 4,
    features: [4, 8],
    strides: [
      [1, 1, 1],
      [2, 2, 2],
    ],
    kernels: [
      [3, 3, 3],
      [3, 3, 3],
    ],
    deepSupervision: false,
  }).eval();
  const image = tensor(Float32Array.from(normals(8 * 8 * 8, 9)), [1, 1, 8, 8, 8]);
  const target = tensor(
    Int32Array.from({ length: 512 }, (_, i) => i % 4),
    [1, 8, 8, 8],
  ).to("int64");
  const s = summarizeFisher([
    patchFisher(net, image, {
      lesionClasses: [1],
      samples: 400,
      target,
      groupOf: (n) => (n === "head0.bias" ? "head bias" : parameterGroup(n)),
    }),
  ]);
  assert.deepEqual(
    s.groups.map((g) => g.group),
    ["encoder 0", "encoder 1", "decoder 0", "head", "head bias"],
  );
  const bias = s.groups.find((g) => g.group === "head bias")!;
  within(bias.gap.mean, s.logitPerVoxel.gap * 512, bias.gap.se, "head-bias gap vs closed form");
  within(bias.traceY.mean, s.logitPerVoxel.traceY * 512, bias.traceY.se, "head-bias tr I_Y vs closed form");
  // Every group gains information from the split; the empirical Fisher exists for every group.
  for (const g of s.groups) assert.ok(g.gap.mean > 0, `${g.group}: gap ${g.gap.mean}`);
  assert.ok(s.total.empiricalY && s.total.empiricalY.mean > 0);
  assert.equal(bias.parameters, 4);
});
