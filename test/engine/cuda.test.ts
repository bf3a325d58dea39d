// CUDA: runs only where libtorch sees a GPU (the CI machine has none; see docs/engine.md for results).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  F,
  GradScaler,
  Optimizer,
  type Tensor,
  arange,
  autocast,
  cudaAvailable,
  manualSeed,
  randn,
  tidy,
} from "../../src/engine/index.js";
import { PlainUNet } from "../../src/models/plain-unet.js";
import { assertClose } from "../helpers/assert.js";

const skip = cudaAvailable() ? false : "libtorch sees no CUDA device";

test("conv3d, instance norm, grid_sample and cross-entropy agree between CUDA and CPU (float64)", { skip }, () => {
  manualSeed(0);
  tidy(() => {
    const x = randn([2, 3, 8, 9, 7], { dtype: "float64" });
    const w = randn([4, 3, 3, 3, 3], { dtype: "float64" });
    const grid = randn([2, 4, 5, 3, 3], { dtype: "float64" }).tanh();
    const target = arange(0, 2 * 8 * 9 * 7)
      .remainder(4)
      .reshape([2, 8, 9, 7]);
    const run = (device: string) => {
      const xd = x.to(device).detach().requiresGrad_(true);
      const wd = w.to(device).detach().requiresGrad_(true);
      const y = F.instanceNorm(F.conv(xd, wd, null, { padding: 1 }));
      const loss = F.crossEntropy(y, target.to(device)).add(F.gridSample(y, grid.to(device)).square().mean());
      loss.backward();
      return [loss.toArray(), xd.grad!.toArray(), wd.grad!.toArray()];
    };
    const [cpu, gpu] = [run("cpu"), run("cuda")];
    cpu.forEach((c, i) => assertClose(gpu[i], c, 1e-9, 1e-12, `output ${i}`));
  });
});

test("autocast runs convolutions in float16 and keeps losses in float32", { skip }, () => {
  tidy(() => {
    const x = randn([1, 2, 8, 8, 8], { device: "cuda" });
    const w = randn([4, 2, 3, 3, 3], { device: "cuda" });
    const [inside, loss] = autocast(() => {
      const y = F.conv(x, w);
      return [y, F.logSoftmax(y, 1)];
    });
    assert.equal(inside.dtype, "float16");
    assert.equal(loss.dtype, "float32");
    assert.equal(F.conv(x, w).dtype, "float32", "autocast is off again afterwards");
  });
});

test("a U-Net trains on CUDA with mixed precision and loss scaling", { skip }, () => {
  manualSeed(0);
  const net = new PlainUNet({ dims: 3, inChannels: 1, numClasses: 3, features: [8, 16, 32] }).to("cuda");
  const opt = Optimizer.sgd(net.parameters(), { lr: 1e-2, momentum: 0.99, nesterov: true });
  const scaler = new GradScaler();
  const x = randn([2, 1, 32, 32, 32], { device: "cuda" });
  const y = tidy(() => x.gt(0.5).long().add(x.gt(1.5).long()).squeeze(1));
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    losses.push(
      tidy(() => {
        opt.zeroGrad();
        const loss = autocast(() => F.crossEntropy(net.forward(x) as Tensor, y));
        scaler.scaleLoss(loss).backward();
        scaler.step(opt);
        scaler.update();
        return loss.item();
      }),
    );
  }
  assert.ok(losses[29] < losses[0] * 0.7, `loss ${losses[0]} → ${losses[29]}`);
  assert.ok(net.parameters().every((p) => p.device.startsWith("cuda")));
});

test("the fused CUDA unscale finds overflow and skips the step", { skip }, () => {
  const p = randn([3], { device: "cuda" }).requiresGrad_(true);
  const before = p.toArray();
  const opt = Optimizer.sgd([p], { lr: 1 });
  const scaler = new GradScaler({ initScale: 4 });
  tidy(() => p.mul(Number.POSITIVE_INFINITY).sum().backward());
  assert.equal(scaler.step(opt), false);
  scaler.update();
  assert.equal(scaler.scale, 2);
  assert.deepEqual(p.toArray(), before);
  opt.zeroGrad();
  tidy(() => p.mul(8).sum().backward());
  assert.equal(scaler.step(opt), true);
  assertClose(
    p.toArray(),
    before.map((v) => v - 4),
    1e-6,
    1e-6,
    "stepped with the unscaled gradient 8/2",
  );
});
