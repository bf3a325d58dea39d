// Optimisers, schedules and clipping against torch.optim; optimiser state survives save/load.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  GradScaler,
  Optimizer,
  clipGradNorm,
  cosineLr,
  polyLr,
  tensor,
  tidy,
  withWarmup,
} from "../../src/engine/index.js";
import { assertClose } from "../helpers/assert.js";
import { normals } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

const shape = [3, 4];
const init = Array.from(Float32Array.from(normals(12, 1)));
const grads = [2, 3, 4, 5].map((s) => Array.from(Float32Array.from(normals(12, s))));

function train(make: (p: ReturnType<typeof tensor>) => Optimizer, lrs: number[]): number[] {
  const p = tensor(init, shape).requiresGrad_(true);
  const opt = make(p);
  grads.forEach((g, k) => {
    opt.lr = lrs[k];
    opt.zeroGrad();
    tidy(() => p.mul(tensor(g, shape)).sum().backward());
    opt.step();
  });
  return p.toArray();
}

test("SGD (Nesterov) and AdamW follow torch.optim step for step, with a changing learning rate", () => {
  const poly = polyLr(1e-2, 4, 0.9);
  const lrs = [0, 1, 2, 3].map(poly);
  const sgd = { kind: "sgd", lr: 1e-2, momentum: 0.99, nesterov: true, weightDecay: 3e-5, lrs };
  const adamw = { kind: "adamw", lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, lrs };
  const ours = {
    sgd: train((p) => Optimizer.sgd([p], sgd), lrs),
    adamw: train((p) => Optimizer.adamw([p], adamw), lrs),
  };
  const ref = runPython<{ sgd: number[]; adamw: number[]; clip: { total: number; grad: number[] } }>(
    "optim_reference.py",
    {
      init,
      shape,
      grads,
      runs: { sgd, adamw },
    },
  );
  assertClose(ours.sgd, ref.sgd, 1e-6, 1e-7, "sgd");
  assertClose(ours.adamw, ref.adamw, 1e-6, 1e-7, "adamw");

  const q = tensor(init, shape).requiresGrad_(true);
  tidy(() => q.mul(tensor(grads[0], shape)).mul(10).sum().backward());
  const total = clipGradNorm([q], 1.0).item();
  assertClose([total], [ref.clip.total], 1e-6, 0, "clip total norm");
  assertClose(q.grad!.toArray(), ref.clip.grad, 1e-5, 1e-7, "clipped gradient");
});

test("optimizer state bytes restore momentum exactly", () => {
  const run = (resume: boolean): number[] => {
    const p = tensor(init, shape).requiresGrad_(true);
    let opt = Optimizer.sgd([p], { lr: 0.1, momentum: 0.9, nesterov: true });
    grads.forEach((g, k) => {
      if (resume && k === 2) {
        const bytes = opt.stateBytes();
        opt.dispose();
        opt = Optimizer.sgd([p], { lr: 0.1, momentum: 0.9, nesterov: true });
        opt.loadStateBytes(bytes);
      }
      opt.zeroGrad();
      tidy(() => p.mul(tensor(g, shape)).sum().backward());
      opt.step();
    });
    return p.toArray();
  };
  assert.deepEqual(run(true), run(false));
});

test("learning-rate schedules match their formulas", () => {
  const poly = polyLr(0.01, 100, 0.9);
  assert.equal(poly(0), 0.01);
  assert.ok(Math.abs(poly(50) - 0.01 * 0.5 ** 0.9) < 1e-15);
  assert.equal(poly(100), 0);
  const cos = cosineLr(1, 10, 0.1);
  assert.ok(Math.abs(cos(5) - 0.55) < 1e-12);
  assert.ok(Math.abs(cos(10) - 0.1) < 1e-12);
  const warm = withWarmup(poly, 10);
  assert.ok(Math.abs(warm(0) - 0.001) < 1e-15);
  assert.ok(Math.abs(warm(9) - 0.01) < 1e-15);
  assert.equal(warm(10), 0.01);
});

test("GradScaler unscales, skips overflowing steps and adapts its scale (CPU path)", () => {
  const p = tensor([1, 2, 3]).requiresGrad_(true);
  const opt = Optimizer.sgd([p], { lr: 1 });
  const scaler = new GradScaler({ initScale: 8, growthInterval: 2 });
  const loss = tidy(() => scaler.scaleLoss(p.sum()));
  assert.equal(loss.item(), 48);
  loss.backward();
  assert.equal(scaler.step(opt), true);
  scaler.update();
  assert.deepEqual(p.toArray(), [0, 1, 2], "gradient 8 was unscaled to 1 before the step");
  opt.zeroGrad();
  tidy(() => p.mul(Number.POSITIVE_INFINITY).sum().backward());
  assert.equal(scaler.step(opt), false);
  scaler.update();
  assert.deepEqual(p.toArray(), [0, 1, 2], "no step on overflow");
  assert.equal(scaler.scale, 4);
  for (let i = 0; i < 2; i++) {
    opt.zeroGrad();
    tidy(() => scaler.scaleLoss(p.sum()).backward());
    scaler.step(opt);
    scaler.update();
  }
  assert.equal(scaler.scale, 8, "grows after growthInterval clean steps");
  assert.deepEqual(p.toArray(), [-2, -1, 0]);
});
