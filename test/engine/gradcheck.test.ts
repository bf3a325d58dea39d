// Gradients checked against central finite differences in float64: an independent reference
// that does not rely on PyTorch's own backward formulas.
import { test } from "node:test";
import { F, type Tensor, cat, setThreads, tensor, tidy } from "../../src/engine/index.js";
import { assertClose } from "../helpers/assert.js";
import { normals, prng, product, uniforms } from "../helpers/data.js";

interface Case {
  name: string;
  shapes: number[][];
  fn: (x: Tensor[]) => Tensor;
  /** Inputs to perturb (others are constants, e.g. integer targets). */
  differentiable?: number[];
  data?: (i: number, n: number) => number[];
}

const CASES: Case[] = [
  {
    name: "conv3d",
    shapes: [[1, 2, 4, 4, 3], [3, 2, 3, 3, 3], [3]],
    fn: ([x, w, b]) => F.conv(x, w, b, { padding: 1, stride: [1, 2, 1] }),
  },
  {
    name: "convTranspose3d",
    shapes: [
      [1, 2, 2, 3, 2],
      [2, 3, 2, 2, 2],
    ],
    fn: ([x, w]) => F.convTranspose(x, w, null, { stride: 2 }),
  },
  {
    name: "instanceNorm + leakyRelu",
    shapes: [[2, 2, 3, 3, 2], [2], [2]],
    fn: ([x, w, b]) => F.leakyRelu(F.instanceNorm(x, { weight: w, bias: b }), 0.01),
  },
  { name: "groupNorm", shapes: [[2, 4, 3, 3], [4], [4]], fn: ([x, w, b]) => F.groupNorm(x, 2, { weight: w, bias: b }) },
  {
    name: "gridSample 3d",
    shapes: [
      [1, 2, 3, 4, 3],
      [1, 2, 3, 2, 3],
    ],
    fn: ([x, g]) => F.gridSample(x, g, { alignCorners: true }),
    data: (i, n) => (i === 1 ? uniforms(n, 91, -0.9, 0.9) : normals(n, 92)),
  },
  { name: "affineGrid", shapes: [[1, 3, 4]], fn: ([t]) => F.affineGrid(t, [1, 1, 2, 3, 2]) },
  { name: "interpolate trilinear", shapes: [[1, 1, 2, 3, 3]], fn: ([x]) => F.interpolate(x, [4, 5, 3], "trilinear") },
  { name: "avgPool3d", shapes: [[1, 2, 4, 4, 2]], fn: ([x]) => F.avgPool(x, 2) },
  { name: "softmax logsumexp", shapes: [[2, 4, 3]], fn: ([x]) => F.softmax(x, 1).mul(x.logsumexp(1, true)) },
  {
    name: "crossEntropy weighted ignore",
    shapes: [[2, 3, 4], [2, 4], [3]],
    differentiable: [0],
    fn: ([x, t, w]) => F.crossEntropy(x, t.long(), { weight: w, ignoreIndex: 2 }),
    data: (i, n) => (i === 1 ? [0, 1, 2, 1, 2, 0, 0, 1].slice(0, n) : i === 2 ? [0.5, 2, 1] : normals(n, 93)),
  },
  {
    name: "matmul sum pow",
    shapes: [
      [3, 4],
      [4, 2],
    ],
    fn: ([a, b]) => a.matmul(b).pow(2).sum(1),
  },
  {
    name: "cat pad",
    shapes: [
      [1, 1, 2, 3],
      [1, 1, 2, 3],
    ],
    fn: ([a, b]) => F.pad(cat([a, b], 1), [1, 1, 1, 0], "reflect"),
  },
];

test("gradients agree with central finite differences (float64)", () => {
  setThreads(1);
  const eps = 1e-6;
  CASES.forEach((cs, k) => {
    const datas = cs.shapes.map((s, i) => cs.data?.(i, product(s)) ?? normals(product(s), 100 * k + i));
    const differentiable = cs.differentiable ?? cs.shapes.map((_, i) => i);
    const evaluate = (values: number[][]): number =>
      tidy(() => {
        const xs = values.map((d, i) => tensor(d, cs.shapes[i], { dtype: "float64" }));
        const out = cs.fn(xs);
        const w = tensor(normals(out.numel, 5000 + k), out.shape, { dtype: "float64" });
        return out.mul(w).sum().item();
      });
    const analytic = tidy(() => {
      const xs = datas.map((d, i) => {
        const t = tensor(d, cs.shapes[i], { dtype: "float64" });
        return differentiable.includes(i) ? t.requiresGrad_(true) : t;
      });
      const out = cs.fn(xs);
      const w = tensor(normals(out.numel, 5000 + k), out.shape, { dtype: "float64" });
      out.mul(w).sum().backward();
      return xs.map((x) => x.grad?.toArray() ?? null);
    });
    const pick = prng(k + 1);
    for (const i of differentiable) {
      const n = datas[i].length;
      const indices = n <= 24 ? [...Array(n).keys()] : Array.from({ length: 24 }, () => Math.floor(pick() * n));
      const numeric = indices.map((j) => {
        const plus = datas.map((d) => [...d]);
        const minus = datas.map((d) => [...d]);
        plus[i][j] += eps;
        minus[i][j] -= eps;
        return (evaluate(plus) - evaluate(minus)) / (2 * eps);
      });
      const grad = analytic[i];
      if (!grad) throw new Error(`${cs.name}: no gradient for input ${i}`);
      assertClose(
        indices.map((j) => grad[j]),
        numeric,
        1e-5,
        1e-6,
        `${cs.name} d/dinput${i}`,
      );
    }
  });
});
